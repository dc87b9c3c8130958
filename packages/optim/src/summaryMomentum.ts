/**
 * The direction of NewtonSummary: SGD momentum u_t = μ·u_{t−1} + g_t, with the choice of what
 * happens during the warm-up (the paper's text: every update; the published code: only on the
 * updates that compute a summary).
 */
import * as hd from "@hodiff/core";
import { freezeState, type GradientTransformation, type Params } from "./base";
import { check, checkOptionNames, isFiniteNumber, zipMap } from "./internal";

/**
 * When the momentum buffer moves before the warm-up ends: `'every-step'` (the paper's text, hodiff's
 * default) or `'summary-steps'` (the published code: only on updates 0, T, 2T, …, which compute a
 * summary, until ⌊t/T⌋ ≥ warmup).
 * @category newtonSummary
 */
export type WarmupMomentum = "every-step" | "summary-steps";

/** Options of {@link traceSummaryMomentum}. @category newtonSummary */
export interface TraceSummaryMomentumOptions {
  /** μ, in [0, 1] (default 0.9; 0: u = g). */
  readonly decay?: number;
  /** T, the summary period (default 10). */
  readonly period?: number;
  /** Warm-up length in summary periods: the warm-up lasts while ⌊t/T⌋ < warmup (default 3). */
  readonly warmup?: number;
  /** Default `'every-step'`. */
  readonly warmupMomentum?: WarmupMomentum;
}

/** State of {@link traceSummaryMomentum}: updates done and the buffer u (zeros before the first). @category newtonSummary */
export interface TraceSummaryMomentumState {
  readonly count: number;
  readonly trace: Params;
}

const OPTIONS = ["decay", "period", "warmup", "warmupMomentum"] as const;

/**
 * traceSummaryMomentum: u_t = μ·u_{t−1} + g_t (u₀ = g₀), output u_t; with `'summary-steps'`, during
 * the warm-up (⌊t/T⌋ < warmup) an update with t mod T ≠ 0 leaves u unchanged and outputs it.
 * @example chain(traceSummaryMomentum({ decay: 0.9, period: 10, warmup: 3 }), scaleBySummaries(…), …)
 * @category newtonSummary
 */
export function traceSummaryMomentum(
  options: TraceSummaryMomentumOptions = {},
): GradientTransformation<TraceSummaryMomentumState> {
  const fn = "traceSummaryMomentum";
  checkOptionNames(fn, options, OPTIONS);
  const { decay = 0.9, period = 10, warmup = 3, warmupMomentum = "every-step" } = options;
  check(isFiniteNumber(decay) && decay >= 0 && decay <= 1, fn, "decay", "in [0, 1]", decay);
  check(Number.isInteger(period) && period >= 1, fn, "period", "an integer ≥ 1", period);
  check(Number.isInteger(warmup) && warmup >= 0, fn, "warmup", "an integer ≥ 0", warmup);
  check(
    warmupMomentum === "every-step" || warmupMomentum === "summary-steps",
    fn,
    "warmupMomentum",
    "'every-step' or 'summary-steps'",
    warmupMomentum,
  );
  return {
    init: (params) =>
      freezeState<TraceSummaryMomentumState>({
        count: 0,
        trace: hd.tidy(() => hd.treeMap(hd.zerosLike, params as Params)) as Params,
      }),
    update: (state, _params, grads) =>
      hd.tidy(() => {
        const t = state.count;
        const frozen = warmupMomentum === "summary-steps" && Math.floor(t / period) < warmup && t % period !== 0;
        const trace = frozen
          ? // A copy, so that the new state owns its tensors (the old state is disposed by the caller).
            zipMap<Params>(fn, ["state.trace", "grads"], (b) => hd.add(b, 0), state.trace, grads)
          : zipMap<Params>(fn, ["grads", "state.trace"], (g, b) => hd.add(g, hd.mul(b, decay)), grads, state.trace);
        return {
          state: freezeState<TraceSummaryMomentumState>({ count: t + 1, trace }),
          updates: trace as unknown as typeof grads,
        };
      }),
  };
}
