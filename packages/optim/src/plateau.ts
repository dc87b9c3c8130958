/**
 * Reduce-on-plateau (PyTorch's `ReduceLROnPlateau`) as a pure state machine, and the transformation
 * that scales updates by its current factor (optax's `contrib.reduce_on_plateau`).
 */
import * as hd from "@hodiff/core";
import { freezeState, type GradientTransformation } from "./base";
import { check, checkOptionNames, isFiniteNumber, zipMap } from "./internal";

/** Options of {@link reduceOnPlateau} (PyTorch's names and defaults; `minScale`, `eps` apply to the scale). @category schedules */
export interface PlateauOptions {
  /** `'min'`: lower metrics are better (default); `'max'`: higher are. */
  readonly mode?: "min" | "max";
  /** Multiplier of the scale on a reduction, in (0, 1) (default 0.1). */
  readonly factor?: number;
  /** Number of bad epochs tolerated: the scale drops on the (patience + 1)-th in a row (default 10). */
  readonly patience?: number;
  /** Smallest significant improvement (default 1e-4). */
  readonly threshold?: number;
  /** `'rel'`: better means below best·(1 − threshold) (default); `'abs'`: below best − threshold (mirrored for 'max'). */
  readonly thresholdMode?: "rel" | "abs";
  /** Epochs after a reduction during which bad epochs are not counted (default 0). */
  readonly cooldown?: number;
  /** Lower bound of the scale (default 0). */
  readonly minScale?: number;
  /** A reduction smaller than eps (of `baseValue`·scale) is skipped (default 1e-8). */
  readonly eps?: number;
  /**
   * After a reduction, best ← the current metric (default false: keep the old best, as PyTorch and
   * the paper's text). true is the published code's `ReduceDampingOnPlateau`.
   */
  readonly resetBest?: boolean;
  /**
   * The value the scale multiplies (e.g. λ), for `eps`: a reduction is skipped when
   * baseValue·(scale − reduced) ≤ eps (default 1: eps applies to the scale; the published code
   * applies it to the absolute damping λ·scale).
   */
  readonly baseValue?: number;
}

/** The option names of {@link reduceOnPlateau}. @internal */
export const PLATEAU_OPTIONS = [
  "mode",
  "factor",
  "patience",
  "threshold",
  "thresholdMode",
  "cooldown",
  "minScale",
  "eps",
  "resetBest",
  "baseValue",
] as const;

/**
 * State of {@link reduceOnPlateau}: `count` (metrics seen), `best` (±Infinity before the first),
 * `numBadEpochs`, `cooldownCounter`, and `scale`, the factor to multiply the learning rate by
 * (starts at 1). Plain numbers, frozen.
 * @category schedules
 */
export interface PlateauState {
  readonly count: number;
  readonly best: number;
  readonly numBadEpochs: number;
  readonly cooldownCounter: number;
  readonly scale: number;
}

/** A reduce-on-plateau state machine: `init()` then `step(state, metric)` once per epoch. @category schedules */
export interface Plateau {
  readonly options: Readonly<Required<PlateauOptions>>;
  init(): PlateauState;
  step(state: PlateauState, metric: number): PlateauState;
}

/**
 * reduceOnPlateau: scale ← max(factor·scale, minScale) after more than `patience` epochs in a row
 * without a metric below best·(1 − threshold), then `cooldown` epochs without counting (PyTorch's
 * `ReduceLROnPlateau`, its `step(metric)` made pure; `resetBest` and `baseValue` give the published
 * NewtonSummary code's `ReduceDampingOnPlateau`).
 * @example
 * const plateau = reduceOnPlateau({ factor: 0.5, patience: 2 });
 * let s = plateau.init();
 * for (const loss of [1, 1, 1, 1]) s = plateau.step(s, loss); // s.scale === 0.5
 * @category schedules
 */
