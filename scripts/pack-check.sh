#!/usr/bin/env bash
# `pnpm pack:check`: the packages as a user gets them. Builds every package under packages/,
# packs each with `pnpm pack`, checks the tarballs' manifests, installs all of them with plain
# `npm install` into a fresh project in a temporary folder (third-party dependencies from the npm
# registry), and there: runs scripts/pack-check/check.mjs with plain node (gradient, jvp,
# summaries and two Adam steps against closed forms, on the wasm backend), type-checks
# scripts/pack-check/types.ts under moduleResolution nodenext and bundler, builds a Vite app
# importing the packages, and runs the installed `hodiff` CLI. New packages are covered as they
# come: everything below loops over packages/*.
# KEEP=1 keeps the temporary folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
fixtures="$root/scripts/pack-check"
# pnpm through npx, resolved once (each npx start costs seconds).
pnpm=("$(npx -y -p pnpm@9.15.9 -c 'command -v pnpm')")
tmp="$(mktemp -d)"
if [[ "${KEEP:-}" == 1 ]]; then echo "pack-check: keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi
start=$SECONDS
step() { printf '%-10s %3ss  %s\n' "$1" "$((SECONDS - start))" "$2"; }

cd "$root"
"${pnpm[@]}" --silent build >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
step build "tsdown: every package to dist/ (ESM, .d.ts, source maps)"

mkdir -p "$tmp/tarballs"
names=()
for dir in packages/*/; do
  [[ -f "$dir/package.json" ]] || continue
  (cd "$dir" && "${pnpm[@]}" pack --pack-destination "$tmp/tarballs" >/dev/null)
  names+=("$(node -p 'require(process.argv[1]).name' "$root/$dir/package.json")")
done
tarballs=("$tmp"/tarballs/*.tgz)
# The packed manifests: real versions, the fields a consumer's tools read, and only built files.
node "$fixtures/manifests.mjs" "${tarballs[@]}"
step pack "${#tarballs[@]} tarballs: ${names[*]}"

consumer="$tmp/consumer"
mkdir -p "$consumer"
cp "$fixtures"/{check.mjs,types.ts,grad-typed.ts,tsconfig.nodenext.json,tsconfig.bundler.json,tsconfig.grad.json,index.html,web.ts} "$consumer/"
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

# One file importing every package, so a new package's declarations are type-checked too.
for i in "${!names[@]}"; do echo "export * as p$i from \"${names[$i]}\";"; done >all.ts
tsc=(node "$root/node_modules/typescript/bin/tsc")
"${tsc[@]}" -p tsconfig.nodenext.json
step nodenext "tsc, moduleResolution nodenext, skipLibCheck false"
"${tsc[@]}" -p tsconfig.bundler.json
step bundler "tsc, moduleResolution bundler, skipLibCheck false"
if "${tsc[@]}" -p tsconfig.grad.json >"$tmp/grad-typed.log" 2>&1; then
  step grad "grad(f)(params) has exactly the parameters' type"
else
  step grad "grad(f)(params) is not typed as the parameters yet (types.ts accepts any):"
  sed 's/^/           /' "$tmp/grad-typed.log"
fi

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
echo "pack-check: all passed in $((SECONDS - start)) s"
