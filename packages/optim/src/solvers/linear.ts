/**
 * Per-group learning rates of the second-order model (docs/math.md "Per-group learning rates", paper Eq. 8).
 */
import { analyseSpd, singularRtolFor, spdSolve } from "./eigen";
import { DEFAULT_SYMMETRY_RTOL, readSymmetricMatrix, readVector, requireGroups } from "./validate";
import type { MatrixLike, VectorLike } from "./validate";

/** Options of {@link groupLearningRates}. */
export interface GroupLearningRatesOptions {
  /** Relative tolerance of the symmetry check of H̄ (default 1e-3; H̄ is symmetrised after the check). */
  readonly symmetryRtol?: number;
  /**
   * H̄ counts as singular when λ_min ≤ singularRtol·λ_max for the equilibrated
   * J H̄ J (J diagonal, unit-ish diagonal); default 8·S·eps.
   */
  readonly singularRtol?: number;
}

/**
 * Result of {@link groupLearningRates}. `ok` carries η = H̄⁻¹ḡ. Otherwise the quadratic model has no
 * unique minimiser and `direction` is a vector with directionᵀ H̄ direction ≤ 0 (< 0 when not
 * positive semidefinite).
 * @category solvers
 */
export type GroupLearningRatesResult =
  | { readonly kind: "ok"; readonly eta: number[] }
  | {
      readonly kind: "singular" | "not-positive-definite";
      readonly direction: number[];
      readonly reason: string;
    };

/**
 * η = H̄⁻¹ ḡ: the minimiser of the per-group second-order model −ḡᵀη + ½ ηᵀH̄η (paper Eq. 8).
 *
 * Solved in float64 by an equilibrated symmetric eigendecomposition, so the answer and the
 * singular / not-positive-definite verdicts are invariant under per-group rescaling
 * (H̄ → AH̄A, ḡ → Aḡ gives η → A⁻¹η). H̄ is symmetrised first. Throws {@link SolverInputError}
 * only for malformed input (sizes, non-finite entries, H̄ not symmetric).
 *
 * @example
 * groupLearningRates([1, 1], [[2, 0], [0, 4]]) // { kind: "ok", eta: [0.5, 0.25] }
 * @category solvers
 */
export function groupLearningRates(
  gbar: VectorLike,
  hbar: MatrixLike,
  options: GroupLearningRatesOptions = {},
): GroupLearningRatesResult {
  const fn = "groupLearningRates";
  const g = readVector(fn, "gbar", gbar);
  const size = g.length;
  requireGroups(fn, size);
  const h = readSymmetricMatrix(fn, "hbar", hbar, size, options.symmetryRtol ?? DEFAULT_SYMMETRY_RTOL);
  const analysis = analyseSpd(h, options.singularRtol ?? singularRtolFor(size));
  if (analysis.kind === "positive-definite") return { kind: "ok", eta: spdSolve(analysis.factor, g) };
  const reason =
    analysis.kind === "singular"
      ? `H̄ (${size}×${size}) is singular: the second-order model has no unique minimiser`
      : `H̄ (${size}×${size}) is not positive definite: the second-order model is unbounded below`;
  return { kind: analysis.kind, direction: analysis.direction, reason };
}
