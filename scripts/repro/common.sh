# Shared by run.sh and extra.sh: `run NAME FLAGS…` trains into runs/repro/NAME unless it already finished,
# with the wall time in runs/repro/NAME.time and the output in runs/repro/NAME.log.
R=runs/repro
mkdir -p "$R"
run() {
  local name=$1; shift
  if [ -e "$R/$name/checkpoint.json" ]; then echo "skip $name"; return; fi
  rm -rf "$R/$name"
  echo "== $name $(date -u +%T)"
  /usr/bin/time -f %e -o "$R/$name.time" node packages/cli/bin/hodiff.mjs train "$@" --no-progress --out "$R/$name" > "$R/$name.log" 2>&1
  echo "   rc=$? wall=$(tail -1 "$R/$name.time" 2>/dev/null)s"
}
# `runto NAME EPOCHS FLAGS…`: like run, but a run that stopped at an earlier epoch is resumed up to
# EPOCHS (an uninterrupted run writes the same metrics.jsonl); each sitting's wall time is appended
# to NAME.time (one line per sitting: the run's wall time is their sum).
runto() {
  local name=$1 epochs=$2; shift 2
  if [ -e "$R/$name/checkpoint.json" ]; then
    local done_=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['epoch'])" "$R/$name/checkpoint.json")
    if [ "$done_" -ge "$epochs" ]; then echo "skip $name (epoch $done_)"; return; fi
    echo "== $name: epoch $done_ -> $epochs $(date -u +%T)"
    /usr/bin/time -a -f %e -o "$R/$name.time" node packages/cli/bin/hodiff.mjs train --resume "$R/$name" --epochs "$epochs" --no-progress >> "$R/$name.log" 2>&1
  else
    rm -rf "$R/$name" "$R/$name.time"
    echo "== $name: 0 -> $epochs $(date -u +%T)"
    /usr/bin/time -a -f %e -o "$R/$name.time" node packages/cli/bin/hodiff.mjs train "$@" --epochs "$epochs" --no-progress --out "$R/$name" > "$R/$name.log" 2>&1
  fi
  echo "   rc=$? wall=$(tail -1 "$R/$name.time" 2>/dev/null)s"
}
# `runsteps NAME STEPS FLAGS…`: the first STEPS updates of a run (stopped once its step record for
# STEPS is written; the run directory then has metrics.jsonl but no checkpoint). For trajectories
# that part early: the same flags give the same first updates as the full run.
runsteps() {
  local name=$1 steps=$2; shift 2
  if [ -e "$R/$name/metrics.jsonl" ] && python3 -c "import json,sys; sys.exit(0 if any(json.loads(l)['step']>=int(sys.argv[2]) for l in open(sys.argv[1])) else 1)" "$R/$name/metrics.jsonl" "$steps"; then echo "skip $name"; return; fi
  rm -rf "$R/$name"
  echo "== $name: $steps updates $(date -u +%T)"
  node packages/cli/bin/hodiff.mjs train "$@" --no-progress --out "$R/$name" > "$R/$name.log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [ -e "$R/$name/metrics.jsonl" ] && grep -q "\"step\":$steps," "$R/$name/metrics.jsonl"; then kill "$pid"; break; fi
    sleep 1
  done
  wait "$pid" 2>/dev/null
  echo "   done $(date -u +%T)"
}
