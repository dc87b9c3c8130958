/**
 * Test fixtures of the optimizer tests: literal parameters and gradients, float64 reference
 * optimizers written from PyTorch's update rules, the optimizer table and the test problems.
 * @internal Not exported from the package.
 */
import * as hd from "@hodiff/core";
import { expect } from "vitest";
import { adam, momentum, sgd } from "./alias";
import type { GradientTransformation } from "./base";

/** Leaves as plain float64 arrays, in the flatten order of {@link PARAMS}. */
export type Flat = number[][];

/** Shapes and initial values of the literal parameter tree `{ w: [2, 2], b: [3] }`. */
export const PARAMS_FLAT: Flat = [
  [0.5, -1.2, 2.0, 0.3],
  [0.1, -0.4, 3.0],
];
export const makeParams = (flat: Flat = PARAMS_FLAT) => ({
  w: hd.array([flat[0]!.slice(0, 2), flat[0]!.slice(2, 4)]),
  b: hd.array(flat[1]!),
});
export type P = ReturnType<typeof makeParams>;

/** Gradient of step t (1-based): smooth, sign-changing, over three orders of magnitude. */
export const gradFlat = (t: number): Flat =>
  PARAMS_FLAT.map((leaf, l) => leaf.map((_, i) => Math.sin(1.3 * t + 0.7 * i + l) * 10 ** (i - 2)));

/** The leaves of a pytree as float64 arrays (a number leaf, such as a count, as [n]). */
export const flatOf = (tree: unknown): Flat =>
  hd
    .treeLeaves(tree as hd.Tree<hd.Value | number>)
    .map((x) => (typeof x === "number" ? [x] : Array.from(hd.toFlat(x))));

/** Expect two flat trees to agree within float32 tolerance. */
export function expectClose(got: Flat, want: Flat, rtol = 2e-5, atol = 1e-7): void {
  expect(got.length).toBe(want.length);
  got.forEach((leaf, l) =>
    leaf.forEach((x, i) => {
      const y = want[l]![i]!;
      if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y))) expect.fail(`leaf ${l}[${i}]: ${x} vs ${y} (want)`);
    }),
  );
}

/** A float64 reference optimizer: `step(g)` returns the update of one step. */
export interface Reference {
  step(g: Flat): Flat;
}

/** PyTorch SGD: u = −lr·g. */
export const sgdReference = (lr: number): Reference => ({ step: (g) => g.map((l) => l.map((x) => -lr * x)) });

/** PyTorch SGD with momentum, dampening 0: buf = g on the first step, then buf = μ·buf + g. */
export function momentumReference(lr: number, mu: number, nesterov = false): Reference {
  let buf: Flat | null = null;
  return {
    step: (g) => {
      buf = buf === null ? g.map((l) => [...l]) : buf.map((l, i) => l.map((b, j) => mu * b + g[i]![j]!));
      const b = buf;
      return g.map((l, i) => l.map((x, j) => -lr * (nesterov ? x + mu * b[i]![j]! : b[i]![j]!)));
    },
  };
}

/** PyTorch Adam (its arrangement: step_size = lr/bc1, denom = √v/√bc2 + ε). */
export function adamReference(lr: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): Reference {
  let t = 0;
  let m: Flat | null = null;
  let v: Flat | null = null;
  return {
    step: (g) => {
      t += 1;
      m = g.map((l, i) => l.map((x, j) => b1 * (m ? m[i]![j]! : 0) + (1 - b1) * x));
      v = g.map((l, i) => l.map((x, j) => b2 * (v ? v[i]![j]! : 0) + (1 - b2) * x * x));
      const stepSize = lr / (1 - b1 ** t);
      const sqrtBc2 = Math.sqrt(1 - b2 ** t);
      const mm = m;
      const vv = v;
      return g.map((l, i) => l.map((_, j) => (-stepSize * mm[i]![j]!) / (Math.sqrt(vv[i]![j]!) / sqrtBc2 + eps)));
    },
  };
}

/** The optimizers under test (optax's `_OPTIMIZERS_UNDER_TEST`): one learning rate for every problem. */
export const OPTIMIZERS_UNDER_TEST: ReadonlyArray<readonly [string, () => GradientTransformation<unknown>]> = [
  ["sgd", () => sgd(1e-3)],
  ["sgd (schedule)", () => sgd((t) => 1e-3 / (1 + 1e-3 * t))],
  ["momentum", () => momentum(1e-3, { momentum: 0.9 })],
  ["momentum (nesterov)", () => momentum(1e-3, { momentum: 0.9, nesterov: true })],
  ["adam", () => adam(5e-2)],
];

/** A test problem: a loss on a small pytree, its start and its minimiser. */
export interface Problem {
  readonly name: string;
  readonly init: () => { x: hd.Value };
  readonly loss: (p: { x: hd.Value }) => hd.Value;
  readonly optimum: number[];
}

/** optax's parabola: Σ(x − x*)², x₀ = (−1, 10, 1), x* = (1, −1, 1). */
export const parabola: Problem = {
  name: "parabola",
  init: () => ({ x: hd.array([-1, 10, 1]) }),
  loss: (p) => hd.sum(hd.square(hd.sub(p.x, hd.array([1, -1, 1])))),
  optimum: [1, -1, 1],
};

/** optax's Rosenbrock, a = 1, b = 100: (a − x)² + b(y − x²)², from (0, 0), minimum at (1, 1). */
export const rosenbrock: Problem = {
  name: "rosenbrock",
  init: () => ({ x: hd.array([0, 0]) }),
  loss: (p) => {
    const x = hd.slice(p.x, [0], [1]);
    const y = hd.slice(p.x, [1], [1]);
    return hd.sum(hd.add(hd.square(hd.sub(1, x)), hd.mul(100, hd.square(hd.sub(y, hd.square(x))))));
  },
  optimum: [1, 1],
};
