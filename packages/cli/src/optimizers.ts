/**
 * The optimizers of `hodiff train`, by CLI name. Each entry declares its hyperparameters (they
 * become flags of `train`, with the entry's defaults) and builds a `TrainOptimizer`: the pure
 * `@hodiff/optim` transformation, plus optional `extras` for each update (e.g. a loss closure on a
 * separate minibatch, as NewtonSummary needs) and `log` (fields of the metrics records, e.g. η per
 * group, the solver case, λ). Adding an optimizer is one entry of `OPTIMIZERS`.
 */
import * as hd from "@hodiff/core";
import * as optim from "@hodiff/optim";
import * as nn from "@hodiff/nn";
import type { Model } from "@hodiff/nn";
import {
  adam,
  momentum,
  newtonSummary,
  newtonSummaryInfo,
  newtonSummaryPrepare,
  sgd,
  type Extras,
  type GradientTransformation,
  type NewtonSummaryExtras,
  type NewtonSummaryOptions,
  type NewtonSummarySemantics,
  type NewtonSummaryState,
  type SummaryAveraging,
  type Params,
} from "@hodiff/optim";
import { alternate, blocks, canonical, trivial, weightsBiases, type Partition } from "@hodiff/partition";
import { UsageError } from "./usage";

// model

/** A hyperparameter value after parsing. @category model */
export type HyperValue = number | boolean | string;

/** A hyperparameter: its flag (`--lambda-int`), type, default and help. @category model */
export interface HyperSpec {
  /** Kebab-case flag without dashes, e.g. `lambda-int`. */
  readonly flag: string;
  readonly kind: "number" | "positive" | "non-negative" | "int" | "bool" | "choice" | "string";
  /** Lower bound of an `int` (default 0). */
  readonly min?: number;
  /** Upper bound of a number (inclusive unless `maxExclusive`). */
  readonly max?: number;
  readonly maxExclusive?: boolean;
  /** What a `string` must match (the description says what it means). */
  readonly pattern?: RegExp;
  readonly default: HyperValue;
  readonly description: string;
  readonly choices?: readonly string[];
}

/** What a step offers an optimizer's `extras`. Tensors it creates are freed after the update. @category model */
export interface StepContext {
  /** Number of updates done before this one (0 on the first). */
  readonly step: number;
  /** Epoch index, from 0. */
  readonly epoch: number;
  /** A PRNG key for this update only: `foldIn(stepKey, step)`. */
  readonly key: hd.random.Key;
  /** The loss of the current minibatch, as a function of the parameters. */
  readonly loss: (params: Params) => hd.Value;
  /**
   * The loss on a separate minibatch of `size` examples drawn from the training subset with a PRNG
   * seeded by (seed, step): the same examples on a resumed run.
   */
  readonly lossOnSample: (size: number) => (params: Params) => hd.Value;
  /**
   * The loss on the `index`-th minibatch of `size` examples of the training subset in its stored
   * (unshuffled) order, cycling: the published NewtonSummary code's separate summaries loader.
   */
  readonly lossOnSequential?: (index: number, size: number) => (params: Params) => hd.Value;
  /** The model, and the current minibatch (for optimizers that need more than the loss, e.g. K-FAC's statistics). */
  readonly model: Model;
  readonly x: hd.Value;
  readonly labels: Int32Array;
  /**
   * With `--threads n` (n > 1): NewtonSummary's `extras.summarize` that computes the summaries on
   * the batch of `loss` (one made by `lossOnSample`/`lossOnSequential`) on the run's thread pool;
   * undefined on one thread.
   */
  readonly summarizeOn?: (loss: (params: Params) => hd.Value) => NewtonSummaryExtras["summarize"];
}

/**
 * A replacement for the loop's `valueAndGrad(ctx.loss)(params)` on some updates: the loss, its
 * gradient and extras of the update. Every tensor it returns (`dispose` too, e.g. statistics) is
 * freed after the update.
 * @category model
 */
