/**
 * Numerical checks of derivatives, after JAX's `check_grads`: the JVP against central finite
 * differences along a random direction, the VJP by the inner-product test ⟨ct, J·v⟩ = ⟨Jᵀ·ct, v⟩
 * (J·v again by finite differences), and higher orders by recursion on the derivative function.
 */
import type { Tensor } from "../kernels";
import { jvp, vjp } from "../transforms/api";
import { treeFlatten, treeUnflatten } from "../tree";
import { avalOf, type Value } from "../trace/core";
import * as random from "../random";
import { add, mul } from "../primitives/elementwise";
import { scoped } from "../memory";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => any;

export interface CheckGradsOptions {
  /** Highest derivative order to check (default 1). */
  order?: number;
  /** "fwd" checks jvp, "rev" checks vjp (default both). */
  modes?: ReadonlyArray<"fwd" | "rev">;
  /** Finite-difference step (default 1e-2: float32 needs a large one). */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Seed of the random directions. */
  seed?: number;
}

const flat = (tree: unknown): Float64Array[] =>
  (treeFlatten(tree)[0] as Value[]).map((v) => Float64Array.from((v as Tensor).dataSync()));

const dot = (a: Float64Array[], b: Float64Array[]) =>
  a.reduce((s, x, i) => s + x.reduce((t, xv, j) => t + xv * b[i]![j]!, 0), 0);

/** Random tree shaped like `tree` (float leaves), from `key`. */
function randomLike(tree: unknown, key: random.Key): unknown {
  const [leaves, def] = treeFlatten(tree);
  const keys = random.split(key, Math.max(leaves.length, 1));
  return treeUnflatten(
    def,
    (leaves as Value[]).map((l, i) => random.normal(keys[i]!, avalOf(l).shape)),
  );
}

function assertClose(what: string, got: Float64Array[], want: Float64Array[], atol: number, rtol: number): void {
  got.forEach((g, i) => {
    g.forEach((x, j) => {
      const w = want[i]![j]!;
      if (!(Math.abs(x - w) <= atol + rtol * Math.abs(w))) {
        throw new Error(
          `checkGrads: ${what} mismatch at output leaf ${i}, element ${j}: got ${x}, expected ${w} (atol ${atol}, rtol ${rtol})`,
        );
      }
    });
  });
}

/** f(x + ε·v) − f(x − ε·v) over 2ε, for every output leaf. */
function centralDifference(f: Fn, args: unknown[], dirs: unknown[], eps: number): Float64Array[] {
  const shifted = (s: number) =>
    flat(
      f(
        ...args.map((a, i) =>
          treeUnflatten(
            treeFlatten(a)[1],
            (treeFlatten(a)[0] as Value[]).map((l, j) => add(l, mul(treeFlatten(dirs[i])[0][j] as Value, s * eps))),
          ),
        ),
      ),
    );
  const plus = shifted(1);
  const minus = shifted(-1);
  return plus.map((p, i) => p.map((x, j) => (x - minus[i]![j]!) / (2 * eps)));
}

/**
 * Throws if f's derivatives up to `order` disagree with finite differences.
 * @example checkGrads((x) => sum(tanh(x)), [array([0.1, 0.2])], { order: 2 })
 */
export function checkGrads(f: Fn, args: unknown[], options: CheckGradsOptions = {}): void {
  const { order = 1, modes = ["fwd", "rev"], eps = 1e-2, atol = 2e-3, rtol = 2e-3 } = options;
  let key = random.key(options.seed ?? 0);
  scoped(() => {
    for (let k = 1; k <= order; k++) {
      const [k1, k2, k3] = random.split(key, 3) as [random.Key, random.Key, random.Key];
      key = k3;
      const dirs = args.map((a) => randomLike(a, k1));
      const fd = centralDifference(f, args, dirs, eps);
      if (modes.includes("fwd")) {
        const [, tangent] = jvp(f, args, dirs);
        assertClose(`order ${k} jvp`, flat(tangent), fd, atol, rtol);
      }
      if (modes.includes("rev")) {
        const [out, pullback] = vjp(f, ...args);
        const ct = randomLike(out, k2);
        const cts = pullback(ct) as unknown[];
        const lhs = dot(flat(ct), fd);
        const rhs = dot(flat(cts), flat(dirs));
        assertClose(`order ${k} vjp (inner product)`, [Float64Array.of(rhs)], [Float64Array.of(lhs)], atol * 10, rtol);
      }
      if (k < order) {
        // Next order: differentiate the directional derivative itself.
        const inner = f;
        const fixed = dirs;
        f = (...xs: unknown[]) => jvp(inner, xs, fixed)[1];
      }
    }
    return [];
  });
}
