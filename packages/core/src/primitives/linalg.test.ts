/** matmul's product memo inside transforms: one kernel for a repeated product, same numbers, no leak. */
import { afterAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "../index";
import type { Value } from "../index";

const products = async (f: () => void): Promise<number> =>
  (await tf.profile(f)).kernels.filter((k) => k.name === "BatchMatMul").length;

describe("matmul inside a transform reuses a live product of the same two arrays", () => {
  const x = hd.random.normal(hd.random.key(1), [3, 4]);
  const u = hd.random.normal(hd.random.key(2), [4, 5]);
  // The same x·u as a constant twice inside jvp (the shape of forward-over-reverse along θ + s·u).
  const f = (s: Value) => hd.add(hd.mul(s, hd.matmul(x, u)), hd.matmul(x, u));
  const [two, one] = [hd.array(2), hd.array(1)];
  afterAll(() => hd.dispose([x, u, two, one]));

  it("computes x·u once inside jvp, twice eagerly, with equal results", async () => {
    const before = tf.memory().numTensors;
    expect(await products(() => hd.dispose(hd.jvp(f, [two], [one])))).toBe(1);
    expect(await products(() => hd.tidy(() => void f(two)))).toBe(2);
    hd.tidy(() => {
      const [y, t] = hd.jvp(f, [two], [one]) as [Value, Value];
      const xu = hd.toFlat(hd.matmul(x, u));
      // y = 3·x·u, t = x·u: the reused product has the same entries.
      expect(Array.from(hd.toFlat(t))).toEqual(Array.from(xu));
      expect(hd.testing.allClose(y, hd.mul(3, hd.matmul(x, u)), { atol: 1e-6, rtol: 1e-6 })).toBeNull();
      return [];
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("recomputes once the first product is freed, and after a Variable's assign", async () => {
    const before = tf.memory().numTensors;
    // Each call's products are freed when it returns: the next call computes its own.
    expect(await products(() => hd.dispose(hd.jvp(f, [two], [one])))).toBe(1);
    expect(await products(() => hd.dispose(hd.jvp(f, [two], [one])))).toBe(1);
    const v = tf.tidy(() => tf.variable(tf.ones([4, 5])));
    const g = (s: Value) => hd.mul(s, hd.matmul(x, v));
    const [y1, t1] = hd.jvp(g, [one], [one]) as [Value, Value];
    tf.tidy(() => v.assign(tf.zeros([4, 5])));
    const [y2, t2] = hd.jvp(g, [one], [one]) as [Value, Value];
    expect(Array.from(hd.toFlat(t2)).every((e) => e === 0)).toBe(true);
    expect(Array.from(hd.toFlat(t1)).some((e) => e !== 0)).toBe(true);
    hd.dispose([y1, t1, y2, t2]);
    v.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("shareProducts keeps a product of arrays made before it across transforms", () => {
  it("x·u once for two jvp calls inside, twice outside; nothing kept after", async () => {
    const before = tf.memory().numTensors;
    const x = hd.random.normal(hd.random.key(1), [3, 4]);
    const u = hd.random.normal(hd.random.key(2), [4, 5]);
    const [s, t] = [hd.array(2), hd.array(1)];
    // x is reshaped inside, as a model flattens its input: a new array with the same data.
    const f = (a: Value) => hd.mul(a, hd.matmul(hd.reshape(x, [3, 4]), u));
    const twice = () => {
      const outs = [hd.jvp(f, [s], [t]), hd.jvp(f, [s], [t])];
      const [[y1, t1], [y2, t2]] = outs as [[Value, Value], [Value, Value]];
      expect(Array.from(hd.toFlat(t1))).toEqual(Array.from(hd.toFlat(t2)));
      expect(Array.from(hd.toFlat(y1))).toEqual(Array.from(hd.toFlat(y2)));
      hd.dispose(outs);
    };
    expect(await products(twice)).toBe(2);
    const inside = tf.memory().numTensors;
    expect(await products(() => hd.shareProducts(twice))).toBe(1);
    expect(tf.memory().numTensors).toBe(inside);
    // An operand made inside (x + 1, anew in each call) differs between calls: not kept.
    const fresh = (a: Value) => hd.mul(a, hd.matmul(hd.add(x, 1), u));
    const twiceFresh = () => hd.dispose([hd.jvp(fresh, [s], [t]), hd.jvp(fresh, [s], [t])]);
    expect(await products(() => hd.shareProducts(twiceFresh))).toBe(2);
    expect(tf.memory().numTensors).toBe(inside);
    hd.dispose([x, u, s, t]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