export interface Gradients {
  readonly loss: hd.Value;
  readonly grads: Params;
  readonly extras: Extras;
  /** Further tensors to free after the update. */
  readonly dispose?: unknown;
}

/** An optimizer ready for the training loop. @category model */
export interface TrainOptimizer {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly transformation: GradientTransformation<any>;
  /** Extra inputs of each update (merged with `value`, the last epoch's mean training loss, on an epoch's first update). */
  readonly extras?: (ctx: StepContext) => Extras;
  /** Compute the loss and gradient itself on some updates (undefined: the loop's `valueAndGrad`). */
  readonly gradients?: (ctx: StepContext, params: Params) => Gradients | undefined;
  /**
   * The extras of an update that need values read back from the device, computed just before it
   * without blocking (webgpu has no synchronous reads): e.g. NewtonSummary's summaries. Gets the
   * update's state, parameters, gradient and extras; resolves to the extras to pass.
   */
  readonly prepare?: (state: unknown, params: Params, grads: Params, extras: Extras) => Promise<Extras>;
  /** Fields for the metrics records, read from the optimizer state after an update (plain JSON values). */
  readonly log?: (state: unknown) => Record<string, unknown>;
}

/** What `build` gets besides the hyperparameters. @category model */
export interface BuildContext {
  /** The initial parameters (e.g. to build a partition); do not keep or dispose them. */
  readonly params: Params;
}

/** One optimizer of the CLI. @category model */
export interface OptimizerEntry {
  readonly summary: string;
  /** Why its update reads values synchronously, if it does: it cannot run on webgpu. */
  readonly syncReads?: string;
  readonly hyper: readonly HyperSpec[];
  readonly build: (h: Readonly<Record<string, HyperValue>>, ctx: BuildContext) => TrainOptimizer;
}

// constructors

const lr = (def: number): HyperSpec => ({
  flag: "lr",
  kind: "positive",
  default: def,
  description: "learning rate (newton-summary: λ, the global step size; paper: MLP 0.03, LeNet/VGG 0.3, BigMLP 0.1)",
});

const mom = (def: number): HyperSpec => ({
  flag: "momentum",
  kind: "non-negative",
  max: 1,
  default: def,
  description:
    "momentum μ in [0, 1] (sgd: PyTorch's, 0 = plain SGD; newton-summary: of the direction u ← μu + g; kfac: after the K-FAC step)",
});

const num = (h: Readonly<Record<string, HyperValue>>, k: string): number => h[k] as number;

/** `--partition` values: canonical, trivial, weights-biases, blocks-K, alternate-K (paper App. J). @category registry */
export const PARTITION_PATTERN = /^(canonical|trivial|weights-biases|(blocks|alternate)-[1-9]\d*)$/;

/** The partition builder named by `--partition`; errors (e.g. k too large) are usage errors. @category registry */
export function partitionBuilder(spec: string): (params: Params) => Partition {
  const [kind, k] = spec.split(/-(?=\d+$)/) as [string, string | undefined];
  return (params) => {
    try {
      if (kind === "blocks") return blocks(params, Number(k));
      if (kind === "alternate") return alternate(params, Number(k));
      return kind === "trivial"
        ? trivial(params)
        : kind === "weights-biases"
          ? weightsBiases(params)
          : canonical(params);
    } catch (e) {
      throw new UsageError("--partition", `--partition ${spec}: ${(e as Error).message}`);
    }
  };
}

/**
 * NewtonSummary with the paper's plateau scheduler on λ (the chain's `plateau` option): on an update
 * that receives `extras.value` (the first of each epoch after the first: the previous epoch's mean
 * training loss) the plateau steps and λ's scale is set before the update.
 */
