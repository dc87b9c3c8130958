/**
 * The bias + tanh kernel (HodiffBiasTanh, `K.biasTanh`: tanh(x + b), b along x's last axis) on wasm
 * against the cpu backend's add then tanh and a float64 tanh, on random and edge inputs (±large,
 * ±0, NaN, ±Inf, subnormal) for row lengths that are whole vectors (the flat loop, with and
 * without a remainder of vectors) and ones that are not (the per-row loop with a tail); and bit
 * for bit against wasm's own Add then Tanh kernels (the unfused plan's steps).
 */
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { setBackend } from "../backend";
import { K } from "../kernels";
import { BIAS_TANH, installSimdKernels } from "./install";
import { ulps } from "./fixtures";
import { sizeOf } from "../shapes";
import { uniform } from "../testing/randomFloats";

const EDGES = [NaN, Infinity, -Infinity, 0, -0, 3e38, -3e38, 1e-40, 40, -40, 9.5, -1e-7];

/** Deterministic floats over many scales; where `edges`, about one in five an edge value. */
function values(n: number, seed: number, edges: boolean): Float32Array {
  const rand = uniform(seed);
  return Float32Array.from({ length: n }, () => {
    if (edges && rand() < 0.2) return EDGES[Math.floor(rand() * EDGES.length)]!;
    return (rand() - 0.5) * 10 ** Math.floor(rand() * 5 - 2);
  });
}

/** [x's shape]: rows of 16, 120, 84 (whole vectors; 120 and 84 leave 2 and 1 vectors past the four-vector loop), 6, 5, 3, 1, 7 (tails). */
const SHAPES = [[3, 4, 4, 16], [5, 120], [7, 84], [9, 6], [4, 5], [2, 3, 3], [6, 1], [1, 7], [0, 8], [4]];

describe("HodiffBiasTanh: tanh(x + b) in one pass", () => {
  /** [x, b] per case and edge setting, and the cpu backend's add then tanh of them. */
  const inputs: Array<{ shape: number[]; edges: boolean; x: Float32Array; b: Float32Array; cpu: Float32Array }> = [];

  beforeAll(async () => {
    await setBackend("cpu");
    SHAPES.forEach((shape, i) => {
      for (const edges of [false, true]) {
        const n = sizeOf(shape);
        const c = shape[shape.length - 1]!;
        const [x, b] = [values(n, 2 * i + 1, edges), values(c, 2 * i + 2, edges)];
        const cpu = tf.tidy(() => tf.tanh(tf.add(tf.tensor(x, shape), tf.tensor(b, [c]))).dataSync() as Float32Array);
        inputs.push({ shape, edges, x, b, cpu });
      }
    });
    await setBackend("wasm");
    expect(await installSimdKernels()).toBe(true);
  });

  it("is registered on wasm", () => {
    expect(tf.getKernel(BIAS_TANH, "wasm")).toBeDefined();
  });

  it("is within 2 ulps of float64 tanh of the float32 sum and of the cpu backend's add + tanh, edges included", () => {
    const before = tf.memory().numTensors;
    for (const { shape, edges, x, b, cpu } of inputs) {
      const c = shape[shape.length - 1]!;
      const [xt, bt] = [tf.tensor(x, shape), tf.tensor(b, [c])];
      const y = K.biasTanh(xt, bt);
      const got = y.dataSync();
      expect(y.shape).toEqual(shape);
      for (let i = 0; i < x.length; i++) {
        const label = `[${shape}] ${edges ? "edges" : "random"} at ${i}: tanh(${x[i]} + ${b[i % c]})`;
        // The sum is rounded to float32 first, as the two-op composition does.
        // The Tanh kernel's bound (simd.test.ts): 2 ulps of float64 tanh rounded to float32, of the
        // float32 sum (as the two ops round it); the cpu backend's add + tanh is that reference.
        expect(ulps(got[i]!, Math.fround(Math.tanh(Math.fround(x[i]! + b[i % c]!)))), label).toBeLessThanOrEqual(2);
        expect(ulps(got[i]!, cpu[i]!), `${label} vs cpu`).toBeLessThanOrEqual(2);
      }
      tf.dispose([xt, bt, y]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("is bit-identical to wasm's Add then Tanh kernels", () => {
    for (const { shape, x, b } of inputs) {
      const c = shape[shape.length - 1]!;
      const [xt, bt] = [tf.tensor(x, shape), tf.tensor(b, [c])];
      const [fused, apart] = [K.biasTanh(xt, bt), tf.tidy(() => K.tanh(K.add(xt, bt)))];
      expect(Array.from(fused.dataSync()), `[${shape}]`).toEqual(Array.from(apart.dataSync()));
      tf.dispose([xt, bt, fused, apart]);
    }
  });

  it("refuses a bias that is not x's last axis (the kernel itself) and falls back to add + tanh in K", () => {
    const [x, b] = [tf.ones([2, 3]), tf.ones([2])];
    expect(() => tf.engine().runKernel(BIAS_TANH, { x, b })).toThrow(/not x \[2,3\]'s last axis/);
    const col = tf.ones([2, 1]);
    const y = K.biasTanh(x, col);
    for (const v of y.dataSync()) expect(ulps(v, Math.fround(Math.tanh(2)))).toBeLessThanOrEqual(2);
    tf.dispose([x, b, col, y]);
  });
});
