#!/usr/bin/env bash
# `pnpm pack:check`: the packages as a user gets them. Builds every package under packages/,
# packs each with `pnpm pack`, checks the tarballs' manifests, installs all of them with plain
# `npm install` into a fresh project in a temporary folder (third-party dependencies from the npm
# registry), and there: runs scripts/pack-check/check.mjs with plain node (gradient, jvp,
# summaries, two Adam steps and a 2-thread @hodiff/parallel pool against closed forms, on the
# wasm backend), type-checks scripts/pack-check/types.ts under moduleResolution nodenext and
# bundler, builds a Vite app importing the packages, and runs the installed `hodiff` CLI (--help,
# a short train, the same on two threads, with --gemm native and with both, inspect).
# New packages are covered as they come: everything below loops over packages/*.
# KEEP=1 keeps the temporary folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
fixtures="$root/scripts/pack-check"
tmp="$(mktemp -d)"
if [[ "${KEEP:-}" == 1 ]]; then echo "pack-check: keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi
start=$SECONDS
step() { printf '%-10s %3ss  %s\n' "$1" "$((SECONDS - start))" "$2"; }

cd "$root"
packed="$(bash "$root/scripts/pack-all.sh" "$tmp/tarballs")"
mapfile -t tarballs <<<"$packed"
expected="$(ls packages/*/package.json | wc -l)"
((${#tarballs[@]} == expected)) || { echo "pack-check: ${#tarballs[@]} tarballs for $expected packages"; exit 1; }
step build "tsdown: every package to dist/ (ESM, .d.ts, source maps); pnpm pack of each"
names=()
for t in "${tarballs[@]}"; do names+=("$(tar -xzOf "$t" package/package.json | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).name')"); done
# The packed manifests: real versions, the fields a consumer's tools read, and only built files.
node "$fixtures/manifests.mjs" "${tarballs[@]}"
step pack "${#tarballs[@]} tarballs checked: ${names[*]}"

consumer="$tmp/consumer"
mkdir -p "$consumer"
cp "$fixtures"/{check.mjs,first.mjs,pool-task.mjs,types.ts,tsconfig.nodenext.json,tsconfig.bundler.json,index.html,web.ts} "$consumer/"
cd "$consumer"
echo '{ "name": "pack-check-consumer", "private": true, "type": "module" }' >package.json
npm install --no-audit --no-fund --prefer-offline --loglevel=error "${tarballs[@]}" @types/node@20 >"$tmp/npm.log" 2>&1 ||
  { cat "$tmp/npm.log"; exit 1; }
# Each @hodiff package came from its tarball, once, and tfjs-core is one copy (two would be two
# engines: a backend registered on one is unknown to the other).
node -e '
  const lock = require("./package-lock.json").packages;
  const copies = (name) => Object.keys(lock).filter((k) => k.endsWith(`node_modules/${name}`));
  for (const k of Object.keys(lock).filter((k) => /node_modules\/@hodiff\/[^/]+$/.test(k))) {
    if (!String(lock[k].resolved).startsWith("file:")) throw new Error(`${k} was not installed from a tarball`);
    if (copies(k.split("node_modules/").pop()).length !== 1) throw new Error(`${k}: more than one copy`);
  }
  if (copies("@tensorflow/tfjs-core").length !== 1) throw new Error("more than one @tensorflow/tfjs-core");
'
step install "npm install of the tarballs into an empty project"

node check.mjs "${names[@]}" | sed 's/^/           /'
step node "plain node: closed-form checks passed"

# The README's first script, verbatim, runs as it says.
node -e '
  const [readme, script] = process.argv.slice(1).map((f) => require("fs").readFileSync(f, "utf8"));
  if (!readme.includes(script)) throw new Error("README.md does not show scripts/pack-check/first.mjs verbatim");
' "$root/README.md" first.mjs
first="$(node first.mjs)"
step first "the README's first script: $first"

# One file importing every package, so a new package's declarations are type-checked too.
for i in "${!names[@]}"; do echo "export * as p$i from \"${names[$i]}\";"; done >all.ts
tsc=(node "$root/node_modules/typescript/bin/tsc")
"${tsc[@]}" -p tsconfig.nodenext.json
step nodenext "tsc, moduleResolution nodenext, skipLibCheck false (grad keeps the parameters' type)"
"${tsc[@]}" -p tsconfig.bundler.json
step bundler "tsc, moduleResolution bundler, skipLibCheck false"

node "$root/node_modules/vite/bin/vite.js" build --logLevel error --outDir "$tmp/vite-dist" >"$tmp/vite.log" 2>&1 ||
  { cat "$tmp/vite.log"; exit 1; }
bundle="$(du -sk "$tmp/vite-dist" | cut -f1)"
step vite "vite build of a web app importing core, partition, optim, nn (${bundle} kB)"

help="$(npx --no-install hodiff --help)"
grep -q '^Usage: hodiff' <<<"$help" || { echo "$help"; echo "pack-check: hodiff --help printed no usage"; exit 1; }
version="$(npx --no-install hodiff --version)"
want="$(node -p 'require("@hodiff/cli/package.json").version')"
[[ "$version" == "$want" ]] || { echo "pack-check: hodiff --version printed '$version', expected $want"; exit 1; }
step cli "npx hodiff --help and --version ($version) from the installed tarball"
# A short NewtonSummary run on the synthetic set ("$@": the execution flags and --out), the one
# every check below makes.
small_run() {
  npx --no-install hodiff train --model mlp --hidden 8 --dataset synthetic --synthetic-examples 64 --synthetic-shape 4 \
    --batch-size 32 --optimizer newton-summary --lr 0.03 --warmup 1 --period 1 --epochs 1 "$@"
}
# The first run, then the interaction heatmaps of its checkpoint (vega to SVG, resvg's native
# binary to PNG): the installed CLI's dependencies work too. One thread on tfjs-wasm's GEMM, forced
# (the defaults are auto): the baseline of the runs below.
trained="$(small_run --threads 1 --gemm wasm --out "$tmp/run")"
grep -qx 'backend wasm, gemm wasm (XNNPACK), threads 1, jit off' <<<"$trained" || { echo "$trained"; exit 1; }
grep -q '^epoch 1/1: train_loss' <<<"$trained" || { echo "$trained"; exit 1; }
npx --no-install hodiff inspect --checkpoint "$tmp/run" --batch-size 32 --out "$tmp/map" >/dev/null
for f in metrics.jsonl checkpoint.json; do [[ -s "$tmp/run/$f" ]] || { echo "pack-check: no $f"; exit 1; }; done
for f in hbar.svg hbar.png interaction.json; do [[ -s "$tmp/map/$f" ]] || { echo "pack-check: no $f"; exit 1; }; done
epoch_of() { grep '^epoch' <<<"$1" | cut -d, -f1; }
step cli "hodiff train (synthetic, newton-summary) and inspect (SVG, PNG): $(epoch_of "$trained")"
# The defaults (--threads auto --gemm auto): the first line says what they resolved to (the native
# GEMM only where npm install compiled @hodiff/native's addon); the same loss within 2e-4.
defaults="$(small_run --out "$tmp/run0")"
resolved="$(head -n 1 <<<"$defaults")"
[[ "$resolved" =~ ^backend\ wasm,\ gemm\ (wasm\ \(XNNPACK\)|native\ \(OpenBLAS\)),\ threads\ 1 ]] || { echo "$defaults"; exit 1; }
# The same run on two threads: the installed CLI starts @hodiff/parallel's dist/worker.js with its
# dist/parallelTask.js; the loss agrees with one thread's within 2e-4 (summation order differs).
threaded="$(small_run --threads 2 --gemm wasm --out "$tmp/run2")"
loss_of() { sed -n 's/^epoch 1\/1: train_loss \([0-9.eE+-]*\).*/\1/p' <<<"$1"; }
# same_loss OUTPUT WHAT: the loss in OUTPUT agrees with the baseline's within 2e-4, else WHAT differs.
same_loss() {
  awk -v a="$(loss_of "$trained")" -v b="$(loss_of "$1")" 'BEGIN { d = a - b; exit !(a != "" && b != "" && d * d <= 4e-8) }' \
    || { echo "$trained"; echo "$1"; echo "pack-check: $2 differs"; exit 1; }
}
same_loss "$defaults" "the defaults"
step cli "hodiff train with the defaults from the tarball: $resolved"
same_loss "$threaded" "--threads 2"
step cli "hodiff train --threads 2 from the tarball: $(epoch_of "$threaded")"
# --jit on: the gradient step as a jit plan from the built core; the same loss within 2e-4.
jitted="$(small_run --threads 1 --gemm wasm --jit on --out "$tmp/run5")"
grep -qx 'backend wasm, gemm wasm (XNNPACK), threads 1, jit on' <<<"$jitted" || { echo "$jitted"; exit 1; }
same_loss "$jitted" "--jit on"
step cli "hodiff train --jit on from the tarball: $(epoch_of "$jitted")"
# --gemm native from the tarball (dist's dynamic import of @hodiff/native, its addon compiled by
# npm install's hook) where a C compiler and OpenBLAS exist; the same loss within 2e-4.
if node -e 'import("@hodiff/native").then((m) => process.exit(m.nativeGemmAvailable() ? 0 : 1))'; then
  native="$(small_run --gemm native --out "$tmp/run3")"
  same_loss "$native" "--gemm native"
  step cli "hodiff train --gemm native from the tarball: $(epoch_of "$native")"
  # Both: dist/worker.js imports @hodiff/native (an optional peer of @hodiff/parallel) in the worker.
  native2="$(small_run --gemm native --threads 2 --out "$tmp/run4")"
  same_loss "$native2" "--gemm native --threads 2"
  step cli "hodiff train --gemm native --threads 2 from the tarball: $(epoch_of "$native2")"
else
  step cli "hodiff train --gemm native skipped: @hodiff/native's addon was not built here (no C compiler or OpenBLAS)"
fi
echo "pack-check: all passed in $((SECONDS - start)) s"
