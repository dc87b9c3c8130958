/**
 * `jet`: Taylor-mode higher-order differentiation with the semantics of JAX's
 * `jax.experimental.jet`. The interpreter and its rule table are in `trace/jet.ts`.
 */
import { ArgumentError, ShapeError } from "../errors";
import { avalOf, formatAval, isValue, type Value } from "../trace/core";
import { jetMulti, type Term } from "../trace/jet";
import { flattenAs, treeFlatten, treePaths, treeUnflatten, type TreeDef } from "../tree";
import { scoped } from "../memory";
import { K } from "../kernels";
import { mul } from "../primitives/elementwise";
import { sameShape, zerosOf } from "../primitives/rules";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => any;

const argPath = (p: string): string => p.replace(/^args\.(\d+)/, "args[$1]");

function asValue(x: unknown, where: string): Value {
  if (isValue(x)) return x;
  if (typeof x === "number") return K.scalar(x, "float32");
  throw new ArgumentError(`jet: ${where} must be an array or a number, got ${x === null ? "null" : typeof x}`);
}

const factorial = (k: number): number => (k <= 1 ? 1 : k * factorial(k - 1));

/**
 * jet(f, primals, series) = [f(x₀), [y₁, …, y_K]] with y_k = dᵏ/dtᵏ f(x(t)) at t = 0 for the path
 * x(t) = x₀ + Σ_k x_k tᵏ / k! — JAX's convention: terms are derivatives along the path, not
 * Taylor coefficients (so the k-th Taylor coefficient is y_k / k!).
 *
 * `series[i]` is the list [x_1, …, x_K] for `primals[i]`; every list has the same length K. A term
 * may be a pytree shaped like its primal, a number for a scalar primal, or `null` for zero (an
 * extension over JAX: zero terms cost nothing). The result's series has the output's structure
 * with each leaf replaced by its list of K terms.
 * @example jet(exp, [x], [[1, 0, 0]]) // [eˣ, [eˣ, eˣ, eˣ]]
 */
export function jet<F extends Fn>(f: F, primals: unknown[], series: unknown[][]): [ReturnType<F>, unknown] {
  if (!Array.isArray(primals) || !Array.isArray(series) || primals.length !== series.length) {
    throw new ArgumentError(
      `jet: primals and series must be lists of the same length, got ${describeList(primals)} and ${describeList(series)}`,
    );
  }
  const orders = new Set(series.map((s) => (Array.isArray(s) ? s.length : -1)));
  if (orders.has(-1) || orders.size > 1) {
    throw new ArgumentError(
      `jet: series[i] must be lists of terms of one length for every argument, got lengths [${series
        .map((s) => (Array.isArray(s) ? s.length : "not a list"))
        .join(", ")}]`,
    );
  }
  const order = series.length === 0 ? 0 : series[0]!.length;
  return scoped(() => {
    const [pl, def] = treeFlatten(primals);
    const paths = treePaths(def, "args");
    const pv = pl.map((p, i) => asValue(p, argPath(paths[i]!)));
    // seriesPerLeaf[leaf][k]: normalised coefficient x_k / k!.
    const perLeaf: Term[][] = pv.map(() => []);
    for (let k = 0; k < order; k++) {
      const termTree = series.map((s) => s[k]);
      const leaves = termsAsLeaves(def, termTree, k);
      leaves.forEach((t, i) => {
        if (t === null) return perLeaf[i]!.push(null);
        const v = asValue(t, `series term ${k + 1} at ${argPath(paths[i]!)}`);
        const a = avalOf(v);
        const b = avalOf(pv[i]!);
        if (!sameShape(a.shape, b.shape)) {
          throw new ShapeError(
            `jet: term ${k + 1} of ${argPath(paths[i]!)} is ${formatAval(a)} but its primal is ${formatAval(b)}`,
          );
        }
        perLeaf[i]!.push(k === 0 ? v : mul(v, 1 / factorial(k + 1)));
      });
    }
    let outDef: TreeDef | undefined;
    const flatOut = jetMulti(
      (...xs: Value[]) => {
        const [ol, od] = treeFlatten(f(...(treeUnflatten(def, xs) as unknown[])));
        outDef = od;
        const opaths = treePaths(od, "out");
        return ol.map((o, i) => asValue(o, opaths[i]!));
      },
      pv,
      perLeaf,
      order,
    );
    const primalsOut = flatOut.map(([p]) => p);
    const seriesOut = flatOut.map(([p, ts]) =>
      ts.map((t, k) => (t === null ? zerosOf(avalOf(p)) : k === 0 ? t : mul(t, factorial(k + 1)))),
    );
    return [treeUnflatten(outDef!, primalsOut), treeUnflatten(outDef!, seriesOut)] as [ReturnType<F>, unknown];
  });
}

function describeList(x: unknown): string {
  return Array.isArray(x) ? `a list of length ${x.length}` : typeof x;
}

/** Leaves of the k-th terms of every argument, aligned with the primals' leaves (null = zero). */
function termsAsLeaves(def: TreeDef, termTree: unknown[], k: number): unknown[] {
  if (def.kind !== "array") throw new ArgumentError("jet: primals must be a list of arguments");
  return def.children.flatMap((child, i) => {
    const t = termTree[i];
    if (t === null) return new Array<null>(countLeaves(child)).fill(null);
    return flattenAs<unknown>(child, t, `jet: series[${i}][${k}]`, `series[${i}][${k}]`);
  });
}

const countLeaves = (def: TreeDef): number =>
  def.kind === "leaf" ? 1 : def.kind === "none" ? 0 : def.children.reduce((n, c) => n + countLeaves(c), 0);
