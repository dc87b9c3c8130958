/**
 * The anisotropic Nesterov cubic problem (docs/math.md "Anisotropic Nesterov cubic regularisation",
 * paper Eq. 10, App. D), solved in float64.
 */
import { analyseSpd, dot, norm2, singularRtolFor, spdSolve, symmetricEigen } from "./eigen";
import { SolverInputError } from "./errors";
import { solveSecular } from "./secular";
import { DEFAULT_SYMMETRY_RTOL, readPositive, readSymmetricMatrix, readVector, requireGroups } from "./validate";
import type { MatrixLike, VectorLike } from "./validate";

/**
 * Which branch produced the minimiser.
 * - `quadratic`: every active group has d_s = 0, so there is no cubic term: η = H̄⁻¹ḡ, r = 0.
 * - `positive-definite`: H̄ ≻ 0 (after eliminating the d_s = 0 groups); the unique root of r = φ(r).
 * - `indefinite`: H̄ is not positive definite; the root of r = φ(r) with r > −κ₁/c.
 * - `hard`: the hard case; r = −κ₁/c and η has a component along the κ₁ eigenvector.
 * @category solvers
 */
export type CubicCase = "quadratic" | "positive-definite" | "indefinite" | "hard";

/**
 * Result of {@link cubicRates}. `ok`: the global minimiser η of T and r = ‖Dη‖ (to rounding: r is the
 * value in η = (H̄ + (λ_int/2) r D²)⁻¹ḡ, taken from the scalar equation; r = 0 for `quadratic`).
 * `unbounded`: T is unbounded below because H̄ restricted to the groups with d_s = 0 is not
 * positive definite; `direction` is supported on those groups (Dd = 0) with directionᵀH̄direction
 * < 0 (or = 0 numerically, then ḡᵀdirection ≥ 0), so T(t·direction) → −∞ in the generic case.
 * @category solvers
 */
export type CubicRatesResult =
  | { readonly kind: "ok"; readonly eta: number[]; readonly r: number; readonly case: CubicCase }
  | { readonly kind: "unbounded"; readonly reason: string; readonly direction: number[] };

/** Options of {@link cubicRates}. */
export interface CubicRatesOptions {
  /** Relative tolerance of the symmetry check of H̄ (default 1e-3; H̄ is symmetrised after the check). */
  readonly symmetryRtol?: number;
  /** H̄ restricted to the d_s = 0 groups counts as singular below this relative eigenvalue (default 8·S·eps). */
  readonly singularRtol?: number;
}

/**
 * η = argmin T(η) = −ḡᵀη + ½ηᵀH̄η + (λ_int/6)‖Dη‖³, d_s = |D̄(3)_sss|^{1/3}; i.e. η = (H̄ + (λ_int/2) r D²)⁻¹ḡ
 * with the largest r = ‖Dη‖ (docs/math.md "Anisotropic Nesterov cubic regularisation").
 *
 * Groups with d_s = 0 are eliminated by a Schur complement (the model is unbounded below when H̄
 * restricted to them is not positive definite); groups that are exactly inert (d_s = 0, ḡ_s = 0,
 * H̄ row s = 0) get η_s = 0. The rest is reduced to K = D⁻¹H̄D⁻¹ = QΛQᵀ (ml-matrix), b = QᵀD⁻¹ḡ and
 * the scalar equation r = ‖b/(κ + c r)‖, c = λ_int/2, including the hard case. Every threshold is
 * relative, every loop is bounded, and the answer is invariant under per-group rescaling
 * (H̄ → AH̄A, ḡ → Aḡ, order3Diag_s → a_s⁶·order3Diag_s, A = diag(a_s²), gives η → A⁻¹η).
 * Throws {@link SolverInputError} only for malformed input.
 *
 * @example
 * cubicRates([[-1, 0, 0], [0, 2, 0], [0, 0, 3]], [0, 20, 20], [1, 1, 1], 1)
 * // { kind: "ok", r: 5.474860754766346, case: "indefinite", eta: [0, 4.22…, 3.48…] }
 * @category solvers
 */
