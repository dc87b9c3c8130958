/** Shared pieces of primitive rules: broadcasting, batch-dim moves, rule builders. */
import { avalOf, bind, shapeError, type Aval, type BDim, type Primitive, type Value } from "../trace/core";
import { K } from "../kernels";
import type { DType } from "../kernels";
import { reshape, broadcastTo, transpose } from "./shape";
import { reduceSum } from "./reduce";

import { broadcastShapes, sameShape, sizeOf } from "../shapes";

export { broadcastShapes, sameShape, sizeOf };

/** Sum `ct` down to `shape`: the transpose of numpy broadcasting. */
export function unbroadcast(ct: Value, shape: readonly number[]): Value {
  const cs = avalOf(ct).shape;
  if (sameShape(cs, shape)) return ct;
  const lead = cs.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < cs.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && cs[i] !== 1)) axes.push(i);
  }
  const summed = axes.length ? reduceSum(ct, axes) : ct;
  return reshape(summed, [...shape]);
}

/** Broadcast a tangent to the output shape when an input was broadcast. */
export function broadcastTangent(t: Value, shape: readonly number[]): Value {
  return sameShape(avalOf(t).shape, shape) ? t : broadcastTo(t, [...shape]);
}

/** Move axis `from` of x to position `to`. */
export function moveaxis(x: Value, from: number, to: number): Value {
  const r = avalOf(x).shape.length;
  if (from === to) return x;
  const perm = [...Array(r).keys()].filter((i) => i !== from);
  perm.splice(to, 0, from);
  return transpose(x, perm);
}

/** Bring a batch dim to the front, or broadcast an unbatched value to `size` there. */
export function batchToFront(x: Value, d: BDim, size: number): Value {
  if (d !== null) return moveaxis(x, d, 0);
  const s = avalOf(x).shape;
  return broadcastTo(reshape(x, [1, ...s]), [size, ...s]);
}

export const zerosOf = (a: Aval): Value => K.zeros([...a.shape], a.dtype);

export const isFloat = (dtype: DType): boolean => dtype === "float32";

/** vmap for an elementwise primitive of any arity with numpy broadcasting: batch at axis 0. */
export function elementwiseVmap<P>(prim: () => Primitive<P>) {
  return (args: Value[], dims: BDim[], params: P): [Value, BDim] => {
    if (args.length === 1) return [bind(prim(), args, params), dims[0]!];
    const ranks = args.map((a, i) => avalOf(a).shape.length - (dims[i] === null ? 0 : 1));
    const rank = Math.max(...ranks);
    const moved = args.map((a, i) => {
      const d = dims[i];
      if (d === null || d === undefined) return a;
      const front = moveaxis(a, d, 0);
      if (ranks[i]! === rank) return front;
      const s = avalOf(front).shape;
      return reshape(front, [s[0]!, ...new Array(rank - ranks[i]!).fill(1), ...s.slice(1)]);
    });
    return [bind(prim(), moved, params), 0];
  };
}

/** Map an axis of the unbatched value to the batched value with batch dim `d`. */
export const batchedAxis = (axis: number, d: number): number => (axis < d ? axis : axis + 1);

export function normalizeAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) {
    shapeError(op, `axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}
