/**
 * The SIMD kernels against tfjs's cpu backend (float64 Math functions rounded to float32, the
 * reference) on random inputs over the whole float range and on edge inputs (±large, ±0, NaN, ±Inf,
 * subnormals, lengths that are not a multiple of 4); errors in ulps of the reference. Also: the
 * committed module is what the AssemblyScript source compiles to.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setBackend } from "../backend";
import {
  ELU,
  ELU_GRAD,
  SIMD_UNARY,
  TANH_GRAD,
  asSwap,
  installSimdKernels,
  setSimdKernels,
  simdKernelsActive,
} from "./install";
import { SIMD_WASM_BASE64 } from "./module";
import { compileSimd } from "./build";
import { ulps } from "./fixtures";
import * as hd from "../index";

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

  it("Tanh is within 2 ulps of float64 Math.tanh on a dense sweep of float32 and around its branch points", () => {
    // Every 1021st float32 bit pattern from +0 to 12 (tanh is ±1 in float32 beyond 9.02), both signs,
    // and 64 floats either side of each point where the kernel's computation changes: the tiny-x
    // cut 2⁻¹², the clamp 9.1, and each 2|x| = (k + ½)·ln 2 where the range reduction's n steps.
    const bits: number[] = [];
    const top = new Uint32Array(new Float32Array([12]).buffer)[0]!;
    for (let b = 0; b <= top; b += 1021) bits.push(b);
    const points = [2 ** -12, 9.1, ...Array.from({ length: 27 }, (_, k) => ((k + 0.5) * Math.LN2) / 2)];
    for (const p of points) {
      const b = new Uint32Array(new Float32Array([p]).buffer)[0]!;
      for (let d = -64; d <= 64; d++) bits.push(b + d);
    }
    const x = new Float32Array(new Uint32Array([...bits, ...bits.map((b) => (b | 0x80000000) >>> 0)]).buffer);
    const got = run("Tanh", x);
    let worst = 0;
    let at = 0;
    for (let i = 0; i < x.length; i++) {
      const e = ulps(got[i]!, Math.fround(Math.tanh(x[i]!)));
      if (e > worst) [worst, at] = [e, i];
    }
    if (process.env.SIMD_ULPS) console.log(`Tanh sweep (${x.length} floats): worst ${worst} ulps at x = ${x[at]}`);
    expect(worst, `tanh(${x[at]}) = ${got[at]}`).toBeLessThanOrEqual(MAX_ULPS.Tanh!);
    // ±0 and subnormals come back exactly (tanh x rounds to x there).
    for (let i = 0; i < x.length; i++) if (Math.abs(x[i]!) < 1.17549435e-38) expect(Object.is(got[i], x[i])).toBe(true);
  });

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

  it(`${ELU} and ${ELU_GRAD} match the cpu backend's x > 0 ? x : expm1(x) and dy·(x > 0 ? 1 : eˣ) within 2 ulps`, async () => {
    const dyValues = randomInputs(inputs.length, 5).map((v) => Math.max(-1e30, Math.min(1e30, v)));
    const compute = () =>
      tf.tidy(() => {
        const x = tf.tensor1d(inputs);
        const zero = tf.zerosLike(x);
        const dy = tf.tensor1d(dyValues);
        return [
          tf.where(tf.greater(x, zero), x, tf.expm1(tf.minimum(x, zero))).dataSync(),
          tf.mul(dy, tf.where(tf.greater(x, zero), tf.onesLike(x), tf.exp(tf.minimum(x, zero)))).dataSync(),
        ];
      });
    await setBackend("cpu");
    const [wantElu, wantGrad] = compute();
    await setBackend("wasm");
    const before = tf.memory().numTensors;
    const [gotElu, gotGrad] = tf.tidy(() => {
      const x = tf.tensor1d(inputs);
      const dy = tf.tensor1d(dyValues);
      return [
        (tf.engine().runKernel(ELU, { x }) as tf.Tensor).dataSync(),
        (tf.engine().runKernel(ELU_GRAD, { x, dy }) as tf.Tensor).dataSync(),
      ];
    });
    expect(tf.memory().numTensors).toBe(before);
    for (let i = 0; i < inputs.length; i++) {
      expect(ulps(gotElu![i]!, wantElu![i]!), `elu(${inputs[i]})`).toBeLessThanOrEqual(2);
      expect(ulps(gotGrad![i]!, wantGrad![i]!), `elu'(${inputs[i]})·${dyValues[i]}`).toBeLessThanOrEqual(2);
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

/** For each element of x transposed by perm (row-major), the flat index it comes from in x. */
function sourceIndices(shape: number[], perm: number[]): number[] {
  const strides = shape.map((_, k) => shape.slice(k + 1).reduce((a, b) => a * b, 1));
  const outShape = perm.map((a) => shape[a]!);
  const n = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, flat) => {
    let src = 0;
    for (let k = outShape.length - 1; k >= 0; k--) {
      src += (flat % outShape[k]!) * strides[perm[k]!]!;
      flat = Math.floor(flat / outShape[k]!);
    }
    return src;
  });
}

