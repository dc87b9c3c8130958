/**
 * A learning rate with a reduce-on-plateau multiplier, as one transformation: u = −λ(t)·scale·g,
 * where the plateau machine steps on each update whose `extras.value` is a number (once per epoch,
 * say) and λ in use is logged in the state. NewtonSummary's λ and its plateau schedule.
 */
import * as hd from "@hodiff/core";
import { freezeState, type GradientTransformation, type ScalarOrSchedule } from "./base";
import { check, checkScalarOrSchedule, isFiniteNumber, zipMap } from "./internal";
import { reduceOnPlateau, type Plateau, type PlateauOptions, type PlateauState } from "./plateau";

/** State of {@link scaleByLearningRateOnPlateau} (plain numbers, frozen). @category schedules */
export interface ScaleByLearningRateOnPlateauState {
  /** Updates done so far. */
  readonly count: number;
  /** The multiplier of λ: the plateau's scale (or set by {@link withLearningRateScale}); starts at 1. */
  readonly scale: number;
  /** The λ of the last update (schedule value × scale); λ(0) before the first update. */
  readonly learningRate: number;
  /** The plateau machine's state, null without a plateau. */
  readonly plateau: PlateauState | null;
}

/**
 * scaleByLearningRateOnPlateau: u_t = −λ(t)·scale·g_t; on an update with a number `extras.value`
 * the plateau steps first and scale ← its scale.
 * @example chain(traceMomentum(), scaleByLearningRateOnPlateau(0.1, { patience: 2, factor: 0.5 }))
 * @category schedules
 */
export function scaleByLearningRateOnPlateau(
  learningRate: ScalarOrSchedule,
  plateau?: Plateau | PlateauOptions | null,
  fn = "scaleByLearningRateOnPlateau",
): GradientTransformation<ScaleByLearningRateOnPlateauState> {
  checkScalarOrSchedule(fn, "learningRate", learningRate);
  check(typeof learningRate === "function" || learningRate > 0, fn, "learningRate", "> 0", learningRate);
  const machine =
    plateau === undefined || plateau === null
      ? null
      : "step" in plateau && typeof plateau.step === "function"
        ? (plateau as Plateau)
        : reduceOnPlateau(plateau as PlateauOptions);
  const lambdaAt = (count: number): number => {
    const value = typeof learningRate === "function" ? learningRate(count) : learningRate;
    check(isFiniteNumber(value) && value >= 0, fn, `learningRate(${count})`, "a finite number ≥ 0", value);
    return value;
  };
  return {
    init: () =>
      freezeState<ScaleByLearningRateOnPlateauState>({
        count: 0,
        scale: 1,
        learningRate: lambdaAt(0),
        plateau: machine === null ? null : machine.init(),
      }),
    update: (state, _params, grads, extras) => {
      let { scale, plateau: p } = state;
      const value = extras?.value;
      if (machine !== null && p !== null && value !== undefined) {
        p = machine.step(p, value);
        scale = p.scale;
      }
      const lambda = lambdaAt(state.count) * scale;
      const updates = hd.tidy(() => zipMap<typeof grads>(fn, ["grads"], (g) => hd.mul(g, -lambda), grads));
      return {
        state: freezeState<ScaleByLearningRateOnPlateauState>({
          count: state.count + 1,
          scale,
          learningRate: lambda,
          plateau: p,
        }),
        updates,
      };
    },
  };
}
