/**
 * The native-GEMM BatchMatMul kernel on wasm (`setHeapGemm`), driven here by a plain-JS GEMM on
 * the heap so that the routing (offsets, transposes, batch broadcasting, stacking) is checked
 * without a native addon (@hodiff/native tests OpenBLAS itself). Expected values: a brute-force
 * float64 product of the operands as given, independent of both tfjs and the kernel.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setBackend } from "../backend";
import type { HeapGemm } from "../kernels";
import { gemmPlan, heapGemmActive, setHeapGemm } from "./install";
import { jsGemm } from "./fixtures";

/** The product of `a` (shape sa) and `b` by broadcasting batches, in float64: the test's truth. */
function bruteForce(
  a: Float32Array,
  sa: number[],
  b: Float32Array,
  sb: number[],
  ta: boolean,
  tb: boolean,
): Float32Array {
  const [ra, rb] = [sa.length, sb.length];
  const [m, k, n] = [sa[ta ? ra - 1 : ra - 2]!, sa[ta ? ra - 2 : ra - 1]!, sb[tb ? rb - 2 : rb - 1]!];
  const [ba, bb] = [sa.slice(0, -2), sb.slice(0, -2)];
  const rank = Math.max(ba.length, bb.length);
  const pad = (s: number[]) => [...new Array<number>(rank - s.length).fill(1), ...s];
  const [pa, pb] = [pad(ba), pad(bb)];
  const out = pa.map((d, i) => (d === 1 ? pb[i]! : d)); // a size-1 axis takes the other's size, even 0
  const total = out.reduce((p, d) => p * d, 1);
  const result = new Float32Array(total * m * n);
  const flat = (s: number[], idx: number[]) => s.reduce((p, d, i) => p * d + (d === 1 ? 0 : idx[i]!), 0);
  for (let t = 0; t < total; t++) {
    const idx: number[] = [];
    for (let i = rank - 1, r = t; i >= 0; i--) {
      idx[i] = r % out[i]!;
      r = Math.floor(r / out[i]!);
    }
    const [oa, ob] = [flat(pa, idx) * m * k, flat(pb, idx) * k * n];
    for (let r = 0; r < m; r++)
      for (let s = 0; s < n; s++) {
        let sum = 0;
        for (let p = 0; p < k; p++)
          sum += a[oa + (ta ? p * m + r : r * k + p)]! * b[ob + (tb ? s * k + p : p * n + s)]!;
        result[t * m * n + r * n + s] = sum;
      }
  }
  return result;
}

const CASES: Array<[number[], number[], boolean, boolean]> = [
  [[1, 1], [1, 1], false, false],
  [[1, 7], [7, 5], false, false],
  [[6, 1], [1, 3], false, false],
  [[5, 9], [9, 1], false, false],
  [[9, 5], [9, 4], true, false],
  [[5, 9], [4, 9], false, true],
  [[9, 5], [4, 9], true, true],
  [[3, 5, 7], [3, 7, 2], false, false], // equal batches: one call
  [[3, 5, 7], [7, 2], false, false], // shared B: batches stacked as rows
  [[3, 7, 5], [7, 2], true, false], // shared B, transposed A: a call per batch
  [[5, 7], [4, 7, 2], false, false], // shared A
  [[2, 1, 5, 7], [1, 3, 2, 7], false, true], // general broadcast
  [[2, 3, 4, 6], [3, 6, 2], false, false],
  [[1, 4, 6], [2, 6, 3], false, false],
  [[4, 0], [0, 3], false, false], // empty sum: zeros
  [[0, 4, 3], [3, 2], false, false], // no batches
];

describe("BatchMatMul through a heap GEMM on wasm", () => {
  let calls = 0;
  const counting: HeapGemm = (...args) => {
    calls++;
    jsGemm(...args);
  };
  beforeAll(async () => {
    await setBackend("wasm");
    setHeapGemm(counting);
  });
  afterAll(() => setHeapGemm(null));

  it("is active on wasm once set", () => expect(heapGemmActive()).toBe(true));

  it.each(CASES)("%j · %j (transposeA %s, transposeB %s) equals the brute-force product", (sa, sb, ta, tb) => {
    const r = (n: number, seed: number) =>
      Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3) * 3);
    const a = r(
      sa.reduce((p, d) => p * d, 1),
      1,
    );
    const b = r(
      sb.reduce((p, d) => p * d, 1),
      2,
    );
    const before = tf.memory().numTensors;
    const c0 = calls;
    const got = tf.tidy(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), ta, tb).dataSync() as Float32Array);
    expect(tf.memory().numTensors).toBe(before);
    const want = bruteForce(a, sa, b, sb, ta, tb);
    expect(Array.from(got)).toEqual(Array.from(want)); // same float64 sums, each rounded once
    if (want.length > 0) expect(calls).toBeGreaterThan(c0); // the heap GEMM computed it
  });

  it("with the GEMM cleared, matmuls go to tfjs-wasm's kernel", () => {
    setHeapGemm(null);
    const c0 = calls;
    const got = tf.tidy(() => Array.from(tf.matMul(tf.tensor([[1, 2]]), tf.tensor([[3], [4]])).dataSync()));
    expect(got).toEqual([11]);
    expect(calls).toBe(c0);
    setHeapGemm(counting);
  });
});

describe("gemmPlan", () => {
  it("merges equal batches into one call and stacks a shared B's batches as rows", () => {
    expect(gemmPlan([3, 2], [3, 2], true).calls).toEqual([{ a: 0, b: 0, c: 0, batch: 6, stack: 1 }]);
    expect(gemmPlan([6], [1], false).calls).toEqual([{ a: 0, b: 0, c: 0, batch: 1, stack: 6 }]);
    expect(gemmPlan([6], [], false).calls).toEqual([{ a: 0, b: 0, c: 0, batch: 1, stack: 6 }]);
  });
  it("visits every output batch once, with A's and B's broadcast indices", () => {
    const { out, calls } = gemmPlan([2, 1], [1, 3], false);
    expect(out).toEqual([2, 3]);
    expect(calls.map((c) => [c.a, c.b, c.c])).toEqual([
      [0, 0, 0],
      [0, 1, 1],
      [0, 2, 2],
      [1, 0, 3],
      [1, 1, 4],
      [1, 2, 5],
    ]);
  });
});
