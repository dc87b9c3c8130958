/**
 * The anisotropic cubic model itself, for checks and diagnostics.
 */
import { dot, norm2 } from "./eigen";

/**
 * T(η) = −ḡᵀη + ½ ηᵀH̄η + (λ_int/6)‖Dη‖³ with D = Diag(|D̄(3)_sss|^{1/3}) (docs/math.md, paper Eq. 10).
 * Inputs are trusted (no validation): it is a helper for tests and logging.
 * @category solvers
 */
export function cubicModel(
  hbar: readonly (readonly number[])[],
  gbar: readonly number[],
  order3Diag: readonly number[],
  lambdaInt: number,
  eta: readonly number[],
): number {
  const hEta = hbar.map((row) => dot(row, eta));
  const r = norm2(eta.map((x, s) => Math.cbrt(Math.abs(order3Diag[s]!)) * x));
  return -dot(gbar, eta) + 0.5 * dot(eta, hEta) + (lambdaInt / 6) * r * r * r;
}
