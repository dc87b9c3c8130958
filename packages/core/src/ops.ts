/**
 * The numpy-style op surface: thin wrappers over primitives plus composites (softmax, pooling,
 * …) built from them, so every op has every derivative and batching rule for free.
 */
import { avalOf, shapeError, type ArrayLike, type Value } from "./trace/core";
import {
  add,
  cast,
  div,
  exp,
  greater,
  log,
  maximum,
  mul,
  neg,
  stopGradient,
  sub,
  tanh,
  where,
  eluOp,
} from "./primitives/elementwise";
import { reduceMax, reduceSum } from "./primitives/reduce";
import { avalOfLike, broadcastTo, concat, pad, reshape, slice } from "./primitives/shape";
import { broadcastShapes, normalizeAxis, sizeOf } from "./primitives/rules";
import { keptShape } from "./shapes";
import { conv2dP, matmulRaw, resolvePadding, type Padding } from "./primitives/linalg";
import { bind } from "./trace/core";
import { logSoftmaxOp } from "./primitives/softmax";
import { biasTanhP, conv2dBiasP } from "./primitives/fused";
import { K } from "./kernels";

type Axis = number | readonly number[] | undefined;

function axesOf(op: string, axis: Axis, rank: number): number[] {
  if (axis === undefined) return [...Array(rank).keys()];
  const list = typeof axis === "number" ? [axis] : axis;
  return [...new Set(list.map((a) => normalizeAxis(op, a, rank)))].sort((a, b) => a - b);
}

function keep(x: Value, out: Value, axes: number[], keepDims: boolean): Value {
  if (!keepDims) return out;
  return reshape(out, keptShape(avalOf(x).shape, axes));
}

const asValue = (x: ArrayLike): Value => (typeof x === "number" ? K.scalar(x, "float32") : x);

/** Σ x over `axis` (all axes by default). */
export function sum(x: ArrayLike, axis?: Axis, keepDims = false): Value {
  const v = asValue(x);
  const axes = axesOf("sum", axis, avalOf(v).shape.length);
  return keep(v, reduceSum(v, axes), axes, keepDims);
}

/** Mean of x over `axis` (all axes by default). */
export function mean(x: ArrayLike, axis?: Axis, keepDims = false): Value {
  const v = asValue(x);
  const axes = axesOf("mean", axis, avalOf(v).shape.length);
  const n = axes.reduce((p, a) => p * avalOf(v).shape[a]!, 1);
  return div(sum(v, axes, keepDims), n);
}

/** max of x over `axis` (all axes by default). */
export function max(x: ArrayLike, axis?: Axis, keepDims = false): Value {
  const v = asValue(x);
  const axes = axesOf("max", axis, avalOf(v).shape.length);
  return keep(v, reduceMax(v, axes), axes, keepDims);
}

/** x² */
export const square = (x: ArrayLike): Value => mul(x, x);

/** |x| (derivative sign(x), 0 at 0 split as ±1/2 each side → 0) */
export const abs = (x: ArrayLike): Value => maximum(x, neg(x));

/** Numpy matmul: 1-D operands are vectors, leading dims broadcast. */
export function matmul(a: Value, b: Value): Value {
  const as = avalOf(a).shape;
  const bs = avalOf(b).shape;
  if (as.length === 0 || bs.length === 0) shapeError("matmul", `operands must have rank ≥ 1, got [${as}] and [${bs}]`);
  if (as.length === 1 && bs.length === 1) {
    if (as[0] !== bs[0]) shapeError("matmul", `cannot multiply float32[${as}] by float32[${bs}]`);
    return sum(mul(a, b));
  }
  if (as.length === 1) return reshape(matmul(reshape(a, [1, as[0]!]), b), [...bs.slice(0, -2), bs.at(-1)!]);
  if (bs.length === 1) return reshape(matmul(a, reshape(b, [bs[0]!, 1])), as.slice(0, -1));
  const k = as.at(-1)!;
  if (k !== bs.at(-2)) shapeError("matmul", `inner dimensions differ: float32[${as}] @ float32[${bs}]`);
  if (bs.length === 2 && as.length > 2) {
    const out = matmulRaw(reshape(a, [-1, k]), b);
    return reshape(out, [...as.slice(0, -1), bs[1]!]);
  }
  const batch = broadcastShapes("matmul", [as.slice(0, -2), bs.slice(0, -2)]);
  const ab = broadcastTo(a, [...batch, ...as.slice(-2)]);
  const bb = broadcastTo(b, [...batch, ...bs.slice(-2)]);
  return matmulRaw(ab, bb);
}

