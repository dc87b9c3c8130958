/**
 * Test helpers for the solver tests: a seeded PRNG, instance generators and small dense linear
 * algebra written independently of the solvers (Gaussian elimination, Cholesky).
 * @internal Not exported from the package.
 */

/** mulberry32: a small seeded PRNG with uniform floats in [0, 1). */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** 10^uniform(lo, hi). */
  logUniform(lo: number, hi: number): number {
    return 10 ** this.uniform(lo, hi);
  }
  sign(): number {
    return this.next() < 0.5 ? -1 : 1;
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  shuffle<T>(xs: T[]): T[] {
    const out = xs.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

export type Mat = number[][];

export const zeros = (n: number, m = n): Mat => Array.from({ length: n }, () => new Array<number>(m).fill(0));
export const eye = (n: number): Mat => zeros(n).map((row, i) => row.map((_, j) => (i === j ? 1 : 0)));
export const transpose = (a: Mat): Mat => a[0]!.map((_, j) => a.map((row) => row[j]!));
export const matmul = (a: Mat, b: Mat): Mat =>
  a.map((row) => b[0]!.map((_, j) => row.reduce((s, x, k) => s + x * b[k]![j]!, 0)));
export const matvec = (a: Mat, x: readonly number[]): number[] =>
  a.map((row) => row.reduce((s, v, j) => s + v * x[j]!, 0));
export const dotv = (x: readonly number[], y: readonly number[]): number => x.reduce((s, v, i) => s + v * y[i]!, 0);
export const normv = (x: readonly number[]): number => Math.sqrt(dotv(x, x));
export const frob = (a: Mat): number => Math.sqrt(a.reduce((s, row) => s + dotv(row, row), 0));
/** diag(p) A diag(q). */
export const scaleMat = (a: Mat, p: readonly number[], q: readonly number[] = p): Mat =>
  a.map((row, i) => row.map((v, j) => p[i]! * v * q[j]!));

/** A random orthogonal matrix (modified Gram–Schmidt on a Gaussian matrix). */
export function randomOrthogonal(rng: Rng, n: number): Mat {
  const cols: number[][] = [];
  while (cols.length < n) {
    let v = Array.from({ length: n }, () => rng.normal());
    for (let pass = 0; pass < 2; pass++) {
      for (const q of cols) {
        const p = dotv(q, v);
        v = v.map((x, i) => x - p * q[i]!);
      }
    }
    const nv = normv(v);
    if (nv > 1e-8) cols.push(v.map((x) => x / nv));
  }
  return transpose(cols); // columns are the orthonormal vectors
}

/** Q diag(λ) Qᵀ, exactly symmetric. */
export function fromEigen(q: Mat, lambda: readonly number[]): Mat {
  const n = lambda.length;
  const out = zeros(n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i]![k]! * lambda[k]! * q[j]![k]!;
      out[i]![j] = s;
      out[j]![i] = s;
    }
  }
  return out;
}

/** Solve A x = b by Gaussian elimination with partial pivoting; null when (numerically) singular. */
export function gaussSolve(a: Mat, b: readonly number[]): number[] | null {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  let amax = 0;
  for (const row of a) for (const v of row) amax = Math.max(amax, Math.abs(v));
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i]![k]!) > Math.abs(m[p]![k]!)) p = i;
    if (!(Math.abs(m[p]![k]!) > 1e-13 * amax)) return null;
    [m[k], m[p]] = [m[p]!, m[k]!];
    const rk = m[k]!;
    for (let i = k + 1; i < n; i++) {
      const ri = m[i]!;
      const f = ri[k]! / rk[k]!;
      if (f !== 0) for (let j = k; j <= n; j++) ri[j] = ri[j]! - f * rk[j]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    const ri = m[i]!;
    let s = ri[n]!;
    for (let j = i + 1; j < n; j++) s -= ri[j]! * x[j]!;
    x[i] = s / ri[i]!;
  }
  return x;
}

/** Does a symmetric A admit a Cholesky factorisation (A ≻ 0)? */
export function isCholeskyPd(a: Mat): boolean {
  const n = a.length;
  const l = zeros(n);
  for (let j = 0; j < n; j++) {
    let s = a[j]![j]!;
    for (let k = 0; k < j; k++) s -= l[j]![k]! ** 2;
    if (!(s > 0)) return false;
    const ljj = Math.sqrt(s);
    l[j]![j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let t = a[i]![j]!;
      for (let k = 0; k < j; k++) t -= l[i]![k]! * l[j]![k]!;
      l[i]![j] = t / ljj;
    }
  }
  return true;
}

/** T(η) = −ḡᵀη + ½ηᵀH̄η + (λ/6)‖Dη‖³, written out independently of the solvers, plus Σ|terms| for tolerances. */
export function modelValue(
  h: Mat,
  g: readonly number[],
  d: readonly number[],
  lambda: number,
  eta: readonly number[],
): { value: number; magnitude: number } {
  let lin = 0;
  let linAbs = 0;
  let quad = 0;
  let quadAbs = 0;
  let r2 = 0;
  for (let i = 0; i < eta.length; i++) {
    lin += g[i]! * eta[i]!;
    linAbs += Math.abs(g[i]! * eta[i]!);
    r2 += (d[i]! * eta[i]!) ** 2;
    for (let j = 0; j < eta.length; j++) {
      const v = eta[i]! * h[i]![j]! * eta[j]!;
      quad += v;
      quadAbs += Math.abs(v);
    }
  }
  const cubic = (lambda / 6) * r2 ** 1.5;
  return { value: -lin + 0.5 * quad + cubic, magnitude: linAbs + 0.5 * quadAbs + cubic };
}
