/** Linear shape primitives: reshape, broadcastTo, transpose, slice, pad, concat, reverse (rules in `rules/`). */
import { K } from "../kernels";
import { avalOf, bind, shapeError, type ArrayLike, type Aval, type Primitive, type Value } from "../trace/core";
import { sizeOf } from "../shapes";

const def = <P>(p: Primitive<P>): Primitive<P> => p;
const fmt = (s: readonly number[]) => `[${s.join(",")}]`;

export interface ReshapeParams {
  readonly shape: readonly number[];
}
export const reshapeP: Primitive<ReshapeParams> = def({
  name: "reshape",
  linear: true,
  impl: ([x], { shape }) => K.reshape(x!, [...shape]),
  abstractEval: ([x], { shape }) => {
    if (sizeOf(x!.shape) !== sizeOf(shape)) {
      shapeError("reshape", `cannot reshape ${x!.dtype}${fmt(x!.shape)} (size ${sizeOf(x!.shape)}) to ${fmt(shape)}`);
    }
    return { shape, dtype: x!.dtype };
  },
});

/** Resolve one -1 in a target shape. */
function resolveShape(x: Aval, shape: readonly number[]): number[] {
  const known = shape.filter((d) => d !== -1);
  const unknown = shape.length - known.length;
  if (unknown === 0) return [...shape];
  if (unknown > 1) shapeError("reshape", `at most one -1 allowed in ${fmt(shape)}`);
  const rest = sizeOf(known);
  const total = sizeOf(x.shape);
  if (rest === 0 || total % rest !== 0) {
    shapeError("reshape", `cannot reshape ${x.dtype}${fmt(x.shape)} to ${fmt(shape)}`);
  }
  return shape.map((d) => (d === -1 ? total / rest : d));
}

/** reshape(x, shape): same elements, new shape (one entry may be -1). */
export function reshape(x: ArrayLike, shape: readonly number[]): Value {
  const a = avalOfLike(x);
  const s = resolveShape(a, shape);
  if (a.shape.length === s.length && a.shape.every((d, i) => d === s[i]) && typeof x !== "number") return x;
  return bind(reshapeP, [x], { shape: s });
}

export interface BroadcastToParams {
  readonly shape: readonly number[];
}
export const broadcastToP: Primitive<BroadcastToParams> = def({
  name: "broadcastTo",
  linear: true,
  impl: ([x], { shape }) => K.broadcastTo(x!, [...shape]),
  abstractEval: ([x], { shape }) => {
    const xs = x!.shape;
    const lead = shape.length - xs.length;
    if (lead < 0 || xs.some((d, i) => d !== 1 && d !== shape[lead + i])) {
      shapeError("broadcastTo", `cannot broadcast ${x!.dtype}${fmt(xs)} to ${fmt(shape)}`);
    }
    return { shape, dtype: x!.dtype };
  },
});

/** broadcastTo(x, shape): numpy broadcasting of x to `shape`. */
export function broadcastTo(x: ArrayLike, shape: readonly number[]): Value {
  const a = avalOfLike(x);
  if (typeof x !== "number" && a.shape.length === shape.length && a.shape.every((d, i) => d === shape[i])) return x;
  return bind(broadcastToP, [x], { shape: [...shape] });
}

export interface TransposeParams {
  readonly perm: readonly number[];
}
export const transposeP: Primitive<TransposeParams> = def({
  name: "transpose",
  linear: true,
  impl: ([x], { perm }) => K.transpose(x!, [...perm]),
  abstractEval: ([x], { perm }) => {
    const r = x!.shape.length;
    const seen = new Set(perm);
    if (perm.length !== r || seen.size !== r || perm.some((p) => p < 0 || p >= r)) {
      shapeError("transpose", `perm ${fmt(perm)} is not a permutation of the axes of ${x!.dtype}${fmt(x!.shape)}`);
    }
    return { shape: perm.map((p) => x!.shape[p]!), dtype: x!.dtype };
  },
});

/** transpose(x, perm): axes permuted, out.shape[i] = x.shape[perm[i]] (default: reversed). */
export function transpose(x: ArrayLike, perm?: readonly number[]): Value {
  const r = avalOfLike(x).shape.length;
  const p = perm ?? [...Array(r).keys()].reverse();
  if (p.every((a, i) => a === i) && typeof x !== "number") return x;
  return bind(transposeP, [x], { perm: [...p] });
}

