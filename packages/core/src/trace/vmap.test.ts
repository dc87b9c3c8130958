/** vmap's factored forms against the per-example loop (brute force). */
import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "../index";
import type { Value } from "../index";

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
