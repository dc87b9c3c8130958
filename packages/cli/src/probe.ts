/**
 * The shared part of `hodiff inspect` and `hodiff lr`: a model's parameters (at initialisation, or
 * from a run's checkpoint), k minibatches (`--batches`, default 1), and the partitioned summaries
 * along the gradient of their mean loss — L, ḡ, H̄, diag D̄(3) (`@hodiff/partition`'s `summaries`,
 * averaged over the batches) and the interaction map of H̄.
 *
 * At initialisation the parameters are `init(split(key(seed))[0])`, those of `hodiff train --seed`;
 * the batches are the first k of `batches(train, { seed, epoch: 0, dropLast: true })`. With
 * `--checkpoint DIR` the model and data come from the run's config (a flag that disagrees with it
 * is a usage error) and so does the default partition (the run's `--partition` for newton-summary).
 */
import * as E from "fp-ts/Either";
import { Command, InvalidArgumentError } from "commander";
import * as hd from "@hodiff/core";
import { batches } from "@hodiff/data";
import { nll, type ModelName, type Params } from "@hodiff/nn";
import { interactionMap, summariesAsync, type InteractionMap, type Partition, type Summaries } from "@hodiff/partition";
import { hasCheckpoint, loadCheckpoint, CHECKPOINT_FILE } from "./checkpoint";
import { loadRunData, type DatasetChoice } from "./datasets";
import { buildModel, defaultInputShape } from "./models";
import { PARTITION_PATTERN, partitionBuilder } from "./optimizers";
import { RunError, type TrainConfig } from "./trainer";
import { anyInt, intAtLeast, UsageError } from "./usage";
import { addModelDataOptions, backendOption } from "./sharedOptions";

// model

/** The flags shared by `inspect` and `lr`, as commander parses them. @category model */
export interface ProbeFlags {
  readonly model: string;
  readonly hidden?: number[];
  readonly dataset: string;
  readonly syntheticExamples: number;
  readonly syntheticShape?: number[];
  readonly dataSeed: number;
  readonly dataDir?: string;
  readonly checkpoint?: string;
  readonly trainSize?: number;
  readonly partition?: string;
  readonly batchSize: number;
  readonly batches: number;
  readonly seed: number;
  readonly backend?: "webgpu" | "wasm" | "cpu" | "auto";
}

/** What was probed: the summaries along the gradient, labelled by group, and where they come from. @category model */
export interface Probe {
  /** Group labels, in partition order. */
  readonly labels: string[];
  /** Number of parameters of each group. */
  readonly groupSizes: number[];
  readonly loss: number;
  readonly gbar: number[];
  readonly hbar: number[][];
  readonly order3Diag: number[];
  /** H̄, H̄⁻¹ and their normalised forms |M_ij| / √|M_ii M_jj| (paper Fig. 1). */
  readonly map: InteractionMap;
  /** Where the numbers come from (written into the JSON of `inspect`). */
  readonly meta: ProbeMeta;
  /** The run's λ_int when the checkpoint is a newton-summary run's (`lr`'s default). */
  readonly runLambdaInt: number | null;
}

/** The provenance of a probe. @category model */
export interface ProbeMeta {
  readonly model: string;
  readonly dataset: string;
  readonly partition: string;
  readonly direction: "gradient";
  readonly batchSize: number;
  /** Batches averaged: the direction is the gradient of their mean loss, the summaries are their means. */
  readonly batches: number;
  readonly seed: number;
  /** The run directory of the checkpoint, or null at initialisation. */
  readonly checkpoint: string | null;
  /** Updates done by the checkpoint's run (0 at initialisation). */
  readonly step: number;
  readonly epoch: number;
  readonly backend: string;
}

// options

const partitionParser = (v: string): string => {
  if (!PARTITION_PATTERN.test(v))
    throw new InvalidArgumentError("expected canonical, trivial, weights-biases, blocks-K or alternate-K.");
  return v;
};

/**
 * Add the flags of a probe (model, data, checkpoint, partition, batch) to `cmd`.
 * @category options
 */
