/**
 * The summary-based per-group scaling of NewtonSummary (paper §5, App. G): every T updates, ḡ, H̄
 * and diag D̄(3) along the incoming direction u on the batch of `extras.loss`, averaged, then
 * η = argmin −ḡᵀη + ½ηᵀH̄η + (λ_int/6)‖Dη‖³ (or H̄⁻¹ḡ), and every update outputs V·η (leaf ℓ of
 * group s: η_s·u_ℓ). No sign flip, no λ: `newtonSummary` chains it between the momentum and λ.
 * Every decision (η, the solver's case, a skipped update and why) travels in the state.
 */
import * as hd from "@hodiff/core";
import { canonical, summaries, type Partition, type Summaries, type SummariesOptions } from "@hodiff/partition";
import { LuDecomposition, Matrix } from "ml-matrix";
import { freezeState, type Extras, type GradientTransformation, type Params } from "./base";
import { check, checkOptionNames, isFiniteNumber } from "./internal";
import { cubicRates, groupLearningRates, type CubicCase } from "./solvers";
import {
  emaAverage,
  emaStep,
  meanOf,
  referenceAverage,
  type AveragedSummaries,
  type EmaSums,
  type ReferenceAverages,
  type SummaryRecord,
} from "./summaryAveraging";

// model ---------------------------------------------------------------------------------------

/**
 * How the summary computations are averaged before solving: `'window'` (the plain mean of the last
 * W, the paper's text), `'ema'` (bias-corrected exponential average) or `'reference-code'` (the
 * published code's running average, with its buffer aliasing; see README).
 * @category newtonSummary
 */
export type SummaryAveraging = "window" | "ema" | "reference-code";

/**
 * Without the cubic term: `'refuse'` a H̄ that is not positive definite (keep η; the paper's
 * minimiser does not exist) or `'solve'` (H̄ + 0·I)η = ḡ whatever its definiteness, by LU in float64
 * (the published code: a saddle point when H̄ is indefinite; a singular H̄ is a failed solve).
 * @category newtonSummary
 */
export type IndefiniteLinearSolve = "refuse" | "solve";

/**
 * After a failed solve: `'keep-eta'` keeps η in use (hodiff: smoothing, when on, mixes the new η after
 * the positive part); `'keep-raw'` is the published code's η pipeline: it keeps its raw η
 * (`curr_lrs`, before the positive part, starting at 0), smooths the raw η (η_raw ← β·η_raw + (1 −
 * β)·η_new, β = 0 on update 0), takes the positive part after, and also refuses the cubic solver's
 * hard case; with no raw η yet the update is skipped (where the published code crashes).
 * @category newtonSummary
 */
export type SolverFailure = "keep-eta" | "keep-raw";

/**
 * When the warm-up ends: after `warmup` finite summary computations (`'summaries'`, hodiff) or
 * from update t with ⌊t/T⌋ ≥ warmup (`'steps'`, the published code).
 * @category newtonSummary
 */
export type WarmupCounting = "summaries" | "steps";

/** Options of {@link scaleBySummaries}; defaults are the paper's settings. @category newtonSummary */
export interface ScaleBySummariesOptions {
  /** T: summaries are computed on updates 0, T, 2T, … (default 10). */
  readonly period?: number;
  /** W: number of summary computations averaged (default 3; `'reference-code'`: its period). */
  readonly window?: number;
  /** Default `'window'`. */
  readonly averaging?: SummaryAveraging;
  /** Decay of the `'ema'` averaging, in [0, 1) (default 1 − 1/W). */
  readonly emaDecay?: number;
  /** Summary computations (or periods, with `warmupCounting: 'steps'`) before the first solve and step (default 3). */
  readonly warmup?: number;
  /** Default `'summaries'`. */
  readonly warmupCounting?: WarmupCounting;
  /** η ← max(η, 0) after each solve (default true). */
  readonly positivePart?: boolean;
  /** β of η ← β·η_prev + (1 − β)·η_new across solves, in [0, 1) (default 0: no smoothing). */
  readonly etaSmoothing?: number;
  /** λ_int > 0, the internal damping of the cubic term (default 1). */
  readonly lambdaInt?: number;
  /** Solve the anisotropic cubic problem (default true); false: η = H̄⁻¹ḡ. */
  readonly cubic?: boolean;
  /** Keep only the diagonal of H̄ (paper App. K; default false). */
  readonly diagonal?: boolean;
  /** Default `'refuse'`. */
  readonly indefiniteLinearSolve?: IndefiniteLinearSolve;
  /** Default `'keep-eta'`. */
  readonly solverFailure?: SolverFailure;
  /** The partition, or a builder called by `init(params)` (default `canonical`). */
  readonly partition?: Partition | ((params: Params) => Partition);
  /** Group directions batched at once by `summaries` (default: `@hodiff/partition`'s choice). */
  readonly chunkSize?: number;
}

