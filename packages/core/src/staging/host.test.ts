/**
 * Host kernels bit for bit: their fast paths (compiled loops, merged axes) against their general
 * path, and both against the tfjs cpu backend's kernels, on random and edge inputs (NaN, ±Inf, −0,
 * size-1 and size-0 axes, rank 0).
 */
import { afterEach, describe, expect, it } from "vitest";
import { K, type DType, type Tensor } from "../kernels";
import type { AnyPrimitive } from "../trace/core";
import { hostKernel, setHostFastPaths, type HostArray } from "./host";
import * as hd from "../index";
import * as E from "../primitives/elementwise";
import { reduceMaxP, reduceSumP } from "../primitives/reduce";
import { broadcastToP, reverseP, sliceP, transposeP } from "../primitives/shape";
import { tinyCnn, tinyMlp } from "../transforms/fixtures";

const EDGE = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 1e30, -1e-30, 0.5];

/** Pseudo-random values (a fixed LCG), every fifth one an edge value; int32 and bool in their range. */
function values(n: number, dtype: DType, seed: number): number[] {
  let s = seed * 7919 + 17;
  const next = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  return Array.from({ length: n }, (_, i) => {
    const r = next();
    if (dtype === "bool") return r > 0 ? 1 : 0;
    if (dtype === "int32") return Math.round(r * 20) || 3; // no zero divisors
    return i % 5 === 2 ? EDGE[(i + seed) % EDGE.length]! : r * 3;
  });
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
function hostArray(shape: number[], dtype: DType, seed: number): HostArray {
  const v = values(sizeOf(shape), dtype, seed);
  const data = dtype === "float32" ? Float32Array.from(v) : dtype === "int32" ? Int32Array.from(v) : Uint8Array.from(v);
  return { data, shape, dtype };
}
const toTensor = (h: HostArray): Tensor => K.tensor(h.data, [...h.shape], h.dtype);

/** Equal bit for bit: same shape, dtype and values, NaN equal to NaN, −0 distinct from 0. */
function expectIdentical(got: HostArray, want: { shape: readonly number[]; dtype: string; data: ArrayLike<number> }) {
  expect(got.shape).toEqual(want.shape);
  expect(got.dtype).toBe(want.dtype);
  const bad: string[] = [];
  for (let i = 0; i < want.data.length; i++)
    if (!Object.is(got.data[i], want.data[i])) bad.push(`[${i}] ${got.data[i]} vs ${want.data[i]}`);
  expect(got.data.length).toBe(want.data.length);
  expect(bad.slice(0, 5)).toEqual([]);
}

/** Equal up to float32 rounding in another order (sums): relative 1e-5, NaN and ±Inf exactly. */
function expectClose(got: HostArray, want: { shape: readonly number[]; data: ArrayLike<number> }) {
  expect(got.shape).toEqual(want.shape);
  for (let i = 0; i < want.data.length; i++) {
    const [g, w] = [got.data[i]!, want.data[i]!];
    if (!Number.isFinite(w)) expect(g).toBe(w);
    else expect(Math.abs(g - w)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(w)));
  }
}

/**
 * Run `prim` on the host with fast paths on and off, and as the cpu backend's kernel; compare all
 * three: bit for bit, except `vsTfjs` "close" (tfjs sums in float64, the host kernels round each
 * partial sum to float32 as the wasm kernels) or false (another formula: compared with the general path only).
 */
function check(prim: AnyPrimitive, ins: HostArray[], params: unknown, vsTfjs: boolean | "close" = true) {
  const kernel = hostKernel(prim)!;
  const out = prim.abstractEval(
    ins.map((x) => ({ shape: x.shape, dtype: x.dtype })),
    params as never,
  );
  setHostFastPaths(true);
  const fast = kernel(ins, params, out);
  setHostFastPaths(false);
  const general = kernel(ins, params, out);
  setHostFastPaths(true);
  expectIdentical(fast, general);
  if (!vsTfjs) return;
  const before = hd.numTensors();
  const ts = ins.map(toTensor);
  const y = prim.impl(ts, params as never);
  const want = { shape: y.shape, dtype: y.dtype, data: y.dataSync() as ArrayLike<number> };
  if (vsTfjs === "close") expectClose(fast, want);
  else expectIdentical(fast, want);
  [...ts, y].forEach((t) => t.dispose());
  expect(hd.numTensors()).toBe(before);
}

afterEach(() => setHostFastPaths(true));

/** Operand shape pairs: same shape, row and column vectors, scalars, outer broadcast, size 1 and 0, rank > 2. */
const PAIRS: Array<[number[], number[]]> = [
  [
    [100, 10],
    [100, 10],
  ],
  [[100, 10], [10]],
  [
    [100, 10],
    [100, 1],
  ],
  [
    [100, 1],
    [100, 10],
  ],
  [
    [7, 1],
    [1, 9],
  ],
  [[], [3, 4]],
  [[3, 4], []],
  [[], []],
  [
    [3, 1, 5, 1],
    [1, 4, 5, 1],
  ],
  [
    [2, 3, 4],
    [2, 3, 4],
  ],
  [[0, 3], [3]],
];

