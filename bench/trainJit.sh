#!/usr/bin/env bash
# `hodiff train` end to end, 100 Adam steps (MNIST, --train-size 10000, batch 100), --jit off vs
# --jit on on THREADS threads (default 1; n > 1: the pool, eager vs jitted parts), interleaved
# ROUNDS× each, per model and GEMM: prints each run's "100 steps in X s" (the epoch's wall time:
# data, gradient, Adam update, reads; not the start) and the medians. Usage: bash bench/trainJit.sh [ROUNDS] ["mlp lenet"] ["native wasm"] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
models="${2:-mlp lenet}"
gemms="${3:-native wasm}"
threads="${4:-1}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for model in $models; do
  for gemm in $gemms; do
    for r in $(seq "$rounds"); do
      for jit in off on; do
        # OPENBLAS_CORETYPE unset: OpenBLAS picks this CPU's own kernels (packages/cli/README.md)
        out="$(env -u OPENBLAS_CORETYPE node packages/cli/bin/hodiff.mjs train --model "$model" --dataset mnist --train-size 10000 \
          --batch-size 100 --epochs 1 --val-size 0 --log-every 0 --no-progress --threads "$threads" --gemm "$gemm" \
          --jit "$jit" --out "$tmp/$model-$gemm-$jit-$r")"
        s="$(sed -n 's/.*, 100 steps in \([0-9.]*\) s$/\1/p' <<<"$out")"
        echo "$model $gemm threads=$threads jit=$jit round=$r seconds=$s"
      done
    done
  done
done | tee "$tmp/all.txt"
# per model and GEMM: each setting's median, and the median over rounds of off ÷ on (each round's
# two runs back to back: the load they share cancels)
echo "medians (s per 100 steps; speedup = median of each round's off/on):"
while read -r model gemm; do
  rows="$(grep "^$model $gemm " "$tmp/all.txt")"
  med() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
  off="$(grep 'jit=off' <<<"$rows" | sed 's/.*seconds=//' | med)"
  on="$(grep 'jit=on' <<<"$rows" | sed 's/.*seconds=//' | med)"
  ratio="$(paste <(grep 'jit=off' <<<"$rows" | sed 's/.*seconds=//') <(grep 'jit=on' <<<"$rows" | sed 's/.*seconds=//') |
    awk '{ printf "%.3f\n", $1 / $2 }' | med)"
  echo "$model $gemm threads=$threads off=$off on=$on speedup=$ratio"
done < <(awk '{ print $1, $2 }' "$tmp/all.txt" | sort -u)
