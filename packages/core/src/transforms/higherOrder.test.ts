/** Derivatives of orders 1–4 against closed forms, by every route (nested grad, nested jvp, mixed). */
import { describe, expect, it } from "vitest";
import * as hd from "../index";
import type { Value } from "../index";

type Scalar = (x: Value) => Value;

/** The n-th derivative of a scalar function, by n nested reverse passes. */
const nthGrad = (f: Scalar, n: number): Scalar => (n === 0 ? f : nthGrad(hd.grad(f), n - 1));
/** The n-th derivative of a scalar function, by n nested forward passes. */
const nthJvp = (f: Scalar, n: number): Scalar =>
  n === 0 ? f : nthJvp((x: Value) => hd.jvp(f, [x], [1])[1] as Value, n - 1);
/** Alternate forward and reverse: jvp of grad of jvp … */
const nthMixed = (f: Scalar, n: number): Scalar =>
  n === 0 ? f : n % 2 ? nthMixed(hd.grad(f), n - 1) : nthMixed((x: Value) => hd.jvp(f, [x], [1])[1] as Value, n - 1);

const routes = { grad: nthGrad, jvp: nthJvp, mixed: nthMixed };

interface ClosedForm {
  name: string;
  f: Scalar;
  x: number;
  /** derivatives 1..4 at x */
  d: (x: number) => [number, number, number, number];
  tol?: number;
}

const sig = (z: number) => 1 / (1 + Math.exp(-z));

const CASES: ClosedForm[] = [
  {
    name: "exp(2x)",
    f: (x) => hd.exp(hd.mul(x, 2)),
    x: 0.3,
    d: (x) => [2, 4, 8, 16].map((c) => c * Math.exp(2 * x)) as never,
  },
  { name: "log x", f: (x) => hd.log(x), x: 1.5, d: (x) => [1 / x, -1 / x ** 2, 2 / x ** 3, -6 / x ** 4] },
  {
    name: "tanh x",
    f: (x) => hd.tanh(x),
    x: 0.4,
    d: (x) => {
      const t = Math.tanh(x);
      const s = 1 - t * t;
      return [s, -2 * t * s, -2 * s * (1 - 3 * t * t), 8 * t * s * (2 - 3 * t * t)];
    },
  },
  { name: "sin x", f: (x) => hd.sin(x), x: 0.7, d: (x) => [Math.cos(x), -Math.sin(x), -Math.cos(x), Math.sin(x)] },
  { name: "x·x·x (mul)", f: (x) => hd.mul(x, hd.mul(x, x)), x: 0.9, d: (x) => [3 * x * x, 6 * x, 6, 0] },
  { name: "x³ (pow) at 0", f: (x) => hd.pow(x, 3), x: 0, d: () => [0, 0, 6, 0] },
  { name: "sum(x²) (square)", f: (x) => hd.sum(hd.square(x)), x: -1.2, d: (x) => [2 * x, 2, 0, 0] },
  {
    name: "logSoftmax([x, 0.5])[0]",
    f: (x) => hd.sum(hd.slice(hd.logSoftmax(hd.concat([hd.reshape(x, [1]), hd.array([0.5])])), [0], [1])),
    x: 0.2,
    d: (x) => {
      const s = sig(x - 0.5);
      return [1 - s, -s * (1 - s), -s * (1 - s) * (1 - 2 * s), -s * (1 - s) * (1 - 6 * s + 6 * s * s)];
    },
  },
];

