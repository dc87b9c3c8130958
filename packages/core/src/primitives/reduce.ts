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