export function reduceOnPlateau(options: PlateauOptions = {}): Plateau {
  const fn = "reduceOnPlateau";
  checkOptionNames(fn, options, PLATEAU_OPTIONS);
  const o: Required<PlateauOptions> = {
    mode: "min",
    factor: 0.1,
    patience: 10,
    threshold: 1e-4,
    thresholdMode: "rel",
    cooldown: 0,
    minScale: 0,
    eps: 1e-8,
    resetBest: false,
    baseValue: 1,
    // Options given as undefined keep their defaults.
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  };
  check(o.mode === "min" || o.mode === "max", fn, "mode", "'min' or 'max'", o.mode);
  check(o.thresholdMode === "rel" || o.thresholdMode === "abs", fn, "thresholdMode", "'rel' or 'abs'", o.thresholdMode);
  check(isFiniteNumber(o.factor) && o.factor > 0 && o.factor < 1, fn, "factor", "in (0, 1)", o.factor);
  check(Number.isInteger(o.patience) && o.patience >= 0, fn, "patience", "an integer ≥ 0", o.patience);
  check(isFiniteNumber(o.threshold) && o.threshold >= 0, fn, "threshold", "a finite number ≥ 0", o.threshold);
  check(Number.isInteger(o.cooldown) && o.cooldown >= 0, fn, "cooldown", "an integer ≥ 0", o.cooldown);
  check(isFiniteNumber(o.minScale) && o.minScale >= 0 && o.minScale <= 1, fn, "minScale", "in [0, 1]", o.minScale);
  check(isFiniteNumber(o.eps) && o.eps >= 0, fn, "eps", "a finite number ≥ 0", o.eps);
  check(typeof o.resetBest === "boolean", fn, "resetBest", "a boolean", o.resetBest);
  check(isFiniteNumber(o.baseValue) && o.baseValue > 0, fn, "baseValue", "a finite number > 0", o.baseValue);
  const options_ = Object.freeze(o);

  const isBetter = (a: number, best: number): boolean => {
    if (o.mode === "min") return o.thresholdMode === "rel" ? a < best * (1 - o.threshold) : a < best - o.threshold;
    return o.thresholdMode === "rel" ? a > best * (1 + o.threshold) : a > best + o.threshold;
  };

  return {
    options: options_,
    init: () =>
      freezeState({
        count: 0,
        best: o.mode === "min" ? Infinity : -Infinity,
        numBadEpochs: 0,
        cooldownCounter: 0,
        scale: 1,
      }),
    step: (state, metric) => {
      check(typeof metric === "number", `${fn}.step`, "metric", "a number", metric);
      // A NaN metric is never better: it counts as a bad epoch (as in PyTorch).
      const better = isBetter(metric, state.best);
      let best = better ? metric : state.best;
      let numBadEpochs = better ? 0 : state.numBadEpochs + 1;
      let cooldownCounter = state.cooldownCounter;
      if (cooldownCounter > 0) {
        cooldownCounter -= 1;
        numBadEpochs = 0;
      }
      let scale = state.scale;
      if (numBadEpochs > o.patience) {
        const reduced = Math.max(scale * o.factor, o.minScale);
        if (o.baseValue * (scale - reduced) > o.eps) scale = reduced;
        cooldownCounter = o.cooldown;
        numBadEpochs = 0;
        if (o.resetBest) best = metric;
      }
      return freezeState({ count: state.count + 1, best, numBadEpochs, cooldownCounter, scale });
    },
  };
}

/** State of {@link scaleByPlateau}. @category schedules */
export interface ScaleByPlateauState {
  readonly plateau: PlateauState;
}

/**
 * scaleByPlateau: u = scale·g, where the plateau steps on each update whose `extras.value` is a
 * number (once per epoch, say) and the new scale applies from that update on.
 * @example chain(momentum(0.1), scaleByPlateau(reduceOnPlateau({ patience: 5 })))
 * // opt.update(state, params, grads, { value: validationLoss }) at the end of each epoch
 * @category schedules
 */
export function scaleByPlateau(plateau: Plateau | PlateauOptions = {}): GradientTransformation<ScaleByPlateauState> {
  const machine =
    "step" in plateau && typeof plateau.step === "function" ? plateau : reduceOnPlateau(plateau as PlateauOptions);
  return {
    init: () => freezeState({ plateau: machine.init() }),
    update: (state, _params, grads, extras) => {
      const value = extras?.value;
      const next = value === undefined ? state.plateau : machine.step(state.plateau, value);
      const s = next.scale;
      const updates = hd.tidy(() => zipMap<typeof grads>("scaleByPlateau", ["grads"], (g) => hd.mul(g, s), grads));
      return { state: next === state.plateau ? state : freezeState({ plateau: next }), updates };
    },
  };
}