export function newtonEntry(): OptimizerEntry {
  return {
    summary: "NewtonSummary (paper §5): per-group η from ḡ, H̄, D̄(3) along SGD momentum; θ ← θ − λ·V·η",
    hyper: [
      lr(0.03),
      mom(0.9),
      { flag: "lambda-int", kind: "positive", default: 1, description: "λ_int, damping of the cubic term" },
      { flag: "period", kind: "int", min: 1, default: 10, description: "T: summaries every T updates" },
      { flag: "window", kind: "int", min: 1, default: 3, description: "W: summaries averaged" },
      { flag: "warmup", kind: "int", default: 3, description: "summaries computed before the first step" },
      {
        flag: "averaging",
        kind: "choice",
        choices: ["by-semantics", "window", "ema", "reference-code"],
        default: "by-semantics",
        description:
          "averaging of the W summaries: window (plain mean), ema, or reference-code (the published code's running average); by-semantics: window for paper, reference-code for reference-code",
      },
      {
        flag: "solver",
        kind: "choice",
        choices: ["cubic", "linear"],
        default: "cubic",
        description: "cubic problem, or η = H̄⁻¹ḡ",
      },
      { flag: "diagonal", kind: "bool", default: false, description: "keep only the diagonal of H̄ (paper App. K)" },
      {
        flag: "eta-smoothing",
        kind: "non-negative",
        max: 1,
        maxExclusive: true,
        default: 0,
        description: "β of η ← βη_prev + (1−β)η_new",
      },
      {
        flag: "partition",
        kind: "string",
        pattern: PARTITION_PATTERN,
        default: "canonical",
        description: "groups: canonical, trivial, weights-biases, blocks-K or alternate-K",
      },
      {
        flag: "semantics",
        kind: "choice",
        choices: ["paper", "reference-code"],
        default: "paper",
        description:
          "paper: the paper's text; reference-code: what the published code (p-wol/GroupedNewton) does (momentum, averaging, linear solve, solver failure, warm-up, plateau; see @hodiff/optim's README)",
      },
      {
        flag: "summary-batches",
        kind: "choice",
        choices: ["by-semantics", "random", "sequential"],
        default: "by-semantics",
        description:
          "the summaries' minibatches: random (seeded draws) or sequential (the training subset in order, cycling, as the published code's loader); by-semantics: random for paper, sequential for reference-code",
      },
      {
        flag: "summary-batch-size",
        kind: "int",
        min: 1,
        default: 100,
        description: "B': examples of the summaries' minibatch",
      },
      {
        flag: "chunk-size",
        kind: "int",
        min: 0,
        default: 0,
        description:
          "group directions batched at once in the summaries (0: automatic); 1 uses the least memory (for the wasm heap's 4 GiB)",
      },
      {
        flag: "plateau-patience",
        kind: "int",
        default: 2,
        description: "epochs without improvement before λ is reduced",
      },
      {
        flag: "plateau-factor",
        kind: "positive",
        max: 1,
        maxExclusive: true,
        default: 0.5,
        description: "λ's reduction factor",
      },
      {
        flag: "plateau-threshold",
        kind: "non-negative",
        default: 1e-4,
        description: "relative improvement that counts",
      },
    ],
    build: (h) => {
      const period = num(h, "period");
      const semantics = (h["semantics"] ?? "paper") as NewtonSummarySemantics;
      const options: NewtonSummaryOptions = {
        semantics,
        learningRate: num(h, "lr"),
        momentum: num(h, "momentum"),
        lambdaInt: num(h, "lambdaInt"),
        period,
        window: num(h, "window"),
        warmup: num(h, "warmup"),
        ...(h["averaging"] === "by-semantics" || h["averaging"] === undefined
          ? {}
          : { averaging: h["averaging"] as SummaryAveraging }),
        cubic: h["solver"] === "cubic",
        diagonal: h["diagonal"] === true,
        etaSmoothing: num(h, "etaSmoothing"),
        partition: partitionBuilder(h["partition"] as string),
        ...(num(h, "chunkSize") > 0 ? { chunkSize: num(h, "chunkSize") } : {}),
        plateau: {
          patience: num(h, "plateauPatience"),
          factor: num(h, "plateauFactor"),
          threshold: num(h, "plateauThreshold"),
        },
      };
      const transformation = newtonSummary(options);
      const summaryBatch = num(h, "summaryBatchSize");
      const batches = h["summaryBatches"] ?? "by-semantics";
      const sequential = batches === "sequential" || (batches === "by-semantics" && semantics === "reference-code");
      const lossFor = (ctx: StepContext) => {
        if (!sequential) return ctx.lossOnSample(summaryBatch);
        if (!ctx.lossOnSequential) throw new UsageError("--summary-batches", "this loop has no sequential batches");
        return ctx.lossOnSequential(ctx.step / period, summaryBatch);
      };
      return {
        transformation,
        extras: (ctx) => {
          if (ctx.step % period !== 0) return {};
          const loss = lossFor(ctx);
          const summarize = ctx.summarizeOn?.(loss);
          return summarize ? { loss, summarize } : { loss };
        },
        // the summaries, read without blocking, before the update (bitwise the in-update ones);
        // with --threads, through extras.summarize on the pool
        prepare: newtonSummaryPrepare(options) as TrainOptimizer["prepare"],
        log: (s) => {
          const n = newtonSummaryInfo(s as NewtonSummaryState);
          const solve = n.lastSolve;
          return {
            lambda: n.learningRate,
            lambda_scale: n.learningRateScale,
            eta: n.eta === null ? null : Object.fromEntries(n.partition.groups.map((g, i) => [g.label, n.eta![i]!])),
            solver_case: solve === null ? null : solve.kind === "ok" ? solve.case : solve.kind,
            solve_step: solve?.step ?? null,
            summaries: n.numSummaries,
            skipped: n.skipped,
          };
        },
      };
    },
  };
}

