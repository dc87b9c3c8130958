/**
 * The batching rule table: for each primitive, (batched args, their batch dims) ↦ (output, its
 * batch dim); `size` is the mapped axis size. At least one argument is batched. The interpreter
 * using this table is `trace/vmap.ts`.
 */
import { avalOf, bind, type AnyPrimitive, type BDim, type Primitive, type Value } from "../trace/core";
import { TraceError } from "../errors";
import { castP, equalP, greaterP, lessP, selectP, stopGradient, stopGradientP } from "../primitives/elementwise";
import { maxGatherP, maxScatterP, reduceMaxP, reduceSumP, type ReduceParams } from "../primitives/reduce";
import {
  broadcastTo,
  broadcastToP,
  concat,
  concatP,
  padP,
  reshape,
  reshapeP,
  reverseP,
  slice,
  sliceP,
  transposeP,
} from "../primitives/shape";
import { conv2dP, convFilterP, matmulP } from "../primitives/linalg";
import { batchedAxis, batchToFront, elementwiseVmap, moveaxis } from "../primitives/rules";
import { binaryPartials, unaryDerivatives } from "./derivatives";
import { logSoftmaxP } from "../primitives/softmax";

/** (args, batch dims, params, axis size) ↦ [output, its batch dim]. */
export type VmapRule<P> = (args: Value[], dims: BDim[], params: P, size: number) => [Value, BDim];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const table = new Map<AnyPrimitive, VmapRule<any>>();

/** Register (or replace) the batching rule of a primitive. */
export function defVmap<P>(prim: Primitive<P>, rule: VmapRule<P>): void {
  table.set(prim, rule);
}

/** Whether `prim` has a batching rule (composite primitives without one are decomposed). */
export const hasVmapRule = (prim: AnyPrimitive): boolean => table.has(prim);

/** The batching rule of `prim`; a TraceError when it has none. */
export function vmapRule<P>(prim: Primitive<P>): VmapRule<P> {
  const rule = table.get(prim);
  if (!rule) throw new TraceError(`vmap: primitive '${prim.name}' has no batching rule`);
  return rule;
}

const shapeOf = (x: Value) => avalOf(x).shape;

for (const prim of [...unaryDerivatives.keys(), ...binaryPartials.keys(), greaterP, lessP, equalP, selectP]) {
  defVmap(
    prim,
    elementwiseVmap(() => prim),
  );
}
defVmap(castP, ([x], [d], p) => [bind(castP, [x!], p), d!]);
defVmap(stopGradientP, ([x], [d]) => [stopGradient(x!), d!]);

function reduceVmap(prim: Primitive<ReduceParams>): VmapRule<ReduceParams> {
  return ([x], [d], { axes }) => {
    const moved = axes.map((a) => (a < d! ? a : a + 1));
    const outDim = d! - moved.filter((a) => a < d!).length;
    return [bind(prim, [x!], { axes: moved }), outDim];
  };
}
defVmap(reduceSumP, reduceVmap(reduceSumP));
defVmap(reduceMaxP, reduceVmap(reduceMaxP));
// All three at the front (an unbatched one broadcast), the reduced axes one further.
for (const prim of [maxScatterP, maxGatherP]) {
  defVmap(prim, (args, dims, { axes }, size) => [
    bind(
      prim,
      args.map((a, i) => batchToFront(a, dims[i] ?? null, size)),
      { axes: axes.map((a) => a + 1) },
    ),
    0,
  ]);
}

defVmap(reshapeP, ([x], [d], { shape }, size) => [reshape(batchToFront(x!, d!, size), [size, ...shape]), 0]);
defVmap(broadcastToP, ([x], [d], { shape }, size) => {
  const front = batchToFront(x!, d!, size);
  const s = shapeOf(front);
  const padded = reshape(front, [size, ...new Array(shape.length - (s.length - 1)).fill(1), ...s.slice(1)]);
  return [broadcastTo(padded, [size, ...shape]), 0];
});
defVmap(transposeP, ([x], [d], { perm }) => [
  bind(transposeP, [x!], { perm: [d!, ...perm.map((p) => batchedAxis(p, d!))] }),
  0,
]);
defVmap(sliceP, ([x], [d], { begin, size }, n) => {
  const b = [...begin];
  const z = [...size];
  b.splice(d!, 0, 0);
  z.splice(d!, 0, n);
  return [bind(sliceP, [x!], { begin: b, size: z }), d!];
});
defVmap(padP, ([x], [d], { paddings }) => {
  const p = [...paddings];
  p.splice(d!, 0, [0, 0]);
  return [bind(padP, [x!], { paddings: p }), d!];
});
defVmap(concatP, (xs, dims, { axis }, size) => [
  bind(
    concatP,
    xs.map((x, i) => batchToFront(x, dims[i]!, size)),
    { axis: axis + 1 },
  ),
  0,
]);
defVmap(reverseP, ([x], [d], { axes }) => [bind(reverseP, [x!], { axes: axes.map((a) => batchedAxis(a, d!)) }), d!]);

/**
 * A mapped operand's axis is folded into op(a)'s rows or op(b)'s columns, which is a reshape only
 * next to that axis: before the last two axes for rows of a plain a / columns of a transposed b,
 * between them for columns of a plain b / rows of a transposed a (op(a) = aᵀ: [k, B·m] is [B·m, k]ᵀ).
 */
