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
