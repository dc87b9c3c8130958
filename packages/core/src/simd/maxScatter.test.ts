/**
 * The max-scatter kernel (reduce-max's derivative, max pooling's gradient) on wasm against the cpu
 * backend's composition of tfjs ops (equal, cast, sum, div, mul) — bit for bit, NaN included — and
 * against a brute-force float64 loop, on inputs full of ties and edge values, for several shapes
 * and axes; then the derivatives of max pooling through every transform, wasm against cpu.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setBackend } from "../backend";
import { K } from "../kernels";
import { maxScatterView } from "../shapes";
import { MAX_SCATTER, MAX_SCATTER_TANH_GRAD, simdKernelsActive } from "./install";
import { maxGatherP, maxScatterP } from "../primitives/reduce";
import { hostKernel } from "../staging/host";
import * as hd from "../index";
import type { Value } from "../index";

const EDGES = [NaN, Infinity, -Infinity, 0, -0, 3e38, -3e38, 1e-40, 2, 2, -1];

/** Deterministic values: mostly small integers (ties everywhere), some edges, some random floats. */
function values(n: number, seed: number, edges = true): Float32Array {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Float32Array.from({ length: n }, () => {
    const u = rand();
    if (u < 0.6) return Math.floor(rand() * 4) - 2;
    if (u < 0.7 && edges) return EDGES[Math.floor(rand() * EDGES.length)]!;
    return (rand() - 0.5) * 10 ** Math.floor(rand() * 8 - 4);
  });
}

/** [shape, axes]: pooling layouts, reduced axes innermost or not, several runs, size-1 axes, none. */
const CASES: Array<[number[], number[]]> = [
  [
    [4, 3, 2, 5, 2, 6],
    [2, 4],
  ], // 2×2 pooling of [4,6,10,6] (kept rows of 6: a vector and a tail)
  [
    [3, 2, 2, 3, 2, 16],
    [2, 4],
  ], // 2×2 pooling (the straight-line window), kept rows of whole vectors
  [
    [2, 3, 2, 4, 2, 5],
    [2, 4],
  ], // 2×2 pooling, kept rows of 5 (the last vector overlaps by 3 lanes)
  [
    [2, 5, 3, 4, 3, 16],
    [2, 4],
  ], // 3×3 pooling, 16 channels
  [[3, 7, 5], [2]], // the reduced axis innermost (contiguous segments)
  [[3, 7, 9], [1]], // kept rows of 9, 7, 5: the last vector overlaps by 3, 1, 3 lanes
  [[2, 3, 7], [1]],
  [[3, 2, 5], [1]],
  [
    [2, 3, 4, 5, 3, 2],
    [0, 2, 4],
  ], // three runs of reduced axes
  [
    [2, 3, 4, 5, 3, 2],
    [1, 3, 5],
  ],
  [
    [5, 4, 3],
    [0, 1, 2],
  ],
  [[6, 5], []],
  [
    [4, 1, 6, 1, 3],
    [1, 2],
  ],
  [
    [2, 2, 3, 2, 2, 3, 2],
    [0, 2, 4, 6],
  ], // four runs: more than the kernel's view (composed)
  [[0, 3, 4], [1]],
];

/** The max over `axes` of x (cpu's Max: a NaN after the first element is skipped) as m. */
function inputs(shape: number[], axes: number[], seed: number, arbitraryM: boolean) {
  const n = shape.reduce((a, b) => a * b, 1);
  const x = values(n, seed);
  const kept = shape.filter((_, i) => !axes.includes(i));
  const mSize = kept.reduce((a, b) => a * b, 1);
  let m: Float32Array;
  if (arbitraryM)
    m = values(mSize, seed + 1); // windows where nothing equals m: NaN weights
  else m = tf.tidy(() => tf.max(tf.tensor(x, shape), axes).dataSync() as Float32Array);
  const t = values(mSize, seed + 2);
  const s = values(n, seed + 3);
  return { x, m, t, s, kept };
}

