/**
 * The training loop of `hodiff train`, independent of the command line: a seeded, resumable loop
 * over `@hodiff/data` minibatches with a pure `@hodiff/optim` optimizer.
 *
 * Determinism: the parameters start from `init(split(key(seed))[0])`; epoch e visits the batches of
 * `batches(train, { seed, epoch: e, trainSize, dropLast: true })`; an optimizer's per-update key is
 * `foldIn(split(key(seed))[1], step)` and its extra minibatches are drawn with mulberry32(seed,
 * step). Everything random is a function of the seed and the counters, so a checkpoint (params,
 * optimizer state, step, epoch, the last epoch's loss) is all a resumed run needs to follow the
 * uninterrupted run's trajectory bit for bit (on the same backend).
 *
 * Faults: every update's loss, gradient, update and new optimizer state are checked to be finite;
 * a non-finite one stops the run (or, with `onNonFinite: "skip"`, the update is dropped and
 * counted), so a checkpoint is only ever written from finite parameters and state. Between updates
 * the loop yields to the event loop, so that SIGINT/SIGTERM (`stop`) end it between two updates.
 *
 * Reads: every value the loop reads back (the loss with the finiteness flags, one read per update;
 * NewtonSummary's summaries; the validation; the checkpoints' tensors) is read without blocking, so
 * the one loop runs on every backend, webgpu included, where synchronous reads do not exist. Reading
 * changes no value: on cpu and wasm the trajectory is bit for bit what synchronous reads gave.
 */
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import * as E from "fp-ts/Either";
import * as hd from "@hodiff/core";
import { createPool, type Pool } from "@hodiff/parallel";
import { batches, epochOrder, mulberry32, numBatches, randInt, type Dataset } from "@hodiff/data";
import { accuracyAsync, nll, paramCount, type Model, type ModelName, type Params } from "@hodiff/nn";
import { applyUpdates, type Extras, type Params as Tree } from "@hodiff/optim";
import type { Partition, SummariesOptions } from "@hodiff/partition";
import { loadCheckpoint, saveCheckpoint, writeFileAtomic, type CheckpointMeta, type Json } from "./checkpoint";
import { loadRunData, type DatasetChoice } from "./datasets";
import type { Io } from "./io";
import { MetricsLog, METRICS_FILE, type MetricsRecord } from "./metrics";
import { buildModel, defaultInputShape } from "./models";
import type { ParallelTaskInit } from "./parallelTask";
import {
  OPTIMIZERS,
  type HyperValue,
  type OptimizerEntry,
  type OptimizerName,
  type StepContext,
  type TrainOptimizer,
} from "./optimizers";
import { injectsNaN, resetFaults, type NonFiniteQuantity } from "./faults";
import { epochProgress } from "./progress";
import { UsageError } from "./usage";
import type { Execution } from "./execution";
import { jitStep, type JitStep } from "./jitStep";

// model

/** Everything that defines a run's trajectory (saved in config.json and in every checkpoint). @category model */
export interface TrainConfig {
  readonly model: ModelName;
  /** Hidden widths replacing an MLP's (null: the paper's). */
  readonly hidden: readonly number[] | null;
  readonly dataset: DatasetChoice;
  /** Seed of the synthetic centres and of the real data's validation split. */
  readonly dataSeed: number;
  /** Synthetic only: number of training examples. */
  readonly syntheticExamples: number;
  /** Synthetic only: shape of one example (null: the model's input shape). */
  readonly syntheticShape: readonly number[] | null;
  readonly optimizer: OptimizerName;
  /** The optimizer's hyperparameters, defaults filled in. */
  readonly hyper: Readonly<Record<string, HyperValue>>;
  /** Total number of epochs (a resumed run continues up to this). */
  readonly epochs: number;
  /** Train on a seeded subset of this many examples (null: all). */
  readonly trainSize: number | null;
  readonly batchSize: number;
  readonly seed: number;
  /** Evaluate on at most this many validation examples after each epoch (0: none). */
  readonly valSize: number;
  /** Write a step record every this many updates (0: epoch records only). */
  readonly logEvery: number;
}

