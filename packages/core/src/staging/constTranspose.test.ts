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
  const matmuls = (j: hd.ClosedJaxpr) => j.jaxpr.eqns.filter((e) => e.prim.name === "matmul").map((e) => e.params);

  it.each([
    ["a constant", (c: hd.Value) => c],
    ["computed from constants", (c: hd.Value) => hd.mul(hd.mul(c, 2), 0.5)],
  ] as const)("%s: folded transpose, no flag, same product", (_, operand) => {
    const before = hd.numTensors();
    const c = hd.array(cData, { shape: [k, m] });
    const x = hd.array(xData, { shape: [k, n] });
    const f = hd.jit((x: hd.Value) => matmulT(operand(c), x, true, false));
    const closed = f.jaxpr(x);
    expect(matmuls(closed)).toEqual([{}]);
    expect(closed.jaxpr.eqns.map((e) => e.prim.name)).toEqual(["matmul"]);
    const y = f(x) as hd.Value;
    const got = hd.toFlat(y);
    const want = productTA(cData, xData, k, m, n);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-6);
    f.dispose();
    hd.dispose([c, x, y]);
    expect(hd.numTensors()).toBe(before);
  });

  it("an operand known only at call time keeps its flag", () => {
    const before = hd.numTensors();
    const c = hd.array(cData, { shape: [k, m] });
    const x = hd.array(xData, { shape: [k, n] });
    const f = hd.jit((c: hd.Value, x: hd.Value) => matmulT(c, x, true, false));
    const closed = f.jaxpr(c, x);
    expect(matmuls(closed)).toEqual([{ transposeA: true }]);
    const y = f(c, x) as hd.Value;
    const got = hd.toFlat(y);
    const want = productTA(cData, xData, k, m, n);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-6);
    f.dispose();
    hd.dispose([c, x, y]);
    expect(hd.numTensors()).toBe(before);
  });
});
