/**
 * The paper MLP's gradient matmuls, with tfjs's transpose flags against an explicit transpose then
 * a plain matmul — the two ways `K.matmul` can run matmulP's transposeA/transposeB (its rule,
 * `flagsTaken`, picks per backend): `npx tsx bench/matmulLayouts.ts [--backend wasm|cpu|webgpu]
 * [--gemm wasm|native]` (`native`: @hodiff/native's OpenBLAS as the wasm heap GEMM). Medians of
 * interleaved rounds, with explicit ÷ flags (> 1: the flags are faster).
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { median } from "./timing";

const { values } = parseArgs({ options: { backend: { type: "string" }, gemm: { type: "string" } } });
const backend = values.backend ?? "wasm";
await hd.setBackend(backend as hd.BackendName);
if (values.gemm === "native") {
  const { installNativeGemm } = await import("@hodiff/native");
  installNativeGemm({ threads: 1 });
}
const cases: [string, number[], number[], boolean, boolean][] = [
  ["forward X·W1", [100, 784], [784, 1024], false, false],
  ["dW1 = Xᵀ·c", [100, 784], [100, 1024], true, false],
  ["dX2 = c·W2ᵀ", [100, 200], [1024, 200], false, true],
  ["dW2 = H1ᵀ·c", [100, 1024], [100, 200], true, false],
];
const rounds = backend === "cpu" ? 5 : 9;
/** Milliseconds of one run of `fn`, its output read back asynchronously (webgpu cannot read synchronously). */
async function once(fn: () => tf.Tensor): Promise<number> {
  const t0 = performance.now();
  const out = fn();
  await out.data();
  const ms = performance.now() - t0;
  out.dispose();
  return ms;
}
for (const [name, as, bs, ta, tb] of cases) {
  const a = tf.randomNormal(as);
  const b = tf.randomNormal(bs);
  const flags: number[] = [];
  const explicit: number[] = [];
  const withFlags = () => tf.matMul(a, b, ta, tb);
  const transposed = () => tf.tidy(() => tf.matMul(ta ? tf.transpose(a) : a, tb ? tf.transpose(b) : b));
  for (const warm of [withFlags, withFlags, transposed, transposed]) await once(warm);
  for (let r = 0; r < rounds; r++) {
    flags.push(await once(withFlags));
    explicit.push(await once(transposed));
  }
  const [f, e] = [median(flags), median(explicit)];
  console.log(
    `${backend}${values.gemm === "native" ? " + native GEMM" : ""} ${name}: transpose flags ${f.toFixed(2)} ms, explicit transpose + matmul ${e.toFixed(2)} ms, explicit ÷ flags ${(e / f).toFixed(2)}`,
  );
  tf.dispose([a, b]);
}