/**
 * K-FAC (the paper's baseline, alecwangcq/KFAC-Pytorch): on the updates that fold statistics
 * (every `--cov-every`), the loss, gradient and per-layer statistics come from `@hodiff/nn`'s
 * `kfacStats` (true Fisher: targets sampled with the update's key), passed as `extras.kfac`. On a
 * backend without synchronous reads (webgpu) `kfacPrepare` reads the factors and the KL clip's sum first.
 * @category registry
 */
export function kfacEntry(
  kfac: typeof optim.kfac = optim.kfac,
  kfacStats: typeof nn.kfacStats = nn.kfacStats,
): OptimizerEntry {
  return {
    summary: "K-FAC (alecwangcq/KFAC-Pytorch): Kronecker-factored natural gradient with KL clipping and momentum",
    hyper: [
      lr(0.01),
      mom(0.9),
      { flag: "damping", kind: "non-negative", default: 0.03, description: "λ of (A ⊗ G + λI)⁻¹" },
      {
        flag: "damping-mode",
        kind: "choice",
        choices: ["eigen", "factored"],
        default: "eigen",
        description:
          "eigen: (A ⊗ G + λI)⁻¹ exactly (the reference code); factored: (A + π√λI)⁻¹ ⊗ (G + √λ/π I)⁻¹, ~5× faster inversions",
      },
      {
        flag: "stat-decay",
        kind: "non-negative",
        max: 1,
        maxExclusive: true,
        default: 0.95,
        description: "decay of A and G",
      },
      { flag: "kl-clip", kind: "positive", default: 0.01, description: "KL clip κ" },
      { flag: "weight-decay", kind: "non-negative", default: 0.003, description: "weight decay ω" },
      { flag: "cov-every", kind: "int", min: 1, default: 10, description: "fold statistics every n updates" },
      { flag: "inv-every", kind: "int", min: 1, default: 100, description: "invert the factors every n updates" },
      {
        flag: "fisher",
        kind: "choice",
        choices: ["sampled", "empirical"],
        default: "sampled",
        description: "sampled: targets drawn from the model (true Fisher); empirical: the labels",
      },
    ],
    build: (h) => {
      const covEvery = num(h, "covEvery");
      const options: optim.KfacOptions = {
        momentum: num(h, "momentum"),
        damping: num(h, "damping"),
        dampingMode: h["dampingMode"] as "eigen" | "factored",
        statDecay: num(h, "statDecay"),
        klClip: num(h, "klClip"),
        weightDecay: num(h, "weightDecay"),
        covEvery,
        invEvery: num(h, "invEvery"),
      };
      const prepareReads = optim.kfacPrepare(options);
      return {
        transformation: kfac(num(h, "lr"), options),
        // Where reads are asynchronous only (webgpu), the factors and the KL clip's sum are read
        // before the update (same numbers); elsewhere the update reads them itself, as before,
        // without computing the preconditioned gradient twice.
        prepare: (state, params, grads, extras) =>
          hd.canReadSync() ? Promise.resolve(extras) : prepareReads(state as optim.KfacState, params, grads, extras),
        gradients: (ctx, params) => {
          if (ctx.step % covEvery !== 0) return undefined;
          const fisher = h["fisher"] === "sampled" ? { fisher: { key: ctx.key } } : {};
          const r = kfacStats(ctx.model, params as nn.Params, ctx.x, ctx.labels, fisher);
          return { loss: r.loss, grads: r.grads, extras: { kfac: r.stats }, dispose: [r.logits, r.stats] };
        },
      };
    },
  };
}