/**
 * The extras of an update: `loss`, the loss closure on the summaries minibatch (required on the
 * updates where a summary is due, every `period` updates from the first).
 * @category newtonSummary
 */
export interface NewtonSummaryExtras extends Extras {
  readonly loss?: (params: never) => hd.Value;
  /**
   * The summaries of this update, computed by the caller along the update's own direction u (the
   * incoming updates) — e.g. with `@hodiff/partition`'s `summariesAsync`, where synchronous reads
   * are impossible (webgpu). When given, `loss` is not used.
   */
  readonly summaries?: Summaries;
  /**
   * How to compute this update's summaries along its direction u, in place of `summaries(loss,
   * partition, options)(params, u)` — e.g. a `@hodiff/parallel` pool's, which splits the batch over
   * threads. Used when `summaries` is not given; `loss` is then not needed.
   */
  readonly summarize?: (
    params: Params,
    direction: Params,
    partition: Partition,
    options: SummariesOptions,
  ) => Summaries;
}

/**
 * Outcome of the last solve: `ok` with the solver's case (`'linear'` for η = H̄⁻¹ḡ), r = ‖Dη‖ and the
 * raw η (before the positive part and smoothing); otherwise why the previous η was kept.
 * @category newtonSummary
 */
export type NewtonSummarySolve =
  | {
      readonly kind: "ok";
      readonly step: number;
      readonly case: CubicCase | "linear";
      readonly r: number;
      readonly raw: readonly number[];
    }
  | {
      readonly kind: "unbounded" | "singular" | "not-positive-definite" | "non-finite" | "hard-case";
      readonly step: number;
      readonly reason: string;
    };

/** State of {@link scaleBySummaries} (frozen, plain numbers). @category newtonSummary */
export interface ScaleBySummariesState {
  /** Updates done so far. */
  readonly count: number;
  /** The partition of the parameters (S = partition.size groups). */
  readonly partition: Partition;
  /** η in use (after positive part and smoothing), one entry per group; null before the first solve. */
  readonly eta: readonly number[] | null;
  /** `solverFailure: 'keep-raw'`: the raw, smoothed η before the positive part (the published `curr_lrs`); else null. */
  readonly rawEta: readonly number[] | null;
  /** Summary computations done so far (those with non-finite values left out). */
  readonly numSummaries: number;
  /** The last (at most W) summary computations, oldest first. */
  readonly recent: readonly SummaryRecord[];
  /** Running sums of the `'ema'` averaging (null otherwise). */
  readonly ema: EmaSums | null;
  /** The published code's running averages (`'reference-code'` averaging; null otherwise). */
  readonly reference: ReferenceAverages | null;
  /** The averaged summaries given to the last solve (null before the first). */
  readonly averaged: AveragedSummaries | null;
  /** Outcome of the last solve (null before the first). */
  readonly lastSolve: NewtonSummarySolve | null;
  /** Why the last update left θ unchanged (warm-up, no η yet), or null when it stepped. */
  readonly skipped: string | null;
}

/** The option names of {@link scaleBySummaries}. @internal */
export const SCALE_BY_SUMMARIES_OPTIONS = [
  "period",
  "window",
  "averaging",
  "emaDecay",
  "warmup",
  "warmupCounting",
  "positivePart",
  "etaSmoothing",
  "lambdaInt",
  "cubic",
  "diagonal",
  "indefiniteLinearSolve",
  "solverFailure",
  "partition",
  "chunkSize",
] as const;

// constructors --------------------------------------------------------------------------------

/** The options of an update's summaries under these scaleBySummaries options (cubic: with order 3). */
export function summariesOptionsFor(options: ScaleBySummariesOptions): SummariesOptions {
  const { cubic = true, chunkSize } = options;
  return { order3: cubic, ...(chunkSize === undefined ? {} : { chunkSize }) };
}

