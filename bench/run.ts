/**
 * Benchmarks (`pnpm bench [name…]`): each prints one JSON line per measurement, with ratios
 * against a baseline measured in the same run. Timings are medians after warm-up.
 */
import { parseArgs } from "node:util";
import { useDefaultBackend, setBackend, setSimdKernels, type BackendName } from "@hodiff/core";
import { benchmarks } from "./suites";
import { modelsBench, type GemmName } from "./models";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    backend: { type: "string" },
    repeats: { type: "string" },
    models: { type: "string" },
    // models: thread counts, e.g. 1,2 (default); n > 1 is an @hodiff/parallel pool of n threads.
    threads: { type: "string" },
    // --simd off: tfjs-wasm's own kernels instead of hodiff's SIMD ones; --simd compare: models
    // also times each gradient with tfjs-wasm's kernels, interleaved (before/after in one sitting).
    simd: { type: "string", default: "on" },
    // models: GEMMs to time, e.g. wasm,native (native: @hodiff/native's OpenBLAS on the wasm heap),
    // and OpenBLAS thread counts for the native rows, e.g. 1,2.
    gemm: { type: "string" },
    "blas-threads": { type: "string" },
  },
});

const backend = values.backend
  ? (await setBackend(values.backend as BackendName), values.backend)
  : await useDefaultBackend();
const repeats = Number(values.repeats ?? 15);
if (values.simd === "off") setSimdKernels(false);
// `models` and `conv` take minutes: they run only when named.
const selected = positionals.length
  ? positionals
  : Object.keys(benchmarks).filter((n) => n !== "models" && n !== "conv");
for (const name of selected) {
  const run =
    name === "models"
      ? modelsBench({
          ...(values.models ? { models: values.models } : {}),
          ...(values.repeats ? { repeats: Number(values.repeats) } : {}),
          compareSimd: values.simd === "compare",
          ...(values.threads ? { threads: values.threads.split(",").map(Number) } : {}),
          ...(values.gemm ? { gemm: values.gemm.split(",") as GemmName[] } : {}),
          ...(values["blas-threads"] ? { blasThreads: values["blas-threads"].split(",").map(Number) } : {}),
        })
      : benchmarks[name];
  if (!run) {
    console.error(`unknown benchmark '${name}'; available: ${Object.keys(benchmarks).join(", ")}, models`);
    process.exit(2);
  }
  const extra = { ...(values.models ? { models: values.models } : {}), ...(values.gemm ? { gemm: values.gemm } : {}) };
  for (const record of await run({ backend, repeats, ...extra })) console.log(JSON.stringify(record));
}
