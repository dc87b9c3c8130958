/** jet against nested jvp (an independent route) and closed forms; rule coverage; composition; memory. */
import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "../index";
import type { Value } from "../index";
import { hasJetRule } from "../trace/jet";
import * as elementwise from "../primitives/elementwise";
import * as shape from "../primitives/shape";
import * as reduce from "../primitives/reduce";
import * as linalg from "../primitives/linalg";
import { tinyCnn, tinyMlp } from "./fixtures";

const close = (a: unknown, b: unknown, tol = { atol: 2e-4, rtol: 2e-3 }) => {
  // allClose accepts NaN against NaN; ground truth here is always finite.
  for (const leaf of hd.treeLeaves(b as never)) {
    expect(Array.from(hd.toFlat(leaf as Value)).every(Number.isFinite)).toBe(true);
  }
  const msg = hd.testing.allClose(a, b, tol);
  expect(msg).toBeNull();
};

/** x(t) = x₀ + Σ_k x_k tᵏ/k! as a hodiff function of the scalar t (Horner, so jvp sees a polynomial). */
function path(x0: Value, terms: Value[]): (t: Value) => Value {
  return (t) => {
    let acc: Value | null = null;
    for (let k = terms.length; k >= 1; k--) {
      let fact = 1;
      for (let i = 2; i <= k; i++) fact *= i;
      const c = hd.mul(terms[k - 1]!, 1 / fact);
      acc = acc === null ? c : hd.add(c, hd.mul(t, acc));
    }
    return acc === null ? x0 : hd.add(x0, hd.mul(t, acc));
  };
}

/** [dᵏ/dtᵏ g(t) at 0 for k = 1..K] by K nested jvps. */
function nestedJvps(g: (t: Value) => Value, K: number): Value[] {
  const out: Value[] = [];
  let h = g;
  for (let k = 1; k <= K; k++) {
    const inner = h;
    h = (t: Value) => hd.jvp(inner, [t], [hd.array(1)])[1] as Value;
    out.push(h(hd.array(0)));
  }
  return out;
}

/** A random-ish array with entries in [lo, hi]. */
const arr = (seed: number, s: number[], lo = -1, hi = 1): Value => hd.random.uniform(hd.random.key(seed), s, lo, hi);

interface UnaryCase {
  name: string;
  f: (x: Value) => Value;
  lo?: number;
  hi?: number;
}

const UNARY: UnaryCase[] = [
  { name: "neg", f: hd.neg },
  { name: "exp", f: hd.exp },
  { name: "expm1", f: hd.expm1 },
  { name: "log", f: hd.log, lo: 0.5, hi: 2 },
  { name: "log1p", f: hd.log1p, lo: -0.4, hi: 2 },
  { name: "sin", f: hd.sin },
  { name: "cos", f: hd.cos },
  { name: "tanh", f: hd.tanh },
  { name: "sqrt", f: hd.sqrt, lo: 0.5, hi: 2 },
  { name: "square", f: hd.square },
  { name: "abs", f: hd.abs },
  { name: "relu", f: hd.relu },
  { name: "elu", f: hd.elu },
  { name: "sigmoid", f: hd.sigmoid },
  { name: "pow(x, 2.5)", f: (x) => hd.pow(x, 2.5), lo: 0.5, hi: 2 },
  { name: "pow(x, 3)", f: (x) => hd.pow(x, 3) },
  { name: "pow(2, x)", f: (x) => hd.pow(hd.array(2), x) },
  { name: "pow(x, x)", f: (x) => hd.pow(x, x), lo: 0.5, hi: 2 },
  { name: "x / (1 + x²)", f: (x) => hd.div(x, hd.add(1, hd.square(x))) },
  { name: "maximum(x, 0.1)", f: (x) => hd.maximum(x, 0.1) },
  { name: "minimum(x, x²)", f: (x) => hd.minimum(x, hd.square(x)) },
  { name: "cast to float", f: (x) => hd.cast(hd.cast(x, "float32"), "float32") },
  { name: "stopGradient·x", f: (x) => hd.mul(hd.stopGradient(x), x) },
  { name: "logSoftmax", f: (x) => hd.logSoftmax(x) },
  { name: "sum, mean, max", f: (x) => hd.add(hd.sum(hd.exp(x), 1), hd.mul(hd.mean(x, 1), hd.max(x, 1))) },
];

