/**
 * @hodiff/native against independent truth: OpenBLAS's products on tfjs-wasm's heap against a
 * float64 brute-force product and the cpu backend, on random and edge inputs (NaN, ±Inf, ±3e38, 0,
 * sizes 1, transposes, broadcast batches); an MLP's gradient with and without it; the addon's
 * argument checks (out-of-bounds offsets throw and write nothing).
 *
 * Skipped, with the reason in each name, where the addon is not built (no C compiler or OpenBLAS:
 * `apt-get install gcc libopenblas-dev`, then `pnpm --filter @hodiff/native run build:native`).
 * CI installs OpenBLAS and builds it (.ci/run).
 */
import * as hd from "@hodiff/core";
import { mlp, nll } from "@hodiff/nn";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAddon } from "./addon";
import { installNativeGemm, type NativeGemm } from "./gemm";
import { SKIP, built } from "./testing/skip";

/** A linear congruential generator: floats in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const EDGES = [NaN, Infinity, -Infinity, 3e38, -3e38, 0, -0, 1e-40];

/**
 * Random values in ±4 with zeros; with `edges`, edge values at positions no two of which share a
 * row or a column of a matrix (a partial permutation), so that each dot product meets at most one
 * edge term (then its float32 value does not depend on the order of summation or on fused
 * multiply-adds, and the other operand is kept edge-free).
 */
function values(shape: number[], seed: number, edges: boolean): Float32Array {
  const r = rng(seed);
  const n = shape.reduce((p, d) => p * d, 1);
  const v = Float32Array.from({ length: n }, () => (r() < 0.1 ? 0 : (r() - 0.5) * 8));
  const [rows, cols] = [shape.at(-2)!, shape.at(-1)!];
  if (!edges || rows * cols === 0) return v;
  for (let at = 0; at < n; at += rows * cols) {
    const free = [...Array(cols).keys()];
    for (let i = 0; i < rows && free.length > 0; i++) {
      if (r() < 0.5) continue;
      const j = free.splice(Math.floor(r() * free.length), 1)[0]!;
      v[at + i * cols + j] = EDGES[Math.floor(r() * EDGES.length)]!;
    }
  }
  return v;
}

interface Product {
  /** float64 sums, and Σ|aᵢbᵢ| per element (the scale of rounding errors). */
  exact: Float64Array;
  scale: Float64Array;
  k: number;
}

/** op(A)·op(B) with broadcast batches, in float64 (the truth). */
function bruteForce(a: Float32Array, sa: number[], b: Float32Array, sb: number[], ta: boolean, tb: boolean): Product {
  const [ra, rb] = [sa.length, sb.length];
  const [m, k, n] = [sa[ta ? ra - 1 : ra - 2]!, sa[ta ? ra - 2 : ra - 1]!, sb[tb ? rb - 2 : rb - 1]!];
  const rank = Math.max(ra, rb) - 2;
  const pad = (s: number[]) => [...new Array<number>(rank - (s.length - 2)).fill(1), ...s.slice(0, -2)];
  const [pa, pb] = [pad(sa), pad(sb)];
  const out = pa.map((d, i) => (d === 1 ? pb[i]! : d));
  const total = out.reduce((p, d) => p * d, 1);
  const exact = new Float64Array(total * m * n);
  const scale = new Float64Array(total * m * n);
  const flat = (s: number[], idx: number[]) => s.reduce((p, d, i) => p * d + (d === 1 ? 0 : idx[i]!), 0);
  for (let t = 0; t < total; t++) {
    const idx: number[] = [];
    for (let i = rank - 1, r = t; i >= 0; i--) [idx[i], r] = [r % out[i]!, Math.floor(r / out[i]!)];
    const [oa, ob] = [flat(pa, idx) * m * k, flat(pb, idx) * k * n];
    for (let r = 0; r < m; r++)
      for (let s = 0; s < n; s++) {
        let sum = 0;
        let abs = 0;
        for (let p = 0; p < k; p++) {
          const term = a[oa + (ta ? p * m + r : r * k + p)]! * b[ob + (tb ? s * k + p : p * n + s)]!;
          sum += term;
          abs += Math.abs(term);
        }
        exact[t * m * n + r * n + s] = sum;
        scale[t * m * n + r * n + s] = abs;
      }
  }
  return { exact, scale, k };
}

