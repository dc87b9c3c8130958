/** vmap's factored forms against the per-example loop (brute force). */
import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "../index";
import type { Value } from "../index";
import { tanhGrad } from "../primitives/elementwise";

describe("vmap of a bilinear op with a dense batched and a rank-one batched operand", () => {
  const ops: [string, (x: Value, w: Value) => Value, number[], number[]][] = [
    ["matmul", (x, w) => hd.matmul(x, w), [2, 3], [3, 4]],
    ["mul", (x, w) => hd.mul(x, w), [3, 4], [3, 4]],
    ["conv2d", (x, w) => hd.conv2d(x, w, { padding: "same" }), [1, 4, 4, 2], [3, 3, 2, 3]],
  ];
  for (const [name, op, xs, ws] of ops) {
    it(`${name}: f(x_i, s_i·u) for each i`, () => {
      const before = tf.memory().numTensors;
      hd.tidy(() => {
        const B = 3;
        const X = hd.random.normal(hd.random.key(1), [B, ...xs]);
        const s = hd.array([0.5, -2, 0]);
        const u = hd.random.normal(hd.random.key(2), ws);
        // s_i·u is rank-one inside vmap; x_i is a dense batched value.
        const got = hd.vmap((x: Value, si: Value) => op(x, hd.mul(si, u)))(X, s);
        const want = hd.stack(
          [0, 1, 2].map((i) => {
            const xi = hd.reshape(hd.slice(X, [i, ...xs.map(() => 0)], [1, ...xs]), xs);
            return op(xi, hd.mul(hd.reshape(hd.slice(s, [i], [1]), []), u));
          }),
        );
        expect(hd.testing.allClose(got, want, { atol: 1e-5, rtol: 1e-4 })).toBeNull();
        return [];
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe("vmap of sums of rank-one batched values (low-rank form)", () => {
  // Inside vmap over i, Σ_k s_k[i]·u_k is kept as its terms through add, sub, tanhGrad (linear in
  // its second argument) and matmul; the result must equal the per-example loop.
  const B = 6;
  const body = (terms: number) => (s: Value, x: Value, w: Value, y: Value, b: Value) => {
    const pick = (k: number) => hd.reshape(hd.slice(s, [k], [1]), []);
    let v = hd.mul(pick(0), x); // [3,4]
    for (let k = 1; k < terms; k++) v = k % 2 ? hd.sub(v, hd.mul(pick(k), x)) : hd.add(v, hd.mul(pick(k), b));
    const t = tanhGrad(y, v); // linear in v
    return hd.add(hd.matmul(t, w), hd.mul(pick(0), hd.matmul(x, w)));
  };
  for (const terms of [1, 2, 3, 5]) {
    it(`${terms} term(s)${terms > B / 2 ? " (more than half the batch: formed densely)" : ""}`, () => {
      const before = tf.memory().numTensors;
      hd.tidy(() => {
        const S = hd.random.normal(hd.random.key(3), [B, terms]);
        const x = hd.random.normal(hd.random.key(4), [3, 4]);
        const w = hd.random.normal(hd.random.key(5), [4, 2]);
        const y = hd.tanh(hd.random.normal(hd.random.key(6), [3, 4]));
        const b = hd.random.normal(hd.random.key(7), [4]);
        const f = body(terms);
        const got = hd.vmap((s: Value) => f(s, x, w, y, b))(S);
        const want = hd.stack(
          [...Array(B).keys()].map((i) => f(hd.reshape(hd.slice(S, [i, 0], [1, terms]), [terms]), x, w, y, b)),
        );
        expect(hd.testing.allClose(got, want, { atol: 1e-5, rtol: 1e-4 })).toBeNull();
        return [];
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe("the low-rank form saves the batched product", () => {
  it("matmul of a 2-term value runs on unbatched operands (no [B·m, k] product)", async () => {
    const before = tf.memory().numTensors;
    const B = 8;
    const [S, x, w, b] = [
      hd.random.normal(hd.random.key(3), [B, 2]),
      hd.random.normal(hd.random.key(4), [5, 4]),
      hd.random.normal(hd.random.key(5), [4, 3]),
      hd.random.normal(hd.random.key(6), [4]),
    ];
    const f = (s: Value) => {
      const pick = (k: number) => hd.reshape(hd.slice(s, [k], [1]), []);
      return hd.matmul(hd.add(hd.mul(pick(0), x), hd.mul(pick(1), b)), w);
    };
    const prof = await tf.profile(() => hd.dispose(hd.vmap(f)(S)));
    const products = prof.kernels.filter((k) => k.name === "BatchMatMul").map((k) => k.inputShapes[0]);
    expect(products.length).toBeGreaterThan(0);
    for (const shape of products) expect(shape!.at(-2)).toBe(5);
    hd.dispose([S, x, w, b]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
