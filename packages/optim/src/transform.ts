/**
 * Building blocks of optimizers (optax's `transform.py`). Each factory defines its state type,
 * then `init`/`update`, and returns a {@link GradientTransformation}. Per-leaf math runs inside
 * `hd.tidy`, so an update keeps only the tensors of its new state and updates.
 */
import * as hd from "@hodiff/core";
import {
  EMPTY_STATE,
  freezeState,
  type EmptyState,
  type GradientTransformation,
  type Params,
  type ScalarOrSchedule,
  type Schedule,
} from "./base";
import { check, checkOptionNames, checkScalarOrSchedule, isFiniteNumber, zipMap } from "./internal";

const zerosLikeTree = (params: unknown): Params => hd.tidy(() => hd.treeMap(hd.zerosLike, params)) as Params;

// scale ---------------------------------------------------------------------------------------

/**
 * scale: u = s·g (no state).
 * @example scale(-0.1) // the update of SGD with learning rate 0.1
 * @category transforms
 */
export function scale(step: number): GradientTransformation<EmptyState> {
  check(isFiniteNumber(step), "scale", "step", "a finite number", step);
  return {
    init: () => EMPTY_STATE,
    update: (state, _params, grads) => ({
      state,
      updates: hd.tidy(() => zipMap(`scale`, ["grads"], (g) => hd.mul(g, step), grads)),
    }),
  };
}

/** State of {@link scaleBySchedule}: the number of updates done so far. @category transforms */
export interface ScaleByScheduleState {
  readonly count: number;
}

/**
 * scaleBySchedule: u_t = s(t)·g_t, t = 0, 1, … the number of previous updates.
 * @example scaleBySchedule((t) => 0.1 * 0.99 ** t)
 * @category transforms
 */
export function scaleBySchedule(schedule: Schedule): GradientTransformation<ScaleByScheduleState> {
  check(typeof schedule === "function", "scaleBySchedule", "schedule", "a function of the step count", schedule);
  return {
    init: () => freezeState({ count: 0 }),
    update: (state, _params, grads) => {
      const step = schedule(state.count);
      check(isFiniteNumber(step), "scaleBySchedule", `schedule(${state.count})`, "a finite number", step);
      const updates = hd.tidy(() => zipMap<typeof grads>("scaleBySchedule", ["grads"], (g) => hd.mul(g, step), grads));
      return { state: freezeState({ count: state.count + 1 }), updates };
    },
  };
}

/** Options of {@link scaleByLearningRate}. @category transforms */
export interface ScaleByLearningRateOptions {
  /** Multiply by −lr (descent, the default) rather than +lr. */
  readonly flipSign?: boolean;
}

/**
 * scaleByLearningRate: u = −η·g, or u_t = −η(t)·g_t for a schedule (the one place where the
 * descent sign is flipped).
 * @example chain(scaleByAdam(), scaleByLearningRate(1e-3)) // adam(1e-3)
 * @category transforms
 */
export function scaleByLearningRate(
  learningRate: number,
  options?: ScaleByLearningRateOptions,
): GradientTransformation<EmptyState>;
export function scaleByLearningRate(
  learningRate: Schedule,
  options?: ScaleByLearningRateOptions,
): GradientTransformation<ScaleByScheduleState>;
export function scaleByLearningRate(
  learningRate: ScalarOrSchedule,
  options?: ScaleByLearningRateOptions,
): GradientTransformation<EmptyState | ScaleByScheduleState>;
export function scaleByLearningRate(
  learningRate: ScalarOrSchedule,
  options: ScaleByLearningRateOptions = {},
): GradientTransformation<EmptyState> | GradientTransformation<ScaleByScheduleState> {
  checkOptionNames("scaleByLearningRate", options, ["flipSign"]);
  const { flipSign = true } = options;
  checkScalarOrSchedule("scaleByLearningRate", "learningRate", learningRate);
  const m = flipSign ? -1 : 1;
  return typeof learningRate === "function"
    ? scaleBySchedule((count) => m * learningRate(count))
    : scale(m * learningRate);
}

// momentum ------------------------------------------------------------------------------------

/** State of {@link traceMomentum}: the momentum buffer, shaped like the parameters. @category transforms */
export interface TraceMomentumState {
  readonly trace: Params;
}

/** Options of {@link traceMomentum}. @category transforms */
export interface TraceMomentumOptions {
  /** μ, in [0, 1] (default 0.9). */
  readonly decay?: number;
  /** Nesterov's variant u = g + μ·b (default false). */
  readonly nesterov?: boolean;
}

/**
 * traceMomentum: b ← μ·b + g (b₀ = 0, so b₁ = g), u = b, or u = g + μ·b with Nesterov
 * (PyTorch's SGD momentum buffer without dampening; optax's `trace`).
 * @example chain(traceMomentum({ decay: 0.9 }), scaleByLearningRate(0.01)) // momentum(0.01)
 * @category transforms
 */
