/**
 * `pnpm bench layout`: tfjs-wasm's kernels against hodiff's broadcast/layout ones on LeNet-5's
 * shapes (batch 100): the conv bias Add, the conv filter-gradient Transposes ([3,1,2,0] of the
 * image and pool1's output, [1,2,0,3] of conv1's output and conv2's cotangent), a matrix
 * transpose with and without cache-set aliasing (rows 4 KiB apart or not), the filter flip
 * (Reverse), conv1's bias gradient (Sum over the leading axes), and conv2's input gradient (a
 * "full" conv, matmul + col2im with the SIMD kernels on). Switched back and forth in one run
 * (interleaved repeats), so the ratio holds on a loaded machine: medians and minima. Times include
 * allocating the output, not reading it back: wasm runs a kernel within the call.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { simdAgainstTfjs } from "./timing";
import type { Bench } from "./suites";

export const layoutBench: Bench = async ({ backend, repeats }) => {
  if (!hd.simdKernelsActive()) return [{ name: "layout", backend, skipped: "SIMD kernels not active" }];
  const bias = [tf.randomNormal([100, 28, 28, 6]), tf.randomNormal([6])] as const;
  const image = tf.randomNormal([100, 32, 32, 3]);
  const filter = tf.randomNormal([5, 5, 16, 6]);
  const ct = tf.randomNormal([100, 10, 10, 16]);
  // A transpose whose output rows are 4 KiB apart (cache-set aliasing; the MLP's 1024-wide layers) and one whose are not.
  const wide = tf.randomNormal([1024, 200]);
  const narrow = tf.randomNormal([1000, 200]);
  // LeNet-5's filter-gradient transposes (conv1's activations, pool1's, conv2's cotangent).
  const act1 = tf.randomNormal([100, 28, 28, 6]);
  const pool1 = tf.randomNormal([100, 14, 14, 6]);
  const cases: Array<[string, number[][], () => tf.Tensor | hd.Value]> = [
    ["Add", [[100, 28, 28, 6], [6]], () => tf.add(...bias)],
    ["Transpose [3,1,2,0]", [[100, 32, 32, 3]], () => tf.transpose(image, [3, 1, 2, 0])],
    ["Transpose [1,2,0,3] (chunks of 6)", [[100, 28, 28, 6]], () => tf.transpose(act1, [1, 2, 0, 3])],
    ["Transpose [3,1,2,0] (6 columns)", [[100, 14, 14, 6]], () => tf.transpose(pool1, [3, 1, 2, 0])],
    ["Transpose [1,2,0,3] (chunks of 16)", [[100, 10, 10, 16]], () => tf.transpose(ct, [1, 2, 0, 3])],
    ["Transpose [1,0], rows 4 KiB apart", [[1024, 200]], () => tf.transpose(wide)],
    ["Transpose [1,0]", [[1000, 200]], () => tf.transpose(narrow)],
    ["Reverse [0,1]", [[5, 5, 16, 6]], () => tf.reverse(filter, [0, 1])],
    // conv1's bias gradient: a column sum of 6 columns (sumPeriodic's three-vector pass).
    ["Sum over leading axes", [[100, 28, 28, 6]], () => tf.sum(act1, [0, 1, 2])],
    [
      "conv2d, padding 4",
      [
        [100, 10, 10, 16],
        [5, 5, 16, 6],
      ],
      () =>
        hd.conv2d(ct, filter, {
          padding: [
            [4, 4],
            [4, 4],
          ],
        }),
    ],
  ];
  const once = (f: () => tf.Tensor | hd.Value) => {
    const t0 = performance.now();
    const y = f();
    const t1 = performance.now();
    hd.dispose(y);
    return t1 - t0;
  };
  const out: Record<string, unknown>[] = [];
  for (const [kernel, shapes, f] of cases) {
    out.push({ name: "layout", kernel, shapes, backend, ...simdAgainstTfjs(() => once(f), repeats) });
  }
  tf.dispose([...bias, image, filter, ct, wide, narrow, act1, pool1]);
  return out;
};
