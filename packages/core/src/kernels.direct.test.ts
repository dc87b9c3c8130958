/**
 * K's ops that call the engine directly (kernels.ts, "direct kernel calls") against the tf ops they
 * skip, on both backends: the same values bit for bit, dtypes (upcasts included), errors for bad
 * shapes, and no tensor left behind.
 */
import { afterAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "./index";
import { K } from "./kernels";

const same = (got: tf.Tensor, want: tf.Tensor) => {
  expect(got.shape).toEqual(want.shape);
  expect(got.dtype).toBe(want.dtype);
  expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
};

describe.each(["cpu", "wasm"] as const)("direct kernel calls on %s", (backend) => {
  afterAll(() => hd.setBackend("cpu"));

  it("equal tf's ops: values, shapes and dtypes, with broadcasting and mixed dtypes", async () => {
    await hd.setBackend(backend);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const a = tf.randomNormal([3, 4, 5], 0, 1, "float32", 1);
      const b = tf.randomNormal([4, 5], 0, 1, "float32", 2);
      const c = tf.randomNormal([3, 5, 2], 0, 1, "float32", 3);
      const i = tf.tensor([1, -2, 3, 4, 5], [5], "int32");
      const bool = tf.tensor([1, 0, 1, 1, 0], [5], "bool");
      same(K.add(a, b), tf.add(a, b));
      same(K.sub(b, a), tf.sub(b, a));
      same(K.mul(a, b), tf.mul(a, b));
      same(K.add(a, i), tf.add(a, i)); // int32 + float32: tf's upcast
      same(K.sub(i, a), tf.sub(i, a));
      same(K.mul(a, i), tf.mul(a, i));
      same(K.mul(i, i), tf.mul(i, i));
      same(K.tanh(a), tf.tanh(a));
      same(K.sum(a, [0, 2]), tf.sum(a, [0, 2]));
      same(K.sum(i, [0]), tf.sum(i, [0]));
      same(K.sum(bool, [0]), tf.sum(bool, [0])); // bool sums as int32
      same(K.reshape(a, [12, 5]), tf.reshape(a, [12, 5]));
      same(K.reshape(a, [-1, 10]), tf.reshape(a, [-1, 10]));
      same(K.transpose(a, [2, 0, 1]), tf.transpose(a, [2, 0, 1]));
      same(K.transpose(i, [0]), tf.transpose(i, [0])); // rank 1: a copy
      same(K.matmul(a, c), tf.matMul(a, c));
      same(K.matmul(c, a, true, true), tf.matMul(c, a, true, true));
      const ci = tf.tensor([1, 2, -3, 4, 5, 6, 7, -8, 9, 10], [5, 2], "int32");
      same(K.matmul(b, ci), tf.matMul(b, ci)); // float32 × int32: tf's upcast
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("bad operands throw tf's own errors, and nothing is left behind", async () => {
    await hd.setBackend(backend);
    const a = tf.zeros([2, 3]);
    const b = tf.zeros([4, 5]);
    const before = tf.memory().numTensors;
    const i = tf.tensor([1], [1], "int32");
    const message = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return "no error";
    };
    const cases: [() => unknown, () => unknown][] = [
      [() => K.reshape(a, [4, 2]), () => tf.reshape(a, [4, 2])],
      [() => K.transpose(a, [0, 2]), () => tf.transpose(a, [0, 2])],
      [() => K.transpose(a, [0]), () => tf.transpose(a, [0])],
      [() => K.add(a, b), () => tf.add(a, b)],
      [() => K.matmul(a, b), () => tf.matMul(a, b)],
      [() => K.tanh(i), () => tf.tanh(i)],
      [() => K.sum(a, [2]), () => tf.sum(a, [2])],
      [() => K.matmul(i, i), () => tf.matMul(i as tf.Tensor2D, i as tf.Tensor2D)],
    ];
    for (const [k, t] of cases) {
      const want = message(t);
      expect(want).not.toBe("no error");
      expect(message(k)).toBe(want);
    }
    expect(tf.memory().numTensors).toBe(before + 1); // i
    tf.dispose([a, b, i]);
  });
});
