/**
 * NewtonSummary (paper §5 and App. G) as a chain of three transformations, optax-style:
 * `traceSummaryMomentum` (the direction u, SGD momentum), `scaleBySummaries` (per-group η from ḡ, H̄
 * and the order-3 diagonal along u: V·η) and `scaleByLearningRateOnPlateau` (−λ, with its plateau
 * schedule). Every decision (η, the solver's case, a skipped update and why, λ) travels in the
 * state; {@link newtonSummaryInfo} gathers them for logging.
 */
import * as hd from "@hodiff/core";
import { summariesAsync, type Partition } from "@hodiff/partition";
import { freezeState, type Extras, type GradientTransformation, type Params, type ScalarOrSchedule } from "./base";
import { chain } from "./combine";
import { check, checkOptionNames, checkScalarOrSchedule, isFiniteNumber } from "./internal";
import type { Plateau, PlateauOptions } from "./plateau";
import { scaleByLearningRateOnPlateau, type ScaleByLearningRateOnPlateauState } from "./plateauLearningRate";
import {
  SCALE_BY_SUMMARIES_OPTIONS,
  scaleBySummaries,
  summariesOptionsFor,
  type NewtonSummaryExtras,
  type NewtonSummarySolve,
  type ScaleBySummariesOptions,
  type ScaleBySummariesState,
} from "./scaleBySummaries";
import type { AveragedSummaries, SummaryRecord } from "./summaryAveraging";
import { traceSummaryMomentum, type TraceSummaryMomentumState, type WarmupMomentum } from "./summaryMomentum";

// model ---------------------------------------------------------------------------------------

/**
 * `'paper'`: the paper's text (hodiff's default). `'reference-code'`: what the published code
 * (p-wol/GroupedNewton, master e5a6cf8) does, in the five points that are options of the optimizer:
 * `warmupMomentum: 'summary-steps'`, `averaging: 'reference-code'`, `indefiniteLinearSolve:
 * 'solve'`, `solverFailure: 'keep-raw'`, `warmupCounting: 'steps'`, and a given `plateau` resets its
 * best value after a reduction and applies eps to the absolute λ. Options given explicitly win.
 * @category newtonSummary
 */
export type NewtonSummarySemantics = "paper" | "reference-code";

/** Options of {@link newtonSummary}; defaults are the paper's settings. @category newtonSummary */
export interface NewtonSummaryOptions extends ScaleBySummariesOptions {
  /** λ, the global step size: a finite number > 0 or a schedule of the update count (required; paper: 0.03 to 0.3). */
  readonly learningRate: ScalarOrSchedule;
  /** μ of the direction u_t = μ·u_{t−1} + g_t, in [0, 1] (default 0.9; 0: u = g). */
  readonly momentum?: number;
  /** Default `'every-step'` (`'reference-code'` semantics: `'summary-steps'`). */
  readonly warmupMomentum?: WarmupMomentum;
  /** Default `'paper'`; sets the defaults of the options above and below. */
  readonly semantics?: NewtonSummarySemantics;
  /**
   * The plateau schedule of λ (`reduceOnPlateau`'s options, or a machine): it steps on each update
   * whose `extras.value` is a number (e.g. the last epoch's loss). Default: none (λ only follows its schedule).
   */
  readonly plateau?: PlateauOptions | Plateau | null;
}

/** Re-exported from the building blocks. @category newtonSummary */
export type { NewtonSummarySolve, SummaryRecord, AveragedSummaries };

/**
 * State of {@link newtonSummary}: the chain's tuple (momentum, per-group scaling, λ). Frozen; only
 * the momentum buffer holds tensors. Read it through {@link newtonSummaryInfo}.
 * @category newtonSummary
 */
export type NewtonSummaryState = readonly [
  TraceSummaryMomentumState,
  ScaleBySummariesState,
  ScaleByLearningRateOnPlateauState,
];

