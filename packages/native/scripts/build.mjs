// Builds build/hodiff_native.node from csrc/gemm.c: `cc -O2 -shared -fPIC` against the Node-API
// headers of the npm package node-api-headers (so no system Node headers and no node-gyp, whose
// header download fails offline) and the system's OpenBLAS (-lopenblas).
//
// As the package's `install` script it never fails the install: where the compiler or OpenBLAS is
// missing it prints one warning line saying what to install and exits 0 (the package then reports
// nativeGemmAvailable() === false and hodiff keeps its wasm GEMM). With --strict (the
// `build:native` script, CI) a failed build exits 1 with the compiler's output.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const strict = process.argv.includes("--strict");
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "build", "hodiff_native.node");
// The same advice as src/addon.ts's HOW_TO_BUILD (this script runs before any TypeScript can).
const HOW =
  "apt-get install gcc libopenblas-dev (Debian/Ubuntu), then: npx -y pnpm@9.15.9 --filter @hodiff/native run build:native " +
  "in the hodiff checkout, or npm rebuild @hodiff/native where it was installed from npm";

function give_up(reason, details = "") {
  if (strict) {
    if (details) process.stderr.write(details);
    process.stderr.write(`@hodiff/native: build failed: ${reason}. ${HOW}\n`);
    process.exit(1);
  }
  process.stderr.write(`@hodiff/native: WARNING: not built (${reason}); hodiff uses its wasm GEMM. To build: ${HOW}\n`);
  process.exit(0);
}

/** The directory holding node_api.h: node-api-headers's, else the running Node's own. */
function headers() {
  try {
    const dir = createRequire(import.meta.url)("node-api-headers").include_dir;
    if (typeof dir === "string" && existsSync(join(dir, "node_api.h"))) return dir;
  } catch {
    // not installed (e.g. a bare checkout): try Node's own headers
  }
  for (const dir of [join(dirname(process.execPath), "..", "include", "node"), "/usr/include/node"]) {
    if (existsSync(join(dir, "node_api.h"))) return dir;
  }
  return null;
}

if (process.platform === "win32") give_up("Windows is not supported by this build script");
const cc = process.env.CC || "cc";
if (spawnSync(cc, ["--version"], { stdio: "ignore" }).status !== 0) give_up(`no C compiler '${cc}'`);
const include = headers();
if (include === null) give_up("no Node-API headers (npm package node-api-headers)");

mkdirSync(dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
const args = [
  "-O2",
  "-shared",
  "-fPIC",
  "-Wall",
  `-I${include}`,
  join(root, "csrc", "gemm.c"),
  "-lopenblas",
  "-o",
  tmp,
];
// macOS resolves the addon's napi_* symbols from the node binary at load time.
if (process.platform === "darwin") args.unshift("-undefined", "dynamic_lookup");
const r = spawnSync(cc, args, { encoding: "utf8" });
if (r.status !== 0) {
  rmSync(tmp, { force: true });
  const text = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  const blas = /cblas\.h|-lopenblas|openblas/i.test(text);
  give_up(blas ? "OpenBLAS (cblas.h / libopenblas) not found" : `${cc} failed`, text);
}
renameSync(tmp, out); // atomic: a half-written addon is never loaded
process.stdout.write(`@hodiff/native: built ${out}\n`);
