/**
 * `pnpm bench models [--models mlp,lenet] [--repeats N]`: one JSON line per paper model (mlp,
 * lenet, vgg11, bigmlp at the paper's batch sizes 100, 100, 32, 100) with the gradient's wall time
 * (forward + backward of the NLL on a random batch, forced with dataSync), the time inside tfjs
 * kernels and inside the matmul/conv kernels alone (tf.profile of gradients in the same run), and
 * the time of one NewtonSummary update (period T = 10, so one update in ten computes the
 * summaries) divided by one Adam update, both counting the gradient. Medians of interleaved repeats.
 * Node's tfjs-wasm runs on one thread, so every line has threads = 1.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { MODELS, nll, type ModelName } from "@hodiff/nn";
import { adam, applyUpdates, newtonSummary, type Params } from "@hodiff/optim";
import { canonical, summaries } from "@hodiff/partition";
import { round } from "./timing";
import type { Bench } from "./suites";

/** The paper's batch size of each model, and how many timed repeats it gets by default (it is slow). */
const PAPER: Record<string, { batch: number; repeats: number }> = {
  mlp: { batch: 100, repeats: 9 },
  lenet: { batch: 100, repeats: 9 },
  vgg11: { batch: 32, repeats: 3 },
  bigmlp: { batch: 100, repeats: 3 },
};

/** Kernels that are matrix products or convolutions: `gemm_ms` is their time. */
const GEMM = new Set([
  "BatchMatMul",
  "_FusedMatMul",
  "Conv2D",
  "FusedConv2D",
  "Conv2DBackpropInput",
  "Conv2DBackpropFilter",
  "DepthwiseConv2dNative",
]);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Wall time of `fn` in ms; its tensor outputs are read back (so the kernels have run) and freed. */
function timeOnce(fn: () => unknown): number {
  const t0 = performance.now();
  const out = fn();
  for (const leaf of hd.treeLeaves(out as hd.Tree<unknown>)) if (leaf instanceof tf.Tensor) leaf.dataSync();
  const t1 = performance.now();
  hd.dispose(out);
  return t1 - t0;
}

/** Total kernel time and matmul/conv kernel time of one call of `fn` (tf.profile). */
async function kernelTimes(fn: () => unknown): Promise<{ kernel: number; gemm: number }> {
  const prof = await tf.profile(() => {
    const out = fn();
    for (const leaf of hd.treeLeaves(out as hd.Tree<unknown>)) if (leaf instanceof tf.Tensor) leaf.dataSync();
    hd.dispose(out);
  });
  let kernel = 0;
  let gemm = 0;
  for (const k of prof.kernels) {
    const ms = Number(k.kernelTimeMs);
    kernel += ms;
    if (GEMM.has(k.name)) gemm += ms;
  }
  return { kernel, gemm };
}

/** Timings of one model; `repeats` interleaved rounds of (gradient, Adam step, NewtonSummary steps). */
async function benchModel(name: ModelName, batch: number, repeats: number, backend: string, withSummaries: boolean) {
  const model = MODELS[name]();
  const params = model.init(hd.random.key(0)) as Params;
  const x = hd.random.normal(hd.random.key(1), [batch, ...model.inputShape]);
  const labels = Array.from({ length: batch }, (_, i) => i % model.numClasses);
  const loss = (p: Params) => nll(model.apply(p as never, x), labels);
  const gradient = () => hd.grad(loss)(params);

  // Optimizer steps: gradient, update, new parameters (what one training step costs).
  const opt = adam(1e-3);
  const adamState = opt.init(params);
  const adamStep = () => {
    const g = gradient();
    const { state, updates } = opt.update(adamState, params, g);
    const next = applyUpdates(params, updates);
    hd.dispose([g, state, updates]);
    return next;
  };
  // NewtonSummary with T = 10 and no warm-up, so that the update with summaries also solves and steps.
  // Its update is pure: a state with count 0 (mod T) makes every call compute the summaries, one with
  // count 1 none; one update in T computes them.
  const ns = newtonSummary({ learningRate: 0.03, period: 10, warmup: 0 });
  const ns0 = ns.init(params);
  const nsStep = (state: typeof ns0) => () => {
    const g = gradient();
    const r = ns.update(state, params, g, { loss });
    const next = applyUpdates(params, r.updates);
    hd.dispose([g, r.state, r.updates]);
    return next;
  };
  const first = ns.update(ns0, params, gradient(), { loss });
  hd.dispose(first.updates);
  const ns1 = first.state;

  const u = gradient();
  const partition = canonical(params);
  const summaryFn = () => (summaries(loss as never, partition)(params, u), []);

  for (const fn of [gradient, adamStep, nsStep(ns1)]) timeOnce(fn); // warm-up
  const t = {
    grad: [] as number[],
    adam: [] as number[],
    ns: [] as number[],
    nsSum: [] as number[],
    sum: [] as number[],
  };
  const heavy = Math.max(1, Math.ceil(repeats / 3)); // updates with summaries: fewer repeats
  for (let i = 0; i < repeats; i++) {
    t.grad.push(timeOnce(gradient));
    t.adam.push(timeOnce(adamStep));
    t.ns.push(timeOnce(nsStep(ns1)));
    if (i < heavy) {
      t.nsSum.push(timeOnce(nsStep(ns0)));
      if (withSummaries) t.sum.push(timeOnce(summaryFn));
    }
  }
  const profiles: { kernel: number; gemm: number }[] = [];
  for (let i = 0; i < Math.min(3, repeats); i++) profiles.push(await kernelTimes(gradient));

  const grad = median(t.grad);
  const nsUpdate = (median(t.nsSum) + 9 * median(t.ns)) / 10;
  const record: Record<string, unknown> = {
    name: "grad-model",
    model: name,
    batch,
    backend,
    threads: 1,
    grad_ms: round(grad, 2),
    kernel_ms: round(median(profiles.map((p) => p.kernel)), 2),
    gemm_ms: round(median(profiles.map((p) => p.gemm)), 2),
    grad_over_gemm: round(grad / median(profiles.map((p) => p.gemm)), 2),
    adam_step_ms: round(median(t.adam), 2),
    ns_step_ms: round(nsUpdate, 2),
    ns_plain_step_ms: round(median(t.ns), 2),
    ns_summary_step_ms: round(median(t.nsSum), 2),
    ns_over_adam: round(nsUpdate / median(t.adam), 3),
    repeats,
  };
  if (withSummaries) record.summaries_ms = round(median(t.sum), 2);
  hd.dispose([params, x, u, adamState, ns0, ns1]);
  return record;
}

/** Options of the models bench that run.ts passes on: `--models a,b` and `--repeats` (default per model). */
export interface ModelsOptions {
  models?: string;
  repeats?: number;
}

export const modelsBench =
  (options: ModelsOptions): Bench =>
  async ({ backend }) => {
    const names = options.models ? options.models.split(",") : Object.keys(PAPER);
    for (const n of names) {
      const paper = PAPER[n];
      if (!paper) throw new Error(`bench models: unknown model '${n}' (use ${Object.keys(PAPER).join(", ")})`);
      const record = await benchModel(
        n as ModelName,
        paper.batch,
        options.repeats ?? paper.repeats,
        backend,
        n === "mlp",
      );
      console.log(JSON.stringify(record)); // printed as soon as measured: vgg11 and bigmlp take minutes
    }
    return [];
  };