/** The decisions of a {@link newtonSummary} state, gathered for logging. @category newtonSummary */
export interface NewtonSummaryInfo {
  /** Updates done so far. */
  readonly count: number;
  /** The momentum buffer u (tensors, shaped like the parameters). */
  readonly trace: Params;
  /** The partition of the parameters. */
  readonly partition: Partition;
  /** η in use (after positive part and smoothing), or null before the first successful solve. */
  readonly eta: readonly number[] | null;
  /** The λ of the last update: the schedule's value × learningRateScale. */
  readonly learningRate: number;
  /** λ's multiplier: the plateau's scale (or set by {@link withLearningRateScale}). */
  readonly learningRateScale: number;
  /** Summary computations averaged so far (non-finite ones are left out). */
  readonly numSummaries: number;
  /** The last (at most W) summary computations, oldest first. */
  readonly recent: readonly SummaryRecord[];
  /** The averaged summaries given to the last solve. */
  readonly averaged: AveragedSummaries | null;
  /** Outcome of the last solve. */
  readonly lastSolve: NewtonSummarySolve | null;
  /** Why the last update left θ unchanged (warm-up, no η yet), or null when it stepped. */
  readonly skipped: string | null;
}

const OWN_OPTIONS = ["learningRate", "momentum", "warmupMomentum", "semantics", "plateau"] as const;

/** The option names of {@link newtonSummary}. @category newtonSummary */
export const NEWTON_SUMMARY_OPTIONS: readonly string[] = [...OWN_OPTIONS, ...SCALE_BY_SUMMARIES_OPTIONS];

// constructors --------------------------------------------------------------------------------

/**
 * newtonSummary = chain(traceSummaryMomentum, scaleBySummaries, scaleByLearningRateOnPlateau):
 * u_t = μ·u_{t−1} + g_t; every T updates, ḡ, H̄, diag D̄(3) along u_t on the batch of `extras.loss`,
 * averaged over W computations, η = argmin −ḡᵀη + ½ηᵀH̄η + (λ_int/6)‖Dη‖³ (or H̄⁻¹ḡ), η ← max(η, 0);
 * every update θ ← θ − λ·scale·V·η (leaf ℓ of group s moves by −λ·η_s·u_ℓ).
 * @example
 * const opt = newtonSummary({ learningRate: 0.03, plateau: { factor: 0.5, patience: 2 } });
 * let state = opt.init(params);
 * const { state: next, updates } = opt.update(state, params, grads, { loss: (p) => lossFn(p, hgBatch) });
 * newtonSummaryInfo(next).eta // η per group
 * @category newtonSummary
 */
export function newtonSummary(options: NewtonSummaryOptions): GradientTransformation<NewtonSummaryState> {
  const { momentum, scaling, learningRate, plateau } = resolveOptions(options);
  return chain(
    traceSummaryMomentum(momentum),
    scaleBySummaries(scaling, "newtonSummary"),
    scaleByLearningRateOnPlateau(learningRate, plateau, "newtonSummary"),
  );
}

/**
 * newtonSummaryPrepare: the extras of a {@link newtonSummary} update with its summaries computed
 * beforehand and read without blocking: when a summary is due (update count t ≡ 0 mod T) and
 * `extras.summaries` is not given, {L, ḡ, H̄, diag D̄(3)} = `summariesAsync(extras.loss, partition)(θ, u_t)`
 * along u_t = μ·u_{t−1} + g_t, the direction the update itself uses (same options, same numbers as
 * computing them inside it), or by `extras.summarize` when given (e.g. a thread pool's); otherwise
 * `extras` unchanged. The form for webgpu (no synchronous reads).
 * @example const extras = await prepare(state, params, grads, { loss }); opt.update(state, params, grads, extras)
 * @category newtonSummary
 */
export function newtonSummaryPrepare(
  options: NewtonSummaryOptions,
): (state: NewtonSummaryState, params: Params, grads: Params, extras?: Extras) => Promise<Extras> {
  const { momentum, scaling } = resolveOptions(options);
  const direction = traceSummaryMomentum(momentum);
  const { period = 10 } = scaling;
  const opts = summariesOptionsFor(scaling);
  return async (state, params, grads, extras = {}) => {
    const given = extras as NewtonSummaryExtras;
    const summarize = given.summarize;
    if (
      state[1].count % period !== 0 ||
      given.summaries !== undefined ||
      (summarize === undefined && typeof given.loss !== "function")
    )
      return extras; // nothing due, or the update reports what is missing
    const u = direction.update(state[0], params, grads).updates;
    try {
      // The caller's function (e.g. a thread pool's) when given, as the update itself would use it.
      if (summarize) return { ...extras, summaries: summarize(params, u, state[1].partition, opts) };
      return { ...extras, summaries: await summariesAsync(given.loss!, state[1].partition, opts)(params, u) };
    } finally {
      hd.dispose(hd.treeLeaves(u));
    }
  };
}

