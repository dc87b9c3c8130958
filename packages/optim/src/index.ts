/**
 * @hodiff/optim — optimizers as pure functions: `init(params) → state`,
 * `update(state, params, grads, extras?) → { state, updates }`, `applyUpdates(params, updates)`;
 * optax's structure (building blocks in `transform`, optimizers in `alias`, `chain` in `combine`).
 * Also the S-dimensional solvers of docs/math.md (per-group learning rates η = H̄⁻¹ḡ and the anisotropic
 * cubic problem).
 */
export { identity, EMPTY_STATE } from "./base";
export type {
  Params,
  Updates,
  Schedule,
  ScalarOrSchedule,
  Extras,
  UpdateResult,
  GradientTransformation,
  Optimizer,
  EmptyState,
} from "./base";
export { applyUpdates } from "./update";
export { scale, scaleBySchedule, scaleByLearningRate, traceMomentum, scaleByAdam } from "./transform";
export type {
  ScaleByScheduleState,
  ScaleByLearningRateOptions,
  TraceMomentumState,
  TraceMomentumOptions,
  ScaleByAdamState,
  ScaleByAdamOptions,
} from "./transform";
export { chain } from "./combine";
export type { ChainState } from "./combine";
export { sgd, momentum, adam } from "./alias";
export type { SgdState, MomentumState, AdamState, LearningRateState, MomentumOptions, AdamOptions } from "./alias";
export { constantSchedule } from "./schedule";
export { reduceOnPlateau, scaleByPlateau } from "./plateau";
export type { Plateau, PlateauOptions, PlateauState, ScaleByPlateauState } from "./plateau";
export { groupLearningRates, cubicRates, SolverInputError } from "./solvers";
export type {
  GroupLearningRatesOptions,
  GroupLearningRatesResult,
  CubicCase,
  CubicRatesOptions,
  CubicRatesResult,
  MatrixLike,
  VectorLike,
} from "./solvers";
export { newtonSummary, withLearningRateScale } from "./newtonSummary";
export type {
  NewtonSummaryOptions,
  NewtonSummaryExtras,
  NewtonSummaryState,
  NewtonSummarySolve,
  SummaryAveraging,
  SummaryRecord,
  EmaSums,
} from "./newtonSummary";
export { kfac, scaleByKfac, kfacNeedsStats } from "./kfac";
export type {
  KfacDamping,
  KfacInverse,
  KfacLayerState,
  KfacOptions,
  KfacState,
  ScaleByKfacOptions,
  ScaleByKfacState,
} from "./kfac";
export { extractPatches, layerFactors } from "./kfacFactors";
export type { KfacConvStats, KfacDenseStats, KfacLayerStats, KfacPadding, KfacStats } from "./kfacFactors";
