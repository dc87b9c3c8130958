/**
 * `pnpm bench pooling`: max pooling's kernels on LeNet's two pools ([100,28,28,6] and
 * [100,10,10,16], 2×2 windows, viewed as [N,Ho,2,Wo,2,C] reduced over [2,4]), interleaved in one
 * run so the ratios hold on a loaded machine (medians, and minima: the least disturbed runs).
 * - backward: reduce-max's VJP applied to a cotangent, as the ops it was composed of (equal on the
 *   broadcast max, cast, sum, div, and a broadcasting mul) against the fused `maxScatter` kernel
 *   (through `vjp`, so dispatch counts too);
 * - forward: the max as two passes of the middle-axis Max kernel (`tf.max`) against the one-pass
 *   `HodiffMaxWindows` (`hd.max`);
 * - jvp: the max and its tangent for a tangent s of x's shape, as the two-pass max and the ops
 *   reduce-max's JVP was composed of (those of backward, then a sum) against `jvp` of `hd.max`
 *   (the one-pass max and the fused `maxGather`).
 * Times include allocating the output and reading it back (dataSync). Wasm with SIMD kernels only.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import { compareTimes } from "./timing";
import type { Bench } from "./suites";

/** ms of one call of `fn`, its output read back and freed. */
function once(fn: () => unknown): number {
  const t0 = performance.now();
  const out = hd.tidy(() => {
    const y = fn() as hd.Tree<Value>;
    for (const leaf of hd.treeLeaves(y)) hd.toFlat(leaf);
    return y;
  });
  const t1 = performance.now();
  hd.dispose(out);
  return t1 - t0;
}

export const poolingBench: Bench = async ({ backend, repeats }) => {
  if (!hd.simdKernelsActive()) return [{ name: "pooling", backend, skipped: "SIMD kernels not active" }];
  const out: Record<string, unknown>[] = [];
  for (const shape of [
    [100, 14, 2, 14, 2, 6],
    [100, 5, 2, 5, 2, 16],
  ]) {
    const axes = [2, 4];
    const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const x = hd.random.normal(hd.random.key(1), shape);
    const m = hd.max(x, axes);
    const t = hd.random.normal(hd.random.key(2), hd.shapeOf(m));
    const v = hd.random.normal(hd.random.key(3), shape);
    const [y, pullback] = hd.vjp((a: Value) => hd.max(a, axes), x);
    const variants: Record<string, () => unknown> = {
      composed_backward: () => {
        const mask = hd.cast(hd.equal(x, hd.reshape(m, kept)), "float32");
        return hd.mul(hd.div(mask, hd.reshape(hd.sum(mask, axes), kept)), hd.reshape(t, kept));
      },
      fused_backward: () => pullback(t),
      two_pass_forward: () => tf.max(x as tf.Tensor, axes),
      one_pass_forward: () => hd.max(x, axes),
      composed_jvp: () => {
        const mx = tf.max(x as tf.Tensor, axes);
        const mask = hd.cast(hd.equal(x, hd.reshape(mx, kept)), "float32");
        return [mx, hd.sum(hd.mul(v, hd.div(mask, hd.reshape(hd.sum(mask, axes), kept))), axes)];
      },
      fused_jvp: () => hd.jvp((a: Value) => hd.max(a, axes), [x], [v]),
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
    for (let i = 0; i < repeats + 2; i++) {
      for (const [k, fn] of Object.entries(variants)) {
        const ms = once(fn);
        if (i >= 2) times[k]!.push(ms);
      }
    }
    const record = (what: string, before: string, after: string) => ({
      name: "pooling",
      what,
      shape,
      axes,
      backend,
      ...compareTimes(before, times[before]!, after, times[after]!, 3, 1),
    });
    out.push(record("backward", "composed_backward", "fused_backward"));
    out.push(record("forward", "two_pass_forward", "one_pass_forward"));
    out.push(record("jvp", "composed_jvp", "fused_jvp"));
    hd.dispose([x, m, t, v, y, pullback]); // the pullback holds its residuals until disposed
  }
  return out;
};
