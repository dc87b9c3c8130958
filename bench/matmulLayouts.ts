/**
 * The paper MLP's gradient matmuls on wasm, with tfjs's transpose flags against an explicit
 * transpose then a plain matmul (what hodiff's rules emit): `npx tsx bench/matmulLayouts.ts`.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { medianMs } from "./timing";

await hd.setBackend("wasm");
const cases: [string, number[], number[], boolean, boolean][] = [
  ["forward X·W1", [100, 784], [784, 1024], false, false],
  ["dW1 = Xᵀ·c", [100, 784], [100, 1024], true, false],
  ["dX2 = c·W2ᵀ", [100, 200], [1024, 200], false, true],
  ["dW2 = H1ᵀ·c", [100, 1024], [100, 200], true, false],
];
for (const [name, as, bs, ta, tb] of cases) {
  const a = tf.randomNormal(as);
  const b = tf.randomNormal(bs);
  const flags = medianMs(() => tf.matMul(a, b, ta, tb), 7, 2);
  const explicit = medianMs(() => tf.tidy(() => tf.matMul(ta ? tf.transpose(a) : a, tb ? tf.transpose(b) : b)), 7, 2);
  console.log(`${name}: transpose flags ${flags.toFixed(2)} ms, explicit transpose + matmul ${explicit.toFixed(2)} ms`);
  tf.dispose([a, b]);
}
