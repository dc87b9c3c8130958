/**
 * Theorem F.1 (MATH.md "Convergence heuristic", paper App. F): on L(θ) = ½θᵀAθ with A positive
 * definite and block diagonal, the partition aligned with the blocks, u = ∇L, no cubic term (and
 * period 1, window 1, no warm-up, λ = 1), the loss contracts at every step by at most
 * max_s ((κ_s − 1)/(κ_s + 1))², and the bound is attained from steepest descent's worst start.
 */
import * as hd from "@hodiff/core";
import { describe, expect, it } from "vitest";
import { applyUpdates, newtonSummary, newtonSummaryInfo } from "./index";

/** Eigenvalues of the blocks x, y, z (κ = 4, 9, 2.5; rates 0.36, 0.64, 0.18). */
const EIGS = [
  [1, 2, 4],
  [0.5, 4.5],
  [2, 3, 5],
];
const KEYS = ["x", "y", "z"] as const;
type Theta = Record<(typeof KEYS)[number], hd.Value>;

/** A deterministic orthogonal n×n matrix (Gram–Schmidt on a fixed sequence); its columns are eigenvectors. */
function orthogonal(n: number, seed: number): number[][] {
  const cols: number[][] = [];
  for (let j = 0; j < n; j++) {
    let v = Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + (i + 1) * 78.233 * (j + 1)));
    for (const c of cols) {
      const d = c.reduce((a, x, i) => a + x * v[i]!, 0);
      v = v.map((x, i) => x - d * c[i]!);
    }
    const norm = Math.hypot(...v);
    cols.push(v.map((x) => x / norm));
  }
  return cols;
}

const Q = EIGS.map((e, s) => orthogonal(e.length, s + 1));
// A_s = Q diag(e) Qᵀ, rounded to float32 once so that the model and the float64 check share it.
const A = EIGS.map((e, s) =>
  e.map((_, i) => e.map((_, j) => Math.fround(e.reduce((a, l, k) => a + Q[s]![k]![i]! * l * Q[s]![k]![j]!, 0)))),
);
const RATES = EIGS.map((e) => ((e.at(-1)! / e[0]! - 1) / (e.at(-1)! / e[0]! + 1)) ** 2);
const RATE = Math.max(...RATES); // 0.64

const loss = (p: Theta) =>
  KEYS.map((k, s) =>
    hd.mul(0.5, hd.sum(hd.mul(p[k], hd.reshape(hd.matmul(hd.array(A[s]!), hd.reshape(p[k], [-1, 1])), [-1])))),
  ).reduce((a, b) => hd.add(a, b));
/** The loss of each block in float64, from the float32 parameters. */
const blockLosses64 = (p: Theta) =>
  KEYS.map((k, s) => {
    const v = Array.from(hd.toFlat(p[k]));
    return 0.5 * v.reduce((a, x, i) => a + x * A[s]![i]!.reduce((b, y, j) => b + y * v[j]!, 0), 0);
  });
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Per-step loss ratios L(θ_{t+1}) / L(θ_t) over `steps` steps from θ₀ (one vector per block), and those of each block. */
function ratios(theta0: number[][], steps: number): { total: number[]; blocks: number[][] } {
  const opt = newtonSummary({ learningRate: 1, momentum: 0, cubic: false, period: 1, window: 1, warmup: 0 });
  let params = Object.fromEntries(KEYS.map((k, s) => [k, hd.array(theta0[s]!)])) as Theta;
  let state = opt.init(params);
  let prev = blockLosses64(params);
  const total: number[] = [];
  const blocks: number[][] = [];
  for (let t = 0; t < steps; t++) {
    const grads = hd.grad(loss)(params);
    const r = opt.update(state, params, grads, { loss });
    const next = applyUpdates(params, r.updates);
    hd.dispose([grads, r.updates, params, state]);
    params = next;
    state = r.state;
    expect(newtonSummaryInfo(state).lastSolve).toMatchObject({ kind: "ok", case: "linear" });
    const l = blockLosses64(params);
    total.push(sum(l) / sum(prev));
    blocks.push(l.map((x, s) => x / prev[s]!));
    prev = l;
  }
  hd.dispose([params, state]);
  return { total, blocks };
}

describe("Theorem F.1: linear convergence on a block-diagonal quadratic, partition aligned with the blocks", () => {
  it("the loss ratio of every step is at most max_s ((κ_s − 1)/(κ_s + 1))² from random starts", () => {
    for (const seed of [1, 2, 3]) {
      const theta0 = EIGS.map((e, s) => e.map((_, i) => Math.cos(seed * 3.7 + s * 1.3 + i * 2.1) * (1 + s)));
      const rs = ratios(theta0, 10).total;
      rs.forEach((r) => expect(r).toBeLessThanOrEqual(RATE * (1 + 1e-4)));
      expect(Math.max(...rs)).toBeGreaterThan(0.1); // not trivially converged
    }
  });

  it("reaches the bound from the worst start: in each block, e_min/λ_min + e_max/λ_max (the gradient weighs both equally)", () => {
    // Q[s][k] is the eigenvector of EIGS[s][k]; the gradient A_s θ_s = e_min + e_max.
    const theta0 = EIGS.map((e, s) =>
      Q[s]![0]!.map((_, i) => Q[s]![0]![i]! / e[0]! + Q[s]![e.length - 1]![i]! / e.at(-1)!),
    );
    const { total, blocks } = ratios(theta0, 20);
    total.forEach((r) => expect(r).toBeLessThanOrEqual(RATE * (1 + 1e-4)));
    // Each block contracts at exactly its own worst rate at every step (steepest descent's 2-cycle)…
    blocks.forEach((bs) => bs.forEach((r, s) => expect(Math.abs(r - RATES[s]!)).toBeLessThan(1e-4 * RATES[s]!)));
    // …so the total ratio tends to the largest one, the bound (0.64).
    total.slice(-3).forEach((r) => expect(Math.abs(r - RATE)).toBeLessThan(1e-3 * RATE));
  });
});