/** log Σ exp(x) over `axis`, stabilised by the (gradient-free) max. */
export function logsumexp(x: Value, axis: Axis = -1, keepDims = false): Value {
  const axes = axesOf("logsumexp", axis, avalOf(x).shape.length);
  const m = stopGradient(max(x, axes, true));
  const out = add(log(sum(exp(sub(x, m)), axes, true)), m);
  return keepDims
    ? out
    : reshape(
        out,
        avalOf(x).shape.filter((_, i) => !axes.includes(i)),
      );
}

/**
 * x − logsumexp(x) along `axis`: one composite primitive (`primitives/softmax.ts`), computed as
 * s − log Σ exp(s) with s = x − max x (as JAX); under grad one kernel call each way.
 */
export function logSoftmax(x: Value, axis = -1): Value {
  return logSoftmaxOp(x, axesOf("logSoftmax", axis, avalOf(x).shape.length));
}

/** exp(x) / Σ exp(x) along `axis` */
export const softmax = (x: Value, axis = -1): Value => exp(logSoftmax(x, axis));

/**
 * tanh(x + b): a layer's bias and activation; with b of shape [c] along x's last axis one
 * primitive (one kernel on wasm: `HodiffBiasTanh`; under grad its derivative is one tanhGrad).
 */
export function biasTanh(x: Value, b: Value): Value {
  const xs = avalOf(x).shape;
  const bs = avalOf(b).shape;
  if (xs.length >= 1 && bs.length === 1 && bs[0] === xs.at(-1)) return bind(biasTanhP, [x, b], {});
  return tanh(add(x, b));
}

/** max(x, 0) (derivative 0 at 0, as tfjs) */
export const relu = (x: Value): Value => where(greater(x, 0), x, 0);

/** x for x > 0, eˣ − 1 otherwise (one primitive: see `eluP`; eˣ − 1 computed as expm1) */
export const elu = (x: Value): Value => eluOp(x);

/** 1 / (1 + e⁻ˣ), computed as (1 + tanh(x/2))/2, stable at every order */
export const sigmoid = (x: Value): Value => mul(add(tanh(mul(x, 0.5)), 1), 0.5);

/** Insert an axis of size 1 at `axis`. */
export function expandDims(x: Value, axis: number): Value {
  const s = avalOf(x).shape;
  const a = axis < 0 ? axis + s.length + 1 : axis;
  return reshape(x, [...s.slice(0, a), 1, ...s.slice(a)]);
}

/** Remove axes of size 1 (all, or those listed). */
export function squeeze(x: Value, axis?: Axis): Value {
  const s = avalOf(x).shape;
  const axes = axis === undefined ? s.flatMap((d, i) => (d === 1 ? [i] : [])) : axesOf("squeeze", axis, s.length);
  for (const a of axes) if (s[a] !== 1) shapeError("squeeze", `axis ${a} of [${s}] has size ${s[a]}, not 1`);
  return reshape(
    x,
    s.filter((_, i) => !axes.includes(i)),
  );
}

/** Stack arrays of one shape along a new axis. */
export function stack(xs: readonly Value[], axis = 0): Value {
  return concat(
    xs.map((x) => expandDims(x, axis)),
    axis,
  );
}

export interface Conv2DOptions {
  /** Strides [h, w] or one number for both (default 1). */
  strides?: number | readonly [number, number];
  /** 'valid' (default), 'same', or explicit [[top, bottom], [left, right]]. */
  padding?: Padding;
  /** Dilations [h, w] or one number (default 1). */
  dilations?: number | readonly [number, number];
  /**
   * Added to the output (broadcasting); a bias of shape [out channels] is added in the conv's own
   * kernel where the backend has one (FusedConv2D on wasm), sparing a pass over the output.
   */
  bias?: Value;
}