/**
 * Indices where `got` is not the float32 value of the exact product within rounding: NaN where it is
 * NaN, the same infinity where it overflows (either may be seen within 1 % of float32's maximum,
 * where a fused multiply-add may or may not overflow), else |got − exact| ≤ 2k·2⁻²⁴·Σ|aᵢbᵢ|.
 */
function mismatches(got: ArrayLike<number>, want: Product): number[] {
  const bad: number[] = [];
  if (got.length !== want.exact.length) return [-1];
  for (let i = 0; i < got.length && bad.length < 5; i++) {
    const [g, e, s] = [got[i]!, want.exact[i]!, want.scale[i]!];
    const f = Math.fround(e);
    let ok: boolean;
    if (Number.isNaN(e)) ok = Number.isNaN(g);
    else if (Math.abs(e) > 3.37e38)
      ok = g === f || Math.abs(g - e) <= 1e-6 * Math.abs(e) || (Math.abs(e) < 3.44e38 && g === Math.sign(e) * Infinity);
    else if (!Number.isFinite(s))
      ok = g === f; // an infinite term, no NaN: that infinity
    else ok = Number.isFinite(g) && Math.abs(g - e) <= 2 * Math.max(want.k, 1) * 2 ** -24 * s + 1e-44;
    if (!ok) bad.push(i);
  }
  return bad;
}

/** [A shape, B shape, transposeA, transposeB]. */
type Case = [number[], number[], boolean, boolean];
const CASES: Case[] = [
  [[1, 1], [1, 1], false, false],
  [[1, 13], [13, 1], false, false],
  [[1, 33], [33, 17], false, false],
  [[17, 1], [1, 9], false, false],
  [[31, 40], [40, 1], false, false],
  [[100, 784], [784, 64], false, false],
  [[100, 784], [100, 64], true, false],
  [[100, 64], [784, 64], false, true],
  [[37, 29], [41, 37], true, true],
  [[4, 5, 7], [4, 7, 6], false, false],
  [[4, 5, 7], [7, 6], false, false],
  [[4, 7, 5], [6, 7], true, true],
  [[5, 7], [3, 7, 2], false, false],
  [[2, 1, 5, 7], [1, 3, 9, 7], false, true],
  [[3, 0], [0, 4], false, false],
  [[0, 3, 2], [2, 5], false, false],
];

/** Each case on cpu, then on wasm with the native GEMM: [cpu, native] values. */
function run(cases: Case[], edges: "none" | "a" | "b"): () => Array<[Float32Array, Float32Array, Product]> {
  let results: Array<[Float32Array, Float32Array, Product]> = [];
  beforeAll(async () => {
    if (!built) return;
    const inputs = cases.map(
      ([sa, sb], i) => [values(sa, 2 * i + 1, edges === "a"), values(sb, 2 * i + 2, edges === "b")] as const,
    );
    const product = () =>
      cases.map(([sa, sb, ta, tb], i) =>
        tf.tidy(
          () =>
            tf.matMul(tf.tensor(inputs[i]![0], sa), tf.tensor(inputs[i]![1], sb), ta, tb).dataSync() as Float32Array,
        ),
      );
    await hd.setBackend("cpu");
    const cpu = product();
    await hd.setBackend("wasm");
    using native = installNativeGemm();
    expect(hd.heapGemmActive()).toBe(true);
    const before = hd.numTensors();
    const got = product();
    expect(hd.numTensors()).toBe(before);
    native.uninstall();
    results = cases.map(([sa, sb, ta, tb], i) => [
      cpu[i]!,
      got[i]!,
      bruteForce(inputs[i]![0], sa, inputs[i]![1], sb, ta, tb),
    ]);
  });
  return () => results;
}

/**
 * Whether tfjs's cpu kernel computes this case as the seam defines it: it flattens the batch axes
 * and so neither broadcasts them axis by axis ([2,1]·[1,3] batches) nor handles zero batches; those
 * are checked against the float64 product only.
 */
const cpuDefines = ([sa, sb]: Case): boolean =>
  !sa.slice(0, -2).includes(0) &&
  !(sa.length > 3 && sb.length > 3 && sa.slice(0, -2).join() !== sb.slice(0, -2).join());

