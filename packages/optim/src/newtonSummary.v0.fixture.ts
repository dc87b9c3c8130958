/**
 * NewtonSummary (MATH.md "Method 1 and the practical algorithm", paper §5 and App. G): per-group
 * learning rates η from the partitioned derivatives ḡ, H̄ and the order-3 diagonal along an SGD
 * momentum direction u, and the step θ ← θ − λ·V·η. Every decision (η, the solver's case, a
 * skipped update and why, λ) travels in the returned state, which holds plain numbers besides the
 * momentum buffer.
 */
import * as hd from "@hodiff/core";
import { canonical, summaries, type Partition, type Summaries } from "@hodiff/partition";
import { freezeState, type Extras, type GradientTransformation, type Params, type ScalarOrSchedule } from "./base";
import { check, checkScalarOrSchedule, isFiniteNumber, zipMap } from "./internal";
import { cubicRates, groupLearningRates, type CubicCase } from "./solvers";

// model ---------------------------------------------------------------------------------------

/** How the last `window` summaries are averaged before solving. @category newtonSummary */
export type SummaryAveraging = "window" | "ema";

/** Options of {@link newtonSummary}; defaults are the paper's settings (MATH.md). @category newtonSummary */
export interface NewtonSummaryOptions {
  /** λ, the global step size: a finite number > 0 or a schedule of the update count (required; paper: 0.03 to 0.3). */
  readonly learningRate: ScalarOrSchedule;
  /** μ of the direction u_t = μ·u_{t−1} + g_t, in [0, 1] (default 0.9; 0: u = g). */
  readonly momentum?: number;
  /** T: summaries are computed on updates 0, T, 2T, … (default 10). */
  readonly period?: number;
  /** W: number of summary computations averaged (default 3). */
  readonly window?: number;
  /** `'window'`: plain mean of the last W (default); `'ema'`: bias-corrected exponential average. */
  readonly averaging?: SummaryAveraging;
  /** Decay of the `'ema'` averaging, in [0, 1) (default 1 − 1/W). */
  readonly emaDecay?: number;
  /** Summary computations that only fill the window before the first solve and step (default 3). */
  readonly warmup?: number;
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
  /** The partition, or a builder called by `init(params)` (default `canonical`). */
  readonly partition?: Partition | ((params: Params) => Partition);
  /** Group directions batched at once by `summaries` (default: `@hodiff/partition`'s choice). */
  readonly chunkSize?: number;
}

/**
 * The extras of a {@link newtonSummary} update: `loss`, the loss closure on the summaries minibatch
 * (required on the updates where a summary is due, every `period` updates from the first).
 * @category newtonSummary
 */
export interface NewtonSummaryExtras extends Extras {
  readonly loss?: (params: never) => hd.Value;
}

/** One summary computation, in float64: the loss on its minibatch, ḡ, H̄ and diag D̄(3). @category newtonSummary */
export interface SummaryRecord {
  /** Update count at which it was computed. */
  readonly step: number;
  readonly loss: number;
  readonly gbar: readonly number[];
  readonly hbar: readonly (readonly number[])[];
  readonly order3Diag: readonly number[];
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
      readonly kind: "unbounded" | "singular" | "not-positive-definite" | "non-finite";
      readonly step: number;
      readonly reason: string;
    };

/**
 * State of {@link newtonSummary} (frozen; only `trace` holds tensors).
 * @category newtonSummary
 */
