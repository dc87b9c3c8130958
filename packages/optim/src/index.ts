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
export {
  newtonSummary,
  newtonSummaryInfo,
  newtonSummaryPrepare,
  withLearningRateScale,
  NEWTON_SUMMARY_OPTIONS,
} from "./newtonSummary";
export type {
  NewtonSummaryOptions,
  NewtonSummaryState,
  NewtonSummaryInfo,
  NewtonSummarySemantics,
} from "./newtonSummary";
export { traceSummaryMomentum } from "./summaryMomentum";
export type { TraceSummaryMomentumOptions, TraceSummaryMomentumState, WarmupMomentum } from "./summaryMomentum";
export { scaleBySummaries } from "./scaleBySummaries";
export type {
  ScaleBySummariesOptions,
  ScaleBySummariesState,
  NewtonSummaryExtras,
  NewtonSummarySolve,
  SummaryAveraging,
  IndefiniteLinearSolve,
  SolverFailure,
  WarmupCounting,
} from "./scaleBySummaries";
export type { SummaryRecord, AveragedSummaries, EmaSums, ReferenceAverages } from "./summaryAveraging";
export { scaleByLearningRateOnPlateau } from "./plateauLearningRate";
export type { ScaleByLearningRateOnPlateauState } from "./plateauLearningRate";
export { kfac, scaleByKfac, kfacNeedsStats, kfacPrepare, scaleByKfacPrepare } from "./kfac";
export type {
  KfacDamping,
  KfacHostInverse,
  KfacInverse,
  KfacLayerState,
  KfacOptions,
  KfacPrepared,
  KfacState,
  ScaleByKfacOptions,
  ScaleByKfacState,
} from "./kfac";
export { extractPatches, layerFactors } from "./kfacFactors";
export type { KfacConvStats, KfacDenseStats, KfacLayerStats, KfacPadding, KfacStats } from "./kfacFactors";
