/** The public optimizers, as compositions of the building blocks (optax's `alias.py`). */
import type { EmptyState, GradientTransformation, ScalarOrSchedule } from "./base";
import { chain } from "./combine";
import { checkOptionNames } from "./internal";
import {
  ADAM_OPTIONS,
  scaleByAdam,
  scaleByLearningRate,
  traceMomentum,
  type ScaleByAdamOptions,
  type ScaleByAdamState,
  type ScaleByScheduleState,
  type TraceMomentumState,
} from "./transform";
import { checkLearningRate } from "./internal";

/** State of `scaleByLearningRate`: empty for a constant rate, `{ count }` for a schedule. @category alias */
export type LearningRateState = EmptyState | ScaleByScheduleState;

/** State of {@link sgd}. @category alias */
export type SgdState = readonly [LearningRateState];
/** State of {@link momentum}. @category alias */
export type MomentumState = readonly [TraceMomentumState, LearningRateState];
/** State of {@link adam}. @category alias */
export type AdamState = readonly [ScaleByAdamState, LearningRateState];

/**
 * sgd: θ ← θ − η·g.
 * @example const opt = sgd(0.1); const { state, updates } = opt.update(opt.init(params), params, grads);
 * @category alias
 */
export function sgd(learningRate: ScalarOrSchedule): GradientTransformation<SgdState> {
  checkLearningRate("sgd", learningRate);
  return chain(scaleByLearningRate(learningRate));
}

/** Options of {@link momentum}. @category alias */
export interface MomentumOptions {
  /** μ, in [0, 1] (default 0.9). */
  readonly momentum?: number;
  /** Nesterov's variant θ ← θ − η·(g + μ·b) (default false). */
  readonly nesterov?: boolean;
}

/**
 * momentum: b ← μ·b + g (b₁ = g), θ ← θ − η·b (PyTorch's SGD with momentum, no dampening).
 * @example const opt = momentum(0.01, { momentum: 0.9 });
 * @category alias
 */
export function momentum(
  learningRate: ScalarOrSchedule,
  options: MomentumOptions = {},
): GradientTransformation<MomentumState> {
  checkLearningRate("momentum", learningRate);
  checkOptionNames("momentum", options, ["momentum", "nesterov"]);
  const { momentum: decay = 0.9, nesterov = false } = options;
  return chain(traceMomentum({ decay, nesterov }), scaleByLearningRate(learningRate));
}

/** Options of {@link adam} (those of `scaleByAdam`). @category alias */
export type AdamOptions = ScaleByAdamOptions;

/**
 * adam: m←β₁m+(1−β₁)g, v←β₂v+(1−β₂)g², θ ← θ − η·m̂/(√v̂+ε) with bias-corrected m̂, v̂ (Kingma & Ba 2015).
 * @example const opt = adam(1e-3); // b1 0.9, b2 0.999, eps 1e-8
 * @category alias
 */
export function adam(learningRate: ScalarOrSchedule, options: AdamOptions = {}): GradientTransformation<AdamState> {
  checkLearningRate("adam", learningRate);
  checkOptionNames("adam", options, ADAM_OPTIONS);
  return chain(scaleByAdam(options), scaleByLearningRate(learningRate));
}
