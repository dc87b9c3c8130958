/**
 * transposeConstOperands through jit: a flagged matmul operand known at compile time (a constant,
 * or computed from constants) is transposed once by folding and the flag dropped; an operand known
 * only at call time keeps its flag. Values against a float64 product of the untransposed data.
 */
import { describe, expect, it } from "vitest";
import * as hd from "../index";
import { matmulT } from "../primitives/linalg";

/** Σ_p A[p, i]·X[p, j] (A [k, m], X [k, n]: Aᵀ·X), in float64. */
function productTA(a: Float32Array, x: Float32Array, k: number, m: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) out[i * n + j]! += a[p * m + i]! * x[p * n + j]!;
  return out;
}

const data = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + seed));

describe("jit: flagged matmul operands known at compile time", () => {
  const [k, m, n] = [3, 4, 5];
  const [cData, xData] = [data(k * m, 1), data(k * n, 2)];
  type Case = (c: hd.Value, x: hd.Value) => { f: hd.Jitted<(...a: hd.Value[]) => hd.Value>; args: hd.Value[] };

  it.each([
    [
      "a constant: transpose folded, no flag",
      {},
      (c, x) => ({ f: hd.jit((x) => matmulT(c, x, true, false)), args: [x] }),
    ],
    [
      "computed from constants: transpose folded, no flag",
      {},
      (c, x) => ({ f: hd.jit((x) => matmulT(hd.mul(hd.mul(c, 2), 0.5), x, true, false)), args: [x] }),
    ],
    [
      "an argument, known only at call time: the flag kept",
      { transposeA: true },
      (c, x) => ({ f: hd.jit((c, x) => matmulT(c, x, true, false)), args: [c, x] }),
    ],
  ] as Array<[string, object, Case]>)("%s; the product Aᵀ·X", (_, params, make) => {
    const before = hd.numTensors();
    const c = hd.array(cData, { shape: [k, m] });
    const x = hd.array(xData, { shape: [k, n] });
    const { f, args } = make(c, x);
    const eqns = f.jaxpr(...args).jaxpr.eqns;
    expect(eqns.map((e) => [e.prim.name, e.params])).toEqual([["matmul", params]]);
    const y = f(...args);
    const got = hd.toFlat(y);
    const want = productTA(cData, xData, k, m, n);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-6);
    f.dispose();
    hd.dispose([c, x, y]);
    expect(hd.numTensors()).toBe(before);
  });
});
