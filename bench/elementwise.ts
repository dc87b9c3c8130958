/**
 * `pnpm bench elementwise`: tfjs-wasm's own elementwise kernels against hodiff's SIMD ones on
 * LeNet's first activation, [100,28,28,6] (470,400 floats), switched back and forth in one run
 * (interleaved repeats), so the ratio holds on a loaded machine: medians, and minima (the least
 * disturbed run; on a machine shared with other jobs the better estimate of a kernel's own cost).
 * Times include allocating the output and reading it back (dataSync).
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { round } from "./timing";
import type { Bench } from "./suites";

const KERNELS = ["Tanh", "Exp", "Expm1", "Log", "Log1p"];

export const elementwiseBench: Bench = async ({ backend, repeats }) => {
  if (!hd.simdKernelsActive()) return [{ name: "elementwise", backend, skipped: "SIMD kernels not active" }];
  const shape = [100, 28, 28, 6];
  const x = tf.tidy(() => tf.add(tf.mul(tf.randomUniform(shape), 6), 0.01)); // in (0, 6): every kernel's domain
  const once = (name: string) => {
    const t0 = performance.now();
    const y = tf.engine().runKernel(name, { x }) as tf.Tensor;
    y.dataSync();
    const t1 = performance.now();
    y.dispose();
    return t1 - t0;
  };
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const out: Record<string, unknown>[] = [];
  for (const name of KERNELS) {
    const t = { tfjs: [] as number[], simd: [] as number[] };
    for (let i = 0; i < repeats + 2; i++) {
      hd.setSimdKernels(false);
      const a = once(name);
      hd.setSimdKernels(true);
      const b = once(name);
      if (i >= 2) {
        t.tfjs.push(a);
        t.simd.push(b);
      }
    }
    out.push({
      name: "elementwise",
      kernel: name,
      shape,
      backend,
      tfjs_ms: round(med(t.tfjs), 2),
      simd_ms: round(med(t.simd), 2),
      speedup: round(med(t.tfjs) / med(t.simd), 1),
      tfjs_min_ms: round(Math.min(...t.tfjs), 2),
      simd_min_ms: round(Math.min(...t.simd), 2),
      speedup_min: round(Math.min(...t.tfjs) / Math.min(...t.simd), 1),
    });
  }
  x.dispose();
  return out;
};
