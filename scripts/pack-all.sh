#!/usr/bin/env bash
# `pnpm pack:all [DEST]`: build every package under packages/ (tsdown, to dist/) and pack each with
# `pnpm pack` into DEST (default out/tarballs), the tarballs a project installs with plain
# `npm install DEST/*.tgz`. pnpm pack applies each manifest's publishConfig (dist entry points)
# and replaces workspace:* with the real versions. Prints the tarballs' paths.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$(mkdir -p "${1:-$root/out/tarballs}" && cd "${1:-$root/out/tarballs}" && pwd)"
# pnpm through npx, resolved once (each npx start costs seconds).
pnpm="$(npx -y -p pnpm@9.15.9 -c 'command -v pnpm')"
cd "$root"
log="$(mktemp)"
"$pnpm" --silent build >"$log" 2>&1 || { cat "$log"; rm -f "$log"; exit 1; }
rm -f "$log"
rm -f "$dest"/*.tgz
for dir in packages/*/; do
  [[ -f "$dir/package.json" ]] || continue
  (cd "$dir" && "$pnpm" pack --pack-destination "$dest" >/dev/null)
done
ls "$dest"/*.tgz