/** How to run it. @category model */
export interface RunOptions {
  /** The run directory (config.json, metrics.jsonl, checkpoint.json, ckpt-*.bin). */
  readonly dir: string;
  /** Continue from the checkpoint of `dir`. */
  readonly resume: boolean;
  readonly io: Io;
  readonly progress: boolean;
  /** The backend in use (recorded). */
  readonly backend: string;
  /** Cache root of real data sets. */
  readonly dataDir?: string;
  /** Use this optimizer instead of `OPTIMIZERS[cfg.optimizer]` (library use and tests). */
  readonly optimizerEntry?: OptimizerEntry;
  /** What a non-finite loss, gradient, update or optimizer state does: stop the run (default) or skip the update. */
  readonly onNonFinite?: "stop" | "skip";
  /** Set `requested` (e.g. from a signal handler) to stop the run after the current update. */
  readonly stop?: StopRequest;
  /** Called once the run has written its config.json (the start succeeded). */
  readonly onStarted?: () => void;
  /**
   * Threads over each batch (default 1): n > 1 starts an `@hodiff/parallel` pool of n − 1 workers
   * that, with this thread, compute the gradient and NewtonSummary's summaries on parts of the
   * batch. The trajectory equals one thread's within float32 rounding.
   */
  readonly threads?: number;
  /**
   * With `threads` > 1: the pool's workers' GEMM ("native": each installs @hodiff/native's OpenBLAS
   * GEMM with `blasThreads` BLAS threads; the caller installs it in this thread). Default "wasm".
   */
  readonly gemm?: "wasm" | "native";
  readonly blasThreads?: number;
  /**
   * Compute the plain (loss, gradient) step as `hd.jit` plans, the batch an argument, default
   * false (the eager step, as before; `hodiff train --jit auto` turns it on where it measured
   * faster, execution.ts's JIT_FASTEST): on one thread one plan (jitStep.ts), with `threads` > 1 one per part size in each of
   * the pool's threads (`createPool({ jit })`). Equal to the eager step within float32 rounding
   * (jit.test.ts); optimizers' own gradients (K-FAC's statistics steps) stay eager.
   */
  readonly jit?: boolean;
  /**
   * What the run executes with, recorded in config.json and every checkpoint (`hodiff train`
   * passes its resolved flags; default: the backend, `threads`, and the GEMM installed now).
   */
  readonly execution?: Execution;
}

/** A request to stop a run between two updates. @category model */
export interface StopRequest {
  requested: NodeJS.Signals | null;
}

/** What a finished run reports. @category model */
export interface TrainResult {
  readonly epochs: number;
  readonly steps: number;
  readonly lastEpochLoss: number | null;
  readonly seconds: number;
}

/** Data could not be loaded (exit status 1; the message names the fix). @category errors */
export class RunError extends Error {
  override name = "RunError";
}

/** A non-finite loss, gradient, update or state stopped the run (exit status 1). @category errors */
export class NonFiniteError extends RunError {
  override name = "NonFiniteError";
  constructor(
    message: string,
    readonly step: number,
    readonly quantity: NonFiniteQuantity,
  ) {
    super(message);
  }
}

/** The run was stopped by a signal between two updates (exit status 128 + the signal's number). @category errors */
export class RunInterrupted extends Error {
  override name = "RunInterrupted";
  constructor(
    readonly signal: NodeJS.Signals,
    readonly epochsDone: number,
  ) {
    super(`stopped by ${signal}`);
  }
}

// utils

const EXTRA_BATCH_STREAM = 0x5a3e;
const EVAL_CHUNK = 500;

