/**
 * matmul and conv2d. Derivative rules use only kernels that are fast on wasm: explicit transposes
 * instead of matmul transpose flags, forward convolutions instead of Conv2DBackprop{Input,Filter}.
 */
import * as tf from "@tensorflow/tfjs-core";
import { K, type Tensor } from "../kernels";
import {
  avalOf,
  bind,
  shapeError,
  type Aval,
  type BDim,
  type DeferredCotangent,
  type Primitive,
  type Tangent,
  type Value,
} from "../trace/core";
import { add } from "./elementwise";
import { concat, pad, reshape, reverse, slice, transpose } from "./shape";
import { moveaxis, sizeOf } from "./rules";

const def = <P>(p: Primitive<P>): Primitive<P> => p;
const fmt = (a: Aval) => `${a.dtype}[${a.shape.join(",")}]`;
const shapeOf = (x: Value) => avalOf(x).shape;

const sumTangents = (a: Tangent, b: Tangent): Tangent => (a === null ? b : b === null ? a : add(a, b));

/** Swap the last two axes. */
export function swapLast(x: Value): Value {
  const r = shapeOf(x).length;
  return transpose(x, [...Array(r - 2).keys(), r - 1, r - 2]);
}

type NoParams = Record<string, never>;

export const matmulP: Primitive<NoParams> = def({
  name: "matmul",
  impl: ([a, b]) => {
    if (a!.rank === 2) return K.matmul2(a!, b!);
    if (a!.rank === 3) return K.matmul3(a!, b!);
    const [m, k] = a!.shape.slice(-2) as [number, number];
    const n = b!.shape[b!.rank - 1]!;
    const batch = a!.shape.slice(0, -2);
    const B = sizeOf(batch);
    return tf.tidy(() => K.reshape(K.matmul3(K.reshape(a!, [B, m, k]), K.reshape(b!, [B, k, n])), [...batch, m, n]));
  },
  shape: ([a, b]) => {
    const as = a!.shape;
    const bs = b!.shape;
    const ok =
      as.length >= 2 &&
      as.length === bs.length &&
      as[as.length - 1] === bs[bs.length - 2] &&
      as.slice(0, -2).every((d, i) => d === bs[i]);
    if (!ok || a!.dtype !== b!.dtype) shapeError("matmul", `cannot multiply ${fmt(a!)} by ${fmt(b!)}`);
    return { shape: [...as.slice(0, -1), bs[bs.length - 1]!], dtype: a!.dtype };
  },
  jvp: ([a, b], [da, db]) => [
    bind(matmulP, [a!, b!], {}),
    sumTangents(da ? matmulRaw(da, b!) : null, db ? matmulRaw(a!, db) : null),
  ],
  vjp: (ct, [a, b], _y, _p, needs) => [
    needs[0] ? matmulRaw(ct, swapLast(b!)) : null,
    needs[1] ? new DeferredMatmul(a!, ct) : null,
  ],
  vmap: ([a, b], dims) => {
    const da = dims[0] ?? null;
    const db = dims[1] ?? null;
    const nb = shapeOf(da === null ? a! : b!).length - 2; // batch rank of the unbatched operand's peer
    if (da !== null && db !== null) return [matmulRaw(moveaxis(a!, da, 0), moveaxis(b!, db, 0)), 0];
    if (da !== null) {
      // Fold the mapped axis into the rows: [..., B, m, k] -> [..., B·m, k].
      const am = moveaxis(a!, da, nb);
      const s = shapeOf(am);
      const [B, m, k] = s.slice(-3) as [number, number, number];
      const out = matmulRaw(reshape(am, [...s.slice(0, -3), B * m, k]), b!);
      const n = shapeOf(b!).at(-1)!;
      return [reshape(out, [...s.slice(0, -3), B, m, n]), nb];
    }
    // Fold the mapped axis into the columns: [..., k, B, n] -> [..., k, B·n].
    const nbb = shapeOf(a!).length - 2;
    const bm = moveaxis(b!, db!, nbb + 1);
    const s = shapeOf(bm);
    const [k, B, n] = s.slice(-3) as [number, number, number];
    const out = matmulRaw(a!, reshape(bm, [...s.slice(0, -3), k, B * n]));
    const m = shapeOf(a!).at(-2)!;
    return [reshape(out, [...s.slice(0, -3), m, B, n]), nbb + 1];
  },
});

/**
 * The weight cotangent aᵀ·c of a matmul, not yet formed. A reduction against a constant u can use
 * ⟨aᵀ·c, u⟩ = ⟨c, a·u⟩, which is much cheaper when c is batched or carries tangents and a·u does not.
 */