for (const [title, edges] of [
  ["random operands", "none"],
  ["edge values in A (NaN, ±Inf, ±3e38, 0, −0, subnormal)", "a"],
  ["edge values in B (NaN, ±Inf, ±3e38, 0, −0, subnormal)", "b"],
] as const) {
  describe(`OpenBLAS on the wasm heap, ${title}`, () => {
    const cases = edges === "none" ? CASES : CASES.filter(([sa, sb]) => !sa.includes(0) && !sb.includes(0));
    const results = run(cases, edges);
    it.skipIf(!built).each(cases.map((c, i) => [i, ...c] as const))(
      `case %i: %j · %j (transposes %s, %s) matches the float64 product and the cpu backend${SKIP}`,
      (i) => {
        const [cpu, native, exact] = results()[i]!;
        expect(mismatches(native, exact)).toEqual([]);
        if (cpuDefines(cases[i]!)) expect(mismatches(cpu, exact)).toEqual([]); // so native ≈ cpu within rounding
      },
    );
  });
}

describe("nested installs", () => {
  it.skipIf(!built)(`stay installed until the last handle is given up${SKIP}`, async () => {
    await hd.setBackend("wasm");
    const outer = installNativeGemm({ threads: 2 });
    const inner = installNativeGemm();
    expect(inner.threads()).toBe(2); // a nested install without `threads` keeps the outer one's count
    outer.uninstall();
    expect(hd.heapGemmActive()).toBe(true); // the inner handle still holds it
    outer.uninstall(); // a second call does nothing: it must not give up the inner handle's share
    expect(hd.heapGemmActive()).toBe(true);
    inner.uninstall();
    expect(hd.heapGemmActive()).toBe(false);
    installNativeGemm().uninstall(); // back to the default count for the other tests
  });
});

describe("a product whose output grows the wasm heap", () => {
  it.skipIf(!built)(`is written into the grown memory, not the old buffer${SKIP}`, async () => {
    await hd.setBackend("wasm");
    const heapBytes = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.byteLength;
    const n = Math.ceil(Math.sqrt(heapBytes() / 4)) + 256; // an n×n output larger than the whole heap now
    const before = heapBytes();
    const a = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3.5);
    const b = Float32Array.from({ length: n }, (_, j) => (j % 5) + 0.25);
    using native = installNativeGemm();
    const got = tf.tidy(() => tf.matMul(tf.tensor(a, [n, 1]), tf.tensor(b, [1, n])).dataSync() as Float32Array);
    native.uninstall();
    expect(heapBytes()).toBeGreaterThan(before);
    // An outer product: each entry one rounded float32 product.
    let bad = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (got[i * n + j] !== Math.fround(a[i]! * b[j]!)) bad++;
    expect(bad).toBe(0);
  });
});

describe("an MLP's gradient with the native GEMM", () => {
  let native: NativeGemm | undefined;
  afterAll(() => native?.uninstall());
  it.skipIf(!built)(`equals the wasm-only gradient within float32 rounding, leaving no tensors${SKIP}`, async () => {
    await hd.setBackend("wasm");
    const model = mlp([30, 64, 20, 5], "tanh", 1);
    const params = model.init(hd.random.key(3));
    const r = rng(9);
    const x = hd.array(
      Float32Array.from({ length: 16 * 30 }, () => r() * 2 - 1),
      { shape: [16, 30] },
    );
    const labels = Int32Array.from({ length: 16 }, (_, i) => i % 5);
    const loss = (p: typeof params) => nll(model.apply(p, x), labels);
    const flat = (g: unknown) => hd.treeLeaves(g).map((t) => Array.from(hd.toFlat(t as hd.Value)));
    const wasmOnly = flat(hd.grad(loss)(params));
    const before = hd.numTensors();
    native = installNativeGemm({ threads: 1 });
    expect(hd.heapGemmActive()).toBe(true);
    const withNative = hd.grad(loss)(params);
    const got = flat(withNative);
    hd.dispose(withNative);
    expect(hd.numTensors()).toBe(before);
    got.forEach((g, l) =>
      g.forEach((v, i) =>
        expect(Math.abs(v - wasmOnly[l]![i]!)).toBeLessThan(1e-5 + 1e-4 * Math.abs(wasmOnly[l]![i]!)),
      ),
    );
  });
});