/** Free the tensors of `garbage` that `keep` does not hold (states may pass tensors through). */
function disposeReplaced(garbage: unknown, keep: unknown): void {
  const kept = new Set(hd.treeLeaves(keep as hd.Tree<unknown>));
  hd.dispose(hd.treeLeaves(garbage as hd.Tree<unknown>).filter((t) => typeof t === "object" && !kept.has(t)));
}

const toX = (b: { images: Float32Array; shape: readonly number[] }) => hd.array(b.images, { shape: b.shape });

/**
 * The loss of an update and the first of `quantities` holding a non-finite float tensor element
 * (NaN, ±Infinity), or null (plain numbers inside a state are not checked). One scalar per
 * quantity, Σ (x · 0), is NaN exactly when some element is not finite (∞ · 0 = NaN); the loss and
 * these flags are read back together, without blocking (one device round trip per update).
 */
async function readUpdate(
  lossValue: hd.Value,
  quantities: readonly (readonly [NonFiniteQuantity, unknown])[],
): Promise<{ loss: number; bad: NonFiniteQuantity | null }> {
  const read = hd.tidy(() => {
    const sums = quantities.map(([, tree]) => {
      let acc: hd.Value = hd.array(0);
      for (const leaf of hd.treeLeaves(tree as hd.Tree<unknown>)) {
        if (typeof leaf === "object" && leaf !== null && "dtype" in leaf && (leaf as hd.Tensor).dtype === "float32")
          acc = hd.add(acc, hd.sum(hd.mul(leaf as hd.Tensor, 0)));
      }
      return acc;
    });
    return hd.stack([hd.reshape(lossValue, []), ...sums]);
  });
  let values: ArrayLike<number>;
  try {
    values = await hd.toFlatAsync(read);
  } finally {
    hd.dispose(read);
  }
  for (let i = 0; i < quantities.length; i++)
    if (!Number.isFinite(values[i + 1]!)) return { loss: values[0]!, bad: quantities[i]![0] };
  return { loss: values[0]!, bad: null };
}

/** Multiply every float tensor of `tree` by NaN (fault injection); the caller keeps `tree`'s tensors. */
const poisoned = <T>(tree: T): T =>
  hd.treeMap(
    (x: unknown) => (typeof x === "object" && x !== null && "dtype" in x ? hd.mul(x as hd.Tensor, NaN) : x),
    tree as hd.Tree<unknown>,
  ) as T;

/** The number of updates NewtonSummary spends on warm-up (W summaries, one every T updates), if known. */
function warmupUpdates(cfg: TrainConfig): number | null {
  const { warmup, period } = cfg.hyper;
  return cfg.optimizer === "newton-summary" && typeof warmup === "number" && typeof period === "number"
    ? warmup * period
    : null;
}

const yieldToEvents = () => new Promise<void>((r) => setImmediate(r));

/** Mean NLL and accuracy of `params` on `ds`, by chunks (read without blocking). */
async function evaluate(model: Model, params: Params, ds: Dataset): Promise<{ loss: number; accuracy: number }> {
  let loss = 0;
  let correct = 0;
  const n = ds.labels.length;
  for (const b of batches(ds, { batchSize: EVAL_CHUNK, seed: 0, shuffle: false })) {
    const [logits, chunkLoss] = hd.tidy(() => {
      const z = model.apply(params, toX(b));
      return [z, nll(z, b.labels)];
    });
    try {
      const [l, a] = await Promise.all([hd.itemAsync(chunkLoss), accuracyAsync(logits, b.labels)]);
      loss += l * b.labels.length;
      correct += a * b.labels.length;
    } finally {
      hd.dispose([logits, chunkLoss]);
    }
  }
  return { loss: loss / n, accuracy: correct / n };
}