function compute(shape: number[], axes: number[], x: Float32Array, m: Float32Array, t: Float32Array, kept: number[]) {
  return tf.tidy(() =>
    K.maxScatter(tf.tensor(x, shape), tf.tensor(m, kept), tf.tensor(t, kept), axes).dataSync(),
  ) as Float32Array;
}

function computeGather(
  shape: number[],
  axes: number[],
  x: Float32Array,
  m: Float32Array,
  s: Float32Array,
  kept: number[],
) {
  return tf.tidy(() =>
    K.maxGather(tf.tensor(x, shape), tf.tensor(m, kept), tf.tensor(s, shape), axes).dataSync(),
  ) as Float32Array;
}

/** Equal, both NaN, or within float32 rounding of a sum whose terms' magnitudes add up to `scale`. */
const close = (a: number, b: number, scale: number) => same(a, b) || Math.abs(a - b) <= 1e-6 * scale;

/** float64 truth of maxGather (Σ over each window of s·(x == m)/#ties) and Σ |terms|. */
function bruteForceGather(shape: number[], axes: number[], x: Float32Array, m: Float32Array, s: Float32Array) {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const keptAxes = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const keptIndex = (i: number) =>
    keptAxes.reduce((k, a) => k * shape[a]! + (Math.floor(i / strides[a]!) % shape[a]!), 0);
  const count = new Array<number>(m.length).fill(0);
  x.forEach((v, i) => {
    if (v === m[keptIndex(i)]) count[keptIndex(i)]!++;
  });
  const out = new Array<number>(m.length).fill(0);
  const scale = new Array<number>(m.length).fill(0);
  x.forEach((v, i) => {
    const k = keptIndex(i);
    const term = s[i]! * ((v === m[k] ? 1 : 0) / count[k]!);
    out[k]! += term;
    scale[k]! += Math.abs(term);
  });
  return { out, scale };
}

/** float64 truth: (x == m)/#ties · t. */
function bruteForce(shape: number[], axes: number[], x: Float32Array, m: Float32Array, t: Float32Array): number[] {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const keptAxes = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const keptIndex = (i: number) =>
    keptAxes.reduce((k, a) => k * shape[a]! + (Math.floor(i / strides[a]!) % shape[a]!), 0);
  const count = new Array<number>(m.length).fill(0);
  x.forEach((v, i) => {
    if (v === m[keptIndex(i)]) count[keptIndex(i)]!++;
  });
  return Array.from(x, (v, i) => ((v === m[keptIndex(i)] ? 1 : 0) / count[keptIndex(i)]!) * t[keptIndex(i)]!);
}

const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