export function addProbeOptions(cmd: Command): Command {
  return addModelDataOptions(cmd, {
    model: "model (default with --checkpoint: the run's)",
    dataset: "data set of the batch",
  })
    .option("--checkpoint <dir>", "use the parameters of the run in <dir> (default: the initialisation of --seed)")
    .option(
      "--train-size <n>",
      "draw the batches from the seeded subset of n examples that `train --train-size n` uses (default: all, or the run's)",
      intAtLeast(1),
    )
    .option(
      "--partition <name>",
      "groups: canonical, trivial, weights-biases, blocks-K or alternate-K (default: canonical, or the run's)",
      partitionParser,
    )
    .option("--batch-size <n>", "examples of the batch the summaries are computed on", intAtLeast(1), 100)
    .option(
      "--batches <k>",
      "average over the first k batches (k × batch size examples; the paper's full batch when that is the training set)",
      intAtLeast(1),
      1,
    )
    .option("--seed <n>", "seed of the initialisation and of the batch", anyInt, 0)
    .addOption(backendOption());
}

// computing

/** Flag of each config key that `--checkpoint` fixes. */
const FIXED_BY_RUN: Readonly<Record<string, string>> = {
  model: "model",
  hidden: "hidden",
  dataset: "dataset",
  syntheticExamples: "synthetic-examples",
  syntheticShape: "synthetic-shape",
  dataSeed: "data-seed",
  trainSize: "train-size",
};

/** Parameters of each group (a leaf's scalars, or for `discrete` its scalars one by one). */
function groupSizes(p: Partition): number[] {
  const sizes = new Array<number>(p.size).fill(0);
  p.assignment.forEach((a, i) => {
    if (typeof a === "number") sizes[a]! += p.leafShapes[i]!.reduce((x, y) => x * y, 1);
    else for (const s of a) sizes[s]! += 1;
  });
  return sizes;
}

/** The first n items of an iterator. */
function* take<T>(it: Iterator<T>, n: number): Generator<T> {
  for (let i = 0; i < n; i++) {
    const r = it.next();
    if (r.done === true) return;
    yield r.value;
  }
}

const disposeTree = (tree: unknown): void =>
  hd.dispose(hd.treeLeaves(tree as hd.Tree<unknown>).filter((t) => typeof t === "object" && t !== null));

/**
 * Load the parameters (init or checkpoint), draw the batch and compute the summaries along its gradient,
 * read without blocking (so it runs on webgpu too). Frees every tensor it makes.
 * @category probe
 */
