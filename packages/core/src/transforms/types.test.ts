/**
 * Type-level tests: transforms keep the types of the pytrees they are given. These assertions are
 * checked by `pnpm typecheck` (tsc); at run time each `it` also runs the call once, so a wrong
 * runtime structure fails here too.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import * as hd from "../index";
import type { Tensor, Value } from "../index";

interface Params {
  readonly w: Value;
  readonly b: Value;
}
const params = (): Params => ({ w: hd.array([1, 2]), b: hd.array(0.5) });
const loss = (p: Params, x: Value): Value => hd.sum(hd.square(hd.add(hd.mul(p.w, x), p.b)));
const x = hd.array([3, -1]);

describe("transform types", () => {
  it("grad keeps the parameter tree's type, and the other arguments' types", () => {
    const g = hd.grad(loss);
    expectTypeOf(g).toEqualTypeOf<(p: Params, x: Value) => Params>();
    const out = g(params(), x);
    expectTypeOf(out).toEqualTypeOf<Params>();
    expect(Object.keys(out)).toEqual(["w", "b"]);
    // A tensor in, a tensor out.
    expectTypeOf(hd.grad((t: Tensor) => hd.sum(t))).returns.toEqualTypeOf<Tensor>();
    // @ts-expect-error the gradient is not a number
    const wrong: number = g(params(), x);
    void wrong;
  });

  it("grad with argnums and hasAux", () => {
    expectTypeOf(hd.grad(loss, { argnums: 1 })).returns.toEqualTypeOf<Value>();
    expectTypeOf(hd.grad(loss, { argnums: [0, 1] })).returns.toEqualTypeOf<readonly [Params, Value]>();
    const withAux = (p: Params, x: Value) => [loss(p, x), { note: "aux" }] as const;
    const [gp, aux] = hd.grad(withAux, { hasAux: true })(params(), x);
    expectTypeOf(gp).toEqualTypeOf<Params>();
    expectTypeOf(aux).toEqualTypeOf<{ readonly note: "aux" }>();
    expect(aux.note).toBe("aux");
  });

  it("valueAndGrad returns [the loss's type, the parameters' type]", () => {
    const [value, g] = hd.valueAndGrad(loss)(params(), x);
    expectTypeOf(value).toEqualTypeOf<Value>();
    expectTypeOf(g).toEqualTypeOf<Params>();
    const [[v2, aux], g2] = hd.valueAndGrad((p: Params) => [hd.sum(p.w), 3] as const, { hasAux: true })(params());
    expectTypeOf(v2).toEqualTypeOf<Value>();
    expectTypeOf(aux).toEqualTypeOf<3>();
    expectTypeOf(g2).toEqualTypeOf<Params>();
  });

  it("jvp, vjp, linearize, vmap keep f's argument and output types", () => {
    const f = (p: Params, y: Value) => ({ out: hd.mul(p.w, y) });
    const [y, t] = hd.jvp(f, [params(), x], [params(), x]);
    expectTypeOf(y).toEqualTypeOf<{ out: Value }>();
    expectTypeOf(t).toEqualTypeOf<{ out: Value }>();
    // @ts-expect-error primals are an array of f's arguments, not the first argument itself
    expect(() => hd.jvp(f, params(), [params(), x])).toThrow(
      /jvp: primals must be an array of f's arguments \(e\.g\. \[params\] for f\(params\)\), got an object with keys \{w, b\}/,
    );
    const [out, pullback] = hd.vjp(f, params(), x);
    expectTypeOf(out).toEqualTypeOf<{ out: Value }>();
    // The argument types are inferred from the primals given (x is a Tensor).
    expectTypeOf(pullback).returns.toEqualTypeOf<[Params, Tensor]>();
    pullback.dispose();
    const [, lin] = hd.linearize(f, params(), x);
    expectTypeOf(lin).parameters.toEqualTypeOf<[Params, Tensor]>();
    expectTypeOf(lin).returns.toEqualTypeOf<{ out: Value }>();
    expectTypeOf(hd.vmap(f)).toEqualTypeOf<(p: Params, y: Value) => { out: Value }>();
  });

  it("hessian, jacfwd, jacrev and hvp give trees of blocks shaped by the parameters", () => {
    const h = hd.hessian(loss)(params(), x);
    expectTypeOf(h).toEqualTypeOf<{ readonly w: Params; readonly b: Params }>();
    expect(hd.shapeOf(h.w.b)).toEqual([2]);
    expectTypeOf(hd.jacfwd((p: Params) => [p.w, p.b] as const)).returns.toEqualTypeOf<readonly [Params, Params]>();
    expectTypeOf(hd.jacrev((p: Params) => hd.sum(p.w))).returns.toEqualTypeOf<Params>();
    expectTypeOf(hd.jacrev(loss, { argnums: 1 })).returns.toEqualTypeOf<Value>();
    const v = hd.hvp(loss, [params(), x], [params(), x]);
    expectTypeOf(v).toEqualTypeOf<Params>();
  });
});
