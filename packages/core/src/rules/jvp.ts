/**
 * The forward-mode rule table: for each primitive, (primals, tangents) ↦ (output, its tangent),
 * with `null` the symbolic zero. Rules are written with ops, so they are traced in turn by any
 * enclosing transform. The interpreter using this table is `trace/jvp.ts`.
 */
import { avalOf, bind, type AnyPrimitive, type Primitive, type Tangent, type Value } from "../trace/core";
import { TraceError } from "../errors";
import {
  add,
  castP,
  equalP,
  exp,
  greaterP,
  lessP,
  mul,
  selectP,
  stopGradient,
  stopGradientP,
  sub,
  where,
} from "../primitives/elementwise";
import {
  maxGather,
  maxGatherP,
  maxScatter,
  maxScatterP,
  reduceMaxP,
  reduceSum,
  reduceSumP,
} from "../primitives/reduce";
import { broadcastToP, concatP, padP, reshape, reshapeP, reverseP, sliceP, transposeP } from "../primitives/shape";
import { conv2dP, convFilterP, matmulP } from "../primitives/linalg";
import { broadcastTangent, isFloat, zerosOf } from "../primitives/rules";
import { binaryPartials, keptShape, unaryDerivatives } from "./derivatives";
import { logSoftmaxP } from "../primitives/softmax";

/** (primals, tangents, params) ↦ [output, tangent of the output]; at least one tangent is non-null. */
export type JvpRule<P> = (primals: Value[], tangents: Tangent[], params: P) => [Value, Tangent];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const table = new Map<AnyPrimitive, JvpRule<any>>();

/** Register (or replace) the forward-mode rule of a primitive. */
export function defJvp<P>(prim: Primitive<P>, rule: JvpRule<P>): void {
  table.set(prim, rule);
}

/** Whether `prim` has a forward-mode rule (composite primitives without one are decomposed). */
export const hasJvpRule = (prim: AnyPrimitive): boolean => table.has(prim);

/** The forward-mode rule of `prim`; a TraceError when it has none. */
export function jvpRule<P>(prim: Primitive<P>): JvpRule<P> {
  const rule = table.get(prim);
  if (!rule) throw new TraceError(`jvp: primitive '${prim.name}' has no forward-mode rule`);
  return rule;
}

const shapeOf = (x: Value) => avalOf(x).shape;
const sumTangents = (a: Tangent, b: Tangent): Tangent => (a === null ? b : b === null ? a : add(a, b));

for (const [prim, deriv] of unaryDerivatives) {
  defJvp(prim, ([x], [dx]) => {
    const y = bind(prim, [x!], {});
    return [y, deriv(x!, y, dx!)];
  });
}

for (const [prim, [pa, pb]] of binaryPartials) {
  defJvp(prim, ([a, b], [da, db]) => {
    const y = bind(prim, [a!, b!], {});
    const ta = da ? pa(a!, b!, y, da) : null;
    const tb = db ? pb(a!, b!, y, db) : null;
    // One-sided tangents may have the input's (broadcast-smaller) shape.
    const t = ta !== null && tb !== null ? add(ta, tb) : (ta ?? tb);
    return [y, t === null ? null : broadcastTangent(t, shapeOf(y))];
  });
}

for (const prim of [greaterP, lessP, equalP]) defJvp(prim, ([a, b]) => [bind(prim, [a!, b!], {}), null]);

defJvp(selectP, ([c, a, b], [, da, db]) => {
  const y = bind(selectP, [c!, a!, b!], {});
  const t = where(c!, da ?? zerosOf(avalOf(a!)), db ?? zerosOf(avalOf(b!)));
  return [y, broadcastTangent(t, shapeOf(y))];
});

defJvp(castP, ([x], [dx], p) => [
  bind(castP, [x!], p),
  isFloat(p.dtype) && isFloat(avalOf(x!).dtype) ? (dx ?? null) : null,
]);

defJvp(stopGradientP, ([x]) => [stopGradient(x!), null]);

// Linear primitives of one argument: the tangent goes through the primitive itself.
for (const prim of [reduceSumP, reshapeP, broadcastToP, transposeP, sliceP, padP, reverseP] as AnyPrimitive[]) {
  defJvp(prim, ([x], [dx], p) => [bind(prim, [x!], p), dx ? bind(prim, [dx], p) : null]);
}

defJvp(reduceMaxP, ([x], [dx], p) => {
  const out = bind(reduceMaxP, [x!], p);
  return [out, maxGather(x!, out, dx!, p.axes)];
});

// Linear in t; the weights are piecewise constant in x and m (zero derivative almost everywhere).
defJvp(maxScatterP, ([x, m, t], [, , dt], p) => [
  bind(maxScatterP, [x!, m!, t!], p),
  dt ? maxScatter(x!, m!, dt, p.axes) : null,
]);
defJvp(maxGatherP, ([x, m, s], [, , ds], p) => [
  bind(maxGatherP, [x!, m!, s!], p),
  ds ? maxGather(x!, m!, ds, p.axes) : null,
]);

defJvp(concatP, (xs, dxs, p) => [
  bind(concatP, xs, p),
  bind(
    concatP,
    dxs.map((d, i) => d ?? zerosOf(avalOf(xs[i]!))),
    p,
  ),
]);

// Bilinear primitives: d f(a, b) = f(da, b) + f(a, db).
for (const prim of [matmulP, conv2dP, convFilterP] as AnyPrimitive[]) {
  defJvp(prim, ([a, b], [da, db], p) => [
    bind(prim, [a!, b!], p),
    sumTangents(da ? bind(prim, [da, b!], p) : null, db ? bind(prim, [a!, db], p) : null),
  ]);
}

// ---- log-softmax (helper "eager") ----
/** y = logSoftmax(x) in one kernel; ẏ = ẋ − Σ_axes softmax(x)·ẋ (kept axes), softmax(x) = exp(y). */
defJvp(logSoftmaxP, ([x], [dx], p) => {
  const y = bind(logSoftmaxP, [x!], p);
  const s = reduceSum(mul(exp(y), dx!), p.axes);
  return [y, sub(dx!, reshape(s, keptShape(x!, p.axes)))];
});
