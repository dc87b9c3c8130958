/** Small float64 linear algebra for tests, independent of the solvers under test. */

/** Whether a symmetric matrix is positive definite: its Cholesky factorisation in float64 succeeds. */
export function isPositiveDefinite(m: readonly (readonly number[])[]): boolean {
  const n = m.length;
  const L = m.map(() => new Array<number>(n).fill(0));
  for (let j = 0; j < n; j++) {
    let d = m[j]![j]!;
    for (let k = 0; k < j; k++) d -= L[j]![k]! ** 2;
    if (!(d > 0)) return false;
    L[j]![j] = Math.sqrt(d);
    for (let i = j + 1; i < n; i++) {
      let v = m[i]![j]!;
      for (let k = 0; k < j; k++) v -= L[i]![k]! * L[j]![k]!;
      L[i]![j] = v / L[j]![j]!;
    }
  }
  return true;
}