describe(`${MAX_SCATTER} on wasm`, () => {
  beforeAll(() => setBackend("wasm"));
  afterAll(() => setBackend("cpu"));

  it("is installed, and its view covers up to three runs of reduced axes", () => {
    expect(simdKernelsActive()).toBe(true);
    expect(tf.getKernel(MAX_SCATTER, "wasm")).toBeDefined();
    expect(maxScatterView([4, 3, 2, 5, 2, 6], [2, 4])).toEqual([1, 1, 12, 2, 5, 2, 6]);
    expect(maxScatterView([3, 7, 5], [2])).toEqual([1, 1, 1, 1, 21, 5, 1]);
    expect(maxScatterView([2, 3, 4, 5, 3, 2], [0, 2, 4])).toEqual([1, 2, 3, 4, 5, 3, 2]);
    expect(maxScatterView([2, 3, 4, 5, 3, 2], [1, 3, 5])).toEqual([2, 3, 4, 5, 3, 2, 1]);
    expect(maxScatterView([6, 5], [])).toEqual([1, 1, 1, 1, 1, 1, 30]);
    expect(maxScatterView([2, 2, 3, 2, 2, 3, 2], [0, 2, 4, 6])).toBeNull();
  });

  for (const [shape, axes] of CASES) {
    for (const arbitraryM of [false, true]) {
      const label = `[${shape}] over [${axes}], m ${arbitraryM ? "arbitrary" : "= max"}`;
      it(`${label}: equals cpu's composed ops bit for bit and float64 brute force`, async () => {
        await setBackend("cpu");
        const { x, m, t, kept } = inputs(shape, axes, shape.length * 31 + axes.length, arbitraryM);
        const want = compute(shape, axes, x, m, t, kept);
        await setBackend("wasm");
        const before = tf.memory().numTensors;
        const got = compute(shape, axes, x, m, t, kept);
        expect(tf.memory().numTensors).toBe(before);
        expect(got.length).toBe(want.length);
        const truth = bruteForce(shape, axes, x, m, t);
        for (let i = 0; i < got.length; i++) {
          expect(
            same(got[i]!, want[i]!),
            `${label} at ${i}: wasm ${got[i]}, cpu ${want[i]}, float64 ${truth[i]}, t ${t}`,
          ).toBe(true);
          const close = same(got[i]!, truth[i]!) || Math.abs(got[i]! - truth[i]!) <= 1e-6 * Math.abs(truth[i]!);
          expect(close, `${label} at ${i}: ${got[i]} vs float64 ${truth[i]}`).toBe(true);
        }
      });
    }
  }

  for (const [shape, axes] of CASES) {
    for (const arbitraryM of [false, true]) {
      const label = `[${shape}] over [${axes}], m ${arbitraryM ? "arbitrary" : "= max"}`;
      it(`${MAX_SCATTER_TANH_GRAD} ${label}: cpu's maxScatter then tanhGrad bit for bit, float64 (x == m)/#ties·t·(1 − x²)`, async () => {
        const fused = (x: Float32Array, m: Float32Array, t: Float32Array, kept: number[]) =>
          tf.tidy(() =>
            K.maxScatterTanhGrad(tf.tensor(x, shape), tf.tensor(m, kept), tf.tensor(t, kept), axes).dataSync(),
          );
        await setBackend("cpu");
        const { x, m, t, kept } = inputs(shape, axes, shape.length * 17 + axes.length, arbitraryM);
        const want = tf.tidy(() => {
          const xs = tf.tensor(x, shape);
          return K.tanhGrad(xs, K.maxScatter(xs, tf.tensor(m, kept), tf.tensor(t, kept), axes)).dataSync();
        });
        await setBackend("wasm");
        const before = tf.memory().numTensors;
        const profile = await tf.profile(() => void fused(x, m, t, kept));
        const got = fused(x, m, t, kept);
        expect(tf.memory().numTensors).toBe(before);
        if (maxScatterView(shape, axes) !== null && !shape.includes(0))
          expect(profile.kernelNames).toContain(MAX_SCATTER_TANH_GRAD);
        // Rounded as the kernel's contract says: maxScatter's value, then tanhGrad's dy·(1 − y·y) in float32
        // (x = 3e38 makes y·y overflow to ∞ there, and 0·∞ NaN, as in the unfused kernels).
        const f = Math.fround;
        const truth = bruteForce(shape, axes, x, m, t).map((v, i) => f(f(v) * f(1 - f(x[i]! * x[i]!))));
        expect(got.length).toBe(want.length);
        for (let i = 0; i < got.length; i++) {
          expect(same(got[i]!, want[i]!), `${label} at ${i}: wasm ${got[i]}, cpu ${want[i]}`).toBe(true);
          const ok = same(got[i]!, truth[i]!) || Math.abs(got[i]! - truth[i]!) <= 3e-7 * Math.abs(truth[i]!);
          expect(ok, `${label} at ${i}: ${got[i]} vs float64 ${truth[i]}`).toBe(true);
        }
      });
    }
  }

  it.each(CASES.filter(([shape]) => !shape.includes(0)))(
    "K.max of [%s] over [%s] (one pass over windows where a kept run is innermost) equals cpu's Max bit for bit",
    async (shape, axes) => {
      await setBackend("cpu");
      const x = values(
        shape.reduce((a, b) => a * b, 1),
        shape.length * 7 + axes.length,
      );
      const want = tf.tidy(() => tf.max(tf.tensor(x, shape), axes).dataSync());
      await setBackend("wasm");
      const before = tf.memory().numTensors;
      const got = tf.tidy(() => K.max(tf.tensor(x, shape), axes).dataSync());
      expect(tf.memory().numTensors).toBe(before);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < got.length; i++)
        expect(same(got[i]!, want[i]!), `at ${i}: ${got[i]} vs ${want[i]}`).toBe(true);
    },
  );

  for (const [shape, axes] of CASES) {
    for (const arbitraryM of [false, true]) {
      const label = `[${shape}] over [${axes}], m ${arbitraryM ? "arbitrary" : "= max"}`;
      it(`maxGather ${label}: cpu's composed ops to float32 rounding, float64 brute force, NaN alike`, async () => {
        await setBackend("cpu");
        const { x, m, s, kept } = inputs(shape, axes, shape.length * 13 + axes.length, arbitraryM);
        const want = computeGather(shape, axes, x, m, s, kept);
        await setBackend("wasm");
        const before = tf.memory().numTensors;
        const got = computeGather(shape, axes, x, m, s, kept);
        expect(tf.memory().numTensors).toBe(before);
        expect(got.length).toBe(want.length);
        const { out: truth, scale } = bruteForceGather(shape, axes, x, m, s);
        for (let i = 0; i < got.length; i++) {
          expect(close(got[i]!, want[i]!, scale[i]!), `${label} at ${i}: wasm ${got[i]}, cpu ${want[i]}`).toBe(true);
          // float64 overflows later than float32: the truth rounded to float32 may be ±∞ as well.
          const ok = close(got[i]!, truth[i]!, scale[i]!) || same(got[i]!, Math.fround(truth[i]!));
          expect(ok, `${label} at ${i}: ${got[i]} vs float64 ${truth[i]}`).toBe(true);
        }
      });
    }
  }

  it("writes nothing past its output", () => {
    const shape = [3, 2, 5, 2, 7];
    const { x, m, t, kept } = inputs(shape, [1, 3], 3, false);
    const [out, guard] = tf.tidy(() => {
      const o = K.maxScatter(tf.tensor(x, shape), tf.tensor(m, kept), tf.tensor(t, kept), [1, 3]);
      return [o.dataSync().slice(), tf.fill([16], 42).dataSync().slice()];
    });
    expect(out!.length).toBe(x.length);
    expect(Array.from(guard!)).toEqual(new Array(16).fill(42));
  });
});

