/** The S-dimensional solvers: per-group learning rates and the anisotropic cubic problem. */
export { groupLearningRates } from "./linear";
export type { GroupLearningRatesOptions, GroupLearningRatesResult } from "./linear";
export { cubicRates } from "./cubic";
export type { CubicCase, CubicRatesOptions, CubicRatesResult } from "./cubic";
export { SolverInputError } from "./errors";
export type { MatrixLike, VectorLike } from "./validate";