describe("jet", () => {
  it("has a Taylor rule for every primitive of core", () => {
    const prims = [elementwise, shape, reduce, linalg]
      .flatMap((m) => Object.values(m))
      .filter(
        (v): v is { name: string } =>
          typeof v === "object" && v !== null && typeof (v as { impl?: unknown }).impl === "function",
      );
    expect(prims.length).toBeGreaterThanOrEqual(30);
    const missing = prims.filter((p) => !hasJetRule(p as never)).map((p) => p.name);
    expect(missing).toEqual([]);
  });

  for (const c of UNARY) {
    it(`equals nested jvp to order 4 along a general path: ${c.name}`, () => {
      const before = tf.memory().numTensors;
      hd.tidy(() => {
        const x0 = arr(1, [3, 4], c.lo ?? -1, c.hi ?? 1);
        const terms = [
          arr(2, [3, 4], -0.3, 0.3),
          arr(3, [3, 4], -0.3, 0.3),
          arr(4, [3, 4], -0.3, 0.3),
          arr(5, [3, 4], -0.3, 0.3),
        ];
        const [y, ys] = hd.jet(c.f, [x0], [terms]);
        close(y, c.f(x0));
        close(
          ys,
          nestedJvps((t) => c.f(path(x0, terms)(t)), 4),
        );
        return [];
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("equals nested jvp for shape ops, reductions and where", () => {
    hd.tidy(() => {
      const x0 = arr(6, [3, 4]);
      const terms = [arr(7, [3, 4]), null, arr(8, [3, 4])];
      const f = (x: Value) => {
        const moved = hd.reverse(
          hd.pad(hd.slice(hd.transpose(x), [1, 0], [2, 3]), [
            [1, 0],
            [0, 2],
          ]),
          [1],
        );
        const joined = hd.broadcastTo(hd.reshape(hd.concat([x, hd.tanh(x)], 0), [1, 24]), [2, 24]);
        const picked = hd.where(hd.greater(x, 0), hd.square(x), hd.neg(x));
        return hd.add(hd.add(hd.sum(hd.mul(moved, 2)), hd.sum(hd.exp(joined))), hd.max(picked));
      };
      const [, ys] = hd.jet(f, [x0], [terms]);
      const zero = hd.zerosLike(x0);
      close(
        ys,
        nestedJvps((t) => f(path(x0, [terms[0]!, zero, terms[2]!])(t)), 3),
      );
      return [];
    });
  });

  it("equals nested jvp for matmul and conv2d with both operands moving", () => {
    hd.tidy(() => {
      const a = arr(9, [2, 3]);
      const b = arr(10, [3, 4]);
      const [ta, tb] = [
        [arr(11, [2, 3]), arr(12, [2, 3])],
        [arr(13, [3, 4]), null],
      ];
      const f = (p: Value, q: Value) => hd.tanh(hd.matmul(p, q));
      const [, ys] = hd.jet(f, [a, b], [ta, tb]);
      const pa = path(a, ta as Value[]);
      const pb = path(b, [tb[0]!, hd.zerosLike(b)]);
      close(
        ys,
        nestedJvps((t) => f(pa(t), pb(t)), 2),
      );

      const x = arr(14, [1, 5, 5, 2]);
      const w = arr(15, [3, 3, 2, 3]);
      const tx = [arr(16, [1, 5, 5, 2]), arr(17, [1, 5, 5, 2]), null];
      const tw = [arr(18, [3, 3, 2, 3]), null, arr(19, [3, 3, 2, 3])];
      const g = (p: Value, q: Value) => hd.sum(hd.exp(hd.mul(hd.conv2d(p, q, { strides: 2, padding: "same" }), 0.3)));
      const [, zs] = hd.jet(g, [x, w], [tx, tw]);
      const px = path(x, [tx[0]!, tx[1]!, hd.zerosLike(x)]);
      const pw = path(w, [tw[0]!, hd.zerosLike(w), tw[2]!]);
      close(
        zs,
        nestedJvps((t) => g(px(t), pw(t)), 3),
        { atol: 1e-3, rtol: 3e-3 },
      );
      return [];
    });
  });

  it("matches closed forms to order 6: exp, tanh, sin, log, polynomials", () => {
    hd.tidy(() => {
      const K = 6;
      const unit = [hd.array(1), ...new Array(K - 1).fill(null)];
      const read = (ys: unknown) => (ys as Value[]).map((v) => hd.item(v));
      const x = 0.3;
      // exp: every derivative is eˣ.
      expect(read(hd.jet(hd.exp, [hd.array(x)], [unit])[1])).toEqual(
        new Array(K).fill(0).map(() => expect.closeTo(Math.exp(x), 5)),
      );
      // tanh: dⁿ tanh = Pₙ(tanh) with P₀(y) = y, Pₙ₊₁(y) = Pₙ'(y)·(1 − y²) (coefficients in float64).
      let poly = [0, 1];
      const tanhDerivs: number[] = [];
      for (let n = 1; n <= K; n++) {
        const d = poly.slice(1).map((c, i) => c * (i + 1));
        const next = new Array(d.length + 2).fill(0);
        d.forEach((c, i) => {
          next[i] += c;
          next[i + 2] -= c;
        });
        poly = next;
        const y = Math.tanh(x);
        tanhDerivs.push(poly.reduce((s, c, i) => s + c * y ** i, 0));
      }
      read(hd.jet(hd.tanh, [hd.array(x)], [unit])[1]).forEach((v, i) =>
        expect(v).toBeCloseTo(tanhDerivs[i]!, 3 - Math.floor(i / 3)),
      );
      // sin: sin, cos, −sin, −cos, … shifted.
      const sinD = [Math.cos(x), -Math.sin(x), -Math.cos(x), Math.sin(x), Math.cos(x), -Math.sin(x)];
      read(hd.jet(hd.sin, [hd.array(x)], [unit])[1]).forEach((v, i) => expect(v).toBeCloseTo(sinD[i]!, 5));
      // log at 1.5: (−1)^(n−1) (n−1)! / xⁿ.
      const l = 1.5;
      const logD = [1, 2, 3, 4, 5, 6].map((n) => ((-1) ** (n - 1) * [1, 1, 2, 6, 24, 120][n - 1]!) / l ** n);
      read(hd.jet(hd.log, [hd.array(l)], [unit])[1]).forEach((v, i) =>
        expect(v).toBeCloseTo(logD[i]!, 4 - Math.floor(i / 2)),
      );
      // p(x) = 2x⁵ − x³ + 4 by mul and by pow: derivatives 10x⁴ − 3x², 40x³ − 6x, 120x² − 6, 240x, 240, 0.
      const xp = 0.7;
      const pd = [10 * xp ** 4 - 3 * xp ** 2, 40 * xp ** 3 - 6 * xp, 120 * xp ** 2 - 6, 240 * xp, 240, 0];
      const byMul = (z: Value) => {
        const z2 = hd.mul(z, z);
        return hd.add(hd.sub(hd.mul(2, hd.mul(z2, hd.mul(z2, z))), hd.mul(z2, z)), 4);
      };
      const byPow = (z: Value) => hd.add(hd.sub(hd.mul(2, hd.pow(z, 5)), hd.pow(z, 3)), 4);
      for (const p of [byMul, byPow]) {
        read(hd.jet(p, [hd.array(xp)], [unit])[1]).forEach((v, i) => expect(v).toBeCloseTo(pd[i]!, 3));
      }
      // x³ at 0 (pow): exact zeros and 6, like the jvp rule.
      expect(read(hd.jet((z: Value) => hd.pow(z, 3), [hd.array(0)], [unit])[1])).toEqual([0, 0, 6, 0, 0, 0]);
      return [];
    });
  });

  for (const [name, model] of [
    ["tiny MLP", tinyMlp],
    ["tiny CNN", tinyCnn],
  ] as const) {
    it(`equals nested jvp to order 4 on the ${name}`, () => {
      const before = tf.memory().numTensors;
      hd.tidy(() => {
        const m = model();
        const theta = m.theta();
        const v1 = arr(20, [m.size], -0.5, 0.5);
        const v2 = arr(21, [m.size], -0.5, 0.5);
        const [l, ys] = hd.jet(m.loss, [theta], [[v1, v2, null, null]]);
        close(l, m.loss(theta));
        const zero = hd.zerosLike(theta);
        close(
          ys,
          nestedJvps((t) => m.loss(path(theta, [v1, v2, zero, zero])(t)), 4),
          { atol: 1e-3, rtol: 3e-3 },
        );
        return [];
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("composes: vmap of jet, grad of jet, jet of grad, pytrees of outputs", () => {
    const before = tf.memory().numTensors;
    hd.tidy(() => {
      const xs = arr(22, [5], 0.2, 1);
      // vmap over the primal: third derivative of exp(2x)·x per element = e^{2x}(8x + 12).
      const third = (x: Value) =>
        (hd.jet((z: Value) => hd.mul(hd.exp(hd.mul(z, 2)), z), [x], [[1, 0, 0]])[1] as Value[])[2]!;
      const got = hd.vmap(third)(xs);
      const xv = Array.from(hd.toFlat(xs));
      close(got, hd.array(xv.map((x) => Math.exp(2 * x) * (8 * x + 12))));
      // grad of the second jet term of sin: d/dx (−sin x) = −cos x.
      const g = hd.grad((x: Value) => hd.sum((hd.jet(hd.sin, [x], [[hd.onesLike(x), null]])[1] as Value[])[1]!))(xs);
      close(g, hd.neg(hd.cos(xs)));
      // jet of grad: f = Σ x⁴/4, ∇f = x³, whose derivatives along 1 are 3x², 6x, 6.
      const [, gs] = hd.jet(
        hd.grad((x: Value) => hd.sum(hd.mul(hd.pow(x, 4), 0.25))),
        [xs],
        [[hd.onesLike(xs), null, null]],
      );
      close(gs, [hd.mul(hd.square(xs), 3), hd.mul(xs, 6), hd.mul(hd.onesLike(xs), 6)]);
      // pytree output: each leaf gets its own list of terms.
      const [out, series] = hd.jet((x: Value) => ({ a: hd.exp(x), b: [hd.neg(x)] }), [xs], [[hd.onesLike(xs), null]]);
      close((out as { a: Value }).a, hd.exp(xs));
      const s = series as { a: Value[]; b: Value[][] };
      close(s.a, [hd.exp(xs), hd.exp(xs)]);
      close(s.b[0], [hd.neg(hd.onesLike(xs)), hd.zerosLike(xs)]);
      return [];
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("multiJet: each path equals its own jet, with one primal pass", () => {
    const before = tf.memory().numTensors;
    hd.tidy(() => {
      const m = tinyMlp();
      const theta = m.theta();
      const w = arr(30, [3, 4]);
      const f = (p: Value, q: Value) => hd.add(m.loss(p), hd.sum(hd.tanh(hd.matmul(q, hd.transpose(q)))));
      const paths = [
        [
          [arr(31, [m.size]), null, arr(32, [m.size])],
          [null, null, null],
        ],
        [
          [null, null, null],
          [arr(33, [3, 4]), arr(34, [3, 4]), null],
        ],
        [
          [arr(35, [m.size]), null, null],
          [arr(36, [3, 4]), null, null],
        ],
        [
          [null, null, null],
          [null, null, null],
        ],
      ];
      const [y, all] = hd.multiJet(f, [theta, w], paths);
      close(y, f(theta, w));
      paths.forEach((series, c) => close(all[c], hd.jet(f, [theta, w], series)[1]));
      close(all[3], [hd.array(0), hd.array(0), hd.array(0)]);
      return [];
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("rejects series of mixed lengths and terms of the wrong shape", () => {
    hd.tidy(() => {
      const x = hd.zeros([2]);
      expect(() => hd.jet(hd.add, [x, x], [[x], [x, x]])).toThrow(/one length/);
      expect(() => hd.jet(hd.exp, [x], [[hd.zeros([3])]])).toThrow(
        /term 1 of args\[0\] is float32\[3\] but its primal is float32\[2\]/,
      );
      return [];
    });
  });
});
