/**
 * sum's cotangent is kept unformed (a broadcast of the small one) until a rule needs its entries:
 * the gradients that take it in small form (mul by an array spanning the output, and the inner
 * product a scalar factor needs) against closed forms.
 */
import { describe, expect, it } from "vitest";
import * as hd from "../index";
import type { Value } from "../index";

const flat = (v: Value) => (hd.toNested(v) as number[][]).flat();
const close = (a: number[], b: number[]) => b.forEach((v, i) => expect(a[i]).toBeCloseTo(v, 6));

describe("sum's broadcast cotangent", () => {
  const x = hd.array([
    [1, -2, 3],
    [0.5, 4, -1],
  ]);
  const y = hd.array([
    [2, 0, -1],
    [1, 3, 0.25],
  ]);

  it("d/dx Σ_j (x·y)[i,j] summed again = y; d/ds of s·Σ(x·y) = Σ x·y (closed forms)", () => {
    const before = hd.numTensors();
    const gx = hd.grad((a: Value) => hd.sum(hd.mul(hd.sum(hd.mul(a, y), 1, true), 3)))(x);
    expect(flat(gx)).toEqual(flat(y).map((v) => 3 * v));
    const s = hd.array(2);
    const gs = hd.grad((c: Value) => hd.sum(hd.mul(c, hd.mul(x, y))))(s);
    const xs = flat(x);
    expect(hd.toNested(gs)).toBeCloseTo(
      flat(y).reduce((p, v, i) => p + v * xs[i]!, 0),
      5,
    );
    hd.dispose([gx, gs, s]);
    expect(hd.numTensors()).toBe(before);
  });

  it("mean's cotangent reaches a broadcast operand (summed back) and a scalar operand", () => {
    const row = hd.array([1, 2, 3]);
    const [gr, gx] = hd.grad((r: Value, a: Value) => hd.mean(hd.mul(r, a)), { argnums: [0, 1] })(row, x) as [
      Value,
      Value,
    ];
    const xs = hd.toNested(x) as number[][];
    close(
      flat(gr),
      [0, 1, 2].map((j) => (xs[0]![j]! + xs[1]![j]!) / 6),
    );
    close(
      flat(gx),
      [1, 2, 3, 1, 2, 3].map((v) => v / 6),
    );
    hd.dispose([gr, gx, row]);
  });
});