export class DeferredMatmul implements DeferredCotangent {
  readonly deferred = true;
  private value: Value | null = null;
  constructor(
    readonly a: Value,
    readonly c: Value,
  ) {}
  get aval(): Aval {
    const as = shapeOf(this.a);
    const cs = shapeOf(this.c);
    return { shape: [...as.slice(0, -2), as.at(-1)!, cs.at(-1)!], dtype: avalOf(this.c).dtype };
  }
  materialize(): Value {
    this.value ??= matmulRaw(swapLast(this.a), this.c);
    return this.value;
  }
}

/** matmul on operands of equal rank ≥ 2 and equal batch dims (no broadcasting). */
export const matmulRaw = (a: Value, b: Value): Value => bind(matmulP, [a, b], {});

export interface Conv2DParams {
  readonly strides: readonly [number, number];
  readonly padding: readonly [readonly [number, number], readonly [number, number]];
  readonly dilations: readonly [number, number];
}

function convOutSize(n: number, k: number, lo: number, hi: number, s: number, d: number): number {
  return Math.floor((n + lo + hi - d * (k - 1) - 1) / s) + 1;
}

export const conv2dP: Primitive<Conv2DParams> = def({
  name: "conv2d",
  impl: ([x, w], { strides, padding, dilations }) => {
    const both = (strides[0] > 1 || strides[1] > 1) && (dilations[0] > 1 || dilations[1] > 1);
    if (!both) {
      return K.conv2d(
        x!,
        w!,
        [strides[0], strides[1]],
        [[...padding[0]], [...padding[1]]],
        [dilations[0], dilations[1]],
      );
    }
    // tfjs refuses strides and dilations together: convolve densely, then subsample.
    return tf.tidy(() => {
      const dense = K.conv2d(x!, w!, [1, 1], [[...padding[0]], [...padding[1]]], [dilations[0], dilations[1]]);
      const [n, h, wd, c] = dense.shape as [number, number, number, number];
      return tf.stridedSlice(dense, [0, 0, 0, 0], [n, h, wd, c], [1, strides[0], strides[1], 1]);
    });
  },
  shape: ([x, w], { strides, padding, dilations }) => {
    const xs = x!.shape;
    const ws = w!.shape;
    if (xs.length !== 4 || ws.length !== 4 || xs[3] !== ws[2]) {
      shapeError(
        "conv2d",
        `expected x NHWC and filter HWIO with matching channels, got x ${fmt(x!)} and filter ${fmt(w!)}`,
      );
    }
    const ho = convOutSize(xs[1]!, ws[0]!, padding[0][0], padding[0][1], strides[0], dilations[0]);
    const wo = convOutSize(xs[2]!, ws[1]!, padding[1][0], padding[1][1], strides[1], dilations[1]);
    if (ho < 1 || wo < 1) shapeError("conv2d", `filter ${fmt(w!)} does not fit input ${fmt(x!)} with this padding`);
    return { shape: [xs[0]!, ho, wo, ws[3]!], dtype: x!.dtype };
  },
  jvp: ([x, w], [dx, dw], p) => [
    bind(conv2dP, [x!, w!], p),
    sumTangents(dx ? bind(conv2dP, [dx, w!], p) : null, dw ? bind(conv2dP, [x!, dw], p) : null),
  ],
  vjp: (ct, [x, w], _y, p, needs) => [
    needs[0] ? convInputTranspose(ct, x!, w!, p) : null,
    needs[1] ? convFilterTranspose(ct, x!, w!, p) : null,
  ],
  vmap: ([x, w], dims, p, size) => {
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
    const xm = moveaxis(x!, dx!, 0);
    const wm = moveaxis(w!, dw!, 0);
    const outs: Value[] = [];
    for (let i = 0; i < size; i++) {
      const xi = reshape(slice(xm, [i, 0, 0, 0, 0], [1, -1, -1, -1, -1]), shapeOf(xm).slice(1));
      const wi = reshape(slice(wm, [i, 0, 0, 0, 0], [1, -1, -1, -1, -1]), shapeOf(wm).slice(1));
      const o = bind(conv2dP, [xi, wi], p);
      outs.push(reshape(o, [1, ...shapeOf(o)]));
    }
    return [concat(outs, 0), 0];
  },
});

