/**
 * webgpu against wasm in Node with asynchronous reads (the only reads webgpu has in Node), one JSON
 * line per (model, backend): the training gradient at the paper's batch size (LeNet-5 100, VGG-11' 32,
 * paper MLP 100), the summaries (ḡ, H̄, order-3 diagonal, canonical partition, summariesAsync) and
 * the NewtonSummary ÷ Adam update ratio with one summary every T = 10 updates:
 * (grad + adam + summaries/10) / (grad + adam). Medians of `--repeats` after one warm-up.
 *
 *   tsx scripts/gpu-bench.ts [--backends webgpu,wasm] [--models lenet,vgg11,mlp] [--repeats 5]
 */
import { parseArgs } from "node:util";
import * as hd from "@hodiff/core";
import { MODELS, nll, type ModelName } from "@hodiff/nn";
import { adam, applyUpdates, type Params } from "@hodiff/optim";
import { canonical, summariesAsync } from "@hodiff/partition";

const { values } = parseArgs({
  options: {
    backends: { type: "string", default: "webgpu,wasm" },
    models: { type: "string", default: "lenet,vgg11,mlp" },
    repeats: { type: "string", default: "5" },
  },
});
const BATCH: Record<string, number> = { mlp: 100, lenet: 100, vgg11: 32, bigmlp: 100 };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const period = 10;

/** Wall time of `fn` (ms) until every array it returns has been read back, asynchronously. */
async function time(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  const out = fn();
  const arrays = hd
    .treeLeaves(out as hd.Tree<unknown>)
    .filter((l) => typeof l === "object" && l !== null && "dataId" in l);
  await Promise.all(arrays.map((l) => hd.toFlatAsync(l as hd.Value)));
  const t = performance.now() - t0;
  hd.dispose(out as never);
  return t;
}

for (const backend of values.backends.split(",")) {
  await hd.setBackend(backend as hd.BackendName);
  const adapter = backend === "webgpu" ? hd.getWebGpuAdapter()?.description : undefined;
  for (const name of values.models.split(",")) {
    const model = MODELS[name as ModelName]();
    const batch = BATCH[name]!;
    const params = model.init(hd.random.key(0)) as Params;
    const x = hd.random.normal(hd.random.key(1), [batch, ...model.inputShape]);
    const y = Int32Array.from({ length: batch }, (_, i) => i % model.numClasses);
    const loss = (p: Params) => nll(model.apply(p as never, x), y);
    const opt = adam(1e-3);
    const state = opt.init(params);
    const step = () => {
      const g = hd.grad(loss)(params);
      const next = opt.update(state, params, g);
      const out = [applyUpdates(params, next.updates), next.state];
      hd.dispose([g, next.updates] as never);
      return out;
    };
    const summ = summariesAsync(loss as never, canonical(params as never));
    const grads: number[] = [];
    const steps: number[] = [];
    const sums: number[] = [];
    const repeats = Number(values.repeats);
    for (let r = 0; r <= repeats; r++) {
      const g = await time(() => hd.grad(loss)(params));
      const s = await time(step);
      const t0 = performance.now();
      await summ(params, params);
      const m = performance.now() - t0;
      if (r === 0) continue; // warm-up (shader compilation)
      grads.push(g);
      steps.push(s);
      sums.push(m);
    }
    const adamStep = median(steps);
    const record = {
      bench: "gpu",
      model: name,
      backend,
      ...(adapter ? { adapter } : {}),
      batch,
      grad_ms: +median(grads).toFixed(2),
      adam_step_ms: +adamStep.toFixed(2),
      summaries_ms: +median(sums).toFixed(2),
      newton_over_adam: +((adamStep + median(sums) / period) / adamStep).toFixed(3),
      repeats,
      device_errors: backend === "webgpu" ? hd.takeWebGpuErrors().length : 0,
    };
    console.log(JSON.stringify(record));
    hd.dispose([params, x, state] as never);
  }
}
