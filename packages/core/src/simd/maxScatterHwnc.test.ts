/**
 * HodiffMaxScatterTanhGradHwnc (2-D max pooling's gradient through tanh, written as [h, w, n, c]:
 * staging/fuse.ts's cotangentHwnc) on wasm against the cpu backend's composition (maxScatter,
 * tanhGrad, reshape, transpose) bit for bit, NaN included, and against a brute force (float64, each product rounded to
 * float32) with its own index map; inputs full of ties and edge values, channels below, at and above a vector.
 * Also K.max over 2×2 windows (HodiffMaxWindows) on every mix of −1, ±0 and NaN against cpu's Max.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setBackend } from "../backend";
import { K } from "../kernels";
import { MAX_SCATTER_TANH_GRAD_HWNC, installSimdKernels } from "./install";
import { sizeOf } from "../shapes";
import { uniform } from "../testing/randomFloats";

const EDGES = [NaN, Infinity, -Infinity, 0, -0, 3e38, -3e38, 1e-40, 0.5, 0.5, -1];

/** Deterministic values: mostly a few repeated ones (ties everywhere), some edges, some random floats. */
function values(n: number, seed: number): Float32Array {
  const rand = uniform(seed);
  return Float32Array.from({ length: n }, () => {
    const u = rand();
    if (u < 0.5) return Math.floor(rand() * 4) / 4 - 0.5;
    if (u < 0.6) return EDGES[Math.floor(rand() * EDGES.length)]!;
    return rand() * 2 - 1;
  });
}

/** x shapes [n, hp, kh, wp, kw, c]: 2×2 windows (straight-line), others, c < 4, = 4, ragged, n = 1. */
const CASES: Array<[number, number, number, number, number, number]> = [
  [3, 2, 2, 3, 2, 6], // LeNet-5's layout (c = 6: a vector and an overlapping one)
  [2, 3, 2, 2, 2, 16],
  [1, 2, 2, 2, 2, 4],
  [2, 2, 2, 3, 2, 3], // c < 4: one float at a time
  [2, 2, 2, 2, 2, 1],
  [2, 2, 3, 2, 3, 5], // 3×3 windows
  [3, 1, 1, 4, 2, 7], // 1×2 windows
  [2, 3, 2, 1, 3, 2],
];

const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

function inputs(shape: readonly number[], seed: number, arbitraryM: boolean) {
  const [n, hp, , wp, , c] = shape as [number, number, number, number, number, number];
  const kept = [n, hp, wp, c];
  const x = values(sizeOf(shape), seed);
  const m = arbitraryM
    ? values(sizeOf(kept), seed + 1) // windows where nothing equals m: NaN weights
    : (tf.tidy(() => tf.max(tf.tensor(x, [...shape]), [2, 4]).dataSync()) as Float32Array);
  return { x, m, t: values(sizeOf(kept), seed + 2), kept };
}

/** Truth in float64 with each product rounded to float32: out[i·kh + p, j·kw + q, b, ch] = (x == m)/#ties · t · (1 − x²) at x[b, i, p, j, q, ch]. */
function bruteForce(shape: readonly number[], x: Float32Array, m: Float32Array, t: Float32Array): Float64Array {
  const [n, hp, kh, wp, kw, c] = shape as [number, number, number, number, number, number];
  const W = wp * kw;
  const out = new Float64Array(x.length);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < hp; i++)
      for (let j = 0; j < wp; j++)
        for (let ch = 0; ch < c; ch++) {
          const k = ((b * hp + i) * wp + j) * c + ch;
          const at = (p: number, q: number) => ((((b * hp + i) * kh + p) * wp + j) * kw + q) * c + ch;
          let count = 0;
          for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) if (x[at(p, q)] === m[k]) count++;
          for (let p = 0; p < kh; p++)
            for (let q = 0; q < kw; q++) {
              const v = x[at(p, q)]!;
              // Each product rounded to float32 (as any float32 kernel): overflow to ±Inf, 0·Inf = NaN.
              const f = Math.fround;
              const w = (v === m[k] ? 1 : 0) / count;
              out[(((i * kh + p) * W + j * kw + q) * n + b) * c + ch] = f(f(w * t[k]!) * f(1 - f(v * v)));
            }
        }
  return out;
}