export interface SliceParams {
  readonly begin: readonly number[];
  readonly size: readonly number[];
}
export const sliceP: Primitive<SliceParams> = def({
  name: "slice",
  linear: true,
  impl: ([x], { begin, size }) => K.slice(x!, [...begin], [...size]),
  abstractEval: ([x], { begin, size }) => {
    const s = x!.shape;
    if (
      begin.length !== s.length ||
      size.length !== s.length ||
      s.some((d, i) => begin[i]! < 0 || begin[i]! + size[i]! > d || size[i]! < 0)
    ) {
      shapeError("slice", `begin ${fmt(begin)} and size ${fmt(size)} do not fit ${x!.dtype}${fmt(s)}`);
    }
    return { shape: size, dtype: x!.dtype };
  },
});

/** slice(x, begin, size): the block x[begin : begin + size] (size -1 = to the end). */
export function slice(x: ArrayLike, begin: readonly number[], size: readonly number[]): Value {
  const s = avalOfLike(x).shape;
  const z = size.map((n, i) => (n === -1 ? s[i]! - begin[i]! : n));
  // The whole array (max pooling's crop when the windows tile it): no copy, as reshape and pad.
  const whole = z.length === s.length && z.every((n, i) => n === s[i] && begin[i] === 0);
  if (whole && typeof x !== "number") return x;
  return bind(sliceP, [x], { begin: [...begin], size: z });
}

export interface PadParams {
  readonly paddings: ReadonlyArray<readonly [number, number]>;
}
export const padP: Primitive<PadParams> = def({
  name: "pad",
  linear: true,
  impl: ([x], { paddings }) =>
    K.pad(
      x!,
      paddings.map(([a, b]) => [a, b] as [number, number]),
    ),
  abstractEval: ([x], { paddings }) => {
    const s = x!.shape;
    if (paddings.length !== s.length || paddings.some(([a, b]) => a < 0 || b < 0)) {
      shapeError(
        "pad",
        `paddings ${JSON.stringify(paddings)} do not fit ${x!.dtype}${fmt(s)} (one non-negative [before, after] per axis)`,
      );
    }
    return { shape: s.map((d, i) => d + paddings[i]![0] + paddings[i]![1]), dtype: x!.dtype };
  },
});

/** pad(x, paddings): zeros added [before, after] along each axis. */
export function pad(x: ArrayLike, paddings: ReadonlyArray<readonly [number, number]>): Value {
  if (paddings.every(([a, b]) => a === 0 && b === 0) && typeof x !== "number") return x;
  return bind(padP, [x], { paddings: paddings.map(([a, b]) => [a, b] as const) });
}

export interface ConcatParams {
  readonly axis: number;
}
export const concatP: Primitive<ConcatParams> = def({
  name: "concat",
  linear: true,
  impl: (xs, { axis }) => K.concat(xs, axis),
  abstractEval: (xs, { axis }) => {
    const first = xs[0]!;
    const out = [...first.shape];
    for (const [i, x] of xs.entries()) {
      if (x.shape.length !== first.shape.length || x.shape.some((d, j) => j !== axis && d !== first.shape[j])) {
        shapeError(
          "concat",
          `argument ${i} ${x.dtype}${fmt(x.shape)} does not match ${first.dtype}${fmt(first.shape)} outside axis ${axis}`,
        );
      }
      if (i > 0) out[axis] = out[axis]! + x.shape[axis]!;
    }
    return { shape: out, dtype: first.dtype };
  },
});

/** concat(xs, axis): arrays joined along `axis`. */
export function concat(xs: readonly ArrayLike[], axis = 0): Value {
  if (xs.length === 0) shapeError("concat", "needs at least one array");
  const r = avalOfLike(xs[0]!).shape.length;
  const a = axis < 0 ? axis + r : axis;
  if (xs.length === 1 && typeof xs[0] !== "number") return xs[0] as Value;
  return bind(concatP, [...xs], { axis: a });
}

export interface ReverseParams {
  readonly axes: readonly number[];
}
export const reverseP: Primitive<ReverseParams> = def({
  name: "reverse",
  linear: true,
  impl: ([x], { axes }) => K.reverse(x!, [...axes]),
  abstractEval: ([x]) => x!,
});

/** reverse(x, axes): x flipped along `axes`. */
export function reverse(x: ArrayLike, axes: readonly number[]): Value {
  if (axes.length === 0 && typeof x !== "number") return x;
  return bind(reverseP, [x], { axes: [...axes] });
}

/** Aval of an array or a number. */
export function avalOfLike(x: ArrayLike): Aval {
  return typeof x === "number" ? { shape: [], dtype: "float32" } : avalOf(x);
}
