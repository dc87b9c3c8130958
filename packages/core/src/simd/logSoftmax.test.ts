/**
 * The log-softmax kernels on wasm (`HodiffLogSoftmax`, `HodiffLogSoftmaxGrad`) against the cpu
 * backend's composition of tfjs ops and against a float64 loop, on random and edge inputs (±large,
 * 0, NaN, ±Infinity), for reduced runs innermost, outermost and in the middle.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setBackend } from "../backend";
import { K, softmaxView } from "../kernels";
import { simdKernelsActive } from "./install";
import { sizeOf } from "../shapes";
import { uniform } from "../testing/randomFloats";
import * as hd from "../index";
import type { Value } from "../index";

/** Deterministic values: random floats of mixed magnitude, and with `edges` some edge values. */
function values(n: number, seed: number, edges: boolean): Float32Array {
  const EDGES = [NaN, Infinity, -Infinity, 0, -0, 3e38, -3e38, 80, -80];
  const rand = uniform(seed);
  return Float32Array.from({ length: n }, () => {
    const u = rand();
    if (edges && u < 0.08) return EDGES[Math.floor(rand() * EDGES.length)]!;
    return (rand() - 0.5) * 10 ** Math.floor(rand() * 3);
  });
}

const CASES: Array<[number[], number[]]> = [
  [[100, 10], [1]], // the NLL's logits
  [[7, 5], [0]], // reduced run outermost (inner > 1)
  [[3, 4, 5], [1]], // in the middle
  [
    [3, 4, 5],
    [1, 2],
  ], // two axes, innermost
  [[2, 1, 3], [1]], // a size-1 run: log-softmax is 0
  [[0, 4], [1]], // empty
];

/** float64 log-softmax over the view [outer, r, inner]. */
function truth(x: Float32Array, [outer, r, inner]: [number, number, number]): Float64Array {
  const out = new Float64Array(x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const idx = (k: number) => o * r * inner + k * inner + i;
      let m = -Infinity;
      for (let k = 0; k < r; k++) m = Math.max(m, x[idx(k)]!);
      let s = 0;
      for (let k = 0; k < r; k++) s += Math.exp(x[idx(k)]! - m);
      for (let k = 0; k < r; k++) out[idx(k)] = x[idx(k)]! - m - Math.log(s);
    }
  }
  return out;
}

const same = (a: number, b: number, tol: number) =>
  Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) <= tol * (1 + Math.abs(b));

async function onBoth<T>(f: () => T): Promise<{ cpu: T; wasm: T }> {
  await setBackend("cpu");
  const cpu = f();
  await setBackend("wasm");
  return { cpu, wasm: f() };
}

describe("log-softmax kernels on wasm", () => {
  beforeAll(() => setBackend("wasm"));
  afterAll(() => setBackend("cpu"));

  it("are active on wasm", () => {
    expect(simdKernelsActive()).toBe(true);
  });

  it.each(CASES.flatMap(([s, a]) => [true, false].map((e) => [s, a, e] as const)))(
    "logSoftmax %j over %j (edges %s): cpu's composition, float64 truth",
    async (shape, axes, edges) => {
      const n = sizeOf(shape);
      const x = values(n, 11 + n, edges);
      const before = tf.memory().numTensors;
      const run = () => tf.tidy(() => K.logSoftmax(tf.tensor(x, shape), [...axes]).dataSync() as Float32Array);
      const { cpu, wasm } = await onBoth(run);
      expect(tf.memory().numTensors).toBe(before);
      const t = truth(x, softmaxView(shape, axes)!);
      wasm.forEach((v, i) => {
        expect(same(v, cpu[i]!, 1e-5), `cpu at ${i}: ${v} vs ${cpu[i]}`).toBe(true);
        if (!edges) expect(same(v, t[i]!, 1e-5), `truth at ${i}: ${v} vs ${t[i]}`).toBe(true);
      });
    },
  );

  it.each(CASES.flatMap(([s, a]) => [true, false].map((e) => [s, a, e] as const)))(
    "logSoftmaxGrad %j over %j (edges %s): cpu's composition, float64 truth",
    async (shape, axes, edges) => {
      const n = sizeOf(shape);
      const x = values(n, 5 + n, false);
      const y = Float32Array.from(truth(x, softmaxView(shape, axes)!));
      const t = values(n, 7 + n, edges);
      const before = tf.memory().numTensors;
      const run = () =>
        tf.tidy(() => K.logSoftmaxGrad(tf.tensor(y, shape), tf.tensor(t, shape), [...axes]).dataSync() as Float32Array);
      const { cpu, wasm } = await onBoth(run);
      expect(tf.memory().numTensors).toBe(before);
      const [outer, r, inner] = softmaxView(shape, axes)!;
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const idx = (k: number) => o * r * inner + k * inner + i;
          let s = 0;
          let scale = 0;
          for (let k = 0; k < r; k++) {
            s += t[idx(k)]!;
            scale += Math.abs(t[idx(k)]!);
          }
          for (let k = 0; k < r; k++) {
            const j = idx(k);
            const tol = 1e-5 * (1 + scale);
            expect(same(wasm[j]!, cpu[j]!, tol), `cpu at ${j}: ${wasm[j]} vs ${cpu[j]}`).toBe(true);
            const want = t[j]! - Math.exp(y[j]!) * s;
            if (!edges) expect(same(wasm[j]!, want, tol), `truth at ${j}: ${wasm[j]} vs ${want}`).toBe(true);
          }
        }
      }
    },
  );

  it("the NLL's value and gradient on [100, 10] logits run six kernels, matching the closed form", async () => {
    const z = hd.random.normal(hd.random.key(4), [100, 10]);
    const y = hd.array(
      Array.from({ length: 100 }, (_, i) => Array.from({ length: 10 }, (_, c) => (c === i % 10 ? 1 : 0))),
    );
    const loss = (a: Value) => hd.sum(hd.mul(hd.mul(y, -1 / 100), hd.logSoftmax(a)));
    let g: Value | undefined;
    const { kernels } = await tf.profile(() => {
      g = hd.grad(loss)(z);
    });
    // log-softmax, y·c, multiply, sum forward; multiply and log-softmax's VJP backward.
    expect(kernels.map((k) => k.name)).toHaveLength(6);
    // ∂/∂z = (softmax(z) − y)/B.
    const want = tf.tidy(() => tf.div(tf.sub(tf.softmax(z as tf.Tensor), y as tf.Tensor), 100));
    const got = g as tf.Tensor;
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]!);
    expect(diff).toBeLessThan(1e-6);
    hd.dispose([z, y, got, want]);
  });
});
