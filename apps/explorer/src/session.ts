/**
 * One training run of the explorer, shared by the page and by Node (the browser test compares the
 * two): the paper MLP on an MNIST subset, NewtonSummary or Adam, one update per `step()`, each
 * reporting the loss, η per group and the H̄ of the last summary with its inverse.
 */
import * as hd from "@hodiff/core";
import * as nn from "@hodiff/nn";
import * as optim from "@hodiff/optim";
import * as pt from "@hodiff/partition";
import { inverse } from "./inverse";

/** The partitions the page offers (paper §3): per layer, weights vs biases, k blocks of layers. */
export const PARTITIONS = ["canonical", "weights-biases", "blocks-2"] as const;
export type PartitionName = (typeof PARTITIONS)[number];

export interface SessionConfig {
  readonly optimizer: "newton-summary" | "adam";
  readonly partition: PartitionName;
  /** λ (NewtonSummary's global step) or Adam's learning rate. */
  readonly lambda: number;
  readonly seed: number;
  readonly batchSize: number;
  /** NewtonSummary: summaries every `period` updates, averaged over the last `window`. */
  readonly period: number;
}

export const DEFAULT_CONFIG: SessionConfig = {
  optimizer: "newton-summary",
  partition: "canonical",
  lambda: 0.1,
  seed: 0,
  batchSize: 64,
  period: 5,
};

/** The MNIST subset: normalised NHWC float32 images [n, 28, 28, 1] and labels. */
export interface Subset {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
}

/** What one update reports; `hbar`/`hbarInverse` are those of the averaged summaries in use. */
export interface StepReport {
  readonly step: number;
  readonly loss: number;
  readonly groups: readonly string[];
  readonly eta: readonly number[] | null;
  readonly hbar: readonly (readonly number[])[] | null;
  readonly hbarInverse: readonly (readonly number[])[] | null;
  readonly ms: number;
}

type Params = nn.Params;

/** μ of NewtonSummary's direction u_t = μ·u_{t−1} + g_t (the paper's 0.9). */
const MOMENTUM = 0.9;

const partitionOf = (name: PartitionName) => (params: Params) => {
  const p = params as never;
  if (name === "weights-biases") return pt.weightsBiases(p);
  if (name === "blocks-2") return pt.blocks(p, 2);
  return pt.canonical(p);
};

/** A session: `step()` does one update on the next minibatch (batches in order, wrapping). */
export function createSession(data: Subset, config: SessionConfig) {
  const model = nn.paperMlp();
  const shape = [28, 28, 1];
  const per = shape.reduce((a, b) => a * b, 1);
  const batch = (i: number) => {
    const start = (i * config.batchSize) % (data.count - config.batchSize + 1);
    const x = hd.array(data.images.subarray(start * per, (start + config.batchSize) * per), {
      shape: [config.batchSize, ...shape],
    });
    return { x, y: data.labels.slice(start, start + config.batchSize) };
  };
  const lossOn = (x: hd.Value, y: Int32Array) => (p: Params) => nn.nll(model.apply(p, x), y);

  const partition = partitionOf(config.partition);
  const groups = partition(hd.tidy(() => model.init(hd.random.key(config.seed)))).groups.map((g) => g.label);
  const newton = config.optimizer === "newton-summary";
  const opt = newton
    ? optim.newtonSummary({
        learningRate: config.lambda,
        partition: partition as never,
        period: config.period,
        window: 1,
        warmup: 1,
        momentum: MOMENTUM,
      })
    : optim.adam(config.lambda);
  let params = model.init(hd.random.key(config.seed));
  let state = (opt.init as (p: Params) => unknown)(params);
  let step = 0;

  return {
    groups,
    /** One update; resolves once its loss has been read (asynchronously, so a page stays live). */
    async step(): Promise<StepReport> {
      const t0 = performance.now();
      const { x, y } = batch(step);
      const f = lossOn(x, y);
      const [loss, grads] = hd.valueAndGrad(f)(params);
      // The summaries (every `period` updates) use the update's own batch. They are computed here
      // and read asynchronously (webgpu in a page has no working synchronous read), along the
      // direction NewtonSummary's momentum step makes: u = g + μ·u_prev.
      let extras = {};
      if (newton && step % config.period === 0) {
        const info = optim.newtonSummaryInfo(state as optim.NewtonSummaryState);
        const u = hd.treeMap(
          (g: hd.Value, b: hd.Value) => hd.add(g, hd.mul(b, MOMENTUM)),
          grads as never,
          info.trace as never,
        );
        extras = {
          summaries: await pt.summariesAsync(f as never, info.partition, { order3: true })(params, u as Params),
        };
        hd.dispose(u as never);
      }
      const next = (opt.update as (s: unknown, p: Params, g: Params, e: object) => { state: unknown; updates: Params })(
        state,
        params,
        grads,
        extras,
      );
      const newParams = optim.applyUpdates(params, next.updates);
      const lossValue = await hd.itemAsync(loss);
      hd.dispose([loss, grads, next.updates, params, x] as never);
      hd.dispose(state as never);
      params = newParams as Params;
      state = next.state;
      let eta: readonly number[] | null = null;
      let hbar: readonly (readonly number[])[] | null = null;
      if (newton) {
        const info = optim.newtonSummaryInfo(state as optim.NewtonSummaryState);
        eta = info.eta;
        hbar = info.averaged?.hbar ?? null;
      }
      step += 1;
      return {
        step,
        loss: lossValue,
        groups,
        eta,
        hbar,
        hbarInverse: hbar === null ? null : inverse(hbar),
        ms: performance.now() - t0,
      };
    },
    dispose(): void {
      hd.dispose([params, state] as never);
    },
  };
}
