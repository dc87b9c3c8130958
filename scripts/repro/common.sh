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