/**
 * scaleBySummaries: every T updates, ḡ, H̄, diag D̄(3) along the incoming u on `extras.loss`'s batch,
 * averaged, η = argmin −ḡᵀη + ½ηᵀH̄η + (λ_int/6)‖Dη‖³ (or H̄⁻¹ḡ), η ← max(η, 0); every update outputs
 * V·η (leaf ℓ of group s: η_s·u_ℓ), zeros while there is no η (warm-up, failed first solve).
 * `fn` names the caller in error messages (`newtonSummary` passes its own name).
 * @example chain(traceSummaryMomentum(), scaleBySummaries({ period: 10 }), scaleByLearningRate(0.1))
 * @category newtonSummary
 */
export function scaleBySummaries(
  options: ScaleBySummariesOptions = {},
  fn = "scaleBySummaries",
): GradientTransformation<ScaleBySummariesState> {
  checkOptionNames(fn, options, SCALE_BY_SUMMARIES_OPTIONS);
  const {
    period = 10,
    window = 3,
    averaging = "window",
    warmup = 3,
    warmupCounting = "summaries",
    positivePart = true,
    etaSmoothing = 0,
    lambdaInt = 1,
    cubic = true,
    diagonal = false,
    indefiniteLinearSolve = "refuse",
    solverFailure = "keep-eta",
    partition = canonical,
    chunkSize,
  } = options;
  const emaDecay = options.emaDecay ?? 1 - 1 / window;
  const summariesOptions = summariesOptionsFor(options);
  check(Number.isInteger(period) && period >= 1, fn, "period", "an integer ≥ 1", period);
  check(Number.isInteger(window) && window >= 1, fn, "window", "an integer ≥ 1", window);
  check(
    averaging === "window" || averaging === "ema" || averaging === "reference-code",
    fn,
    "averaging",
    "'window', 'ema' or 'reference-code'",
    averaging,
  );
  check(isFiniteNumber(emaDecay) && emaDecay >= 0 && emaDecay < 1, fn, "emaDecay", "in [0, 1)", emaDecay);
  check(Number.isInteger(warmup) && warmup >= 0, fn, "warmup", "an integer ≥ 0", warmup);
  check(
    warmupCounting === "summaries" || warmupCounting === "steps",
    fn,
    "warmupCounting",
    "'summaries' or 'steps'",
    warmupCounting,
  );
  check(typeof positivePart === "boolean", fn, "positivePart", "a boolean", positivePart);
  check(
    isFiniteNumber(etaSmoothing) && etaSmoothing >= 0 && etaSmoothing < 1,
    fn,
    "etaSmoothing",
    "in [0, 1)",
    etaSmoothing,
  );
  check(isFiniteNumber(lambdaInt) && lambdaInt > 0, fn, "lambdaInt", "a finite number > 0", lambdaInt);
  check(typeof cubic === "boolean", fn, "cubic", "a boolean", cubic);
  check(typeof diagonal === "boolean", fn, "diagonal", "a boolean", diagonal);
  check(
    indefiniteLinearSolve === "refuse" || indefiniteLinearSolve === "solve",
    fn,
    "indefiniteLinearSolve",
    "'refuse' or 'solve'",
    indefiniteLinearSolve,
  );
  check(
    solverFailure === "keep-eta" || solverFailure === "keep-raw",
    fn,
    "solverFailure",
    "'keep-eta' or 'keep-raw'",
    solverFailure,
  );
  check(
    typeof partition === "function" ||
      (typeof partition === "object" && partition !== null && "assignment" in partition),
    fn,
    "partition",
    "a Partition or a function params → Partition",
    partition,
  );
  check(
    chunkSize === undefined || (Number.isInteger(chunkSize) && chunkSize >= 1),
    fn,
    "chunkSize",
    "an integer ≥ 1",
    chunkSize,
  );
  /** Whether the warm-up is over at update t, given the finite computations so far. */
  const warmupOver = (t: number, numSummaries: number): boolean =>
    warmupCounting === "steps" ? Math.floor(t / period) >= warmup : numSummaries > warmup;

  return {
    init: (params) => {
      const p = typeof partition === "function" ? partition(params as Params) : partition;
      checkPartition(fn, p, params as Params);
      return freezeState<ScaleBySummariesState>({
        count: 0,
        partition: p,
        eta: null,
        rawEta: null,
        numSummaries: 0,
        recent: [],
        ema: null,
        reference: null,
        averaged: null,
        lastSolve: null,
        skipped: null,
      });
    },
    update: (state, params, grads, extras) =>
      hd.tidy(() => {
        const t = state.count;
        const u = grads as Params;
        let { eta, rawEta, recent, ema, reference, averaged, lastSolve, numSummaries } = state;

        if (t % period === 0) {
          const given = (extras as NewtonSummaryExtras | undefined)?.summaries;
          const summarize = (extras as NewtonSummaryExtras | undefined)?.summarize;
          const loss = (extras as NewtonSummaryExtras | undefined)?.loss;
          if (given === undefined && summarize === undefined && typeof loss !== "function") {
            throw new hd.ArgumentError(
              `${fn}: a summary is due at update ${t} (every period = ${period} updates from the first), but ` +
                `extras.loss is ${loss === undefined ? "missing" : `a ${typeof loss}`}; pass ` +
                `update(state, params, grads, { loss: (p) => lossFn(p, summaryBatch) }).`,
            );
          }
          const s =
            given ??
            (summarize
              ? summarize(params as Params, u, state.partition, summariesOptions)
              : summaries(loss!, state.partition, summariesOptions)(params as Params, u));
          const record = toRecord(t, s);
          if (!isFiniteRecord(record, cubic)) {
            // Kept out of the average (an average would never recover from it); η is kept.
            lastSolve = {
              kind: "non-finite",
              step: t,
              reason:
                `${fn}: the summaries at update ${t} (loss ${record.loss}) are not all finite; they are ` +
                `left out of the average and the previous η is kept (has the loss diverged?)`,
            };
          } else {
            numSummaries += 1;
            recent = [...recent, record].slice(-window);
            if (averaging === "window") averaged = meanOf(t, recent);
            else if (averaging === "ema") {
              ema = emaStep(ema, record, emaDecay);
              averaged = emaAverage(t, ema);
            } else {
              const r = referenceAverage(reference, t / period, window, record);
              reference = r.averages;
              averaged = r.averaged;
            }
            if (warmupOver(t, numSummaries)) {
              let solve = solveFor(t, averaged, cubic, diagonal, lambdaInt, indefiniteLinearSolve);
              if (solverFailure === "keep-raw" && solve.kind === "ok" && solve.case === "hard") {
                solve = {
                  kind: "hard-case",
                  step: t,
                  reason: `${fn}: the cubic problem is in the hard case, which the published code refuses`,
                };
              }
              lastSolve = solve;
              const relu = (xs: readonly number[]) => xs.map((x) => (positivePart ? Math.max(x, 0) : x));
              if (solverFailure === "keep-eta") {
                if (solve.kind === "ok") {
                  let next = relu(solve.raw);
                  if (eta !== null && etaSmoothing > 0) {
                    const prev = eta;
                    next = next.map((x, i) => etaSmoothing * prev[i]! + (1 - etaSmoothing) * x);
                  }
                  eta = next;
                }
              } else {
                // The published pipeline: raw η kept on failure, smoothed before the positive part.
                const raw = solve.kind === "ok" ? solve.raw : rawEta;
                if (raw !== null) {
                  const beta = t > 0 ? etaSmoothing : 0;
                  const prev = rawEta;
                  rawEta = raw.map((x, i) => beta * (prev === null ? 0 : prev[i]!) + (1 - beta) * x);
                  eta = relu(rawEta);
                }
              }
            }
          }
        }

        let skipped: string | null = null;
        let updates: typeof grads;
        const warm = warmupCounting === "steps" ? !warmupOver(t, numSummaries) : eta === null && numSummaries <= warmup;
        if (eta === null || warm) {
          skipped = warm
            ? warmupCounting === "steps"
              ? `warm-up: update ${t} of the first ${warmup * period} (warmup = ${warmup} periods of ${period})`
              : `warm-up: ${numSummaries} of ${warmup} summary computations done before the first step`
            : `no η yet: ${lastSolve !== null && lastSolve.kind !== "ok" ? lastSolve.reason : "no successful solve"}`;
          updates = hd.treeMap(hd.zerosLike, params as Params) as typeof grads;
        } else {
          updates = stepAlong(state.partition, u, eta) as typeof grads;
        }
        return {
          state: freezeState<ScaleBySummariesState>({
            count: t + 1,
            partition: state.partition,
            eta,
            rawEta,
            numSummaries,
            recent,
            ema,
            reference,
            averaged,
            lastSolve,
            skipped,
          }),
          updates,
        };
      }),
  };
}

