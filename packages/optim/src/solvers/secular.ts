/**
 * The scalar equation of the cubic problem: find the shift μ = c·r with ‖b/(κ + μ)‖ = μ/c.
 * @internal
 */
import { EPS, norm2 } from "./eigen";

/** Iteration cap of {@link solveSecular} (typically 5–40 iterations are used). */
export const SECULAR_MAX_ITERATIONS = 200;

/** Smallest positive normal float64; the search never goes into subnormals. */
const MIN_NORMAL = 2 ** -1022;

/**
 * The secular equation in the variable t > 0:  ‖b / (gaps + t)‖ = (t + shift)/c.
 * With K's eigenvalues κ (ascending) the solver passes either gaps = κ, shift = 0 (κ₁ > 0) or
 * gaps = κ − κ₁, shift = −κ₁ (κ₁ ≤ 0), so κ_i + μ = gaps_i + t and μ = t + shift are formed
 * without cancellation, even in near-hard cases where μ + κ₁ ≪ |κ₁|.
 */
export interface SecularProblem {
  /** gaps_i ≥ 0. */
  readonly gaps: readonly number[];
  readonly b: readonly number[];
  /** c = λ_int/2 > 0. */
  readonly c: number;
  /** shift ≥ 0; b ≠ 0 is required when shift = 0. */
  readonly shift: number;
}

/**
 * `interior`: the root t > 0. `boundary`: the hard case, no root with t > 0 because
 * ‖b/(gaps + 0)‖ ≤ shift/c with b vanishing wherever gaps = 0; then μ = shift.
 */
export type SecularSolution =
  | { readonly kind: "interior"; readonly t: number; readonly iterations: number }
  | { readonly kind: "boundary"; readonly iterations: number };

/**
 * Solve ‖b/(gaps + t)‖ = (t + shift)/c for t > 0 by Newton's method on the concave increasing
 * G(t) = 1/‖b/(gaps+t)‖ − c/(t+shift), safeguarded by a bracket [lo, hi] (G(lo) < 0 ≤ G(hi)) with
 * geometric bisection; at most {@link SECULAR_MAX_ITERATIONS} evaluations.
 */
export function solveSecular(p: SecularProblem): SecularSolution {
  const { gaps, b, c, shift } = p;
  if (shift > 0 && isHardCase(p)) return { kind: "boundary", iterations: 0 };

  // Upper bound: ‖b/(gaps+t)‖ ≤ ‖b‖/(a+t) ≤ (t+shift)/c once t ≥ 2c‖b‖/(a + √(a² + 4c‖b‖)).
  const bn = norm2(b);
  const a = shift > 0 ? shift : Math.min(...gaps);
  let t = (2 * c * bn) / (a + Math.hypot(a, 2 * Math.sqrt(c * bn)));
  if (!(t > 0)) t = Number.MIN_VALUE;

  let lo = 0;
  let hi = Number.POSITIVE_INFINITY;
  let halvings = 0;
  let iterations = 0;
  while (iterations < SECULAR_MAX_ITERATIONS) {
    iterations++;
    const { value, slope } = evaluate(p, t);
    if (value === 0) break;
    if (value < 0) lo = t;
    else hi = t;
    const newton = t - value / slope;
    if (Math.abs(newton - t) <= 4 * EPS * t) {
      t = newton; // converged: the Newton correction is at rounding level
      break;
    }
    let next = newton;
    if (!(next > lo && next < hi)) {
      if (hi === Number.POSITIVE_INFINITY) next = 2 * lo;
      else if (lo > 0) next = Math.sqrt(lo) * Math.sqrt(hi);
      else next = Math.max(hi * 2 ** -(2 ** Math.min(halvings++, 8)), MIN_NORMAL);
    }
    t = next;
    if (hi < Number.POSITIVE_INFINITY && hi - lo <= 4 * EPS * hi) break; // bracket at rounding level
  }
  return { kind: "interior", t, iterations };
}

/** b vanishes on gaps = 0 and ‖b/gaps‖ ≤ shift/c: the root sits on the boundary t = 0. */
function isHardCase({ gaps, b, c, shift }: SecularProblem): boolean {
  const y: number[] = [];
  for (let i = 0; i < b.length; i++) {
    const bi = b[i]!;
    if (bi === 0) continue;
    const gi = gaps[i]!;
    if (gi === 0) return false;
    y.push(bi / gi);
  }
  return c * norm2(y) <= shift;
}

/** G(t) = 1/φ(t) − c/(t+shift) and G'(t) = Σ (y_i/φ)² /(gaps_i+t) / φ + c/(t+shift)², y = b/(gaps+t). */
function evaluate({ gaps, b, c, shift }: SecularProblem, t: number): { value: number; slope: number } {
  const y = b.map((bi, i) => (bi === 0 ? 0 : bi / (gaps[i]! + t)));
  const phi = norm2(y);
  const mu = t + shift;
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    const yi = y[i]! / phi;
    if (yi !== 0) s += (yi * yi) / (gaps[i]! + t);
  }
  return { value: 1 / phi - c / mu, slope: s / phi + c / (mu * mu) };
}
