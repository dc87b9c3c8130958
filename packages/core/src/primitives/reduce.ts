/** Reductions over a set of axes (the result drops them): sum and max. */
import { K } from "../kernels";
import { avalOf, bind, shapeError, type Aval, type BDim, type Primitive, type Value } from "../trace/core";
import { broadcastTo, reshape } from "./shape";
import { cast, div, equal, mul } from "./elementwise";

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

/** The shape of x with the reduced axes kept as size 1. */
const keptShape = (x: Value, axes: readonly number[]): number[] =>
  avalOf(x).shape.map((d, i) => (axes.includes(i) ? 1 : d));

function reduceVmap(prim: () => Primitive<ReduceParams>) {
  return ([x]: Value[], [d]: BDim[], { axes }: ReduceParams): [Value, BDim] => {
    const moved = axes.map((a) => (a < d! ? a : a + 1));
    const outDim = d! - moved.filter((a) => a < d!).length;
    return [bind(prim(), [x!], { axes: moved }), outDim];
  };
}

export const reduceSumP: Primitive<ReduceParams> = def({
  name: "sum",
  impl: ([x], { axes }) => K.sum(x!, [...axes]),
  shape: reduceShape("sum"),
  jvp: ([x], [dx], p) => [bind(reduceSumP, [x!], p), dx ? bind(reduceSumP, [dx], p) : null],
  vjp: (ct, [x], _o, { axes }) => [broadcastTo(reshape(ct, keptShape(x!, axes)), avalOf(x!).shape)],
  vmap: reduceVmap(() => reduceSumP),
});

/** Σ over `axes` (the axes are dropped). */
export function reduceSum(x: Value, axes: readonly number[]): Value {
  if (axes.length === 0) return x;
  return bind(reduceSumP, [x], { axes: [...axes].sort((a, b) => a - b) });
}

/** Where x attains its max along `axes`, as 1/(number of ties) (so ties share the derivative). */
function maxWeights(x: Value, out: Value, axes: readonly number[]): Value {
  const mask = cast(equal(x, reshape(out, keptShape(x, axes))), "float32");
  return div(mask, reshape(reduceSum(mask, axes), keptShape(x, axes)));
}

export const reduceMaxP: Primitive<ReduceParams> = def({
  name: "max",
  impl: ([x], { axes }) => K.max(x!, [...axes]),
  shape: reduceShape("max"),
  jvp: ([x], [dx], p) => {
    const out = bind(reduceMaxP, [x!], p);
    return [out, reduceSum(mul(dx!, maxWeights(x!, out, p.axes)), p.axes)];
  },
  vjp: (ct, [x], out, { axes }) => [mul(maxWeights(x!, out, axes), reshape(ct, keptShape(x!, axes)))],
  vmap: reduceVmap(() => reduceMaxP),
});

/** max over `axes` (the axes are dropped). */
export function reduceMax(x: Value, axes: readonly number[]): Value {
  if (axes.length === 0) return x;
  return bind(reduceMaxP, [x], { axes: [...axes].sort((a, b) => a - b) });
}
