/**
 * The SIMD kernels against tfjs's cpu backend (float64 Math functions rounded to float32, the
 * reference) on random inputs over the whole float range and on edge inputs (±large, ±0, NaN, ±Inf,
 * subnormals, lengths that are not a multiple of 4); errors in ulps of the reference. Also: the
 * committed module is what the AssemblyScript source compiles to.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setBackend } from "../backend";
import { SIMD_UNARY, TANH_GRAD, installSimdKernels, setSimdKernels, simdKernelsActive } from "./install";
import { SIMD_WASM_BASE64 } from "./module";
import { compileSimd } from "./build";

/** Distance in float32 ulps (0 where both are NaN or equal infinities; Infinity where one is NaN). */
function ulps(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  if (a === b) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  const i = new Int32Array(new Float32Array([a, b]).buffer);
  // Map the sign-magnitude bit patterns onto a line where adjacent floats differ by 1.
  const line = (k: number) => (k < 0 ? -(k & 0x7fffffff) : k);
  return Math.abs(line(i[0]!) - line(i[1]!));
}

const SPECIAL = [
  0,
  -0,
  NaN,
  Infinity,
  -Infinity,
  1,
  -1,
  0.5,
  -0.5,
  2,
  -2,
  1e-40,
  -1e-40,
  1.4e-45,
  -1.4e-45,
  1.17549435e-38,
  1e-8,
  -1e-8,
  1e-20,
  0.625,
  -0.625,
  0.6249,
  9,
  -9,
  10,
  -10,
  20,
  -20,
  30,
  -30,
  80,
  -80,
  88,
  88.7,
  88.8,
  89,
  -87,
  -88,
  -100,
  -103,
  -104,
  -105,
  1e10,
  -1e10,
  1e30,
  -1e30,
  3.4e38,
  -3.4e38,
  0.9999999,
  1.0000001,
  -0.9999999,
  -0.99999994,
  16777216,
  0.34657,
  -0.34657,
];

/** Random floats: x·10^e with x uniform in ±[1, 10) and e uniform in [−40, 38], and uniform in ±12. */
function randomInputs(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Float32Array.from({ length: n }, (_, i) => {
    const sign = rand() < 0.5 ? -1 : 1;
    if (i % 2) return sign * rand() * 12;
    return sign * (1 + 9 * rand()) * 10 ** Math.floor(-40 + 79 * rand());
  });
}

/** Maximum ulps allowed per kernel, measured with this test's inputs (see the README). */
const MAX_ULPS: Record<string, number> = { Tanh: 2, Exp: 2, Expm1: 2, Log: 2, Log1p: 3 };

function run(name: string, x: Float32Array): Float32Array {
  const input = tf.tensor1d(x);
  const out = tf.engine().runKernel(name, { x: input }) as tf.Tensor;
  const values = out.dataSync() as Float32Array;
  tf.dispose([input, out]);
  return values;
}

describe("SIMD elementwise kernels on wasm", () => {
  const inputs = new Float32Array([...SPECIAL, ...randomInputs(20_000, 7)]);
  const reference: Record<string, Float32Array> = {};
  let installed = false;

  beforeAll(async () => {
    await setBackend("cpu");
    for (const name of Object.keys(SIMD_UNARY)) reference[name] = run(name, inputs);
    await setBackend("wasm");
    installed = await installSimdKernels();
  });
  afterAll(() => setSimdKernels(true));

  it("installs on Node's wasm backend", () => {
    expect(installed).toBe(true);
    expect(simdKernelsActive()).toBe(true);
  });

  for (const name of Object.keys(SIMD_UNARY)) {
    it(`${name} matches the cpu backend within ${MAX_ULPS[name]} ulps, edge cases exactly`, () => {
      const before = tf.memory().numTensors;
      const got = run(name, inputs);
      const want = reference[name]!;
      let worst = 0;
      let at = 0;
      for (let i = 0; i < inputs.length; i++) {
        const e = ulps(got[i]!, want[i]!);
        if (e > worst) [worst, at] = [e, i];
      }
      if (process.env.SIMD_ULPS) console.log(`${name}: worst ${worst} ulps at x = ${inputs[at]}`);
      expect(worst, `${name}(${inputs[at]}) = ${got[at]}, reference ${want[at]}`).toBeLessThanOrEqual(MAX_ULPS[name]!);
      // Edge inputs: NaN, infinities and signed zeros exactly as the reference.
      for (let i = 0; i < SPECIAL.length; i++) {
        const [g, w] = [got[i]!, want[i]!];
        if (Number.isNaN(w) || !Number.isFinite(w) || w === 0)
          expect(Object.is(g, w), `${name}(${SPECIAL[i]}): ${g} vs ${w}`).toBe(true);
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("handles every length mod 16 (vectors of 4, the scalar tail) and leaves neighbouring memory alone", () => {
    for (const n of [1, 2, 3, 4, 5, 6, 7, 9, 15, 16, 17, 21, 35]) {
      const x = inputs.subarray(100, 100 + n);
      // A guard tensor allocated right after the output would be overwritten by a stray store.
      const got = tf.tidy(() => {
        const out = tf.engine().runKernel("Tanh", { x: tf.tensor1d(x) }) as tf.Tensor;
        const guard = tf.fill([8], 42);
        return [out.dataSync().slice(), guard.dataSync().slice()];
      });
      expect(Array.from(got[1]!)).toEqual(new Array(8).fill(42));
      for (let i = 0; i < n; i++)
        expect(ulps(got[0]![i]!, reference.Tanh![100 + i]!)).toBeLessThanOrEqual(MAX_ULPS.Tanh!);
    }
  });

  it(`${TANH_GRAD} gives dy·(1 − y²) rounded as the unfused ops`, () => {
    const y = tf.tanh(tf.tensor1d(inputs.subarray(0, 1001)));
    const dy = tf.tensor1d(randomInputs(1001, 3));
    const fused = (tf.engine().runKernel(TANH_GRAD, { y, dy }) as tf.Tensor).dataSync();
    const plain = tf.tidy(() => tf.mul(dy, tf.sub(1, tf.mul(y, y)))).dataSync();
    for (let i = 0; i < plain.length; i++) expect(Object.is(fused[i], plain[i]) || fused[i] === plain[i]).toBe(true);
    tf.dispose([y, dy]);
  });

  it("falls back to tfjs's kernels for int32 inputs and when switched off", () => {
    const xi = tf.tensor1d([0, 1, 2], "int32");
    expect(Array.from(tf.exp(xi).dataSync()).map((v) => Math.round(v * 1e4) / 1e4)).toEqual([1, 2.7183, 7.3891]);
    setSimdKernels(false);
    expect(simdKernelsActive()).toBe(false);
    const off = run("Tanh", inputs.subarray(0, 64));
    setSimdKernels(true);
    for (let i = 0; i < 64; i++) expect(ulps(off[i]!, reference.Tanh![i]!)).toBeLessThanOrEqual(MAX_ULPS.Tanh!);
    xi.dispose();
  });
});

describe("the committed SIMD module", () => {
  it("is a fresh build of packages/core/assembly/elementwise.ts", async () => {
    const fresh = await compileSimd();
    expect(Buffer.from(fresh).toString("base64")).toBe(SIMD_WASM_BASE64);
  });
});
