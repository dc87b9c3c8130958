/** logSoftmax as a composite primitive: values, rules and decomposition against independent truth. */
import { describe, expect, it } from "vitest";
import * as hd from "../index";
import type { Value } from "../index";
import { checkGrads } from "../testing";
import { bind } from "../trace/core";
import { logSoftmaxP } from "./softmax";

/** log-softmax of each row of a JS matrix, in float64 (the truth). */
const rowsLogSoftmax = (rows: number[][]): number[][] =>
  rows.map((r) => {
    const m = Math.max(...r);
    const lse = m + Math.log(r.reduce((s, v) => s + Math.exp(v - m), 0));
    return r.map((v) => v - lse);
  });

const close = (a: unknown, b: unknown, tol = 1e-5): void => {
  const fa = (a as number[]).flat(3) as number[];
  const fb = (b as number[]).flat(3) as number[];
  expect(fa.length).toBe(fb.length);
  fa.forEach((v, i) => expect(Math.abs(v - fb[i]!)).toBeLessThan(tol * (1 + Math.abs(fb[i]!))));
};

/** x ∈ U(−2, 2)^{3×4} from `seed`, one-hot y, and L(a) = Σ y·logSoftmax(a)·tanh(a): nonlinear in a beyond the softmax. */
function labelledTanhLoss(seed: number) {
  const x = hd.random.uniform(hd.random.key(seed), [3, 4], -2, 2);
  const y = hd.array([
    [0, 1, 0, 0],
    [0, 0, 0, 1],
    [1, 0, 0, 0],
  ]);
  return { x, y, loss: (a: Value) => hd.sum(hd.mul(hd.mul(y, hd.logSoftmax(a)), hd.tanh(a))) };
}

