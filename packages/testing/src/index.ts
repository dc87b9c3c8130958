/**
 * @hodiff/testing — a testing kit for optimizers as pure functions: fast-check arbitraries for
 * parameter pytrees (as plain data, materialized into tensors inside a property) and reusable laws
 * (purity, descent on convex quadratics, invariance under per-group rescaling, reduction to Newton's
 * step) that any `GradientTransformation` can be checked against from a vitest test.
 */
export {
  arbShape,
  arbValue,
  arbLeaf,
  arbParams,
  arbLike,
  arbParamsAndGrads,
  isLeafSpec,
  materialize,
  leavesOf,
} from "./arbitraries";
export type { LeafSpec, TreeSpec, ShapeOptions, ValueOptions, ParamsOptions } from "./arbitraries";
export { checkPurity, checkDescent, checkRescalingInvariance, checkNewtonStep, snapshot, LawViolation } from "./laws";
export type { LawContext, LawOptions, OptimizerFactory } from "./laws";
export { quadraticLoss, quadraticValue, quadraticMinimiser } from "./quadratic";
export type { Quadratic } from "./quadratic";