/** The options of the chain's three stages, with `semantics`' defaults filled in (checked). */
function resolveOptions(options: NewtonSummaryOptions) {
  const fn = "newtonSummary";
  check(typeof options === "object" && options !== null, fn, "options", "an object with a learningRate", options);
  checkOptionNames(fn, options, NEWTON_SUMMARY_OPTIONS);
  const { learningRate, momentum = 0.9, semantics = "paper", plateau, ...rest } = options;
  check(
    semantics === "paper" || semantics === "reference-code",
    fn,
    "semantics",
    "'paper' or 'reference-code'",
    semantics,
  );
  checkScalarOrSchedule(fn, "learningRate", learningRate);
  check(typeof learningRate === "function" || learningRate > 0, fn, "learningRate", "> 0", learningRate);
  check(isFiniteNumber(momentum) && momentum >= 0 && momentum <= 1, fn, "momentum", "in [0, 1]", momentum);
  const ref = semantics === "reference-code";
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  const scaling: ScaleBySummariesOptions & { warmupMomentum?: WarmupMomentum } = {
    ...(ref
      ? {
          averaging: "reference-code",
          indefiniteLinearSolve: "solve",
          solverFailure: "keep-raw",
          warmupCounting: "steps",
          warmupMomentum: "summary-steps",
        }
      : {}),
    ...defined,
  };
  const { warmupMomentum = "every-step", ...scalingOptions } = scaling;
  const period = scalingOptions.period ?? 10;
  const warmup = scalingOptions.warmup ?? 3;
  const lambda0 = typeof learningRate === "function" ? learningRate(0) : learningRate;
  const plateauOptions =
    plateau === undefined || plateau === null || ("step" in plateau && typeof plateau.step === "function")
      ? plateau
      : ref
        ? { resetBest: true, ...(isFiniteNumber(lambda0) && lambda0 > 0 ? { baseValue: lambda0 } : {}), ...plateau }
        : plateau;
  return {
    momentum: { decay: momentum, period, warmup, warmupMomentum },
    scaling: scalingOptions as ScaleBySummariesOptions,
    learningRate,
    plateau: plateauOptions,
  };
}

// utils ---------------------------------------------------------------------------------------

/**
 * newtonSummaryInfo: the decisions of a {@link newtonSummary} state (η, the last solve, a skipped
 * update and why, λ and its scale, the summaries), one flat object for logging.
 * @example const { eta, lastSolve, learningRate } = newtonSummaryInfo(state);
 * @category newtonSummary
 */
export function newtonSummaryInfo(state: NewtonSummaryState): NewtonSummaryInfo {
  const [m, s, l] = state;
  return {
    count: s.count,
    trace: m.trace,
    partition: s.partition,
    eta: s.eta,
    learningRate: l.learningRate,
    learningRateScale: l.scale,
    numSummaries: s.numSummaries,
    recent: s.recent,
    averaged: s.averaged,
    lastSolve: s.lastSolve,
    skipped: s.skipped,
  };
}

/**
 * withLearningRateScale: the same state with λ multiplied by `scale` from the next update on (for a
 * loop that runs its own scheduler; the `plateau` option does this inside the chain). Returns a new
 * frozen state sharing the tensors.
 * @example state = withLearningRateScale(state, 0.5);
 * @category newtonSummary
 */
export function withLearningRateScale(state: NewtonSummaryState, scale: number): NewtonSummaryState {
  check(isFiniteNumber(scale) && scale >= 0, "withLearningRateScale", "scale", "a finite number ≥ 0", scale);
  return freezeState([state[0], state[1], { ...state[2], scale }] as const);
}
