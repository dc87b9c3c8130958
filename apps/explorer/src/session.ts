/**
 * One training run of the explorer, shared by the page and by Node (the browser test compares the
 * two): a model of `MODELS` (the paper MLP on an MNIST subset, LeNet-5 on a CIFAR-10 subset),
 * NewtonSummary or Adam, one update per `step()`, each reporting the loss, η per group and the H̄
 * of the last summary with its inverse.
 */
import * as hd from "@hodiff/core";
import * as nn from "@hodiff/nn";
import * as optim from "@hodiff/optim";
import * as pt from "@hodiff/partition";
import { inverse } from "./inverse";
import type { Subset } from "./subset";

export type { Subset } from "./subset";

/** The models the page offers, each with the data set (an @hodiff/data name) it trains on. */
export const MODELS = {
  mlp: { title: "paper MLP on MNIST", dataset: "mnist", build: nn.paperMlp },
  lenet: { title: "LeNet-5 on CIFAR-10", dataset: "cifar10", build: () => nn.lenet5() },
} as const satisfies Record<string, { title: string; dataset: string; build: () => nn.Model }>;
export type ModelName = keyof typeof MODELS;

/** The partitions the page offers (paper §3): per layer, weights vs biases, k blocks of layers. */
export const PARTITIONS = ["canonical", "weights-biases", "blocks-2", "blocks-3"] as const;
export type PartitionName = "canonical" | "weights-biases" | `blocks-${number}`;

export interface SessionConfig {
  readonly model: ModelName;
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
  model: "mlp",
  optimizer: "newton-summary",
  partition: "canonical",
  lambda: 0.1,
  seed: 0,
  batchSize: 64,
  period: 5,
};

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

const partitionOf = (name: PartitionName) => {
  const k = /^blocks-([1-9][0-9]*)$/.exec(name)?.[1];
  if (name !== "canonical" && name !== "weights-biases" && k === undefined)
    throw new Error(`explorer: unknown partition "${name}"; use canonical, weights-biases or blocks-<k>`);
  return (params: Params) => {
    const p = params as never;
    if (name === "weights-biases") return pt.weightsBiases(p);
    if (k !== undefined) return pt.blocks(p, Number(k));
    return pt.canonical(p);
  };
};

/** The first `count` examples of `data` from `start` as a batch [count, ...shape]. */
const slice = (data: Subset, start: number, count: number) => {
  const per = data.shape.reduce((a, b) => a * b, 1);
  const x = hd.array(data.images.subarray(start * per, (start + count) * per), { shape: [count, ...data.shape] });
  return { x, y: data.labels.slice(start, start + count) };
};

/** Index of the largest of each row of a row-major [rows, cols] array (ties: the first). */
function argmaxRows(v: ArrayLike<number>, rows: number, cols: number): number[] {
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let c = 1; c < cols; c++) if (v[r * cols + c]! > v[r * cols + best]!) best = c;
    return best;
  });
}

/**
 * A session: `step()` does one update on the next minibatch of `data` (batches in order,
 * wrapping); `evaluate()` gives the loss and accuracy on `validation`.
 */
export function createSession(data: Subset, config: SessionConfig, validation?: Subset) {
  const model = MODELS[config.model].build();
  const shape = model.inputShape;
  if (data.shape.join() !== shape.join())
    throw new Error(`explorer: ${config.model} takes ${shape.join("×")} images, the data are ${data.shape.join("×")}`);
  const batch = (i: number) =>
    slice(data, (i * config.batchSize) % (data.count - config.batchSize + 1), config.batchSize);
  const lossOn = (x: hd.Value, y: Int32Array) => (p: Params) => nn.nll(model.apply(p, x), y);

  const partition = partitionOf(config.partition);
  const groups = partition(hd.tidy(() => model.init(hd.random.key(config.seed)))).groups.map((g) => g.label);
  const newton = config.optimizer === "newton-summary";
  const newtonOptions: optim.NewtonSummaryOptions = {
    learningRate: config.lambda,
    partition: partition as never,
    period: config.period,
    window: 1,
    warmup: 1,
    momentum: MOMENTUM,
  };
  const opt = newton ? optim.newtonSummary(newtonOptions) : optim.adam(config.lambda);
  // The summaries (every `period` updates, on the update's own batch, along the update's own
  // direction) computed ahead of the update and read asynchronously: webgpu in a page has no
  // working synchronous read.
  const prepare = newton ? optim.newtonSummaryPrepare(newtonOptions) : null;
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
      const extras = prepare
        ? await prepare(state as optim.NewtonSummaryState, params, grads, { loss: f as never })
        : {};
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
    /**
     * (1/n) Σ nll and the fraction of argmax hits over the validation subset, in chunks of the
     * training batch (shapes training has already used; memory of one batch), read asynchronously.
     */
    async evaluate(): Promise<{ loss: number; accuracy: number; count: number } | null> {
      if (validation === undefined || validation.count === 0) return null;
      let lossSum = 0;
      let hits = 0;
      for (let start = 0; start < validation.count; start += config.batchSize) {
        const n = Math.min(config.batchSize, validation.count - start);
        const { x, y } = slice(validation, start, n);
        const logits = model.apply(params, x);
        const loss = nn.nll(logits, y);
        const [l, z] = await Promise.all([hd.itemAsync(loss), hd.toFlatAsync(logits)]);
        hd.dispose([x, logits, loss] as never);
        lossSum += l * n;
        hits += argmaxRows(z, n, model.numClasses).filter((p, i) => p === y[i]).length;
      }
      return { loss: lossSum / validation.count, accuracy: hits / validation.count, count: validation.count };
    },
    dispose(): void {
      hd.dispose([params, state] as never);
    },
  };
}