export interface NewtonSummaryState {
  /** Updates done so far. */
  readonly count: number;
  /** The momentum buffer u_{t−1} (zeros before the first update), shaped like the parameters. */
  readonly trace: Params;
  /** The partition of the parameters (S = partition.size groups). */
  readonly partition: Partition;
  /** η in use (after positive part and smoothing), one entry per group; null before the first solve. */
  readonly eta: readonly number[] | null;
  /** Multiplier of λ set by the training loop (plateau scheduler), see {@link withLearningRateScale}; starts at 1. */
  readonly learningRateScale: number;
  /** The λ of the last update (schedule value × learningRateScale); λ(0) before the first update. */
  readonly learningRate: number;
  /** Summary computations done so far (those with non-finite values left out). */
  readonly numSummaries: number;
  /** The last (at most W) summary computations, oldest first (the `'window'` mean averages them). */
  readonly recent: readonly SummaryRecord[];
  /** Running sums of the `'ema'` averaging (null for `'window'`). */
  readonly ema: EmaSums | null;
  /** The averaged summaries given to the last solve (null before the first). */
  readonly averaged: Omit<SummaryRecord, "loss"> | null;
  /** Outcome of the last solve (null before the first). */
  readonly lastSolve: NewtonSummarySolve | null;
  /** Why the last update left θ unchanged (warm-up, no η yet), or null when it stepped. */
  readonly skipped: string | null;
}

/** Unnormalised exponential averages and their weight 1 − β^n (the bias correction). @category newtonSummary */
export interface EmaSums {
  readonly weight: number;
  readonly gbar: readonly number[];
  readonly hbar: readonly (readonly number[])[];
  readonly order3Diag: readonly number[];
}

// constructors --------------------------------------------------------------------------------

/**
 * newtonSummary: u_t = μ·u_{t−1} + g_t; every T updates, ḡ, H̄, diag D̄(3) along u_t on the batch of
 * `extras.loss`, averaged over W computations, η = argmin −ḡᵀη + ½ηᵀH̄η + (λ_int/6)‖Dη‖³ (or H̄⁻¹ḡ),
 * η ← max(η, 0); every update θ ← θ − λ·V·η (leaf ℓ of group s moves by −λ·η_s·u_ℓ).
 * @example
 * const opt = newtonSummary({ learningRate: 0.03 }); // μ 0.9, T 10, W 3, 3 warm-up summaries, λ_int 1
 * let state = opt.init(params);
 * const { state: next, updates } = opt.update(state, params, grads, { loss: (p) => lossFn(p, hgBatch) });
 * @category newtonSummary
 */