export async function probe(f: ProbeFlags, cmd: Command, backend: string): Promise<Probe> {
  const given = (key: string) => cmd.getOptionValueSource(key) === "cli";
  let cfg: Pick<TrainConfig, "model" | "hidden" | "dataset" | "dataSeed" | "syntheticExamples" | "syntheticShape"> & {
    trainSize: number | null;
  } = {
    model: f.model as ModelName,
    hidden: f.hidden ?? null,
    dataset: f.dataset as DatasetChoice,
    dataSeed: f.dataSeed,
    syntheticExamples: f.syntheticExamples,
    syntheticShape: f.syntheticShape ?? null,
    trainSize: f.trainSize ?? null,
  };
  let partitionSpec = f.partition ?? "canonical";
  let runLambdaInt: number | null = null;
  let params: Params | undefined;
  let step = 0;
  let epoch = 0;
  if (f.checkpoint !== undefined) {
    if (!hasCheckpoint(f.checkpoint))
      throw new UsageError(
        "--checkpoint",
        `--checkpoint ${f.checkpoint}: no ${CHECKPOINT_FILE} there (not a run directory, or no epoch done yet)`,
      );
    const ck = loadCheckpoint(f.checkpoint);
    disposeTree(ck.optState);
    params = ck.params as Params;
    try {
      const saved = ck.config as unknown as TrainConfig;
      for (const [key, flag] of Object.entries(FIXED_BY_RUN)) {
        const k = key as keyof typeof FIXED_BY_RUN & keyof ProbeFlags & keyof TrainConfig;
        if (given(key) && JSON.stringify(cfg[k as keyof typeof cfg]) !== JSON.stringify(saved[k]))
          throw new UsageError(
            `--${flag}`,
            `--${flag} ${JSON.stringify(cfg[k as keyof typeof cfg])} differs from the run's ${JSON.stringify(saved[k])} (${f.checkpoint}): leave it out with --checkpoint`,
          );
      }
      cfg = { ...saved, trainSize: saved.trainSize };
      if (saved.optimizer === "newton-summary") {
        if (f.partition === undefined) partitionSpec = saved.hyper["partition"] as string;
        runLambdaInt = saved.hyper["lambdaInt"] as number;
      }
      step = ck.step;
      epoch = ck.epoch;
    } catch (e) {
      hd.dispose(params);
      throw e;
    }
  }
  const owned: unknown[] = params === undefined ? [] : [params];
  try {
    const data = loadRunData({
      dataset: cfg.dataset,
      dataSeed: cfg.dataSeed,
      valSize: 0,
      syntheticExamples: cfg.syntheticExamples,
      syntheticShape: cfg.syntheticShape ?? defaultInputShape(cfg.model),
      dataDir: f.dataDir,
    });
    if (E.isLeft(data)) throw new RunError(data.left.message);
    const trainSet = data.right.train;
    const model = buildModel(cfg.model, { inputShape: trainSet.shape.slice(1), hidden: cfg.hidden ?? undefined });
    if (trainSet.numClasses !== model.numClasses)
      throw new RunError(
        `${cfg.dataset} has ${trainSet.numClasses} classes but --model ${cfg.model} outputs ${model.numClasses}`,
      );
    const available = cfg.trainSize ?? trainSet.labels.length;
    if (f.batchSize > available)
      throw new UsageError("--batch-size", `--batch-size ${f.batchSize} exceeds the ${available} training examples`);
    if (f.batchSize * f.batches > available)
      throw new UsageError(
        "--batches",
        `--batches ${f.batches} × --batch-size ${f.batchSize} exceeds the ${available} training examples`,
      );
    if (params === undefined) {
      const [initKey] = hd.random.split(hd.random.key(f.seed)) as [hd.random.Key, hd.random.Key];
      params = model.init(initKey);
      owned.push(params);
    } else {
      const [leaves, def] = hd.treeFlatten(params);
      const got = hd.treePaths(def).map((p, i) => `${p}[${hd.shapeOf(leaves[i]!).join(",")}]`);
      const want = model.spec.map((s) => `${s.path}[${s.shape.join(",")}]`);
      if (got.join(" ") !== want.join(" "))
        throw new RunError(
          `the checkpoint's parameters (${got.join(", ")}) are not those of ${model.name} (${want.join(", ")})`,
        );
    }
    const partition = partitionBuilder(partitionSpec)(params);
    const drawn = [
      ...take(
        batches(trainSet, {
          batchSize: f.batchSize,
          seed: f.seed,
          epoch: 0,
          dropLast: true,
          trainSize: cfg.trainSize ?? undefined,
        }),
        f.batches,
      ),
    ];
    // The derivatives are linear in the loss: those of the mean loss are the means of the batches'.
    const losses = drawn.map((b) => {
      const x = hd.array(b.images, { shape: b.shape });
      owned.push(x);
      return (p: Params): hd.Value => nll(model.apply(p, x), b.labels);
    });
    const k = losses.length;
    // u = ∇(mean loss) = Σ_i ∇L_i / k, one batch's graph at a time
    let u = hd.tidy(() => hd.treeMap((g: hd.Value) => hd.div(g, k), hd.grad(losses[0]!)(params!)));
    for (const loss of losses.slice(1)) {
      const sum = hd.tidy(() =>
        hd.treeMap((a: hd.Value, g: hd.Value) => hd.add(a, hd.div(g, k)), u, hd.grad(loss)(params!)),
      );
      disposeTree(u);
      u = sum;
    }
    owned.push(u);
    const parts: Summaries[] = []; // one batch at a time, as before
    for (const loss of losses) parts.push(await summariesAsync(loss as never, partition)(params!, u));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / k;
    const s = {
      loss: mean(parts.map((q) => q.loss)),
      gbar: parts[0]!.gbar.map((_, i) => mean(parts.map((q) => q.gbar[i]!))),
      hbar: parts[0]!.hbar.map((row, i) => row.map((_, j) => mean(parts.map((q) => q.hbar[i]![j]!)))),
      order3Diag: parts[0]!.order3Diag.map((_, i) => mean(parts.map((q) => q.order3Diag[i]!))),
    };
    const map = interactionMap(s.hbar, partition);
    return {
      labels: map.labels,
      groupSizes: groupSizes(partition),
      loss: s.loss,
      gbar: s.gbar,
      hbar: s.hbar,
      order3Diag: s.order3Diag,
      map,
      runLambdaInt,
      meta: {
        model: model.name,
        dataset: cfg.dataset,
        partition: partitionSpec,
        direction: "gradient",
        batchSize: f.batchSize,
        batches: k,
        seed: f.seed,
        checkpoint: f.checkpoint ?? null,
        step,
        epoch,
        backend,
      },
    };
  } finally {
    for (const t of owned) disposeTree(t);
  }
}
