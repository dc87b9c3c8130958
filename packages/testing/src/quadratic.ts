/**
 * Convex quadratics on parameter pytrees, L(θ) = ½θᵀAθ − bᵀθ on the leaves flattened in order, with
 * their float64 minimiser: the test problems of the laws.
 */
import * as hd from "@hodiff/core";

/** A quadratic ½θᵀAθ − bᵀθ on n scalars (A symmetric positive definite, float64 numbers). @category quadratic */
export interface Quadratic {
  readonly a: readonly (readonly number[])[];
  readonly b: readonly number[];
}

/**
 * quadraticLoss: L(θ) = ½θᵀAθ − bᵀθ, θ the leaves of the tree flattened and concatenated in
 * flatten order (sizes must add up to A's order).
 * @example const loss = quadraticLoss({ a: [[2]], b: [1] }); loss({ w: hd.array([0.5]) }) // 2·¼/2 − ½
 * @category quadratic
 */
export function quadraticLoss(q: Quadratic): (params: unknown) => hd.Value {
  const n = q.b.length;
  return (params) => {
    const leaves = hd.treeLeaves(params as hd.Tree<hd.Value>) as hd.Value[];
    const theta = hd.concat(
      leaves.map((l) => hd.reshape(l, [hd.shapeOf(l).reduce((x, y) => x * y, 1)])),
      0,
    );
    const size = hd.shapeOf(theta)[0];
    if (size !== n) throw new hd.ShapeError(`quadraticLoss: the parameters have ${size} scalars, the quadratic ${n}`);
    const at = hd.reshape(hd.matmul(hd.array(q.a.map((r) => [...r])), hd.reshape(theta, [n, 1])), [n]);
    return hd.sub(hd.mul(0.5, hd.sum(hd.mul(theta, at))), hd.sum(hd.mul(hd.array([...q.b]), theta)));
  };
}

/** L(θ) in float64 for a flat θ. @category quadratic */
export function quadraticValue(q: Quadratic, theta: readonly number[]): number {
  let v = 0;
  q.a.forEach((row, i) => row.forEach((x, j) => (v += 0.5 * theta[i]! * x * theta[j]!)));
  return v - q.b.reduce((s, x, i) => s + x * theta[i]!, 0);
}

/** The minimiser A⁻¹b, by Gaussian elimination with partial pivoting in float64. @category quadratic */
export function quadraticMinimiser(q: Quadratic): number[] {
  const n = q.b.length;
  const m = q.a.map((row, i) => [...row, q.b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k <= n; k++) m[r]![k] = m[r]![k]! - f * m[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= m[r]![k]! * x[k]!;
    x[r] = s / m[r]![r]!;
  }
  return x;
}