describe("host kernels: fast paths = general path = cpu backend, bit for bit", () => {
  // tfjs's cpu tanh and elu compute other formulas (exp-based) than Math.tanh / Math.expm1:
  // those two are compared with the general path only (the jit tests bound their error).
  const ownFormula = new Set<AnyPrimitive>([E.tanhP, E.eluP]);
  const unaries = [E.negP, E.expP, E.expm1P, E.logP, E.log1pP, E.sinP, E.cosP, E.tanhP, E.sqrtP, E.eluP];
  it.each(unaries.map((p) => [p.name, p] as const))("unary %s", (_, p) => {
    for (const shape of [[100, 10], [], [1, 1], [0], [2, 3, 4, 5]])
      check(p, [hostArray(shape, "float32", 1)], {}, !ownFormula.has(p));
  });

  const binaries = [E.addP, E.subP, E.mulP, E.divP, E.powP, E.maximumP, E.minimumP, E.greaterP, E.lessP, E.equalP];
  it.each(binaries.map((p) => [p.name, p] as const))("binary %s over broadcasts", (_, p) => {
    PAIRS.forEach(([a, b], k) => check(p, [hostArray(a, "float32", 2 * k), hostArray(b, "float32", 2 * k + 1)], {}));
  });

  it("the fused gradient forms (tanhGrad, eluGrad) against their general path", () => {
    for (const p of [E.tanhGradP, E.eluGradP])
      PAIRS.slice(0, 4).forEach(([a, b], k) =>
        check(p, [hostArray(a, "float32", k), hostArray(b, "float32", k + 9)], {}, false),
      );
  });

  it("int32 arithmetic (floor division) and casts", () => {
    for (const p of [E.addP, E.subP, E.mulP, E.divP])
      check(p, [hostArray([6, 5], "int32", 3), hostArray([5], "int32", 4)], {});
    for (const dtype of ["float32", "int32", "bool"] as const) {
      check(E.castP, [hostArray([4, 25], "float32", 5)], { dtype });
      check(E.castP, [hostArray([4, 25], "int32", 6)], { dtype });
    }
  });

  it("select with broadcast condition and branches", () => {
    check(
      E.selectP,
      [hostArray([100, 10], "bool", 1), hostArray([100, 10], "float32", 2), hostArray([100, 10], "float32", 3)],
      {},
    );
    check(
      E.selectP,
      [hostArray([100, 1], "bool", 4), hostArray([10], "float32", 5), hostArray([100, 10], "float32", 6)],
      {},
    );
    check(
      E.selectP,
      [hostArray([3, 1, 5], "bool", 7), hostArray([1, 4, 5], "float32", 8), hostArray([], "float32", 9)],
      {},
    );
  });

  it("reductions along the last axis, the first, all, none and general axes", () => {
    const cases: Array<[number[], number[]]> = [
      [[100, 10], [1]],
      [[100, 10], [0]],
      [
        [100, 10],
        [0, 1],
      ],
      [
        [3, 4, 5],
        [0, 2],
      ],
      [
        [3, 4, 5],
        [1, 2],
      ],
      [[5, 1, 3], [1]],
      [
        [5, 1, 3],
        [0, 1],
      ],
      [[], []],
      [[4, 3], []],
      [[0, 3], [0]],
      [[3, 0], [1]],
    ];
    for (const p of [reduceSumP, reduceMaxP])
      cases.forEach(([shape, axes], k) =>
        // The max of nothing: −Inf here (as JAX), NaN in tfjs's cpu kernel; compared with the general path only.
        check(p, [hostArray(shape, "float32", k)], { axes }, p === reduceSumP ? "close" : sizeOf(shape) > 0),
      );
    check(reduceSumP, [hostArray([6, 7], "int32", 1)], { axes: [1] });
  });

  it("layouts: transpose, reverse, slice, broadcastTo (merged axes, ≤ 4 loops and more)", () => {
    check(transposeP, [hostArray([5, 5, 6, 16], "float32", 1)], { perm: [0, 1, 3, 2] });
    check(transposeP, [hostArray([3, 5, 5, 6], "float32", 2)], { perm: [1, 2, 0, 3] });
    check(transposeP, [hostArray([2, 3, 2, 3, 2, 3], "float32", 3)], { perm: [5, 3, 1, 4, 2, 0] });
    check(transposeP, [hostArray([], "float32", 4)], { perm: [] });
    check(reverseP, [hostArray([5, 5, 6, 16], "float32", 5)], { axes: [0, 1] });
    check(reverseP, [hostArray([3, 1, 4], "int32", 6)], { axes: [0, 1, 2] });
    check(sliceP, [hostArray([6, 7, 8], "float32", 7)], { begin: [1, 2, 3], size: [4, 1, 5] });
    check(sliceP, [hostArray([6, 7], "float32", 8)], { begin: [2, 0], size: [0, 7] });
    check(broadcastToP, [hostArray([100, 1], "float32", 9)], { shape: [100, 10] });
    check(broadcastToP, [hostArray([3, 1, 2], "bool", 10)], { shape: [2, 2, 3, 4, 2] });
  });
});

describe("jitted model gradients with host kernels", () => {
  it.each([
    ["tiny MLP", tinyMlp],
    ["tiny CNN", tinyCnn],
  ] as const)("%s: fast paths = general path bit for bit, = eager to rounding, no tensors left", (_, make) => {
    const model = make();
    const theta = model.theta();
    const before = hd.numTensors();
    const grad = hd.grad(model.loss);
    const eager = grad(theta);
    const results = [true, false].map((fast) => {
      setHostFastPaths(fast);
      const g = hd.jit(grad); // a fresh plan each time
      const out = g(theta);
      g.dispose();
      return out;
    });
    setHostFastPaths(true);
    const [fast, general] = results.map((r) => hd.toFlat(r as hd.Value));
    expect(Array.from(fast!, (v, i) => Object.is(v, general![i]))).not.toContain(false);
    expect(hd.testing.allClose(results[0], eager, { atol: 1e-6, rtol: 1e-5 })).toBeNull();
    hd.dispose([eager, ...results]);
    expect(hd.numTensors()).toBe(before);
    hd.dispose(theta);
  });
});