describe("logSoftmax primitive", () => {
  const rows = [
    [1, 2, 3, -4],
    [80, -80, 0, 79.5], // large logits: the max shift keeps exp finite
    [0, 0, 0, 0],
  ];

  it("values match the float64 formula, large logits included, along either axis", () => {
    const before = hd.numTensors();
    const x = hd.array(rows);
    const [a, b] = [hd.logSoftmax(x, -1), hd.logSoftmax(x, 0)];
    close(hd.toNested(a), rowsLogSoftmax(rows));
    const cols = rows[0]!.map((_, j) => rows.map((r) => r[j]!));
    const byCol = rowsLogSoftmax(cols);
    close(
      hd.toNested(b),
      rows.map((r, i) => r.map((_, j) => byCol[j]![i]!)),
    );
    hd.dispose([x, a, b]);
    expect(hd.numTensors()).toBe(before);
  });

  it("grad is w − softmax(x)·Σw per row (closed form), with no tensor left behind", () => {
    const x = hd.array(rows);
    const w = hd.array([
      [1, 0, 0, 2],
      [0, 1, 0, 0],
      [0.5, 0.5, -1, 3],
    ]);
    const before = hd.numTensors();
    const g = hd.grad((a: Value) => hd.sum(hd.mul(w, hd.logSoftmax(a))))(x);
    const ws = hd.toNested(w) as number[][];
    const truth = rowsLogSoftmax(rows).map((r, i) => {
      const s = ws[i]!.reduce((p, v) => p + v, 0);
      return r.map((l, j) => ws[i]![j]! - Math.exp(l) * s);
    });
    close(hd.toNested(g), truth);
    hd.dispose(g);
    expect(hd.numTensors()).toBe(before);
    hd.dispose([x, w]);
  });

  it("the jvp rule agrees with the jvp of the decomposition", () => {
    const [k1, k2] = hd.random.split(hd.random.key(9), 2);
    const x = hd.random.normal(k1!, [3, 4, 5]);
    const dx = hd.random.normal(k2!, [3, 4, 5]);
    const params = { axes: [1, 2] };
    const [y1, t1] = hd.jvp((a: Value) => bind(logSoftmaxP, [a], params), [x], [dx]) as [Value, Value];
    const [y2, t2] = hd.jvp((a: Value) => logSoftmaxP.decompose!([a], params), [x], [dx]) as [Value, Value];
    close(hd.toNested(y1), hd.toNested(y2));
    close(hd.toNested(t1), hd.toNested(t2), 1e-4);
    hd.dispose([x, dx, y1, t1, y2, t2]);
  });

  it("vjp (primitive rule) is the transpose of jvp (primitive rule)", () => {
    const k = hd.random.key(3);
    const [k1, k2, k3] = hd.random.split(k, 3);
    const x = hd.random.normal(k1!, [4, 5]);
    const dx = hd.random.normal(k2!, [4, 5]);
    const ct = hd.random.normal(k3!, [4, 5]);
    const f = (a: Value) => hd.logSoftmax(a, 1);
    const [, jdx] = hd.jvp(f, [x], [dx]);
    const [, pull] = hd.vjp(f, x);
    const [xbar] = pull(ct) as [Value];
    const lhs = hd.toNested(hd.sum(hd.mul(ct, jdx))) as number;
    const rhs = hd.toNested(hd.sum(hd.mul(xbar, dx))) as number;
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * (1 + Math.abs(lhs)));
    hd.dispose([x, dx, ct, jdx, xbar]);
    pull.dispose();
  });

  it("higher orders through the rule match finite differences (grad-of-grad, jvp-of-grad, vmap)", () => {
    const { x, y, loss } = labelledTanhLoss(7);
    expect(() => checkGrads(loss, [x], { order: 3, eps: 1e-2, atol: 3e-3, rtol: 3e-3 })).not.toThrow();
    // vmap of grad over rows equals the grad of the row-wise sum.
    const perRow = hd.vmap(hd.grad((r: Value) => hd.sum(hd.mul(r, hd.logSoftmax(r)))))(x) as Value;
    const whole = hd.grad((a: Value) => hd.sum(hd.mul(a, hd.logSoftmax(a, 1))))(x);
    close(hd.toNested(perRow), hd.toNested(whole));
    hd.dispose([x, y, perRow, whole]);
  });

  it("vmap's rule renumbers the axes around the batch axis (consecutive or not) as a loop over slices would", () => {
    const x = hd.random.normal(hd.random.key(5), [3, 4, 5]);
    const shape = [3, 4, 5];
    for (const [inAxis, axes] of [
      [1, [0, 1]], // per-example [3, 5] over both: batched axes 0 and 2 (not consecutive: tfjs ops)
      [0, [1]], // per-example [4, 5] over the last: batched axis 2
      [2, [0]], // per-example [3, 4] over the first: batched axis 0
    ] as const) {
      const ls = (a: Value) => bind(logSoftmaxP, [a], { axes });
      const batched = hd.vmap(ls, inAxis, inAxis)(x) as Value;
      const rest = shape.filter((_, a) => a !== inAxis);
      const slices = Array.from({ length: shape[inAxis]! }, (_, i) => {
        const begin = shape.map((_, a) => (a === inAxis ? i : 0));
        const size = shape.map((d, a) => (a === inAxis ? 1 : d));
        return hd.reshape(ls(hd.reshape(hd.slice(x, begin, size), rest)), size);
      });
      const loop = hd.concat(slices, inAxis);
      close(hd.toNested(batched), hd.toNested(loop));
      hd.dispose([batched, loop, ...slices]);
    }
    hd.dispose(x);
  });

  it("jit records logSoftmax and logSoftmaxGrad whole; grad and jvp of the jitted gradient match eager and finite differences", () => {
    const { x, y, loss } = labelledTanhLoss(11);
    const closed = hd.makeJaxpr(hd.grad(loss))(x);
    const names = closed.jaxpr.eqns.map((e) => e.prim.name);
    closed.dispose();
    expect(names).toContain("logSoftmax");
    expect(names).toContain("logSoftmaxGrad");
    expect(names).not.toContain("exp");
    const before = hd.numTensors();
    const jitted = hd.jit(hd.grad(loss));
    const [g, ge] = [jitted(x) as Value, hd.grad(loss)(x)];
    close(hd.toNested(g), hd.toNested(ge));
    // Hessian-vector product through the jitted gradient (its logSoftmaxGrad equation is
    // differentiated by its decomposition) against a central difference of the eager gradient.
    const v = hd.random.normal(hd.random.key(12), [3, 4]);
    const [gj, hv] = hd.jvp(jitted, [x], [v]) as [Value, Value];
    const eps = 1e-2;
    const fd = hd.tidy(() => {
      const step = hd.mul(v, eps);
      return hd.div(hd.sub(hd.grad(loss)(hd.add(x, step)), hd.grad(loss)(hd.sub(x, step))), 2 * eps);
    });
    close(hd.toNested(gj), hd.toNested(ge));
    close(hd.toNested(hv), hd.toNested(fd), 3e-3);
    // And the second derivative of a scalar through jit: grad of ⟨jit(grad)(x), v⟩.
    const hv2 = hd.grad((a: Value) => hd.sum(hd.mul(jitted(a) as Value, v)))(x);
    close(hd.toNested(hv2), hd.toNested(fd), 3e-3);
    hd.dispose([g, ge, v, gj, hv, fd, hv2]);
    jitted.dispose();
    expect(hd.numTensors()).toBe(before);
    hd.dispose([x, y]);
  });

  it("rejects axes that are not axes of x, naming the op", () => {
    const x = hd.zeros([2, 3]);
    expect(() => hd.logSoftmax(x, 2)).toThrow(/logSoftmax/);
    hd.dispose(x);
  });
});