/** `size` distinct examples of the training subset, drawn with mulberry32(seed, stream, step). */
function sampleBatch(train: Dataset, subset: Int32Array, size: number, seed: number, step: number) {
  const rng = mulberry32(seed, EXTRA_BATCH_STREAM, step);
  const pool = subset.slice();
  const k = Math.min(size, pool.length);
  const per = train.images.length / train.labels.length;
  const images = new Float32Array(k * per);
  const labels = new Int32Array(k);
  for (let i = 0; i < k; i++) {
    const j = i + randInt(rng, pool.length - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    const idx = pool[i]!;
    images.set(train.images.subarray(idx * per, (idx + 1) * per), i * per);
    labels[i] = train.labels[idx]!;
  }
  return { images, labels, shape: [k, ...train.shape.slice(1)] };
}

/**
 * The `index`-th minibatch of `size` examples of the training subset in its stored order, cycling
 * through it (the last minibatch of a pass may be smaller): a PyTorch DataLoader without shuffling,
 * repeated, as the published NewtonSummary code feeds its summaries.
 * @internal Exported for its test.
 */
export function sequentialBatch(train: Dataset, subset: Int32Array, size: number, index: number) {
  const perPass = Math.ceil(subset.length / size);
  const start = (index % perPass) * size;
  return gatherExamples(train, subset.subarray(start, Math.min(start + size, subset.length)));
}

/** The examples `indices` of `train`, as one batch. */
function gatherExamples(train: Dataset, indices: ArrayLike<number>) {
  const per = train.images.length / train.labels.length;
  const k = indices.length;
  const images = new Float32Array(k * per);
  const labels = new Int32Array(k);
  for (let i = 0; i < k; i++) {
    const idx = indices[i]!;
    images.set(train.images.subarray(idx * per, (idx + 1) * per), i * per);
    labels[i] = train.labels[idx]!;
  }
  return { images, labels, shape: [k, ...train.shape.slice(1)] };
}

/** The loop's (loss, gradient) of a batch on a pool, the loss as a scalar array like `valueAndGrad`'s. */
function poolGradient(pool: Pool, params: Params, x: hd.Value, labels: Int32Array): [hd.Value, Params] {
  const r = pool.valueAndGrad(params as Tree, { x, labels });
  return [hd.array(r.loss), r.grads as Params];
}

const shapeKey = (x: unknown): string =>
  typeof x === "object" && x !== null && "shape" in x ? `[${(x as hd.Tensor).shape.join(",")}]` : typeof x;

/** Dotted path → shape of every tensor of a state. */
function tensorShapes(state: unknown): Map<string, string> {
  const [leaves, def] = hd.treeFlatten(state as hd.Tree<unknown>);
  const paths = hd.treePaths(def);
  const out = new Map<string, string>();
  leaves.forEach((l, i) => {
    if (typeof l === "object" && l !== null && "shape" in l) out.set(paths[i]!, shapeKey(l));
  });
  return out;
}

/**
 * Every tensor of a fresh optimizer state is in the checkpoint's, with the same shape (plain
 * values such as histories may differ: they grow as training goes).
 */
function checkStructure(what: string, fresh: unknown, loaded: unknown): void {
  const got = tensorShapes(loaded);
  for (const [path, shape] of tensorShapes(fresh)) {
    if (got.get(path) !== shape)
      throw new RunError(
        `the checkpoint's ${what} has ${got.has(path) ? `shape ${got.get(path)}` : "no tensor"} at ${path}, expected ${shape}: it is not a state of the optimizer of its config`,
      );
  }
}

/** The checkpoint's parameters have the paths and shapes of the model. */
function checkParams(model: Model, params: Params): void {
  const [leaves, def] = hd.treeFlatten(params);
  const got = hd.treePaths(def).map((p, i) => `${p}${shapeKey(leaves[i])}`);
  const want = model.spec.map((s) => `${s.path}[${s.shape.join(",")}]`);
  if (got.join(" ") !== want.join(" "))
    throw new RunError(
      `the checkpoint's parameters (${got.join(", ")}) are not those of ${model.name} (${want.join(", ")})`,
    );
}

// the loop

/**
 * Train (or continue) the run of `cfg` in `run.dir`.
 * @category training
 */
export async function train(cfg: TrainConfig, run: RunOptions): Promise<TrainResult> {
  const t0 = performance.now();
  const { io } = run;
  resetFaults();
  const onNonFinite = run.onNonFinite ?? "stop";
  // A thread pool reads its parts synchronously and starts a backend per worker: wasm or cpu only.
  if ((run.threads ?? 1) > 1 && run.backend === "webgpu")
    throw new UsageError(
      "--threads",
      `--threads ${run.threads} runs on the wasm or cpu backend only (its threads read synchronously); use --backend wasm, or --threads 1 on webgpu`,
    );
  const data = loadRunData({
    dataset: cfg.dataset,
    dataSeed: cfg.dataSeed,
    valSize: cfg.valSize,
    syntheticExamples: cfg.syntheticExamples,
    syntheticShape: cfg.syntheticShape ?? defaultInputShape(cfg.model),
    dataDir: run.dataDir,
  });
  if (E.isLeft(data)) throw new RunError(data.left.message);
  const { train: trainSet, validation } = data.right;
  const inputShape = trainSet.shape.slice(1);
  const model = buildModel(cfg.model, { inputShape, hidden: cfg.hidden ?? undefined });
  if (trainSet.numClasses !== model.numClasses)
    throw new RunError(
      `${cfg.dataset} has ${trainSet.numClasses} classes but --model ${cfg.model} outputs ${model.numClasses}`,
    );
  const n = trainSet.labels.length;
  const trainSize = cfg.trainSize ?? n;
  if (trainSize > n)
    throw new UsageError(
      "--train-size",
      `--train-size ${trainSize} exceeds the ${n} training examples of ${cfg.dataset}`,
    );
  if (cfg.batchSize > trainSize)
    throw new UsageError(
      "--batch-size",
      `--batch-size ${cfg.batchSize} exceeds the ${trainSize} training examples (--train-size)`,
    );
  const batchOptions = { batchSize: cfg.batchSize, seed: cfg.seed, trainSize, dropLast: true } as const;
  const subset = epochOrder(n, { seed: cfg.seed, trainSize, shuffle: false });
  const perEpoch = numBatches(trainSize, cfg.batchSize, true);
  const warm = warmupUpdates(cfg);
  if (warm !== null && !run.resume && cfg.epochs * perEpoch <= warm)
    io.err(
      `warning: newton-summary spends its first ${warm} updates on warm-up (--warmup ${String(cfg.hyper["warmup"])} summaries × --period ${String(cfg.hyper["period"])}), but this run has only ${cfg.epochs * perEpoch} (${cfg.epochs} epoch(s) × ${perEpoch}): it will not change the parameters. Use more --epochs or a smaller --warmup or --period`,
    );

  const native = run.backend === "wasm" && hd.heapGemmActive();
  const execution: Execution = run.execution ?? {
    backend: run.backend,
    gemm: run.backend === "wasm" ? (native ? "native" : "wasm") : null,
    threads: run.threads ?? 1,
    blasThreads: native ? (run.blasThreads ?? null) : null,
    jit: run.jit ?? false,
  };
  const [initKey, stepKey] = hd.random.split(hd.random.key(cfg.seed)) as [hd.random.Key, hd.random.Key];
  const entry = run.optimizerEntry ?? (OPTIMIZERS[cfg.optimizer] as OptimizerEntry);
  if (entry.syncReads !== undefined && !hd.canReadSync())
    throw new UsageError(
      "--backend",
      `--optimizer ${cfg.optimizer} cannot run on the ${hd.getBackend()} backend: ${entry.syncReads}, and ${hd.getBackend()} has only asynchronous reads (itemAsync, toFlatAsync). Use --backend wasm or cpu, or another optimizer`,
    );
  const rngInfo: Json = {
    seed: cfg.seed,
    init: { derivation: "split(key(seed))[0]", words: [...initKey.words] },
    steps: { derivation: "foldIn(split(key(seed))[1], step)", words: [...stepKey.words] },
    batchOrder: "@hodiff/data batches({ seed, epoch, trainSize, dropLast: true })",
    extraBatches: `mulberry32(seed, ${EXTRA_BATCH_STREAM}, step)`,
  };

  let params: Params;
  let state: unknown;
  let epoch0 = 0;
  let step = 0;
  let lastEpochLoss: number | null = null;
  let metricsLines = 0;
  let best: CheckpointMeta["best"];
  let skipped = 0;
  if (run.resume) {
    const ck = loadCheckpoint(run.dir);
    ({ epoch: epoch0, step, lastEpochLoss, metricsLines, best } = ck);
    skipped = ck.nonfiniteSkipped ?? 0;
    if (ck.backend !== run.backend)
      io.err(
        `note: the run used the ${ck.backend} backend and continues on ${run.backend}: results agree within float32 tolerance, not bit for bit`,
      );
    params = ck.params as Params;
    state = ck.optState;
  } else {
    params = model.init(initKey);
  }
  let opt: TrainOptimizer;
  let metrics: MetricsLog;
  try {
    opt = entry.build(cfg.hyper, { params });
    if (run.resume) {
      checkParams(model, params);
      const fresh = opt.transformation.init(params);
      try {
        checkStructure("optimizer state", fresh, state);
      } finally {
        disposeReplaced(fresh, state);
      }
      io.err(`resuming ${run.dir} after epoch ${epoch0} (step ${step}), up to epoch ${cfg.epochs}`);
    } else state = opt.transformation.init(params);
    metrics = new MetricsLog(join(run.dir, METRICS_FILE), metricsLines);
  } catch (e) {
    hd.dispose(params);
    disposeReplaced(state, null);
    throw e;
  }
  try {
    writeFileAtomic(
      join(run.dir, "config.json"),
      `${JSON.stringify({ config: cfg, backend: run.backend, execution, model: { name: model.name, inputShape: model.inputShape, parameters: paramCount(model) } }, null, 2)}\n`,
      "config",
    );
  } catch (e) {
    hd.dispose(params);
    disposeReplaced(state, null);
    throw e;
  }
  run.onStarted?.();

  const threads = run.threads ?? 1;
  let pool: Pool | null = null;
  if (threads > 1) {
    try {
      const init: ParallelTaskInit = { model: cfg.model, inputShape, hidden: cfg.hidden };
      // parallelTask.ts from sources (tsx), dist/parallelTask.js when built.
      const ext = /\.ts$/.test(new URL(import.meta.url).pathname) ? "ts" : "js";
      pool = await createPool({
        task: new URL(`./parallelTask.${ext}`, import.meta.url),
        init,
        threads,
        ...(run.gemm === "native" ? { gemm: "native" as const, blasThreads: run.blasThreads ?? 1 } : {}),
        ...(run.jit === true ? { jit: true } : {}),
      });
    } catch (e) {
      hd.dispose(params);
      disposeReplaced(state, null);
      throw e;
    }
  }
  // One plan per batch shape, reused by every plain gradient step; freed when the loop ends.
  const jitted: JitStep | null = run.jit === true && pool === null ? jitStep(model) : null;
  // The batch of each loss closure the loop makes, so a pool can compute that loss's summaries.
  const batchOf = new WeakMap<(p: Tree) => hd.Value, { x: hd.Value; labels: Int32Array }>();
  const summarizeOn = (loss: (p: Params) => hd.Value) => {
    const batch = batchOf.get(loss as (p: Tree) => hd.Value);
    if (pool === null || batch === undefined) return undefined;
    const p = pool;
    return (theta: Tree, u: Tree, partition: Partition, options: SummariesOptions) =>
      p.summaries(theta, u, batch, partition, options);
  };
  const bar = epochProgress(run.io.progressStream, run.progress);
  const log = (s: unknown) => (opt.log ? opt.log(s) : {});
  try {
    if (run.stop?.requested) throw new RunInterrupted(run.stop.requested, epoch0);
    for (let epoch = epoch0; epoch < cfg.epochs; epoch++) {
      const te = performance.now();
      let sum = 0;
      let count = 0;
      bar.start(epoch + 1, cfg.epochs, perEpoch);
      for (const b of batches(trainSet, { ...batchOptions, epoch })) {
        const owned: hd.Value[] = [];
        const x = toX(b);
        owned.push(x);
        const lossOf = (xs: hd.Value, ys: Int32Array) => {
          const f = (p: Tree) => nll(model.apply(p as Params, xs), ys);
          if (pool !== null) batchOf.set(f, { x: xs, labels: ys }); // only a pool looks its batch up
          return f;
        };
        const ctx: StepContext = {
          step,
          epoch,
          key: hd.random.foldIn(stepKey, step),
          loss: lossOf(x, b.labels),
          model,
          x,
          labels: b.labels,
          lossOnSample: (size) => {
            const s = sampleBatch(trainSet, subset, size, cfg.seed, step);
            const xs = toX(s);
            owned.push(xs);
            return lossOf(xs, s.labels);
          },
          lossOnSequential: (index, size) => {
            const s = sequentialBatch(trainSet, subset, size, index);
            const xs = toX(s);
            owned.push(xs);
            return lossOf(xs, s.labels);
          },
          ...(pool ? { summarizeOn } : {}),
        };
        // the update's tensors, freed if it fails midway (a read, the optimizer); params and state are kept
        const pending: unknown[] = [owned];
        let loss = NaN;
        try {
          const custom = opt.gradients?.(ctx, params);
          const [lossValue, rawGrads] = (
            custom
              ? [custom.loss, custom.grads]
              : pool
                ? poolGradient(pool, params, x, b.labels)
                : jitted
                  ? jitted(params, x, b.labels)
                  : hd.valueAndGrad(ctx.loss)(params)
          ) as [hd.Value, Params];
          pending.push(lossValue, rawGrads);
          if (custom) owned.push(...(hd.treeLeaves(custom.dispose as hd.Tree<hd.Value>) as hd.Value[]));
          let grads = rawGrads;
          if (injectsNaN("gradient", step + 1)) {
            owned.push(...(hd.treeLeaves(grads as hd.Tree<hd.Value>) as hd.Value[]));
            grads = poisoned(grads);
            pending.push(grads);
          }
          let extras: Extras = {
            ...(opt.extras ? opt.extras(ctx) : {}),
            ...(custom ? custom.extras : {}),
            ...(count === 0 && lastEpochLoss !== null ? { value: lastEpochLoss } : {}),
          };
          if (opt.prepare) extras = await opt.prepare(state, params, grads, extras);
          const next = opt.transformation.update(state, params, grads, extras);
          pending.push(next.updates, next.state);
          let updates = next.updates;
          if (injectsNaN("update", step + 1)) {
            owned.push(...(hd.treeLeaves(updates as hd.Tree<hd.Value>) as hd.Value[]));
            updates = poisoned(updates);
            pending.push(updates);
          }
          const read = await readUpdate(lossValue, [
            ["gradient", grads],
            ["update", updates],
            ["optimizer state", next.state],
          ]);
          loss = injectsNaN("loss", step + 1) ? NaN : read.loss;
          const bad = Number.isFinite(loss) ? read.bad : "loss";
          if (bad !== null && onNonFinite === "stop") {
            disposeReplaced([lossValue, grads, updates, next.state, owned], [params, state]);
            pending.length = 0;
            throw new NonFiniteError(
              `update ${step + 1} (epoch ${epoch + 1}) has a non-finite ${bad}${bad === "loss" ? ` (${loss})` : ""}: the run stopped before applying it. ` +
                (epoch > 0
                  ? `The checkpoints in ${run.dir} hold finite state (the last after epoch ${epoch}, the best in best.json).`
                  : `It had no checkpoint yet.`),
              step + 1,
              bad,
            );
          }
          if (bad !== null) {
            // skip: the parameters and the state stay as they were; the update slot is used up
            disposeReplaced([lossValue, grads, updates, next.state, owned], [params, state]);
            pending.length = 0;
            skipped++;
          } else {
            const newParams = applyUpdates(params, updates);
            disposeReplaced([lossValue, grads, updates, params, state, owned], [newParams, next.state]);
            pending.length = 0;
            params = newParams;
            state = next.state;
            sum += loss;
            count++;
          }
        } catch (e) {
          disposeReplaced(pending, [params, state]);
          throw e;
        }
        step++;
        bar.update(count, count === 0 ? NaN : sum / count);
        if (cfg.logEvery > 0 && step % cfg.logEvery === 0) {
          metrics.append({
            kind: "step",
            epoch: epoch + 1,
            step,
            train_loss: loss,
            ...log(state),
            ...(skipped > 0 ? { nonfinite_skipped: skipped } : {}),
            time_s: (performance.now() - t0) / 1000,
          });
        }
        await yieldToEvents();
        if (run.stop?.requested) throw new RunInterrupted(run.stop.requested, epoch);
      }
      bar.stop();
      if (count === 0)
        throw new NonFiniteError(
          `every update of epoch ${epoch + 1} had a non-finite loss, gradient, update or state and was skipped: the run cannot progress.`,
          step,
          "update",
        );
      lastEpochLoss = sum / count;
      const val = validation ? await evaluate(model, params, validation) : undefined;
      const epochSeconds = (performance.now() - te) / 1000;
      const record: MetricsRecord = {
        kind: "epoch",
        epoch: epoch + 1,
        step,
        train_loss: lastEpochLoss,
        ...(val ? { val_loss: val.loss, val_accuracy: val.accuracy } : {}),
        ...log(state),
        ...(skipped > 0 ? { nonfinite_skipped: skipped } : {}),
        epoch_time_s: epochSeconds,
        execution, // what this epoch ran with (a resumed run may run otherwise)
      };
      metrics.append(record);
      metrics.sync();
      const score = val ? { metric: "val_loss", value: val.loss } : { metric: "train_loss", value: lastEpochLoss };
      const isBest = Number.isFinite(score.value) && (best === undefined || score.value < best.value);
      if (isBest) best = { epoch: epoch + 1, ...score };
      await saveCheckpoint(
        run.dir,
        {
          epoch: epoch + 1,
          step,
          metricsLines: metrics.lines,
          lastEpochLoss,
          rng: rngInfo,
          config: cfg as unknown as Json,
          backend: run.backend,
          execution: execution as unknown as Json,
          ...(best === undefined ? {} : { best }),
          ...(skipped > 0 ? { nonfiniteSkipped: skipped } : {}),
        },
        params,
        state,
        { best: isBest },
      );
      io.out(
        `epoch ${epoch + 1}/${cfg.epochs}: train_loss ${lastEpochLoss.toFixed(4)}` +
          (val ? `, val_loss ${val.loss.toFixed(4)}, val_accuracy ${val.accuracy.toFixed(4)}` : "") +
          `, ${count} steps in ${epochSeconds.toFixed(2)} s`,
      );
    }
  } finally {
    bar.stop();
    hd.dispose(params);
    disposeReplaced(state, null);
    jitted?.dispose();
    await pool?.close();
  }
  return { epochs: cfg.epochs, steps: step, lastEpochLoss, seconds: (performance.now() - t0) / 1000 };
}