// utils ---------------------------------------------------------------------------------------

/** The partition must be built for these parameters (paths and shapes, in flatten order). */
function checkPartition(fn: string, p: Partition, params: Params): void {
  const [leaves, def] = hd.treeFlatten(params);
  const paths = hd.treePaths(def);
  const ok =
    typeof p === "object" &&
    p !== null &&
    Array.isArray(p.leafPaths) &&
    p.leafPaths.length === paths.length &&
    paths.every((path, i) => path === p.leafPaths[i] && hd.shapeOf(leaves[i]!).join() === p.leafShapes[i]!.join());
  if (!ok) {
    throw new hd.ArgumentError(
      `${fn}: the partition was built for leaves [${(p?.leafPaths ?? []).join(", ")}] with shapes ` +
        `[${(p?.leafShapes ?? []).map((s) => `[${s.join(",")}]`).join(", ")}], but params has [${paths.join(", ")}] ` +
        `with shapes [${leaves.map((l) => `[${hd.shapeOf(l).join(",")}]`).join(", ")}]; build it from these params.`,
    );
  }
}

const toRecord = (step: number, s: Summaries): SummaryRecord => ({
  step,
  loss: s.loss,
  gbar: s.gbar,
  hbar: s.hbar,
  order3Diag: s.order3Diag,
});

