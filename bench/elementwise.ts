/**
 * `pnpm bench elementwise`: tfjs-wasm's own elementwise kernels against hodiff's SIMD ones on
 * LeNet's first activation, [100,28,28,6] (470,400 floats), switched back and forth in one run
 * (interleaved repeats), so the ratio holds on a loaded machine: medians, and minima (the least
 * disturbed run; on a machine shared with other jobs the better estimate of a kernel's own cost).
 * Times include allocating the output and reading it back (dataSync).
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { simdAgainstTfjs } from "./timing";
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
  const out: Record<string, unknown>[] = [];
  for (const name of KERNELS) {
    out.push({ name: "elementwise", kernel: name, shape, backend, ...simdAgainstTfjs(() => once(name), repeats) });
  }
  x.dispose();
  return out;
};
