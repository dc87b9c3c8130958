/** The benchmark suites, by name. */
import * as tf from "@tensorflow/tfjs-core";
// tfjs-core alone registers no gradients; the union package registers them (for tf.grad, the baseline).
import "@tensorflow/tfjs";
import * as hd from "@hodiff/core";
import { medianCpuMs, medianMs, pairedRatio, round } from "./timing";
import { mlpProblem } from "./problems";

export interface BenchContext {
  backend: string;
  repeats: number;
  /** `--models`, for the suites that take it (conv). */
  models?: string;
  /** `--gemm wasm,native`, for the suites that take it (conv). */
  gemm?: string;
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

/** jit(grad) of the paper MLP against eager grad, interleaved so load drift hits both. */
const jitGradMlp: Bench = async ({ backend, repeats }) => {
  const m = paperMlp();
  const eager = () => hd.grad(m.loss)(m.params);
  const jitted = hd.jit(hd.grad(m.loss));
  const diff = hd.tidy(() => {
    const a = hd.treeLeaves(eager()) as hd.Value[];
    const b = hd.treeLeaves(jitted(m.params)) as hd.Value[];
    return Math.max(...a.map((g, i) => hd.item(hd.max(hd.abs(hd.sub(g, b[i]!))))));
  });
  const { ratio, baselineMs, fnMs } = pairedRatio(() => jitted(m.params), eager, repeats);
  const eagerCpu = medianCpuMs(eager, repeats);
  const jitCpu = medianCpuMs(() => jitted(m.params), repeats);
  jitted.dispose();
  return [
    {
      name: "jit-grad-mlp",
      backend,
      model: "784-1024-200-100-10 tanh, batch 100",
      eager_grad_ms: round(fnMs),
      jit_grad_ms: round(baselineMs),
      speedup: round(ratio),
      eager_grad_cpu_ms: round(eagerCpu),
      jit_grad_cpu_ms: round(jitCpu),
      cpu_speedup: round(eagerCpu / jitCpu),
      max_abs_diff: diff,
    },
  ];
};

/** A function of a few hundred small ops: the per-op cost of the eager interpreter vs a jit plan. */
const dispatch: Bench = async ({ backend, repeats }) => {
  const x = hd.random.normal(hd.random.key(0), [16]);
  const w = hd.random.normal(hd.random.key(1), [16, 16]);
  const f = (a: hd.Value) => {
    let h = a;
    for (let i = 0; i < 50; i++) {
      // 6 primitives per step: 300 in all (mul by a literal, matmul, add, tanh, sub, reshape).
      const z = hd.matmul(hd.reshape(hd.mul(h, 0.5), [1, 16]), w);
      h = hd.sub(hd.tanh(hd.add(hd.reshape(z, [16]), a)), 0.01);
    }
    return h;
  };
  const jf = hd.jit(f);
  const ops = jf.jaxpr(x).jaxpr.eqns.length;
  // The same plan with every equation on tfjs kernels: what staging alone saves.
  const jfKernels = hd.jit(f, { hostKernels: false });
  const kernelsOnly = pairedRatio(
    () => jfKernels(x),
    () => hd.tidy(() => f(x)),
    repeats,
  );
  const { ratio, baselineMs, fnMs } = pairedRatio(
    () => jf(x),
    () => hd.tidy(() => f(x)),
    repeats,
  );
  const jg = hd.jit(hd.grad((a: hd.Value) => hd.sum(f(a))));
  const gradRatio = pairedRatio(
    () => jg(x),
    () => hd.grad((a: hd.Value) => hd.sum(f(a)))(x),
    repeats,
  );
  const eagerCpu = medianCpuMs(() => hd.tidy(() => f(x)), repeats);
  const jitCpu = medianCpuMs(() => jf(x), repeats);
  const kernelsCpu = medianCpuMs(() => jfKernels(x), repeats);
  jf.dispose();
  jfKernels.dispose();
  jg.dispose();
  return [
    {
      name: "dispatch",
      backend,
      ops,
      eager_ms: round(fnMs),
      jit_ms: round(baselineMs),
      speedup: round(ratio),
      jit_tfjs_kernels_only_ms: round(kernelsOnly.baselineMs),
      speedup_tfjs_kernels_only: round(kernelsOnly.ratio),
      eager_cpu_ms: round(eagerCpu),
      jit_cpu_ms: round(jitCpu),
      jit_tfjs_kernels_only_cpu_ms: round(kernelsCpu),
      cpu_speedup: round(eagerCpu / jitCpu),
      cpu_speedup_tfjs_kernels_only: round(eagerCpu / kernelsCpu),
      eager_grad_ms: round(gradRatio.fnMs),
      jit_grad_ms: round(gradRatio.baselineMs),
      grad_speedup: round(gradRatio.ratio),
    },
  ];
};

/**
 * Kernel work of `summaries` on the paper MLP: tfjs kernel calls and elements read and written,
 * from tf.profile. Deterministic, so a change's cost shows even on a loaded machine.
 */
const kernelCount: Bench = async ({ backend }) => {
  const { canonical, summaries } = await import("@hodiff/partition");
  const { params, loss } = mlpProblem([784, 1024, 200, 100, 10], 100);
  const partition = canonical(params);
  const u = hd.grad(loss)(params);
  const run = () => summaries(loss as never, partition)(params, u as never);
  run();
  const info = await tf.profile(() => {
    run();
    return [] as unknown as tf.Tensor;
  });
  const size = (shapes: unknown) =>
    (shapes as number[][]).reduce((n, s) => n + (s ?? []).reduce((a, b) => a * b, 1), 0);
  const elements = info.kernels.reduce((n, k) => n + size(k.inputShapes) + size(k.outputShapes), 0);
  hd.dispose([params, u]);
  return [{ name: "kernel-count-summaries-mlp", backend, kernels: info.kernels.length, elements }];
};

export const benchmarks: Record<string, Bench> = {
  grad: gradMlp,
  "jit-grad": jitGradMlp,
  dispatch,
  "kernel-count": kernelCount,
  summaries: (ctx) => import("./summaries").then((m) => m.summariesBench(ctx)),
  elementwise: (ctx) => import("./elementwise").then((m) => m.elementwiseBench(ctx)),
  pooling: (ctx) => import("./pooling").then((m) => m.poolingBench(ctx)),
  layout: (ctx) => import("./layout").then((m) => m.layoutBench(ctx)),
  conv: (ctx) => import("./conv").then((m) => m.convBench(ctx)),
};