/** Whether ḡ, H̄ (and diag D̄(3) when the cubic term is used) are finite. */
function isFiniteRecord(r: SummaryRecord, cubic: boolean): boolean {
  const finite = (xs: readonly number[]) => xs.every(Number.isFinite);
  return finite(r.gbar) && r.hbar.every(finite) && (!cubic || finite(r.order3Diag));
}

/**
 * η = H̄⁻¹ḡ by LU with partial pivoting in float64, whatever H̄'s definiteness (a stationary point of
 * the quadratic model: a saddle when H̄ is indefinite); null when H̄ is exactly singular.
 * @internal
 */
export function luSolve(hbar: readonly (readonly number[])[], gbar: readonly number[]): number[] | null {
  const lu = new LuDecomposition(new Matrix(hbar.map((row) => [...row])));
  if (lu.isSingular()) return null;
  const eta = lu.solve(Matrix.columnVector([...gbar])).getColumn(0);
  return eta.every(Number.isFinite) ? eta : null;
}

/** η from the averaged summaries: the cubic problem or H̄⁻¹ḡ, with H̄ made diagonal on request. */
function solveFor(
  step: number,
  s: AveragedSummaries,
  cubic: boolean,
  diagonal: boolean,
  lambdaInt: number,
  indefinite: IndefiniteLinearSolve,
): NewtonSummarySolve {
  const hbar = diagonal ? s.hbar.map((row, i) => row.map((x, j) => (i === j ? x : 0))) : s.hbar;
  if (cubic) {
    const r = cubicRates(hbar, s.gbar, s.order3Diag, lambdaInt);
    return r.kind === "ok"
      ? { kind: "ok", step, case: r.case, r: r.r, raw: r.eta }
      : { kind: "unbounded", step, reason: r.reason };
  }
  if (indefinite === "solve") {
    const eta = luSolve(hbar, s.gbar);
    return eta !== null
      ? { kind: "ok", step, case: "linear", r: 0, raw: eta }
      : { kind: "singular", step, reason: `H̄ (${hbar.length}×${hbar.length}) is singular: no solution of H̄η = ḡ` };
  }
  const r = groupLearningRates(s.gbar, hbar);
  return r.kind === "ok"
    ? { kind: "ok", step, case: "linear", r: 0, raw: r.eta }
    : { kind: r.kind, step, reason: `groupLearningRates: ${r.reason}` };
}

/** The updates V·η: leaf ℓ of group s gets η_s·u_ℓ (per scalar for per-scalar assignments). */
function stepAlong(partition: Partition, u: Params, eta: readonly number[]): Params {
  const [leaves, def] = hd.treeFlatten(u);
  return hd.treeUnflatten(
    def,
    leaves.map((leaf, i) => {
      const a = partition.assignment[i]!;
      if (typeof a === "number") return hd.mul(leaf, eta[a]!);
      const c = new Float32Array(a.length);
      a.forEach((s, j) => (c[j] = eta[s]!));
      return hd.mul(leaf, hd.array(c, { shape: hd.shapeOf(leaf) }));
    }),
  ) as Params;
}
