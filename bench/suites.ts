/** The benchmark suites, by name. */
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core alone registers no gradients; the union package registers them (for tf.grad, the baseline).
import "@tensorflow/tfjs";
import * as hd from "@hodiff/core";
import { medianMs, round } from "./timing";
import { mlpProblem } from "./problems";

export interface BenchContext {
  backend: string;
  repeats: number;
}
export type Bench = (ctx: BenchContext) => Promise<Record<string, unknown>[]>;

/** The paper's MNIST MLP 784-1024-200-100-10 (tanh), NLL, batch 100; σ_w = 1 initialisation. */
export function paperMlp(batch = 100) {
  const { params, loss, x, labels } = mlpProblem([784, 1024, 200, 100, 10], batch);
  const names = Object.keys(params);
  // The same loss written with tfjs ops, for tf.grad.
  const tfLoss = (ws: tf.Tensor[]): tf.Scalar => {
    let h: tf.Tensor = x;
    for (let i = 0; i < names.length; i++) {
      const z = tf.add(tf.matMul(h, ws[2 * i]!), ws[2 * i + 1]!);
      h = i + 1 < names.length ? tf.tanh(z) : z;
    }
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(h), labels), 1))) as tf.Scalar;
  };
  const flatParams = names.flatMap((n) => [params[n]!.w, params[n]!.b]);
  return { params, loss, tfLoss, flatParams, x, labels };
}

const gradMlp: Bench = async ({ backend, repeats }) => {
  const m = paperMlp();
  const tfGrads = tf.grads((...ws: tf.Tensor[]) => m.tfLoss(ws));
  const tfMs = medianMs(() => tfGrads(m.flatParams), repeats);
  const hdMs = medianMs(() => hd.grad(m.loss)(m.params), repeats);
  const direction = hd.grad(m.loss)(m.params);
  const hvpMs = medianMs(() => hd.hvp(m.loss, [m.params], [direction]), repeats);
  // Agreement of the two gradients, so the comparison is of equal work.
  const ours = hd.treeLeaves(hd.grad(m.loss)(m.params)) as tf.Tensor[];
  const theirs = tfGrads(m.flatParams);
  const maxDiff = Math.max(...ours.map((g, i) => tf.max(tf.abs(tf.sub(g, theirs[i]!))).dataSync()[0]!));
  return [
    {
      name: "grad-mlp",
      backend,
      model: "784-1024-200-100-10 tanh, batch 100",
      tfjs_grad_ms: round(tfMs),
      hodiff_grad_ms: round(hdMs),
      ratio: round(hdMs / tfMs),
      max_abs_diff: maxDiff,
    },
    { name: "hvp-mlp", backend, hvp_ms: round(hvpMs), grad_ms: round(hdMs), hvp_in_grads: round(hvpMs / hdMs) },
  ];
};

export const benchmarks: Record<string, Bench> = {
  grad: gradMlp,
  summaries: (ctx) => import("./summaries").then((m) => m.summariesBench(ctx)),
  elementwise: (ctx) => import("./elementwise").then((m) => m.elementwiseBench(ctx)),
};
