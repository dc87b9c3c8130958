/** Benchmark problems shared by the suites. */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";

export type Params = Record<string, { w: tf.Tensor; b: tf.Tensor }>;

/** A tanh or ELU MLP with σ_w/√fan_in initialisation and NLL on a fixed random batch. */
export function mlpProblem(sizes: number[], batch: number, activation: "tanh" | "elu" = "tanh", sigmaW = 1) {
  const keys = hd.random.split(hd.random.key(0), sizes.length + 1);
  const params: Params = {};
  for (let i = 0; i + 1 < sizes.length; i++) {
    params[`fc${i + 1}`] = {
      w: tf.tidy(() => tf.mul(hd.random.normal(keys[i]!, [sizes[i]!, sizes[i + 1]!]), sigmaW / Math.sqrt(sizes[i]!))),
      b: tf.zeros([sizes[i + 1]!]),
    };
  }
  const x = hd.random.normal(keys[sizes.length - 1]!, [batch, sizes[0]!]);
  const C = sizes.at(-1)!;
  const labels = tf.tidy(() =>
    tf.cast(
      tf.oneHot(
        tf.tensor1d(
          Array.from({ length: batch }, (_, i) => i % C),
          "int32",
        ),
        C,
      ),
      "float32",
    ),
  );
  const act = activation === "tanh" ? hd.tanh : hd.elu;
  const names = Object.keys(params);
  const loss = (p: Params): Value => {
    let h: Value = x;
    names.forEach((n, i) => {
      const z = hd.add(hd.matmul(h, p[n]!.w), p[n]!.b);
      h = i + 1 < names.length ? act(z) : z;
    });
    return hd.neg(hd.mean(hd.sum(hd.mul(hd.logSoftmax(h), labels), 1)));
  };
  return { params, loss, x, labels };
}
