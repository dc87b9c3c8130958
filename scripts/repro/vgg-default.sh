#!/usr/bin/env bash
# VGG-11' with NewtonSummary at the CLI's defaults (B = B' = 100, T = 10, 3 warm-up summaries),
# stopped after STEPS updates (default 40: the warm-up's 30 steps, then 10 updates). Prints the
# peak resident memory (VmHWM, polled every 5 s) and the last step record.
# Usage: scripts/repro/vgg-default.sh [OUT] (default runs/repro/vgg-default; STEPS=… to change)
set -u
cd "$(dirname "$0")/../.."
out=${1:-runs/repro/vgg-default}
steps=${STEPS:-40}
rm -rf "$out" && mkdir -p "$(dirname "$out")"
node packages/cli/bin/hodiff.mjs train --model vgg11 --dataset cifar10 --optimizer newton-summary \
  --no-progress --out "$out" >"$out.log" 2>&1 &
pid=$!
hwm=
while kill -0 "$pid" 2>/dev/null; do
  hwm=$(sed -n 's/^VmHWM:\s*//p' "/proc/$pid/status" 2>/dev/null || echo "$hwm")
  if grep -q "\"step\":$steps," "$out/metrics.jsonl" 2>/dev/null; then kill -9 "$pid"; break; fi
  sleep 5
done
echo "peak resident memory (VmHWM): $hwm"
tail -n 1 "$out/metrics.jsonl" | cut -c1-400
