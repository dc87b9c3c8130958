/** Reductions over a set of axes (the result drops them): sum and max. */
import { K } from "../kernels";
import { bind, shapeError, type Aval, type Primitive, type Value } from "../trace/core";

const def = <P>(p: Primitive<P>): Primitive<P> => p;

export interface ReduceParams {
  readonly axes: readonly number[];
}

function reduceShape(op: string) {
  return ([x]: Aval[], { axes }: ReduceParams): Aval => {
    const r = x!.shape.length;
    if (axes.some((a) => !Number.isInteger(a) || a < 0 || a >= r) || new Set(axes).size !== axes.length) {
      shapeError(op, `axes [${axes.join(",")}] are not distinct axes of ${x!.dtype}[${x!.shape.join(",")}]`);
    }
    return { shape: x!.shape.filter((_, i) => !axes.includes(i)), dtype: x!.dtype };
  };
}

export const reduceSumP: Primitive<ReduceParams> = def({
  name: "sum",
  impl: ([x], { axes }) => K.sum(x!, [...axes]),
  abstractEval: reduceShape("sum"),
  linear: true,
});

/** Σ over `axes` (the axes are dropped). */
export function reduceSum(x: Value, axes: readonly number[]): Value {
  if (axes.length === 0) return x;
  return bind(reduceSumP, [x], { axes: [...axes].sort((a, b) => a - b) });
}

export const reduceMaxP: Primitive<ReduceParams> = def({
  name: "max",
  impl: ([x], { axes }) => K.max(x!, [...axes]),
  abstractEval: reduceShape("max"),
});

/** max over `axes` (the axes are dropped). */
export function reduceMax(x: Value, axes: readonly number[]): Value {
  if (axes.length === 0) return x;
  return bind(reduceMaxP, [x], { axes: [...axes].sort((a, b) => a - b) });
}

/**
 * The derivative of m = max of x over `axes`, applied to t (m and t have m's shape): w ⊙ t[kept]
 * with w = (x == m) / #ties along the axes, so ties share t equally (as JAX) — reduce-max's VJP
 * (max pooling's gradient) as one kernel. Linear in t; piecewise constant, so of zero derivative
 * almost everywhere, in x and m. Its rules are in the interpreters' tables (`rules/`).
 */
export const maxScatterP: Primitive<ReduceParams> = def({
  name: "maxScatter",
  impl: ([x, m, t], { axes }) => K.maxScatter(x!, m!, t!, [...axes]),
  abstractEval: ([x, m, t], { axes }) => {
    const kept = reduceShape("maxScatter")([x!], { axes });
    for (const [name, a] of [
      ["m", m!],
      ["t", t!],
    ] as const) {
      if (
        a.dtype !== "float32" ||
        a.shape.length !== kept.shape.length ||
        a.shape.some((d, i) => d !== kept.shape[i])
      ) {
        shapeError(
          "maxScatter",
          `'${name}' must be float32[${kept.shape.join(",")}] (x ${x!.dtype}[${x!.shape.join(",")}] without axes [${axes.join(",")}]), got ${a.dtype}[${a.shape.join(",")}]`,
        );
      }
    }
    if (x!.dtype !== "float32") shapeError("maxScatter", `'x' must be float32, got ${x!.dtype}[${x!.shape.join(",")}]`);
    return x!;
  },
});

/** w ⊙ t spread over x's shape, w = (x == m)/#ties along `axes`: t through m = max of x over the axes. */
export function maxScatter(x: Value, m: Value, t: Value, axes: readonly number[]): Value {
  return bind(maxScatterP, [x, m, t], { axes: [...axes].sort((a, b) => a - b) });
}

/**
 * Σ over `axes` of s ⊙ w with w = (x == m)/#ties (s of x's shape, m of the max's): reduce-max's
 * JVP, the transpose of `maxScatter` in its last argument. Linear in s; zero derivative almost
 * everywhere in x and m.
 */
export const maxGatherP: Primitive<ReduceParams> = def({
  name: "maxGather",
  impl: ([x, m, s], { axes }) => K.maxGather(x!, m!, s!, [...axes]),
  abstractEval: ([x, m, s], { axes }) => {
    const kept = reduceShape("maxGather")([x!], { axes });
    const same = (a: Aval, shape: readonly number[]) =>
      a.dtype === "float32" && a.shape.length === shape.length && a.shape.every((d, i) => d === shape[i]);
    if (x!.dtype !== "float32") shapeError("maxGather", `'x' must be float32, got ${x!.dtype}[${x!.shape.join(",")}]`);
    if (!same(m!, kept.shape)) {
      shapeError("maxGather", `'m' must be float32[${kept.shape.join(",")}], got ${m!.dtype}[${m!.shape.join(",")}]`);
    }
    if (!same(s!, x!.shape)) {
      shapeError(
        "maxGather",
        `'s' must be float32[${x!.shape.join(",")}] like x, got ${s!.dtype}[${s!.shape.join(",")}]`,
      );
    }
    return kept;
  },
});

/** Σ over `axes` of s·(x == m)/#ties: the tangent s through m = max of x over the axes. */
export function maxGather(x: Value, m: Value, s: Value, axes: readonly number[]): Value {
  return bind(maxGatherP, [x, m, s], { axes: [...axes].sort((a, b) => a - b) });
}