describe("the addon's argument checks", () => {
  const memory = new WebAssembly.Memory({ initial: 1 }); // 65536 bytes
  const f = new Float32Array(memory.buffer);
  /** Fills the heap with a sentinel, runs `call`, and returns how many floats it changed. */
  const changed = (call: () => void): number => {
    f.fill(7);
    try {
      call();
    } catch {
      // the throw is checked separately
    }
    return f.reduce((c, v) => c + (v === 7 ? 0 : 1), 0);
  };
  const cases: Array<[string, unknown[]]> = [
    ["C past the end", [memory.buffer, 0, 64, 65536 - 12, 1, 2, 2, 2, false, false]],
    ["A past the end", [memory.buffer, 65536 - 8, 64, 128, 1, 2, 2, 2, false, false]],
    ["B past the end by batches", [memory.buffer, 0, 64, 128, 2000, 2, 2, 2, false, false]],
    ["a huge dimension", [memory.buffer, 0, 64, 128, 1, 2 ** 40, 2, 2, false, false]],
    ["a dimension that wraps to 2 as a uint32", [memory.buffer, 0, 64, 128, 1, 2 ** 32 + 2, 2, 2, false, false]],
    ["C's offset near 2^32", [memory.buffer, 0, 64, 2 ** 32 - 4, 1, 2, 2, 2, false, false]],
    ["C's offset wrapping to 128 as a uint32", [memory.buffer, 0, 64, 2 ** 32 + 128, 1, 2, 2, 2, false, false]],
    ["batch·m·n past 2^32 (m·n fits)", [memory.buffer, 0, 0, 1024, 2 ** 16, 64, 64, 1, false, false]],
    ["batch·m·n past 2^63", [memory.buffer, 0, 0, 1024, 2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1, 1, false, false]],
    ["transposed A past the end", [memory.buffer, 65536 - 64, 0, 128, 1, 32, 2, 1, true, false]],
    ["an offset not a multiple of 4", [memory.buffer, 0, 64, 130, 1, 2, 2, 2, false, false]],
    ["C overlapping A", [memory.buffer, 0, 64, 8, 1, 2, 2, 2, false, false]],
    ["a negative offset", [memory.buffer, -4, 64, 128, 1, 2, 2, 2, false, false]],
    ["a fractional size", [memory.buffer, 0, 64, 128, 1, 2.5, 2, 2, false, false]],
    ["a string offset", [memory.buffer, "0", 64, 128, 1, 2, 2, 2, false, false]],
    ["a non-boolean flag", [memory.buffer, 0, 64, 128, 1, 2, 2, 2, 0, false]],
    ["a typed array instead of the buffer", [f, 0, 64, 128, 1, 2, 2, 2, false, false]],
    ["a SharedArrayBuffer", [new SharedArrayBuffer(1024), 0, 64, 128, 1, 2, 2, 2, false, false]],
    ["too few arguments", [memory.buffer, 0, 64, 128]],
  ];
  it.skipIf(!built).each(cases)(`rejects %s with an error and writes nothing${SKIP}`, (_, args) => {
    const gemm = loadAddon().gemm as unknown as (...a: unknown[]) => void;
    expect(() => gemm(...args)).toThrow(/gemm/);
    expect(changed(() => gemm(...args))).toBe(0);
  });
  it.skipIf(!built)(`writes exactly C, overwriting NaN garbage, and zeros for k = 0${SKIP}`, () => {
    const { gemm } = loadAddon();
    // A = [[1, 2], [3, 4]] at float 0, B = [[5, 6], [7, 8]] at float 16, C at float 32 (NaN before).
    f.fill(7);
    f.set([1, 2, 3, 4], 0);
    f.set([5, 6, 7, 8], 16);
    f.fill(NaN, 32, 36);
    gemm(memory.buffer, 0, 64, 128, 1, 2, 2, 2, false, false);
    expect(Array.from(f.subarray(32, 36))).toEqual([19, 22, 43, 50]);
    expect(Array.from(f.subarray(36, 40))).toEqual([7, 7, 7, 7]); // past C: untouched
    expect(Array.from(f.subarray(28, 32))).toEqual([7, 7, 7, 7]);
    f.fill(NaN, 32, 36);
    gemm(memory.buffer, 0, 64, 128, 1, 2, 2, 0, false, false);
    expect(Array.from(f.subarray(32, 36))).toEqual([0, 0, 0, 0]);
  });
  it.skipIf(!built)(`sets and reports OpenBLAS's thread count${SKIP}`, () => {
    const addon = loadAddon();
    const was = addon.threads();
    addon.setThreads(1);
    expect(addon.threads()).toBe(1);
    expect(() => addon.setThreads(0)).toThrow(/setThreads/);
    addon.setThreads(was);
    expect(addon.config()).toMatch(/OpenBLAS/);
  });
});