/**
 * The host kernel of maxScatter(x, m, t) (t and the output kept-shaped / x-shaped) or of
 * maxGather(x, m, s) (s x-shaped, the output kept-shaped), on float32 arrays.
 */
function runHost(
  which: "scatter" | "gather",
  shape: number[],
  axes: number[],
  x: Float32Array,
  m: Float32Array,
  third: Float32Array,
): ArrayLike<number> {
  const kept = shape.filter((_, i) => !axes.includes(i));
  const [thirdShape, outShape] = which === "scatter" ? [kept, shape] : [shape, kept];
  return hostKernel(which === "scatter" ? maxScatterP : maxGatherP)!(
    [
      { data: x, shape, dtype: "float32" },
      { data: m, shape: kept, dtype: "float32" },
      { data: third, shape: thirdShape, dtype: "float32" },
    ],
    { axes },
    { shape: outShape, dtype: "float32" },
  ).data;
}

describe("maxScatter's host kernel (jit's small arrays)", () => {
  it.each(CASES)("[%s] over [%s]: equals cpu's composed ops bit for bit", async (shape, axes) => {
    await setBackend("cpu");
    const { x, m, t, kept } = inputs(shape, axes, shape.length * 17 + axes.length, false);
    const want = compute(shape, axes, x, m, t, kept);
    const got = runHost("scatter", shape, axes, x, m, t);
    for (let i = 0; i < want.length; i++)
      expect(same(got[i]!, want[i]!), `at ${i}: ${got[i]} vs ${want[i]}`).toBe(true);
  });

  it.each(CASES)("maxGather [%s] over [%s]: cpu's composed ops to float32 rounding", async (shape, axes) => {
    await setBackend("cpu");
    const { x, m, s, kept } = inputs(shape, axes, shape.length * 19 + axes.length, false);
    const want = computeGather(shape, axes, x, m, s, kept);
    const got = runHost("gather", shape, axes, x, m, s);
    const { scale } = bruteForceGather(shape, axes, x, m, s);
    for (let i = 0; i < want.length; i++)
      expect(close(got[i]!, want[i]!, scale[i]!), `at ${i}: ${got[i]} vs ${want[i]}`).toBe(true);
  });
});