describe("Transpose on wasm", () => {
  /** Transposes whose result is compared: matmul and conv gradients' patterns, odd sizes, size-1 axes. */
  const CASES: Array<[number[], number[]]> = [
    [
      [1024, 1024],
      [1, 0],
    ],
    [
      [37, 61],
      [1, 0],
    ],
    [
      [3, 1],
      [1, 0],
    ],
    [
      [5, 7, 3],
      [0, 2, 1],
    ],
    [
      [6, 9, 10],
      [1, 0, 2],
    ],
    [
      [10, 7, 7, 6],
      [1, 2, 0, 3],
    ],
    [
      [4, 5, 5, 3],
      [1, 2, 0, 3],
    ],
    [
      [3, 3, 8, 4],
      [0, 1, 3, 2],
    ],
    [
      [2, 5, 1, 7, 2],
      [0, 3, 2, 1, 4],
    ],
    [
      [2, 3, 4],
      [2, 0, 1],
    ],
    [
      [2, 3, 4, 5],
      [3, 1, 2, 0],
    ],
    [
      [4, 1, 5],
      [1, 0, 2],
    ],
  ];
  const data = (shape: number[]) =>
    randomInputs(
      shape.reduce((a, b) => a * b, 1),
      shape.length + shape[0]!,
    );
  let reference: Float32Array[] = [];

  beforeAll(async () => {
    await setBackend("cpu");
    reference = CASES.map(([shape, perm]) =>
      tf.tidy(() => tf.transpose(tf.tensor(data(shape), shape), perm).dataSync() as Float32Array),
    );
    await setBackend("wasm");
  });

  it("recognises swaps of two axis groups", () => {
    expect(asSwap([1024, 512], [1, 0])).toEqual([1, 1024, 512, 1]);
    expect(asSwap([100, 28, 28, 6], [1, 2, 0, 3])).toEqual([1, 100, 784, 6]);
    expect(asSwap([8, 3, 5], [0, 2, 1])).toEqual([8, 3, 5, 1]);
    expect(asSwap([2, 1, 3], [1, 0, 2])).toBeNull(); // the identity once size-1 axes go
    expect(asSwap([2, 3, 4], [2, 0, 1])).toEqual([1, 6, 4, 1]);
    expect(asSwap([2, 3, 4, 5], [3, 1, 2, 0])).toBeNull();
  });

  it("equals the cpu backend exactly (float32 and int32), without leaking tensors", () => {
    const before = tf.memory().numTensors;
    /** Positions where a and b differ (by Object.is), at most 5. */
    const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      const bad: number[] = [];
      for (let i = 0; i < Math.max(a.length, b.length) && bad.length < 5; i++) if (!Object.is(a[i], b[i])) bad.push(i);
      return bad;
    };
    CASES.forEach(([shape, perm], i) => {
      const got = tf.tidy(() => tf.transpose(tf.tensor(data(shape), shape), perm).dataSync());
      expect(diff(got, reference[i]!), `${shape} by ${perm}`).toEqual([]);
      // int32: the element's index, so a misplaced element shows where it came from.
      const n = reference[i]!.length;
      const idx = tf.tidy(() => tf.transpose(tf.reshape(tf.range(0, n, 1, "int32"), shape), perm).dataSync());
      const want = sourceIndices(shape, perm);
      expect(diff(idx, want), `int32 ${shape} by ${perm}`).toEqual([]);
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("Slice on wasm", () => {
  /** Random shapes of rank 1–5 and random begin/size in them (some full, some with size −1). */
  function cases(count: number, seed: number): Array<[number[], number[], number[]]> {
    let st = seed;
    const rand = (n: number) => ((st = (Math.imul(st, 1664525) + 1013904223) >>> 0) % n) >>> 0;
    return Array.from({ length: count }, () => {
      const shape = Array.from({ length: 1 + rand(5) }, () => 1 + rand(6));
      const begin = shape.map((d) => (rand(3) === 0 ? 0 : rand(d)));
      const size = shape.map((d, i) => (rand(4) === 0 ? -1 : 1 + rand(d - begin[i]!)));
      return [shape, begin, size];
    });
  }
  const CASES = [
    ...cases(200, 11),
    [
      [9, 4096],
      [3, 0],
      [1, 4096],
    ] as [number[], number[], number[]],
  ];
  const DTYPES = ["float32", "int32", "bool"] as const;
  const values = (n: number, dtype: string): tf.TensorLike =>
    dtype === "bool"
      ? Array.from({ length: n }, (_, i) => i % 3 === 0)
      : Array.from({ length: n }, (_, i) => (dtype === "int32" ? i * 7 - 3 : i / 3 - 1));
  /** The entries of x[begin : begin + size] on the current backend, x of `shape` filled by `values`. */
  const sliceValues = (shape: number[], begin: number[], size: number[], dt: (typeof DTYPES)[number]): number[] =>
    tf.tidy(() => {
      const x = tf.tensor(
        values(
          shape.reduce((a, b) => a * b, 1),
          dt,
        ),
        shape,
        dt,
      );
      return Array.from(tf.slice(x, begin, size).dataSync());
    });
  let reference: number[][][] = [];

  beforeAll(async () => {
    await setBackend("cpu");
    reference = CASES.map(([shape, begin, size]) => DTYPES.map((dt) => sliceValues(shape, begin, size, dt)));
    await setBackend("wasm");
  });

  it("equals the cpu backend on random slices (float32, int32, bool) without leaking tensors", () => {
    const before = tf.memory().numTensors;
    CASES.forEach(([shape, begin, size], i) => {
      DTYPES.forEach((dt, j) => {
        const got = sliceValues(shape, begin, size, dt);
        expect(got, `${dt} [${shape}] from [${begin}] size [${size}]`).toEqual(reference[i]![j]);
      });
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("Sum and Max on wasm", () => {
  /** Random shapes of rank 1–6 and random axis subsets (pooling's [N,Ho,2,Wo,2,C] over [2,4] among them). */
  function cases(count: number, seed: number): Array<[number[], number[], boolean]> {
    let st = seed;
    const rand = (n: number) => ((st = (Math.imul(st, 1664525) + 1013904223) >>> 0) % n) >>> 0;
    const out: Array<[number[], number[], boolean]> = [
      [[10, 5, 2, 5, 2, 16], [2, 4], false],
      [[8, 7, 7, 13], [0, 1, 2], false],
      [[100, 37], [1], true],
      [[3, 4], [], false],
      // Inner sizes not a multiple of 4 (sums q rows at a time), with r mod q rows left over.
      [[4, 7, 7, 6], [0, 1, 2], false],
      [[3, 41, 6], [1], false],
      [[37, 5], [0], false],
      [[2, 19, 3], [1], true],
      [[23, 7], [0], false],
      [[9, 15], [0], false],
      [[6, 2, 13, 10], [1, 2], false],
      // Three last vectors of a period in one pass (inner 6, 3, 14, 11), one period or an odd number of them.
      [[3, 6], [0], false],
      [[5, 3], [0], true],
      [[2, 7, 14], [0, 1], false],
      [[13, 11], [0], false],
      [[2, 5, 5, 6], [0, 1, 2], false],
    ];
    for (let c = 0; c < count; c++) {
      const shape = Array.from({ length: 1 + rand(6) }, () => 1 + rand(7));
      out.push([shape, shape.flatMap((_, a) => (rand(2) ? [a] : [])), rand(2) === 1]);
    }
    return out;
  }
  const CASES = cases(150, 5);
  const data = (shape: number[]) =>
    randomInputs(
      shape.reduce((a, b) => a * b, 1),
      9,
    ).map((v) => Math.max(-1e3, Math.min(1e3, v)));
  let reference: Array<[Float32Array, Float32Array, number[]]> = [];
  const compute = () =>
    CASES.map(([shape, axes, keep]) =>
      tf.tidy(() => {
        const x = tf.tensor(data(shape), shape);
        const s = tf.sum(x, axes, keep);
        return [s.dataSync() as Float32Array, tf.max(x, axes, keep).dataSync() as Float32Array, s.shape] as [
          Float32Array,
          Float32Array,
          number[],
        ];
      }),
    );

  beforeAll(async () => {
    await setBackend("cpu");
    reference = compute();
    await setBackend("wasm");
  });

  it("equals the cpu backend (Max exactly, Sum to float32 rounding), shapes included, without leaking", () => {
    const before = tf.memory().numTensors;
    const got = compute();
    expect(tf.memory().numTensors).toBe(before);
    CASES.forEach(([shape, axes, keep], i) => {
      const [sum, max, outShape] = got[i]!;
      const [wantSum, wantMax, wantShape] = reference[i]!;
      const what = `[${shape}] over [${axes}]${keep ? " keepDims" : ""}`;
      expect(outShape, what).toEqual(wantShape);
      expect(Array.from(max), what).toEqual(Array.from(wantMax));
      const r = shape.filter((_, a) => axes.includes(a)).reduce((a, b) => a * b, 1);
      // |Σ computed in another order − Σ| ≤ r·ε·Σ|x|, with Σ|x| ≤ r·1000.
      sum.forEach((v, j) => expect(Math.abs(v - wantSum[j]!), what).toBeLessThanOrEqual(r * r * 1000 * 1.2e-7));
    });
  });

  it("leaves int32 to tfjs's kernels", () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], "int32");
    expect(Array.from(tf.sum(x, 0).dataSync())).toEqual([5, 7, 9]);
    expect(Array.from(tf.max(x, 1).dataSync())).toEqual([3, 6]);
    x.dispose();
  });
});

describe("the committed SIMD module", () => {
  it("is a fresh build of packages/core/assembly/elementwise.ts", async () => {
    const fresh = await compileSimd();
    expect(Buffer.from(fresh).toString("base64")).toBe(SIMD_WASM_BASE64);
  });
});

describe("hodiff's fused primitives on wasm", () => {
  // f(x) = Σ c·elu(x) + Σ tanh(x)²: its gradient runs eluGrad and tanhGrad, its Hessian-vector
  // product their own derivatives, its jet the Taylor rules; all must equal the cpu backend's.
  const xs = Array.from({ length: 64 }, (_, i) => -3 + (6 * (i + 0.5)) / 64); // both sides of 0, never 0
  const cs = Array.from({ length: 64 }, (_, i) => Math.sin(i + 1));
  const derivatives = () =>
    hd.tidy(() => {
      const x = hd.array(xs);
      const v = hd.array(cs);
      const f = (z: hd.Value) => hd.add(hd.sum(hd.mul(hd.elu(z), v)), hd.sum(hd.square(hd.tanh(z))));
      const g = hd.grad(f)(x) as hd.Value;
      const hv = hd.jvp((z: hd.Value) => hd.grad(f)(z) as hd.Value, [x], [v])[1] as hd.Value;
      const [, terms] = hd.jet((z: hd.Value) => hd.mul(hd.elu(z), hd.tanh(z)), [x], [[v, v, v]]);
      return [g, hv, ...(terms as hd.Value[])].map((t) => Array.from(hd.toFlat(t)));
    });

  it("give the cpu backend's gradient, Hessian-vector product and jet, through the fused kernels", async () => {
    await setBackend("cpu");
    const want = derivatives();
    await setBackend("wasm");
    expect(simdKernelsActive()).toBe(true);
    const before = tf.memory().numTensors;
    const profile = await tf.profile(() => {
      derivatives();
    });
    expect(profile.kernelNames).toEqual(expect.arrayContaining([TANH_GRAD, ELU, ELU_GRAD]));
    const got = derivatives();
    expect(tf.memory().numTensors).toBe(before);
    got.forEach((row, r) =>
      row.forEach((value, i) =>
        expect(Math.abs(value - want[r]![i]!), `row ${r}, x = ${xs[i]}`).toBeLessThanOrEqual(
          1e-5 * (1 + Math.abs(want[r]![i]!)),
        ),
      ),
    );
  });
});
