/** Learning-rate schedules: pure functions of the number of updates done so far (optax's `schedules`). */
import type { Schedule } from "./base";
import { check, isFiniteNumber } from "./internal";

/**
 * constantSchedule: η(t) = c.
 * @example scaleByLearningRate(constantSchedule(0.1)) // same updates as scaleByLearningRate(0.1)
 * @category schedules
 */
export function constantSchedule(value: number): Schedule {
  check(isFiniteNumber(value), "constantSchedule", "value", "a finite number", value);
  return () => value;
}