describe("max pooling's derivatives: wasm (the kernel) equals cpu (composed ops)", () => {
  afterAll(() => setBackend("cpu"));

  // Ties inside windows (small integers), overlapping and non-overlapping windows.
  const pool = (x: Value) => hd.maxPool(x, { window: 2 });
  const overlapping = (x: Value) => hd.maxPool(x, { window: 3, strides: 2, padding: "same" });
  // The last term pools after a tanh: eager reverse mode then runs HodiffMaxScatterTanhGrad (rules/vjp.ts).
  const loss = (x: Value) =>
    hd.add(
      hd.sum(hd.mul(hd.tanh(pool(x)), hd.sum(overlapping(hd.mul(x, x))))),
      hd.sum(hd.square(pool(hd.tanh(hd.mul(x, 0.3))))),
    );

  const jitted = hd.jit(hd.grad(loss));

  function suite(): Record<string, Float32Array> {
    return hd.tidy(() => {
      const x = hd.array(values(2 * 6 * 8 * 5, 11, false), { shape: [2, 6, 8, 5] });
      const v = hd.array(values(2 * 6 * 8 * 5, 12, false), { shape: [2, 6, 8, 5] });
      const xs = hd.stack([x, hd.mul(x, -1), hd.add(x, 0.5)], 0);
      const read = (y: Value) => hd.toFlat(y) as Float32Array;
      const [, hvp] = hd.jvp(hd.grad(loss), [x], [v]);
      return {
        grad: read(hd.grad(loss)(x)),
        "grad of pool": read(hd.grad((a: Value) => hd.sum(hd.mul(pool(a), pool(a))))(x)),
        hvp: read(hvp as Value),
        "vmap grad": read(hd.vmap(hd.grad(loss))(xs)),
        "jit grad": read(jitted(x) as Value),
        "jvp of pool": read(hd.jvp(pool, [x], [v])[1] as Value),
        "jet of pool": read((hd.jet(pool, [x], [[v, hd.mul(v, 2)]])[1] as Value[])[1]!),
      } as unknown as Record<string, Float32Array>;
    });
  }

  it("gradient, Hessian-vector product, vmap, jit, jvp, jet", async () => {
    await setBackend("cpu");
    const onCpu = suite();
    await setBackend("wasm");
    suite(); // jit keeps its compiled plan's constants: count from the second call on
    const before = tf.memory().numTensors;
    const onWasm = suite();
    expect(tf.memory().numTensors).toBe(before);
    for (const [name, want] of Object.entries(onCpu)) {
      const got = onWasm[name]!;
      expect(got.length, name).toBe(want.length);
      const scale = Math.max(1e-3, ...Array.from(want, Math.abs));
      const worst = Math.max(...Array.from(want, (w, i) => Math.abs(w - got[i]!)));
      expect(worst / scale, `${name}: max |cpu − wasm| / max |cpu|`).toBeLessThan(1e-5);
    }
  });

  it("ties share the derivative equally (brute force on one window)", async () => {
    await setBackend("wasm");
    const x = hd.array([3, 1, 3, 3, 0, 0, 0, 0, -Infinity, -Infinity, -Infinity, -Infinity, 5, 1, 2, 0], {
      shape: [1, 4, 4, 1],
    });
    // Windows (2×2, row-major blocks): {3,1,0,0}, {3,3,0,0}, {-∞,-∞,5,1}, {-∞,-∞,2,0}.
    const g = hd.grad((a: Value) => hd.sum(pool(a)))(x);
    expect(Array.from(hd.toFlat(g))).toEqual([1, 0, 0.5, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0]);
    const allInf = hd.grad((a: Value) => hd.sum(pool(a)))(hd.mul(hd.ones([1, 2, 2, 1]), -Infinity));
    expect(Array.from(hd.toFlat(allInf))).toEqual([0.25, 0.25, 0.25, 0.25]);
    hd.dispose([x, g, allInf]);
  });
});