/** Insert s−1 zeros between elements along `axis` (the "input dilation" of a strided conv). */
function dilateAxis(x: Value, axis: number, s: number): Value {
  if (s === 1) return x;
  const shape = shapeOf(x);
  const L = shape[axis]!;
  const expanded = reshape(x, [...shape.slice(0, axis + 1), 1, ...shape.slice(axis + 1)]);
  const padded = pad(expanded, [
    ...shape.slice(0, axis + 1).map(() => [0, 0] as [number, number]),
    [0, s - 1],
    ...shape.slice(axis + 1).map(() => [0, 0] as [number, number]),
  ]);
  const flat = reshape(padded, [...shape.slice(0, axis), L * s, ...shape.slice(axis + 1)]);
  return slice(
    flat,
    shape.map(() => 0),
    shape.map((d, i) => (i === axis ? (L - 1) * s + 1 : d)),
  );
}

/** Crop x along `axis` where a requested padding is negative; return the non-negative rest. */
function cropNegative(x: Value, axis: number, lo: number, hi: number): [Value, number, number] {
  if (lo >= 0 && hi >= 0) return [x, lo, hi];
  const shape = shapeOf(x);
  const b = Math.max(0, -lo);
  const e = Math.max(0, -hi);
  const begin = shape.map((_, i) => (i === axis ? b : 0));
  const size = shape.map((d, i) => (i === axis ? d - b - e : d));
  return [slice(x, begin, size), Math.max(0, lo), Math.max(0, hi)];
}

/** ∂⟨ct, conv(x, w)⟩/∂x: a stride-1 forward conv of the dilated ct with the flipped filter. */
function convInputTranspose(ct: Value, x: Value, w: Value, p: Conv2DParams): Value {
  const [, H, W] = shapeOf(x) as [number, number, number];
  const [kh, kw] = shapeOf(w) as [number, number];
  const [, Ho, Wo] = shapeOf(ct) as [number, number, number];
  const { strides: s, padding: pd, dilations: d } = p;
  const dilated = dilateAxis(dilateAxis(ct, 1, s[0]), 2, s[1]);
  const lo = [d[0] * (kh - 1) - pd[0][0], d[1] * (kw - 1) - pd[1][0]];
  const hi = [H - (Ho - 1) * s[0] - 1 + pd[0][0], W - (Wo - 1) * s[1] - 1 + pd[1][0]];
  const [rows, t, b] = cropNegative(dilated, 1, lo[0]!, hi[0]!);
  const [c, l, r] = cropNegative(rows, 2, lo[1]!, hi[1]!);
  const flipped = transpose(reverse(w, [0, 1]), [0, 1, 3, 2]);
  return bind(conv2dP, [c, flipped], {
    strides: [1, 1],
    padding: [
      [t, b],
      [l, r],
    ],
    dilations: d,
  });
}

/** ∂⟨ct, conv(x, w)⟩/∂w: a forward conv of x (channels as batch) with ct (batch as channels). */
function convFilterTranspose(ct: Value, x: Value, w: Value, p: Conv2DParams): Value {
  const [kh, kw, C, O] = shapeOf(w) as [number, number, number, number];
  const xt = transpose(x, [3, 1, 2, 0]);
  const ctt = transpose(ct, [1, 2, 0, 3]);
  const full = bind(conv2dP, [xt, ctt], { strides: p.dilations, padding: p.padding, dilations: p.strides });
  const cropped = slice(full, [0, 0, 0, 0], [C, kh, kw, O]);
  return transpose(cropped, [1, 2, 0, 3]);
}

export type Padding = "same" | "valid" | ReadonlyArray<readonly [number, number]>;

/** Explicit [[top, bottom], [left, right]] padding for tfjs-style 'same'/'valid'. */
export function resolvePadding(
  padding: Padding,
  input: readonly number[],
  kernel: readonly number[],
  strides: readonly [number, number],
  dilations: readonly [number, number],
): [[number, number], [number, number]] {
  if (padding === "valid")
    return [
      [0, 0],
      [0, 0],
    ];
  if (padding === "same") {
    const dim = (i: 0 | 1): [number, number] => {
      const n = input[i]!;
      const out = Math.ceil(n / strides[i]);
      const eff = dilations[i] * (kernel[i]! - 1) + 1;
      const total = Math.max(0, (out - 1) * strides[i] + eff - n);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    };
    return [dim(0), dim(1)];
  }
  if (padding.length !== 2) shapeError("conv2d", `explicit padding must be [[top, bottom], [left, right]]`);
  return [
    [padding[0]![0], padding[0]![1]],
    [padding[1]![0], padding[1]![1]],
  ];
}

export type { BDim, Tensor };