const pair = (v: number | readonly [number, number] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === "number" ? [v, v] : [v[0], v[1]];

/** 2-D convolution: x NHWC, filter HWIO; out[n,i,j,o] = Σ x[n, i·s+p·d, j·s+q·d, c]·w[p,q,c,o] (+ bias). */
export function conv2d(x: Value, filter: Value, options: Conv2DOptions = {}): Value {
  const strides = pair(options.strides, 1);
  const dilations = pair(options.dilations, 1);
  const xs = avalOf(x).shape;
  const ws = avalOf(filter).shape;
  if (xs.length !== 4 || ws.length !== 4) {
    shapeError("conv2d", `x must be NHWC and filter HWIO (rank 4), got [${xs}] and [${ws}]`);
  }
  const padding = resolvePadding(options.padding ?? "valid", xs.slice(1, 3), ws.slice(0, 2), strides, dilations);
  const params = { strides, padding, dilations };
  const b = options.bias;
  if (b === undefined) return bind(conv2dP, [x, filter], params);
  const bs = avalOf(b).shape;
  if (bs.length === 1 && bs[0] === ws[3]) return bind(conv2dBiasP, [x, filter, b], params);
  return add(bind(conv2dP, [x, filter], params), b);
}

export interface PoolOptions {
  /** Window [h, w] or one number for both. */
  window: number | readonly [number, number];
  /** Strides (default: the window). */
  strides?: number | readonly [number, number];
  /** 'valid' (default) or 'same'. */
  padding?: "valid" | "same";
}

/** Every `s`-th element along `axis`, starting at 0. */
function subsample(x: Value, axis: number, s: number): Value {
  if (s === 1) return x;
  const shape = avalOf(x).shape;
  const L = shape[axis]!;
  const n = Math.ceil(L / s);
  const zero = shape.map(() => [0, 0] as [number, number]);
  zero[axis] = [0, n * s - L];
  const grouped = reshape(pad(x, zero), [...shape.slice(0, axis), n, s, ...shape.slice(axis + 1)]);
  const first = slice(grouped, new Array(shape.length + 1).fill(0), [
    ...shape.slice(0, axis),
    n,
    1,
    ...shape.slice(axis + 1),
  ]);
  return reshape(first, [...shape.slice(0, axis), n, ...shape.slice(axis + 1)]);
}

function pool(op: string, x: Value, options: PoolOptions, reduce: "max" | "mean"): Value {
  const xs = avalOf(x).shape;
  if (xs.length !== 4) shapeError(op, `x must be NHWC (rank 4), got [${xs}]`);
  const [N, H, W, C] = xs as [number, number, number, number];
  const win = pair(options.window, 1);
  const strides = pair(options.strides, 0);
  if (strides[0] === 0) strides.splice(0, 2, ...win);
  const [[pt, pb], [pl, pr]] = resolvePadding(options.padding ?? "valid", [H, W], win, strides, [1, 1]);
  const Ho = Math.floor((H + pt + pb - win[0]) / strides[0]) + 1;
  const Wo = Math.floor((W + pl + pr - win[1]) / strides[1]) + 1;
  if (Ho < 1 || Wo < 1) shapeError(op, `window [${win}] does not fit input [${xs}]`);
  const padded = pt + pb + pl + pr > 0;
  // Non-overlapping windows without padding: one reshape and one reduction.
  if (!padded && strides[0] === win[0] && strides[1] === win[1]) {
    const cropped = slice(x, [0, 0, 0, 0], [N, Ho * win[0], Wo * win[1], C]);
    const grouped = reshape(cropped, [N, Ho, win[0], Wo, win[1], C]);
    return reduce === "max" ? max(grouped, [2, 4]) : mean(grouped, [2, 4]);
  }
  const paddings: [number, number][] = [
    [0, 0],
    [pt, pb],
    [pl, pr],
    [0, 0],
  ];
  const inside = pad(K.fill([1, H, W, 1], 1, "float32"), paddings);
  const xp = reduce === "max" ? where(greater(inside, 0), pad(x, paddings), -Infinity) : pad(x, paddings);
  const views: Value[] = [];
  const counts: Value[] = [];
  const view = (v: Value, i: number, j: number) => {
    const s = avalOf(v).shape;
    const cut = slice(v, [0, i, j, 0], [s[0]!, (Ho - 1) * strides[0] + 1, (Wo - 1) * strides[1] + 1, s[3]!]);
    return subsample(subsample(cut, 1, strides[0]), 2, strides[1]);
  };
  for (let i = 0; i < win[0]; i++) {
    for (let j = 0; j < win[1]; j++) {
      views.push(view(xp, i, j));
      if (reduce === "mean") counts.push(view(inside, i, j));
    }
  }
  const stacked = stack(views, 4);
  if (reduce === "max") return max(stacked, 4);
  return div(sum(stacked, 4), sum(stack(counts, 4), 4));
}

/** Max pooling over windows of x (NHWC). */
export const maxPool = (x: Value, options: PoolOptions): Value => pool("maxPool", x, options, "max");

/** Average pooling over windows of x (NHWC); padding is excluded from the mean. */
export const avgPool = (x: Value, options: PoolOptions): Value => pool("avgPool", x, options, "mean");

export { cast, sizeOf, avalOfLike };