export function cubicRates(
  hbar: MatrixLike,
  gbar: VectorLike,
  order3Diag: VectorLike,
  lambdaInt: number,
  options: CubicRatesOptions = {},
): CubicRatesResult {
  const fn = "cubicRates";
  const g = readVector(fn, "gbar", gbar);
  const size = g.length;
  requireGroups(fn, size);
  const h = readSymmetricMatrix(fn, "hbar", hbar, size, options.symmetryRtol ?? DEFAULT_SYMMETRY_RTOL);
  const o3 = readVector(fn, "order3Diag", order3Diag, size);
  const c = readPositive(fn, "lambdaInt", lambdaInt) / 2;
  const d = o3.map((x) => Math.cbrt(Math.abs(x)));

  const groups = g.map((_, s) => s);
  const inert = (s: number): boolean => d[s] === 0 && g[s] === 0 && h[s]!.every((x) => x === 0);
  const zs = groups.filter((s) => d[s] === 0 && !inert(s));
  const ps = groups.filter((s) => d[s]! > 0);
  const eta = new Array<number>(size).fill(0);

  // Eliminate Z = {s : d_s = 0}: η_Z = H_ZZ⁻¹(ḡ_Z − H_ZP η_P), leaving the Schur complement on P.
  let hp = pick(h, ps, ps);
  let gp = ps.map((s) => g[s]!);
  let backSubstitute = (_etaP: readonly number[]): void => {};
  if (zs.length > 0) {
    const analysis = analyseSpd(pick(h, zs, zs), options.singularRtol ?? singularRtolFor(zs.length));
    if (analysis.kind !== "positive-definite") {
      const direction = new Array<number>(size).fill(0);
      zs.forEach((s, k) => (direction[s] = analysis.direction[k]!));
      if (dot(direction, g) < 0) zs.forEach((s) => (direction[s] = -direction[s]!));
      const what = analysis.kind === "singular" ? "singular" : "not positive definite";
      return {
        kind: "unbounded",
        reason:
          `cubicRates: the model is unbounded below: H̄ restricted to the ${zs.length} group(s) with ` +
          `d_s = 0 (indices ${zs.join(", ")}) is ${what}, so the cubic term cannot bound it`,
        direction,
      };
    }
    // w = H_ZZ⁻¹ḡ_Z and x[j] = H_ZZ⁻¹ (column j of H_ZP); then H_PP − H_PZ H_ZZ⁻¹H_ZP and ḡ_P − H_PZ w.
    const hpz = pick(h, ps, zs);
    const gz = zs.map((s) => g[s]!);
    const w = spdSolve(analysis.factor, gz);
    const x = hpz.map((row) => spdSolve(analysis.factor, row));
    hp = hp.map((row, i) => row.map((v, j) => v - dot(hpz[i]!, x[j]!)));
    gp = gp.map((v, i) => v - dot(hpz[i]!, w));
    backSubstitute = (etaP) => {
      zs.forEach((s, k) => {
        let v = w[k]!;
        for (let j = 0; j < ps.length; j++) v -= x[j]![k]! * etaP[j]!;
        eta[s] = v;
      });
    };
  }

  if (ps.length === 0) {
    backSubstitute([]);
    return { kind: "ok", eta, r: 0, case: "quadratic" };
  }

  const dp = ps.map((s) => d[s]!);
  const { etaP, r, kase } = solveAllPositive(hp, gp, dp, c);
  ps.forEach((s, k) => (eta[s] = etaP[k]!));
  backSubstitute(etaP);
  return { kind: "ok", eta, r, case: kase };
}

/** The cubic problem with every d_s > 0, in the eigenbasis of K = D⁻¹HD⁻¹: η = D⁻¹Q y. */
function solveAllPositive(
  h: number[][],
  g: number[],
  d: number[],
  c: number,
): { etaP: number[]; r: number; kase: Exclude<CubicCase, "quadratic"> } {
  const n = g.length;
  const k = h.map((row, i) => row.map((v, j) => v / d[i]! / d[j]!));
  if (!k.every((row) => row.every(Number.isFinite))) {
    throw new SolverInputError(
      `cubicRates: D⁻¹H̄D⁻¹ overflowed (d ranges over [${Math.min(...d)}, ${Math.max(...d)}]); ` +
        `the inputs span too many orders of magnitude for float64.`,
    );
  }
  const { values: kappa, vectors: q } = symmetricEigen(k);
  const gd = g.map((v, i) => v / d[i]!);
  const b = q.map((qi) => dot(qi, gd));
  const k1 = kappa[0]!;

  let y: number[];
  let mu: number; // the shift μ = c·r of the stationarity equation (K + μI) y = b
  let kase: Exclude<CubicCase, "quadratic">;
  if (b.every((v) => v === 0) && k1 >= 0) {
    // ḡ = 0 and H̄ ⪰ 0: T ≥ 0 = T(0).
    y = b.map(() => 0);
    mu = 0;
    kase = k1 > 0 ? "positive-definite" : "indefinite";
  } else if (k1 > 0) {
    // φ decreases on r ≥ 0: a single root; κ_i + μ = κ_i + t with μ = t.
    const sol = solveSecular({ gaps: kappa, b, c, shift: 0 });
    const t = sol.kind === "interior" ? sol.t : 0;
    y = b.map((bi, i) => (bi === 0 ? 0 : bi / (kappa[i]! + t)));
    mu = t;
    kase = "positive-definite";
  } else {
    // Root in μ > −κ₁: write μ = t − κ₁ so that κ_i + μ = (κ_i − κ₁) + t is formed exactly.
    const gaps = kappa.map((v) => v - k1);
    const shift = -k1;
    const sol = solveSecular({ gaps, b, c, shift });
    if (sol.kind === "boundary") {
      // Hard case: μ = −κ₁, y = b_⊥/(κ_⊥ − κ₁) + τ q₁ with ‖y‖ = x0 = −κ₁/c (b₁ = 0 here).
      y = b.map((bi, i) => (bi === 0 ? 0 : bi / gaps[i]!));
      const x0 = shift / c;
      const rest = norm2(y);
      y[0] = rest < x0 ? Math.sqrt((x0 - rest) * (x0 + rest)) : 0;
      mu = shift;
      kase = "hard";
    } else {
      y = b.map((bi, i) => (bi === 0 ? 0 : bi / (gaps[i]! + sol.t)));
      mu = sol.t + shift;
      kase = "indefinite";
    }
  }

  const etaP = new Array<number>(n).fill(0);
  for (let j = 0; j < n; j++) {
    const yj = y[j]!;
    if (yj === 0) continue;
    const qj = q[j]!;
    for (let i = 0; i < n; i++) etaP[i] = etaP[i]! + qj[i]! * yj;
  }
  return { etaP: etaP.map((v, i) => v / d[i]!), r: mu / c, kase };
}

/** The submatrix m[rows][cols]. */
function pick(m: readonly (readonly number[])[], rows: readonly number[], cols: readonly number[]): number[][] {
  return rows.map((i) => cols.map((j) => m[i]![j]!));
}
