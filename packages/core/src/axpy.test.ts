/** axpy(θ, α, u, i) = θ + α_i·u against its composition, finite differences and the per-example loop. */
import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "./index";
import type { Value } from "./index";
import { checkGrads } from "./testing";

const composed = (t: Value, a: Value, u: Value, i: number) =>
  hd.add(t, hd.mul(hd.reshape(hd.slice(a, [i], [1]), []), u));

describe("axpy", () => {
  const t = hd.random.normal(hd.random.key(1), [3, 4]);
  const u = hd.random.normal(hd.random.key(2), [3, 4]);
  const a = hd.array([0.5, -2, 1.5]);

  it("at α made by zeros is θ's data itself (no kernel); elsewhere θ + α_i·u", async () => {
    const before = tf.memory().numTensors;
    const z = hd.zeros([3]);
    const prof = await tf.profile(() => {
      const y = hd.axpy(t, z, u, 1) as tf.Tensor;
      expect(y.dataId).toBe((t as tf.Tensor).dataId);
      y.dispose();
    });
    expect(prof.kernels.filter((k) => k.name !== "Reshape")).toEqual([]);
    // A zero vector not made by zeros takes the general path: the same numbers.
    const z2 = hd.mul(a, 0);
    const y2 = hd.axpy(t, z2, u, 1);
    expect(Array.from(hd.toFlat(y2))).toEqual(Array.from(hd.toFlat(t)));
    hd.tidy(() => {
      expect(hd.testing.allClose(hd.axpy(t, a, u, 1), composed(t, a, u, 1), { atol: 1e-6, rtol: 1e-6 })).toBeNull();
      return [];
    });
    hd.dispose([z, z2, y2]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("derivatives of orders 1 and 2 against finite differences, forward and reverse", () => {
    const before = tf.memory().numTensors;
    // tanh makes the second derivative non-trivial; every argument is differentiated.
    const f = (tt: Value, aa: Value, uu: Value) => hd.sum(hd.tanh(hd.axpy(tt, aa, uu, 2)));
    // Small arguments: tanh stays out of saturation, where central differences are accurate.
    const small = [hd.mul(t, 0.3), hd.array([0.2, -0.3, 0.4]), hd.mul(u, 0.3)];
    // The composition passes the same check (so a failure here is axpy's, not the check's).
    const g = (tt: Value, aa: Value, uu: Value) => hd.sum(hd.tanh(composed(tt, aa, uu, 2)));
    for (const h of [g, f])
      expect(() => checkGrads(h, small, { order: 2, eps: 1e-2, atol: 3e-3, rtol: 3e-3 })).not.toThrow();
    hd.dispose(small);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("reverse mode through a deferred cotangent (a matmul's weight) equals the composition", () => {
    const before = tf.memory().numTensors;
    hd.tidy(() => {
      const x = hd.random.normal(hd.random.key(3), [5, 3]);
      const L = (op: typeof composed) => (al: Value) => hd.sum(hd.tanh(hd.matmul(x, op(t, al, u, 0))));
      const alpha = hd.array([0.3, 0.1, -0.2]);
      expect(
        hd.testing.allClose(hd.grad(L(hd.axpy))(alpha), hd.grad(L(composed))(alpha), { atol: 1e-5, rtol: 1e-5 }),
      ).toBeNull();
      expect(
        hd.testing.allClose(hd.grad(L(hd.axpy))(hd.zeros([3])), hd.grad(L(composed))(hd.zeros([3])), {
          atol: 1e-5,
          rtol: 1e-5,
        }),
      ).toBeNull();
      return [];
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("vmap over any of its arguments equals the per-example loop", () => {
    const before = tf.memory().numTensors;
    hd.tidy(() => {
      const B = 4;
      const T = hd.random.normal(hd.random.key(4), [B, 3, 4]);
      const A = hd.random.normal(hd.random.key(5), [B, 3]);
      const U = hd.random.normal(hd.random.key(6), [3, 4, B]);
      const row = (X: Value, i: number, axis = 0) => {
        const s = hd.shapeOf(X);
        const begin = s.map((_, k) => (k === axis ? i : 0));
        const size = s.map((d, k) => (k === axis ? 1 : d));
        return hd.reshape(
          hd.slice(X, begin, size),
          s.filter((_, k) => k !== axis),
        );
      };
      const got = hd.vmap((tt: Value, aa: Value, uu: Value) => hd.axpy(tt, aa, uu, 1), [0, 0, 2])(T, A, U);
      const want = hd.stack([...Array(B).keys()].map((i) => composed(row(T, i), row(A, i), row(U, i, 2), 1)));
      expect(hd.testing.allClose(got, want, { atol: 1e-6, rtol: 1e-6 })).toBeNull();
      const onlyA = hd.vmap((aa: Value) => hd.axpy(t, aa, u, 0))(A);
      const wantA = hd.stack([...Array(B).keys()].map((i) => composed(t, row(A, i), u, 0)));
      expect(hd.testing.allClose(onlyA, wantA, { atol: 1e-6, rtol: 1e-6 })).toBeNull();
      return [];
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("names the shapes when they do not fit", () => {
    expect(() => hd.axpy(t, a, hd.zeros([4, 3]), 0)).toThrow(/axpy: .*float32\[3,4\].*float32\[4,3\]/);
    expect(() => hd.axpy(t, a, u, 3)).toThrow(/axpy: .*entry 3/);
  });
});
