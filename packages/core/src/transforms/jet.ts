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

function asValue(op: string, x: unknown, where: string): Value {
  if (isValue(x)) return x;
  if (typeof x === "number") return K.scalar(x, "float32");
  throw new ArgumentError(`${op}: ${where} must be an array or a number, got ${x === null ? "null" : typeof x}`);
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
  const [out, [seriesOut]] = jetImpl("jet", f, primals, [series]);
  return [out as ReturnType<F>, seriesOut];
}

/**
 * multiJet(f, primals, paths) = [f(x₀), [series along path 1, …]]: `jet` along several paths
 * through one primal pass — the primal of every op is computed once, and each path carries only
 * its own terms, so a path whose terms are zero up to some op costs nothing before it. Like
 * vmap over paths of jet, with symbolic zeros per path. `paths[c]` is a `series` argument as in
 * `jet`; every path has the same order K.
 * @example multiJet(f, [w, b], [[[v, null], [null, null]], [[null, null], [u, null]]]) // w moves, then b
 */
export function multiJet<F extends Fn>(f: F, primals: unknown[], paths: unknown[][][]): [ReturnType<F>, unknown[]] {
  if (!Array.isArray(paths) || paths.length === 0) {
    throw new ArgumentError(`multiJet: paths must be a non-empty list of series, got ${describeList(paths)}`);
  }
  return jetImpl("multiJet", f, primals, paths) as [ReturnType<F>, unknown[]];
}

function jetImpl(op: string, f: Fn, primals: unknown[], paths: unknown[][][]): [unknown, unknown[]] {
  let order = -1;
  for (const series of paths) {
    if (!Array.isArray(primals) || !Array.isArray(series) || primals.length !== series.length) {
      throw new ArgumentError(
        `${op}: primals and series must be lists of the same length, got ${describeList(primals)} and ${describeList(series)}`,
      );
    }
    const orders = new Set(series.map((s) => (Array.isArray(s) ? s.length : -1)));
    if (order >= 0 && series.length > 0) orders.add(order);
    if (orders.has(-1) || orders.size > 1) {
      throw new ArgumentError(
        `${op}: series[i] must be lists of terms of one length for every argument${paths.length > 1 ? " and path" : ""}, got lengths [${series
          .map((s) => (Array.isArray(s) ? s.length : "not a list"))
          .join(", ")}]`,
      );
    }
    if (series.length > 0) order = series[0]!.length;
  }
  const K = Math.max(order, 0);
  return scoped(() => {
    const [pl, def] = treeFlatten(primals);
    const argPaths = treePaths(def, "args");
    const pv = pl.map((p, i) => asValue(op, p, argPath(argPaths[i]!)));
    // perLeaf[leaf][path][k]: normalised coefficient x_{k+1} / (k+1)!.
    const perLeaf: Term[][][] = pv.map(() => paths.map(() => []));
    paths.forEach((series, c) => {
      for (let k = 0; k < K; k++) {
        const leaves = termsAsLeaves(
          op,
          def,
          series.map((s) => s[k]),
          k,
        );
        leaves.forEach((t, i) => {
          const row = perLeaf[i]![c]!;
          if (t === null) return row.push(null);
          const v = asValue(op, t, `series term ${k + 1} at ${argPath(argPaths[i]!)}`);
          const a = avalOf(v);
          const b = avalOf(pv[i]!);
          if (!sameShape(a.shape, b.shape)) {
            throw new ShapeError(
              `${op}: term ${k + 1} of ${argPath(argPaths[i]!)} is ${formatAval(a)} but its primal is ${formatAval(b)}`,
            );
          }
          row.push(k === 0 ? v : mul(v, 1 / factorial(k + 1)));
        });
      }
    });
    let outDef: TreeDef | undefined;
    const flatOut = jetMulti(
      (...xs: Value[]) => {
        const [ol, od] = treeFlatten(f(...(treeUnflatten(def, xs) as unknown[])));
        outDef = od;
        const opaths = treePaths(od, "out");
        return ol.map((o, i) => asValue(op, o, opaths[i]!));
      },
      pv,
      perLeaf,
      K,
      paths.length,
    );
    const primalsOut = flatOut.map(([p]) => p);
    const seriesOut = paths.map((_, c) =>
      treeUnflatten(
        outDef!,
        flatOut.map(([p, rows]) =>
          rows[c]!.map((t, k) => (t === null ? zerosOf(avalOf(p)) : k === 0 ? t : mul(t, factorial(k + 1)))),
        ),
      ),
    );
    return [treeUnflatten(outDef!, primalsOut), seriesOut];
  });
}

function describeList(x: unknown): string {
  return Array.isArray(x) ? `a list of length ${x.length}` : typeof x;
}

/** Leaves of the k-th terms of every argument, aligned with the primals' leaves (null = zero). */
function termsAsLeaves(op: string, def: TreeDef, termTree: unknown[], k: number): unknown[] {
  if (def.kind !== "array") throw new ArgumentError(`${op}: primals must be a list of arguments`);
  return def.children.flatMap((child, i) => {
    const t = termTree[i];
    if (t === null) return new Array<null>(countLeaves(child)).fill(null);
    return flattenAs<unknown>(child, t, `${op}: series[${i}][${k}]`, `series[${i}][${k}]`);
  });
}

const countLeaves = (def: TreeDef): number =>
  def.kind === "leaf" ? 1 : def.kind === "none" ? 0 : def.children.reduce((n, c) => n + countLeaves(c), 0);
