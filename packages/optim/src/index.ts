/**
 * @hodiff/optim — optimizers as pure functions. For now: the S-dimensional solvers of
 * MATH.md (per-group learning rates η = H̄⁻¹ḡ and the anisotropic cubic problem).
 */
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
