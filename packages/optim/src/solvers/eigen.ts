/**
 * Symmetric eigendecomposition (ml-matrix, float64) and the positive-definiteness analysis shared
 * by the solvers. Everything here is invariant under a diagonal rescaling H̄ → A H̄ A.
 * @internal
 */
import { EigenvalueDecomposition, Matrix } from "ml-matrix";

/** Unit roundoff of float64. */
export const EPS = Number.EPSILON;

/** Eigenpairs sorted ascending: `values[k]` belongs to the unit vector `vectors[k]`. */
export interface SymmetricEigen {
  readonly values: number[];
  readonly vectors: number[][];
}

/** A = Q Λ Qᵀ for the symmetric part of a square matrix, eigenvalues ascending (ml-matrix tred2/tql2). */
export function symmetricEigen(a: readonly (readonly number[])[]): SymmetricEigen {
  const n = a.length;
  const m = new Matrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) m.set(i, j, 0.5 * (a[i]![j]! + a[j]![i]!));
  }
  const evd = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const v = evd.eigenvectorMatrix;
  const order = values.map((_, k) => k).sort((p, q) => values[p]! - values[q]!);
  return { values: order.map((k) => values[k]!), vectors: order.map((k) => v.getColumn(k)) };
}

/** A positive definite matrix as A = J U Σ Uᵀ J with J a power-of-two diagonal scaling. */
export interface SpdFactor {
  readonly scale: number[];
  readonly eigen: SymmetricEigen;
}

/** Outcome of {@link analyseSpd}. `direction` has dᵀAd ≤ 0 (< 0 for `not-positive-definite`). */
export type SpdAnalysis =
  | { readonly kind: "positive-definite"; readonly factor: SpdFactor }
  | { readonly kind: "singular" | "not-positive-definite"; readonly direction: number[] };

/** Default relative threshold below which the equilibrated matrix counts as singular (≈ 8·n·eps). */
export const singularRtolFor = (n: number): number => 8 * Math.max(n, 1) * EPS;

/**
 * Is A ≻ 0? Equilibrate A → M = J A J with J = diag(2^−round(log2(A_ii)/2)) (exact, invariant up to
 * a factor 2 under A → ΛAΛ), then eigendecompose M: positive definite iff λ_min(M) > rtol·λ_max(M).
 */
export function analyseSpd(a: readonly (readonly number[])[], rtol: number = singularRtolFor(a.length)): SpdAnalysis {
  const n = a.length;
  for (let i = 0; i < n; i++) {
    if (a[i]![i]! < 0) return { kind: "not-positive-definite", direction: unit(n, i) };
  }
  for (let i = 0; i < n; i++) {
    if (a[i]![i]! !== 0) continue;
    const row = a[i]!;
    const j = row.findIndex((x, k) => k !== i && x !== 0);
    if (j < 0) return { kind: "singular", direction: unit(n, i) };
    // 2×2 block [[0, x], [x, a_jj]] with a_jj ≥ 0 is indefinite: v = e_j − ((a_jj + |x|)/x) e_i.
    const x = row[j]!;
    const direction = new Array<number>(n).fill(0);
    direction[j] = 1;
    direction[i] = -(a[j]![j]! + Math.abs(x)) / x;
    return { kind: "not-positive-definite", direction };
  }
  const scale = a.map((row, i) => 2 ** -Math.round(Math.log2(row[i]!) / 2));
  const m = a.map((row, i) => row.map((x, j) => scale[i]! * x * scale[j]!));
  const eigen = symmetricEigen(m);
  const lmin = eigen.values[0]!;
  const lmax = eigen.values[n - 1]!;
  if (lmin > rtol * lmax) return { kind: "positive-definite", factor: { scale, eigen } };
  const direction = eigen.vectors[0]!.map((x, i) => x * scale[i]!);
  return { kind: lmin < -rtol * lmax ? "not-positive-definite" : "singular", direction };
}

/** x = A⁻¹ b = J U Σ⁻¹ Uᵀ J b for a factor from {@link analyseSpd}. */
export function spdSolve(f: SpdFactor, b: readonly number[]): number[] {
  const n = b.length;
  const jb = b.map((x, i) => x * f.scale[i]!);
  const z = new Array<number>(n).fill(0);
  for (let k = 0; k < n; k++) {
    const q = f.eigen.vectors[k]!;
    const coef = dot(q, jb) / f.eigen.values[k]!;
    for (let i = 0; i < n; i++) z[i]! += coef * q[i]!;
  }
  return z.map((x, i) => x * f.scale[i]!);
}

/** Σ x_i y_i. */
export function dot(x: readonly number[], y: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}

/** ‖x‖₂ without overflow or underflow. */
export function norm2(x: readonly number[]): number {
  let m = 0;
  for (const v of x) m = Math.max(m, Math.abs(v));
  if (m === 0 || !Number.isFinite(m)) return m;
  let s = 0;
  for (const v of x) s += (v / m) * (v / m);
  return m * Math.sqrt(s);
}

function unit(n: number, i: number): number[] {
  const e = new Array<number>(n).fill(0);
  e[i] = 1;
  return e;
}