defVmap(matmulP, ([a, b], dims, p) => {
  const da = dims[0] ?? null;
  const db = dims[1] ?? null;
  if (da !== null && db !== null) return [bind(matmulP, [moveaxis(a!, da, 0), moveaxis(b!, db, 0)], p), 0];
  const nb = shapeOf(da !== null ? b! : a!).length - 2; // batch rank (the unmapped operand's)
  // Whether the folded axis (rows of op(a), columns of op(b)) is the stored operand's last axis.
  const inner = da !== null ? p.transposeA === true : p.transposeB !== true;
  const xm = moveaxis(da !== null ? a! : b!, (da ?? db)!, nb + (inner ? 1 : 0));
  const s = shapeOf(xm);
  const [B, x, y] = (inner ? [s.at(-2), s.at(-3), s.at(-1)] : [s.at(-3), s.at(-2), s.at(-1)]) as number[];
  const folded = reshape(xm, inner ? [...s.slice(0, -3), x!, B! * y!] : [...s.slice(0, -3), B! * x!, y!]);
  const out = bind(matmulP, da !== null ? [folded, b!] : [a!, folded], p);
  const [rows, cols] = shapeOf(out).slice(-2) as [number, number];
  const pre = shapeOf(out).slice(0, -2);
  const unfolded = inner ? y! : x!; // m (a mapped) or n (b mapped)
  // out is [..., B·m, n] (a mapped) or [..., m, B·n] (b mapped).
  if (da !== null) return [reshape(out, [...pre, B!, unfolded, cols]), nb];
  return [reshape(out, [...pre, rows, B!, unfolded]), nb + 1];
});

/** prim(a_i, b_i; p) for each of the `size` elements of a rank-4 a and b mapped at da, db, stacked at axis 0. */
function perElement<P>(
  prim: Primitive<P>,
  a: Value,
  da: number,
  b: Value,
  db: number,
  p: P,
  size: number,
): [Value, number] {
  const am = moveaxis(a, da, 0);
  const bm = moveaxis(b, db, 0);
  const outs: Value[] = [];
  for (let i = 0; i < size; i++) {
    const ai = reshape(slice(am, [i, 0, 0, 0, 0], [1, -1, -1, -1, -1]), shapeOf(am).slice(1));
    const bi = reshape(slice(bm, [i, 0, 0, 0, 0], [1, -1, -1, -1, -1]), shapeOf(bm).slice(1));
    const o = bind(prim, [ai, bi], p);
    outs.push(reshape(o, [1, ...shapeOf(o)]));
  }
  return [concat(outs, 0), 0];
}

defVmap(conv2dP, ([x, w], dims, p, size) => {
  const dx = dims[0] ?? null;
  const dw = dims[1] ?? null;
  if (dx !== null && dw === null) {
    const xm = moveaxis(x!, dx, 0);
    const [B, n, ...rest] = shapeOf(xm) as [number, number, ...number[]];
    const out = bind(conv2dP, [reshape(xm, [B * n, ...rest]), w!], p);
    return [reshape(out, [B, n, ...shapeOf(out).slice(1)]), 0];
  }
  if (dx === null && dw !== null) {
    const wm = moveaxis(w!, dw, 3);
    const [kh, kw, c, B, o] = shapeOf(wm) as [number, number, number, number, number];
    const out = bind(conv2dP, [x!, reshape(wm, [kh, kw, c, B * o])], p);
    return [reshape(out, [...shapeOf(out).slice(0, 3), B, o]), 3];
  }
  // Both mapped: no grouped convolution kernel on wasm, so one convolution per batch element.
  return perElement(conv2dP, x!, dx!, w!, dw!, p, size);
});

/**
 * convFilter sums over images, so a mapped x folds into its channels ([b, h, w, n·c] gives
 * [kh, kw, n·c, o]) and a mapped ct into its output channels; both mapped: one per batch element.
 */
defVmap(convFilterP, ([x, ct], dims, p, size) => {
  const dx = dims[0] ?? null;
  const dc = dims[1] ?? null;
  const [kh, kw] = p.filter;
  if ((dx === null) !== (dc === null)) {
    const mapped = moveaxis(dx !== null ? x! : ct!, (dx ?? dc)!, 3); // [b, h, w, n, c]
    const [b, h, w, n, c] = shapeOf(mapped) as [number, number, number, number, number];
    const folded = reshape(mapped, [b, h, w, n * c]);
    const out = bind(convFilterP, dx !== null ? [folded, ct!] : [x!, folded], p);
    const [, , ci, co] = shapeOf(out) as [number, number, number, number];
    return dx !== null ? [reshape(out, [kh, kw, n, c, co]), 2] : [reshape(out, [kh, kw, ci, n, c]), 3];
  }
  return perElement(convFilterP, x!, dx!, ct!, dc!, p, size);
});

// ---- log-softmax (helper "eager") ----
/** log-softmax along the same axes, renumbered around the batch axis (one kernel when they stay consecutive). */
defVmap(logSoftmaxP, ([x], [d], { axes }) => [
  bind(logSoftmaxP, [x!], { axes: axes.map((a) => batchedAxis(a, d!)) }),
  d!,
]);
