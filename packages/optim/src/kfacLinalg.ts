/**
 * Float64 linear algebra of K-FAC's inversions, on row-major `Float64Array`s: the damped inverse of a
 * symmetric positive semi-definite factor by Cholesky (`n³` flops, contiguous inner loops), and the
 * symmetric eigendecomposition (ml-matrix, for the `'eigen'` damping).
 * @internal
 */
import * as hd from "@hodiff/core";
import { symmetricEigen } from "./solvers/eigen";

/** Eigenvalues below this are set to 0 (alecwangcq's `eps`). @internal */
export const EIG_EPS = 1e-10;

/** The n×n matrix of a tensor, in float64. @internal */
export function toFloat64(m: hd.Value): { a: Float64Array; n: number } {
  const n = hd.shapeOf(m)[0]!;
  return { a: Float64Array.from(hd.toFlat(m)), n };
}

/** tr(A)/n. @internal */
export function meanDiagonal(a: Float64Array, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i]!;
  return t / n;
}

/**
 * (A + αI)⁻¹ for a symmetric A (its upper triangle is ignored): Cholesky `A + αI = LLᵀ`, then
 * `X = L⁻¹` and `(A + αI)⁻¹ = XᵀX`. Throws an ArgumentError when `A + αI` is not positive definite.
 * @internal
 */
export function dampedInverse(a: Float64Array, n: number, alpha: number, what: string): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]! + (i === j ? alpha : 0);
      const ri = i * n;
      const rj = j * n;
      for (let k = 0; k < j; k++) s -= L[ri + k]! * L[rj + k]!;
      if (i === j) {
        if (!(s > 0))
          throw new hd.ArgumentError(
            `scaleByKfac: the damped factor ${what} is not positive definite (pivot ${s}); use damping > 0`,
          );
        L[ri + i] = Math.sqrt(s);
      } else L[ri + j] = s / L[rj + j]!;
    }
  }
  // Xt[j][i] = X[i][j] with X = L⁻¹ (lower): X[i][j] = −(Σ_{k=j}^{i−1} L[i][k] X[k][j]) / L[i][i].
  const Xt = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    Xt[rj + j] = 1 / L[rj + j]!;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = 0;
      for (let k = j; k < i; k++) s += L[ri + k]! * Xt[rj + k]!;
      Xt[rj + i] = -s / L[ri + i]!;
    }
  }
  // (XᵀX)[p][q] = Σ_{k ≥ max(p, q)} X[k][p] X[k][q] = Σ_k Xt[p][k] Xt[q][k].
  const inv = new Float64Array(n * n);
  for (let p = 0; p < n; p++) {
    for (let q = 0; q <= p; q++) {
      let s = 0;
      const rp = p * n;
      const rq = q * n;
      for (let k = p; k < n; k++) s += Xt[rp + k]! * Xt[rq + k]!;
      inv[rp + q] = s;
      inv[rq + p] = s;
    }
  }
  return inv;
}

/** Eigenvectors (columns of Q, row-major) and eigenvalues (those ≤ EIG_EPS set to 0). @internal */
export function eigen(a: Float64Array, n: number): { Q: Float32Array; d: Float32Array; values: number[] } {
  const rows = Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * n, (i + 1) * n)));
  const { values, vectors } = symmetricEigen(rows);
  const clamped = values.map((v) => (v > EIG_EPS ? v : 0));
  const Q = new Float32Array(n * n);
  vectors.forEach((vec, k) => vec.forEach((x, i) => (Q[i * n + k] = x)));
  return { Q, d: Float32Array.from(clamped), values: clamped };
}