const compute = (shape: readonly number[], x: Float32Array, m: Float32Array, t: Float32Array, kept: number[]) =>
  tf.tidy(() =>
    K.maxScatterTanhGradHwnc(tf.tensor(x, [...shape]), tf.tensor(m, kept), tf.tensor(t, kept)).dataSync(),
  ) as Float32Array;

describe(`${MAX_SCATTER_TANH_GRAD_HWNC} on wasm`, () => {
  beforeAll(async () => {
    await setBackend("wasm");
    expect(await installSimdKernels()).toBe(true);
  });
  afterAll(() => setBackend("cpu"));

  for (const shape of CASES) {
    for (const arbitraryM of [false, true]) {
      const label = `x [${shape}], m ${arbitraryM ? "arbitrary" : "= max"}`;
      it(`${label}: cpu's maxScatterTanhGrad + reshape + transpose bit for bit; float64 brute force`, async () => {
        await setBackend("cpu");
        const { x, m, t, kept } = inputs(shape, sizeOf(shape) + shape[5], arbitraryM);
        const want = compute(shape, x, m, t, kept);
        await setBackend("wasm");
        const before = tf.memory().numTensors;
        const got = compute(shape, x, m, t, kept);
        expect(tf.memory().numTensors).toBe(before);
        const [n, hp, kh, wp, kw, c] = shape;
        expect(got.length).toBe(n * hp * kh * wp * kw * c);
        const truth = bruteForce(shape, x, m, t);
        for (let i = 0; i < got.length; i++) {
          expect(same(got[i]!, want[i]!), `${label} at ${i}: wasm ${got[i]}, cpu ${want[i]}`).toBe(true);
          // float32 rounding of three products (and of 1/#ties): a few ulps of the float64 value.
          const ok = same(got[i]!, truth[i]!) || Math.abs(got[i]! - truth[i]!) <= 1e-6 * Math.abs(truth[i]!);
          expect(ok, `${label} at ${i}: ${got[i]} vs float64 ${truth[i]}`).toBe(true);
        }
      });
    }
  }

  it("K.max over 2×2 windows (HodiffMaxWindows' straight-line path) equals cpu's Max bit for bit: ±0 ties keep the first, NaN anywhere gives NaN", async () => {
    // 384 windows (64 per channel, 6 channels: a vector and an overlapping one), element e of
    // window k the base-4 digit e of k (shifted by e) picking from −1, −0, +0 and NaN: every mix.
    const pick = [-1, -0, 0, NaN];
    const shape = [4, 4, 2, 4, 2, 6];
    const x = new Float32Array(sizeOf(shape));
    for (let w = 0; w < 64; w++)
      for (let ch = 0; ch < 6; ch++) {
        const [b, i, j] = [w >> 4, (w >> 2) & 3, w & 3];
        for (let e = 0; e < 4; e++) {
          const at = ((((b * 4 + i) * 2 + (e >> 1)) * 4 + j) * 2 + (e & 1)) * 6 + ch;
          x[at] = pick[(Math.floor((w * 6 + ch) / 4 ** e) + e) % 4]!;
        }
      }
    await setBackend("cpu");
    const want = tf.tidy(() => tf.max(tf.tensor(x, shape), [2, 4]).dataSync());
    await setBackend("wasm");
    const got = tf.tidy(() => K.max(tf.tensor(x, shape), [2, 4]).dataSync());
    expect(got.length).toBe(want.length);
    for (let i = 0; i < got.length; i++) expect(same(got[i]!, want[i]!), `at ${i}: ${got[i]} vs ${want[i]}`).toBe(true);
    expect(Array.from(got).some((v) => Object.is(v, -0))).toBe(true);
    expect(Array.from(got).some((v) => Number.isNaN(v))).toBe(true);
  });

  it("names the shapes when m or t is not x's kept shape", () => {
    const x = tf.zeros([2, 2, 2, 2, 2, 3]);
    const m = tf.zeros([2, 2, 3, 3]);
    expect(() => tf.engine().runKernel(MAX_SCATTER_TANH_GRAD_HWNC, { x, m, t: m })).toThrow(
      /\[2,2,2,2,2,3\].*\[2,2,3,3\]/,
    );
    tf.dispose([x, m]);
  });
});