export function newtonSummary(options: NewtonSummaryOptions): GradientTransformation<NewtonSummaryState> {
  const fn = "newtonSummary";
  check(typeof options === "object" && options !== null, fn, "options", "an object with a learningRate", options);
  const {
    learningRate,
    momentum = 0.9,
    period = 10,
    window = 3,
    averaging = "window",
    warmup = 3,
    positivePart = true,
    etaSmoothing = 0,
    lambdaInt = 1,
    cubic = true,
    diagonal = false,
    partition = canonical,
    chunkSize,
  } = options;
  const emaDecay = options.emaDecay ?? 1 - 1 / window;
  checkScalarOrSchedule(fn, "learningRate", learningRate);
  check(typeof learningRate === "function" || learningRate > 0, fn, "learningRate", "> 0", learningRate);
  check(isFiniteNumber(momentum) && momentum >= 0 && momentum <= 1, fn, "momentum", "in [0, 1]", momentum);
  check(Number.isInteger(period) && period >= 1, fn, "period", "an integer ≥ 1", period);
  check(Number.isInteger(window) && window >= 1, fn, "window", "an integer ≥ 1", window);
  check(averaging === "window" || averaging === "ema", fn, "averaging", "'window' or 'ema'", averaging);
  check(isFiniteNumber(emaDecay) && emaDecay >= 0 && emaDecay < 1, fn, "emaDecay", "in [0, 1)", emaDecay);
  check(Number.isInteger(warmup) && warmup >= 0, fn, "warmup", "an integer ≥ 0", warmup);
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
  const lambdaAt = (count: number): number => {
    const value = typeof learningRate === "function" ? learningRate(count) : learningRate;
    check(isFiniteNumber(value) && value >= 0, fn, `learningRate(${count})`, "a finite number ≥ 0", value);
    return value;
  };

  return {
    init: (params) => {
      const p = typeof partition === "function" ? partition(params as Params) : partition;
      checkPartition(fn, p, params as Params);
      return freezeState<NewtonSummaryState>({
        count: 0,
        trace: hd.tidy(() => hd.treeMap(hd.zerosLike, params as Params)) as Params,
        partition: p,
        eta: null,
        learningRateScale: 1,
        learningRate: lambdaAt(0),
        numSummaries: 0,
        recent: [],
        ema: null,
        averaged: null,
        lastSolve: null,
        skipped: null,
      });
    },
    update: (state, params, grads, extras) =>
      hd.tidy(() => {
        const t = state.count;
        const names = ["grads", "state.trace"];
        const u = zipMap<Params>(fn, names, (g, b) => hd.add(g, hd.mul(b, momentum)), grads, state.trace);
        let { eta, recent, ema, averaged, lastSolve, numSummaries } = state;

        if (t % period === 0) {
          const loss = (extras as NewtonSummaryExtras | undefined)?.loss;
          if (typeof loss !== "function") {
            throw new hd.ArgumentError(
              `${fn}: a summary is due at update ${t} (every period = ${period} updates from the first), but ` +
                `extras.loss is ${loss === undefined ? "missing" : `a ${typeof loss}`}; pass ` +
                `update(state, params, grads, { loss: (p) => lossFn(p, summaryBatch) }).`,
            );
          }
          const s = summaries(loss, state.partition, {
            order3: cubic,
            ...(chunkSize === undefined ? {} : { chunkSize }),
          })(params as Params, u);
          const record = toRecord(t, s);
          if (!isFiniteRecord(record, cubic)) {
            // Kept out of the window (an EMA would never recover from it); η is kept.
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
            else {
              ema = emaStep(ema, record, emaDecay);
              averaged = emaAverage(t, ema);
            }
            if (numSummaries > warmup) {
              const solve = solveFor(t, averaged, cubic, diagonal, lambdaInt);
              lastSolve = solve;
              if (solve.kind === "ok") {
                let next = solve.raw.map((x) => (positivePart ? Math.max(x, 0) : x));
                if (eta !== null && etaSmoothing > 0) {
                  const prev = eta;
                  next = next.map((x, i) => etaSmoothing * prev[i]! + (1 - etaSmoothing) * x);
                }
                eta = next;
              }
            }
          }
        }

        const lambda = lambdaAt(t) * state.learningRateScale;
        let skipped: string | null = null;
        let updates: typeof grads;
        if (eta === null) {
          skipped =
            numSummaries <= warmup
              ? `warm-up: ${numSummaries} of ${warmup} summary computations done before the first step`
              : `no η yet: ${lastSolve !== null && lastSolve.kind !== "ok" ? lastSolve.reason : "no successful solve"}`;
          updates = hd.treeMap(hd.zerosLike, params as Params) as typeof grads;
        } else {
          updates = stepAlong(state.partition, u, eta, -lambda) as typeof grads;
        }
        return {
          state: freezeState<NewtonSummaryState>({
            count: t + 1,
            trace: u,
            partition: state.partition,
            eta,
            learningRateScale: state.learningRateScale,
            learningRate: lambda,
            numSummaries,
            recent,
            ema,
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

/**
 * withLearningRateScale: the same state with λ multiplied by `scale` from the next update on (how a
 * training loop applies `reduceOnPlateau`'s scale). Returns a new frozen state sharing the tensors.
 * @example state = withLearningRateScale(state, plateauState.scale);
 * @category newtonSummary
 */
export function withLearningRateScale(state: NewtonSummaryState, scale: number): NewtonSummaryState {
  check(isFiniteNumber(scale) && scale >= 0, "withLearningRateScale", "scale", "a finite number ≥ 0", scale);
  return freezeState({ ...state, learningRateScale: scale });
}

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

/** Plain mean of the records' ḡ, H̄ and diag D̄(3). */
function meanOf(step: number, records: readonly SummaryRecord[]): Omit<SummaryRecord, "loss"> {
  const n = records.length;
  const mean = (pick: (r: SummaryRecord) => readonly number[]) =>
    pick(records[0]!).map((_, i) => records.reduce((a, r) => a + pick(r)[i]!, 0) / n);
  return {
    step,
    gbar: mean((r) => r.gbar),
    hbar: records[0]!.hbar.map((_, i) => mean((r) => r.hbar[i]!)),
    order3Diag: mean((r) => r.order3Diag),
  };
}

/** m ← β·m + (1 − β)·x for ḡ, H̄ and diag D̄(3); weight ← β·weight + (1 − β) = 1 − βⁿ. */
function emaStep(prev: EmaSums | null, x: SummaryRecord, beta: number): EmaSums {
  const mix = (m: readonly number[] | undefined, v: readonly number[]) =>
    v.map((vi, i) => (m === undefined ? 0 : beta * m[i]!) + (1 - beta) * vi);
  return {
    weight: (prev === null ? 0 : beta * prev.weight) + (1 - beta),
    gbar: mix(prev?.gbar, x.gbar),
    hbar: x.hbar.map((row, i) => mix(prev?.hbar[i], row)),
    order3Diag: mix(prev?.order3Diag, x.order3Diag),
  };
}

/** The bias-corrected exponential averages m / (1 − βⁿ). */
function emaAverage(step: number, e: EmaSums): Omit<SummaryRecord, "loss"> {
  const w = e.weight;
  return {
    step,
    gbar: e.gbar.map((x) => x / w),
    hbar: e.hbar.map((row) => row.map((x) => x / w)),
    order3Diag: e.order3Diag.map((x) => x / w),
  };
}

/** Whether ḡ, H̄ (and diag D̄(3) when the cubic term is used) are finite. */
function isFiniteRecord(r: SummaryRecord, cubic: boolean): boolean {
  const finite = (xs: readonly number[]) => xs.every(Number.isFinite);
  return finite(r.gbar) && r.hbar.every(finite) && (!cubic || finite(r.order3Diag));
}

/** η from the averaged summaries: the cubic problem or H̄⁻¹ḡ, with H̄ made diagonal on request. */
function solveFor(
  step: number,
  s: Omit<SummaryRecord, "loss">,
  cubic: boolean,
  diagonal: boolean,
  lambdaInt: number,
): NewtonSummarySolve {
  const hbar = diagonal ? s.hbar.map((row, i) => row.map((x, j) => (i === j ? x : 0))) : s.hbar;
  if (cubic) {
    const r = cubicRates(hbar, s.gbar, s.order3Diag, lambdaInt);
    return r.kind === "ok"
      ? { kind: "ok", step, case: r.case, r: r.r, raw: r.eta }
      : { kind: "unbounded", step, reason: r.reason };
  }
  const r = groupLearningRates(s.gbar, hbar);
  return r.kind === "ok"
    ? { kind: "ok", step, case: "linear", r: 0, raw: r.eta }
    : { kind: r.kind, step, reason: `groupLearningRates: ${r.reason}` };
}

/** The updates `coeff·V·η`: leaf ℓ of group s gets coeff·η_s·u_ℓ (per scalar for per-scalar assignments). */
function stepAlong(partition: Partition, u: Params, eta: readonly number[], coeff: number): Params {
  const [leaves, def] = hd.treeFlatten(u);
  return hd.treeUnflatten(
    def,
    leaves.map((leaf, i) => {
      const a = partition.assignment[i]!;
      if (typeof a === "number") return hd.mul(leaf, coeff * eta[a]!);
      const c = new Float32Array(a.length);
      a.forEach((s, j) => (c[j] = coeff * eta[s]!));
      return hd.mul(leaf, hd.array(c, { shape: hd.shapeOf(leaf) }));
    }),
  ) as Params;
}
