/**
 * The filter gradient's product for few output channels (core's `patchesTimesCt`): ctᵀ·P then a
 * transpose of the small [o, k] result, against Pᵀ·ct, both transposeA matmuls on the native GEMM,
 * P LeNet-5's patch matrices at batch 100: `npx tsx bench/narrowFilterProduct.ts` (needs
 * @hodiff/native built). Interleaved repeats; medians and minima in ms.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { installNativeGemm } from "@hodiff/native";
// K is core's kernel seam, not public API: reached in core's sources, as bench/conv.ts does.
import { K } from "../packages/core/src/kernels";
import { interleaved, median } from "./timing";

await hd.setBackend("wasm");
installNativeGemm({ threads: 1 });
const cases = [
  ["LeNet-5 conv1", 78400, 75, 6],
  ["LeNet-5 conv2", 10000, 150, 16],
] as const;
/** One call's milliseconds, its result read back (wasm runs the kernels within the call). */
const timed = (f: () => tf.Tensor) => (): number => {
  const t0 = performance.now();
  const y = f();
  y.dataSync();
  const ms = performance.now() - t0;
  y.dispose();
  return ms;
};
const ms = (x: number) => x.toFixed(2);
for (const [name, rows, k, o] of cases) {
  const p = tf.randomNormal([rows, k]);
  const ct = tf.randomNormal([rows, o]);
  const [narrow, wide] = interleaved(
    15,
    timed(() => tf.tidy(() => K.transpose(K.matmul(ct, p, true, false), [1, 0]))),
    timed(() => K.matmul(p, ct, true, false)),
  );
  console.log(
    `${name}, P [${rows},${k}], ct [${rows},${o}]: ctᵀ·P + transpose ${ms(median(narrow))} ms (min ${ms(Math.min(...narrow))}),` +
      ` Pᵀ·ct ${ms(median(wide))} ms (min ${ms(Math.min(...wide))})`,
  );
  tf.dispose([p, ct]);
}