// registry

/**
 * The optimizers by CLI name. Hyperparameter keys are the camelCase of their flags (`lambda-int`
 * → `lambdaInt`).
 * @category registry
 */
export const OPTIMIZERS = {
  "newton-summary": newtonEntry(),
  adam: {
    summary: "Adam (PyTorch/optax): θ ← θ − η·m̂/(√v̂+ε)",
    hyper: [
      lr(1e-3),
      { flag: "b1", kind: "non-negative", max: 1, maxExclusive: true, default: 0.9, description: "β₁ in [0, 1)" },
      { flag: "b2", kind: "non-negative", max: 1, maxExclusive: true, default: 0.999, description: "β₂ in [0, 1)" },
      { flag: "eps", kind: "non-negative", default: 1e-8, description: "ε added to √v̂" },
    ],
    build: (h) => ({
      transformation: adam(num(h, "lr"), { b1: num(h, "b1"), b2: num(h, "b2"), eps: num(h, "eps") }),
    }),
  },
  sgd: {
    summary: "SGD, with optional momentum (PyTorch, no dampening): b ← μb + g, θ ← θ − ηb",
    hyper: [lr(0.01), mom(0), { flag: "nesterov", kind: "bool", default: false, description: "Nesterov momentum" }],
    build: (h) => ({
      transformation:
        num(h, "momentum") > 0 || h["nesterov"] === true
          ? momentum(num(h, "lr"), { momentum: num(h, "momentum"), nesterov: h["nesterov"] === true })
          : sgd(num(h, "lr")),
    }),
  },
  kfac: kfacEntry(),
} as const satisfies Record<string, OptimizerEntry>;

/** A CLI optimizer name. @category registry */
export type OptimizerName = keyof typeof OPTIMIZERS;

/** The optimizer names, in registry order. @category registry */
export const OPTIMIZER_NAMES = Object.keys(OPTIMIZERS) as OptimizerName[];

// utils

/** `lambda-int` → `lambdaInt` (commander's attribute names). @category utils */
export const camel = (flag: string): string => flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Every hyperparameter flag of every optimizer, once (the first spec of a flag wins its kind). @category utils */
export function allHyperFlags(): { spec: HyperSpec; usedBy: { name: OptimizerName; default: HyperValue }[] }[] {
  const byFlag = new Map<string, { spec: HyperSpec; usedBy: { name: OptimizerName; default: HyperValue }[] }>();
  for (const name of OPTIMIZER_NAMES) {
    for (const spec of (OPTIMIZERS[name] as OptimizerEntry).hyper) {
      const e = byFlag.get(spec.flag) ?? { spec, usedBy: [] };
      e.usedBy.push({ name, default: spec.default });
      byFlag.set(spec.flag, e);
    }
  }
  return [...byFlag.values()];
}
