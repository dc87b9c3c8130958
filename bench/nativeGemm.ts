/**
 * `npx tsx bench/nativeGemm.ts [n…]` (default 512 100): one float32 n×n·n×n product on the wasm
 * backend, tfjs-wasm's XNNPACK against @hodiff/native's OpenBLAS on 1 and 2 threads, medians of
 * interleaved rounds; one JSON line per size with OpenBLAS's CPU kernel (`core`). OpenBLAS picks
 * its kernel when it loads: compare kernels with e.g. `OPENBLAS_CORETYPE=Haswell npx tsx bench/nativeGemm.ts`.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { loadAddon } from "@hodiff/native";
import { median, round } from "./timing";

await hd.setBackend("wasm");
const native = loadAddon(); // set as the heap GEMM per round below, interleaved with tfjs-wasm's own kernel
/** OpenBLAS's CPU kernel: its word in openblas_get_config() (the whole string where none matches). */
const config = native.config();
const core = config.split(" ").find((w) => /lake|well|zen|sandy|bulldozer|atom|core|prescott/i.test(w)) ?? config;
const sizes = process.argv.slice(2).map(Number);
for (const n of sizes.length ? sizes : [512, 100]) {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  const once = () => {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    const ms = performance.now() - t0;
    c.dispose();
    return ms;
  };
  const settings: Array<[string, number]> = [
    ["wasm", 0],
    ["native", 1],
    ["native", 2],
  ];
  const times = settings.map(() => [] as number[]);
  for (let round = 0; round < 25; round++)
    settings.forEach(([gemm, threads], k) => {
      if (gemm === "native") {
        native.setThreads(threads);
        hd.setHeapGemm(native.gemm);
      } else hd.setHeapGemm(null);
      const ms = once();
      if (round >= 5) times[k]!.push(ms); // five warm-up rounds
    });
  hd.setHeapGemm(null);
  a.dispose();
  b.dispose();
  const [wasm, n1, n2] = times.map(median) as [number, number, number];
  console.log(
    JSON.stringify({
      name: "gemm",
      n,
      core,
      wasm_ms: round(wasm, 3),
      native_1_ms: round(n1, 3),
      native_2_ms: round(n2, 3),
      wasm_over_native_1: round(wasm / n1, 2),
    }),
  );
}