export function traceMomentum(options: TraceMomentumOptions = {}): GradientTransformation<TraceMomentumState> {
  checkOptionNames("traceMomentum", options, ["decay", "nesterov"]);
  const { decay = 0.9, nesterov = false } = options;
  check(isFiniteNumber(decay) && decay >= 0 && decay <= 1, "traceMomentum", "decay", "in [0, 1]", decay);
  return {
    init: (params) => freezeState({ trace: zerosLikeTree(params) }),
    update: (state, _params, grads) =>
      hd.tidy(() => {
        const names = ["grads", "state.trace"];
        const trace = zipMap<Params>("traceMomentum", names, (g, b) => hd.add(g, hd.mul(b, decay)), grads, state.trace);
        const updates = nesterov
          ? zipMap<typeof grads>("traceMomentum", names, (g, b) => hd.add(g, hd.mul(b, decay)), grads, trace)
          : (trace as typeof grads);
        return { state: freezeState({ trace }), updates };
      }),
  };
}

// adam ----------------------------------------------------------------------------------------

/**
 * State of {@link scaleByAdam}: `count` (plain number of updates done), `mu` and `nu` (first and
 * second moment estimates, float32, shaped like the parameters).
 * @category transforms
 */
export interface ScaleByAdamState {
  readonly count: number;
  readonly mu: Params;
  readonly nu: Params;
}

/** Options of {@link scaleByAdam} and `adam`. @category transforms */
export interface ScaleByAdamOptions {
  /** β₁, decay of the first moment, in [0, 1) (default 0.9). */
  readonly b1?: number;
  /** β₂, decay of the second moment, in [0, 1) (default 0.999). */
  readonly b2?: number;
  /** ε added to √v̂ (default 1e-8). */
  readonly eps?: number;
  /** ε added to v̂ under the square root (default 0; > 0 when differentiating through Adam). */
  readonly epsRoot?: number;
}

/** The option names of {@link scaleByAdam} and `adam`. @internal */
export const ADAM_OPTIONS = ["b1", "b2", "eps", "epsRoot"] as const;

/**
 * scaleByAdam: m←β₁m+(1−β₁)g, v←β₂v+(1−β₂)g², u = m̂/(√(v̂+ε_root)+ε), m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ).
 * @example chain(scaleByAdam({ b1: 0.9, b2: 0.999 }), scaleByLearningRate(1e-3)) // adam(1e-3)
 * @category transforms
 */
export function scaleByAdam(options: ScaleByAdamOptions = {}): GradientTransformation<ScaleByAdamState> {
  const fn = "scaleByAdam";
  checkOptionNames(fn, options, ADAM_OPTIONS);
  const { b1 = 0.9, b2 = 0.999, eps = 1e-8, epsRoot = 0 } = options;
  check(isFiniteNumber(b1) && b1 >= 0 && b1 < 1, fn, "b1", "in [0, 1)", b1);
  check(isFiniteNumber(b2) && b2 >= 0 && b2 < 1, fn, "b2", "in [0, 1)", b2);
  check(isFiniteNumber(eps) && eps >= 0, fn, "eps", "a finite number ≥ 0", eps);
  check(isFiniteNumber(epsRoot) && epsRoot >= 0, fn, "epsRoot", "a finite number ≥ 0", epsRoot);
  return {
    init: (params) => freezeState({ count: 0, mu: zerosLikeTree(params), nu: zerosLikeTree(params) }),
    update: (state, _params, grads) =>
      hd.tidy(() => {
        const count = state.count + 1;
        // Bias corrections in float64; only the final scalars reach float32.
        const bc1 = 1 - b1 ** count;
        const bc2 = 1 - b2 ** count;
        // The state is the reference structure: a wrong gradient is what "got" names.
        const mu = zipMap<Params>(
          fn,
          ["state.mu", "grads"],
          (m, g) => hd.add(hd.mul(m, b1), hd.mul(g, 1 - b1)),
          state.mu,
          grads,
        );
        const nu = zipMap<Params>(
          fn,
          ["state.nu", "grads"],
          (v, g) => hd.add(hd.mul(v, b2), hd.mul(hd.square(g), 1 - b2)),
          state.nu,
          grads,
        );
        const updates = zipMap<typeof grads>(
          fn,
          ["mu", "nu"],
          (m, v) => hd.div(hd.div(m, bc1), hd.add(hd.sqrt(hd.add(hd.div(v, bc2), epsRoot)), eps)),
          mu,
          nu,
        );
        return { state: freezeState({ count, mu, nu }), updates };
      }),
  };
}