describe("orders 1–4 against closed forms", () => {
  for (const c of CASES) {
    for (const [route, nth] of Object.entries(routes)) {
      it(`${c.name} via ${route}`, () => {
        const before = hd.numTensors();
        const x = hd.array(c.x);
        const want = c.d(c.x);
        for (let n = 1; n <= 4; n++) {
          const got = hd.tidy(() => nth(c.f, n)(x));
          expect(hd.item(got)).toBeCloseTo(want[n - 1]!, 3);
          hd.dispose(got);
        }
        hd.dispose(x);
        expect(hd.numTensors()).toBe(before);
      });
    }
  }

  it("a derivative that vanishes identically returns exact zeros of the input's shape", () => {
    const x = hd.array([1, -2, 3]);
    const cubic = (v: Value) => hd.sum(hd.mul(v, hd.mul(v, v)));
    const d4 = hd.jacfwd(hd.jacfwd(hd.hessian(cubic)))(x) as Value;
    expect(hd.shapeOf(d4)).toEqual([3, 3, 3, 3]);
    expect((hd.toFlat(d4) as Float32Array).every((v) => v === 0)).toBe(true);
    const constant = (v: Value) => hd.sum(hd.stopGradient(v));
    expect(hd.toNested(hd.grad(constant)(x))).toEqual([0, 0, 0]);
  });
});

describe("orders 1–4 through matmul, conv2d and max pooling (directional closed forms)", () => {
  it("quadratic form via matmul: gradient (A+Aᵀ)a, Hessian A+Aᵀ, third derivative 0", () => {
    const A = hd.array([
      [1, 2, 0],
      [0, 3, -1],
      [4, 0, 2],
    ]);
    const a = hd.array([0.5, -1, 2]);
    const q = (v: Value) => hd.matmul(v, hd.matmul(A, v));
    const sym = [
      [2, 2, 4],
      [2, 6, -1],
      [4, -1, 4],
    ];
    const g = hd.toNested(hd.grad(q)(a)) as number[];
    const expectedG = sym.map((row) => row.reduce((s, r, j) => s + r * [0.5, -1, 2][j]!, 0));
    g.forEach((v, i) => expect(v).toBeCloseTo(expectedG[i]!, 5));
    expect(hd.toNested(hd.hessian(q)(a))).toEqual(sym);
    expect((hd.toFlat(hd.jacfwd(hd.hessian(q))(a)) as Float32Array).every((v) => v === 0)).toBe(true);
  });

  it("conv2d: dⁿ/dtⁿ Σ exp(conv(x + t·v, w)) = Σ cⁿ·exp(y) with c = conv(v, w), n = 1…4", () => {
    const x = hd.mul(hd.random.normal(hd.random.key(1), [1, 5, 5, 2]), 0.3);
    const v = hd.mul(hd.random.normal(hd.random.key(2), [1, 5, 5, 2]), 0.3);
    const w = hd.mul(hd.random.normal(hd.random.key(3), [3, 3, 2, 2]), 0.3);
    const g = (t: Value) => hd.sum(hd.exp(hd.conv2d(hd.add(x, hd.mul(v, t)), w, { padding: "same" })));
    const y = Array.from(hd.toFlat(hd.conv2d(x, w, { padding: "same" })));
    const c = hd.toFlat(hd.conv2d(v, w, { padding: "same" }));
    for (let n = 1; n <= 4; n++) {
      const want = y.reduce((s, yi, i) => s + c[i]! ** n * Math.exp(yi), 0);
      expect(hd.item(nthMixed(g, n)(hd.array(0)))).toBeCloseTo(want, 3);
    }
  });

  it("max pooling: along x itself (x > 0), maxPool((1+t)x) = (1+t)·maxPool(x), so dⁿ = Σ pⁿ·exp(p)", () => {
    const x = hd.random.uniform(hd.random.key(5), [2, 4, 4, 3], 0.1, 1);
    const g = (t: Value) => hd.sum(hd.exp(hd.maxPool(hd.mul(x, hd.add(t, 1)), { window: 2 })));
    const p = Array.from(hd.toFlat(hd.maxPool(x, { window: 2 })));
    for (let n = 1; n <= 4; n++) {
      const want = p.reduce((s, pi) => s + pi ** n * Math.exp(pi), 0);
      expect(hd.item(nthJvp(g, n)(hd.array(0)))).toBeCloseTo(want, 2);
      expect(hd.item(nthGrad(g, n)(hd.array(0)))).toBeCloseTo(want, 2);
    }
  });
});
