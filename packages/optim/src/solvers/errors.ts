/** Errors thrown by the S-dimensional solvers. Only malformed input throws; expected outcomes are tagged results. */

/**
 * Malformed solver input: mismatched sizes, non-finite numbers, a non-symmetric H̄, λ_int ≤ 0.
 * The message names the function, the argument and the sizes, and says how to fix it.
 * @category errors
 */
export class SolverInputError extends Error {
  override name = "SolverInputError";
}
