/**
 * Host kernels: primitives evaluated in plain JS on small arrays. A jit plan runs an equation here
 * when its arrays are small, where a tfjs kernel call (tens of microseconds of dispatch, whatever
 * the size) would cost far more than the arithmetic. This table is one more interpreter of the
 * primitives: an evaluation rule per primitive, keyed by the primitive object. Values are float32
 * (stored in Float32Array, so rounding matches the kernels up to the last bit of transcendental
 * functions), int32 or bool (0/1 in a Uint8Array), like tfjs's.
 */
import type { DType } from "../kernels";
import type { AnyPrimitive, Aval } from "../trace/core";
import { broadcastStrides, forEachIndex, forEachRow, sizeOf, stridesOf } from "../shapes";
import {
  addP,
  castP,
  cosP,
  divP,
  eluGradP,
  eluP,
  equalP,
  expm1P,
  expP,
  greaterP,
  lessP,
  log1pP,
  logP,
  maximumP,
  minimumP,
  mulP,
  negP,
  powP,
  selectP,
  sinP,
  sqrtP,
  stopGradientP,
  subP,
  tanhGradP,
  tanhP,
} from "../primitives/elementwise";
import { maxGatherP, maxScatterP, reduceMaxP, reduceSumP, type ReduceParams } from "../primitives/reduce";
import {
  broadcastToP,
  padP,
  reshapeP,
  reverseP,
  sliceP,
  transposeP,
  type BroadcastToParams,
  type PadParams,
  type ReshapeParams,
  type ReverseParams,
  type SliceParams,
  type TransposeParams,
} from "../primitives/shape";
import { matmulP, type MatmulParams } from "../primitives/linalg";

export type HostData = Float32Array | Int32Array | Uint8Array;
/** An array in JS memory. */
export interface HostArray {
  readonly data: HostData;
  readonly shape: readonly number[];
  readonly dtype: DType;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type HostKernel = (xs: HostArray[], params: any, out: Aval) => HostArray;

const table = new Map<AnyPrimitive, HostKernel>();

/** Register (or replace) the host kernel of a primitive. */
export const defHostKernel = (prim: AnyPrimitive, kernel: HostKernel): void => void table.set(prim, kernel);

/** The host kernel of `prim`, if it has one. */
export const hostKernel = (prim: AnyPrimitive): HostKernel | undefined => table.get(prim);

/** Arrays up to this many elements run on the host. */
export const HOST_MAX_SIZE = 4096;

/** Whether an equation is worth running on the host: a host kernel and small arrays only. */
export function runsOnHost(prim: AnyPrimitive, ins: readonly Aval[], out: Aval): boolean {
  if (!table.has(prim)) return false;
  if (sizeOf(out.shape) > HOST_MAX_SIZE || ins.some((a) => sizeOf(a.shape) > HOST_MAX_SIZE)) return false;
  if (prim === matmulP) return sizeOf(ins[0]!.shape) * out.shape[out.shape.length - 1]! <= 64 * 1024; // multiply-adds
  return true;
}

const alloc = (dtype: DType, n: number): HostData =>
  dtype === "float32" ? new Float32Array(n) : dtype === "int32" ? new Int32Array(n) : new Uint8Array(n);

/** An n-ary elementwise kernel with numpy broadcasting; `out` is the output aval (from the jaxpr). */
function elementwise(f: (...v: number[]) => number): HostKernel {
  return (xs, _params, out) => {
    const shape = out.shape;
    const n = sizeOf(shape);
    const o = alloc(out.dtype, n);
    const a = xs[0]!.data;
    if (xs.length === 1) {
      for (let i = 0; i < n; i++) o[i] = f(a[i]!);
    } else if (xs.length === 2 && a.length === n && xs[1]!.data.length === n) {
      const b = xs[1]!.data;
      for (let i = 0; i < n; i++) o[i] = f(a[i]!, b[i]!);
    } else if (xs.length === 2 && a.length === n && xs[1]!.data.length === 1) {
      const b = xs[1]!.data[0]!;
      for (let i = 0; i < n; i++) o[i] = f(a[i]!, b);
    } else if (xs.length === 2 && a.length === 1 && xs[1]!.data.length === n) {
      const av = a[0]!;
      const b = xs[1]!.data;
      for (let i = 0; i < n; i++) o[i] = f(av, b[i]!);
    } else if (xs.length === 2) {
      const b = xs[1]!.data;
      let i = 0;
      forEachRow(
        shape,
        [broadcastStrides(xs[0]!.shape, shape), broadcastStrides(xs[1]!.shape, shape)],
        (off, m, st) => {
          const [sa, sb] = st as [number, number];
          for (let j = 0, pa = off[0]!, pb = off[1]!; j < m; j++, pa += sa, pb += sb) o[i++] = f(a[pa]!, b[pb]!);
        },
      );
    } else if (xs.length === 3) {
      const [b, c] = [xs[1]!.data, xs[2]!.data];
      let i = 0;
      forEachRow(
        shape,
        xs.map((x) => broadcastStrides(x.shape, shape)),
        (off, m, st) => {
          const [sa, sb, sc] = st as [number, number, number];
          for (let j = 0, pa = off[0]!, pb = off[1]!, pc = off[2]!; j < m; j++, pa += sa, pb += sb, pc += sc)
            o[i++] = f(a[pa]!, b[pb]!, c[pc]!);
        },
      );
    } else {
      const strides = xs.map((x) => broadcastStrides(x.shape, shape));
      const datas = xs.map((x) => x.data);
      let i = 0;
      forEachIndex(shape, strides, (off) => (o[i++] = f(...datas.map((d, j) => d[off[j]!]!))));
    }
    return { data: o, shape, dtype: out.dtype };
  };
}

const unaries: Array<[AnyPrimitive, (x: number) => number]> = [
  [negP, (x) => -x],
  [expP, Math.exp],
  [expm1P, Math.expm1],
  [logP, Math.log],
  [log1pP, Math.log1p],
  [sinP, Math.sin],
  [cosP, Math.cos],
  [tanhP, Math.tanh],
  [sqrtP, Math.sqrt],
  [eluP, (x) => (x > 0 ? x : Math.expm1(x))],
];
for (const [p, f] of unaries) table.set(p, elementwise(f));

const int = (xs: HostArray[]) => xs[0]!.dtype === "int32";
table.set(
  addP,
  elementwise((a, b) => a + b),
);
table.set(
  subP,
  elementwise((a, b) => a - b),
);
table.set(
  mulP,
  elementwise((a, b) => a * b),
);
const divKernel = elementwise((a, b) => a / b);
const intDivKernel = elementwise((a, b) => Math.floor(a / b));
table.set(divP, (xs, p, out) => (int(xs) ? intDivKernel(xs, p, out) : divKernel(xs, p, out)));
table.set(
  powP,
  elementwise((a, b) => a ** b),
);
table.set(
  tanhGradP,
  elementwise((y, t) => t * (1 - y * y)),
);
table.set(
  eluGradP,
  elementwise((x, t) => t * (x > 0 ? 1 : Math.exp(x))),
);
table.set(
  maximumP,
  elementwise((a, b) => (a !== a || b !== b ? NaN : Math.max(a, b))),
);
table.set(
  minimumP,
  elementwise((a, b) => (a !== a || b !== b ? NaN : Math.min(a, b))),
);
table.set(
  greaterP,
  elementwise((a, b) => (a > b ? 1 : 0)),
);
table.set(
  lessP,
  elementwise((a, b) => (a < b ? 1 : 0)),
);
table.set(
  equalP,
  elementwise((a, b) => (a === b ? 1 : 0)),
);
table.set(
  selectP,
  elementwise((c, a, b) => (c ? a : b)),
);
const castKernels: Record<DType, HostKernel> = {
  bool: elementwise((v) => (v !== 0 ? 1 : 0)),
  int32: elementwise(Math.trunc),
  float32: elementwise((v) => v),
};
table.set(castP, (xs, p, out) => castKernels[out.dtype](xs, p, out));
table.set(stopGradientP, (xs) => xs[0]!);
table.set(reshapeP, ([x], { shape }: ReshapeParams) => ({ data: x!.data, shape: [...shape], dtype: x!.dtype }));

/** Gather: out[i] = x[offset(i)] over an output of `shape` with per-axis source strides. */
function gather(x: HostArray, shape: readonly number[], strides: number[], base = 0): HostArray {
  const out = alloc(x.dtype, sizeOf(shape));
  const d = x.data;
  let i = 0;
  forEachRow(shape, [strides], (off, n, [st]) => {
    for (let j = 0, p = base + off[0]!; j < n; j++, p += st!) out[i++] = d[p]!;
  });
  return { data: out, shape: [...shape], dtype: x.dtype };
}

table.set(broadcastToP, ([x], { shape }: BroadcastToParams) => gather(x!, shape, broadcastStrides(x!.shape, shape)));
table.set(transposeP, ([x], { perm }: TransposeParams) => {
  const s = stridesOf(x!.shape);
  return gather(
    x!,
    perm.map((p) => x!.shape[p]!),
    perm.map((p) => s[p]!),
  );
});
table.set(sliceP, ([x], { begin, size }: SliceParams) => {
  const s = stridesOf(x!.shape);
  return gather(
    x!,
    size,
    s,
    begin.reduce((acc, b, i) => acc + b * s[i]!, 0),
  );
});
table.set(reverseP, ([x], { axes }: ReverseParams) => {
  const s = stridesOf(x!.shape);
  const base = axes.reduce((acc, a) => acc + (x!.shape[a]! - 1) * s[a]!, 0);
  return gather(
    x!,
    x!.shape,
    s.map((st, i) => (axes.includes(i) ? -st : st)),
    base,
  );
});
table.set(padP, ([x], { paddings }: PadParams) => {
  const shape = x!.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
  const out = alloc(x!.dtype, sizeOf(shape));
  const os = stridesOf(shape);
  const base = paddings.reduce((acc, [lo], i) => acc + lo * os[i]!, 0);
  let i = 0;
  const d = x!.data;
  forEachRow(x!.shape, [os], (off, n, [st]) => {
    for (let j = 0, p = base + off[0]!; j < n; j++, p += st!) out[p] = d[i++]!;
  });
  return { data: out, shape, dtype: x!.dtype };
});

/** x's shape without `axes`, and per axis of x its stride in that shape (0 on a reduced axis). */
function keptStrides(shape: readonly number[], axes: readonly number[]): { kept: number[]; strides: number[] } {
  const kept = shape.filter((_, i) => !axes.includes(i));
  const os = stridesOf(kept);
  let k = 0;
  return { kept, strides: shape.map((_, i) => (axes.includes(i) ? 0 : os[k++]!)) };
}

function reduce(init: number, op: (acc: number, v: number) => number): HostKernel {
  return ([x], { axes }: ReduceParams) => {
    const { kept: shape, strides } = keptStrides(x!.shape, axes);
    const out = alloc(x!.dtype, sizeOf(shape)).fill(init);
    // Walk x in order; the output offset ignores reduced axes.
    const d = x!.data;
    let i = 0;
    // Each partial result is stored (rounded to the output's dtype), as before and as the kernels.
    forEachRow(x!.shape, [strides], (off, n, [st]) => {
      for (let j = 0, o = off[0]!; j < n; j++, o += st!) out[o] = op(out[o]!, d[i++]!);
    });
    return { data: out, shape, dtype: x!.dtype };
  };
}
table.set(
  reduceSumP,
  reduce(0, (a, v) => a + v),
);
table.set(
  reduceMaxP,
  reduce(-Infinity, (a, v) => (v !== v || a !== a ? NaN : v > a ? v : a)),
);

/** For max m of x over `axes`: per kept index, how many x equal m (the ties), and the strides that find it. */
function tieCounts(x: HostArray, m: HostArray, axes: readonly number[]): { count: Float32Array; strides: number[] } {
  const { kept, strides } = keptStrides(x.shape, axes);
  const [xd, md] = [x.data, m.data];
  const count = new Float32Array(sizeOf(kept));
  let i = 0;
  forEachIndex(x.shape, [strides], (o) => void (xd[i++] === md[o[0]!] && count[o[0]!]!++));
  return { count, strides };
}

/** (x == m)·(1/count)·t with count the ties per kept index, rounded as the kernels' product. */
table.set(maxScatterP, ([x, m, t], { axes }: ReduceParams) => {
  const { count, strides } = tieCounts(x!, m!, axes);
  const [xd, md] = [x!.data, m!.data];
  const scaled = count.map((c, j) => Math.fround(1 / c) * t!.data[j]!);
  const out = new Float32Array(xd.length);
  let i = 0;
  forEachIndex(x!.shape, [strides], (o) => (out[i] = (xd[i++] === md[o[0]!] ? 1 : 0) * scaled[o[0]!]!));
  return { data: out, shape: x!.shape, dtype: "float32" };
});
/** Σ over the axes of s·(mask·(1/count)), in x's order (the composed ops' terms). */
table.set(maxGatherP, ([x, m, s], { axes }: ReduceParams) => {
  const { count, strides } = tieCounts(x!, m!, axes);
  const [xd, md, sd] = [x!.data, m!.data, s!.data];
  const r = count.map((c) => 1 / c);
  const sum = new Float32Array(count.length);
  let i = 0;
  forEachIndex(x!.shape, [strides], (o) => {
    sum[o[0]!] = sum[o[0]!]! + Math.fround(sd[i]! * ((xd[i++] === md[o[0]!] ? 1 : 0) * r[o[0]!]!));
  });
  return { data: sum, shape: m!.shape, dtype: "float32" };
});

/** op(a)·op(b) (`MatmulParams`), accumulated in float64 row by row; a flag only changes the strides read. */
table.set(matmulP, ([a, b], { transposeA = false, transposeB = false }: MatmulParams, outAval: Aval) => {
  const as = a!.shape;
  const [m, n] = outAval.shape.slice(-2) as [number, number];
  const k = as[as.length - (transposeA ? 2 : 1)]!;
  // Element (i, p) of op(a) is A[i·ai + p·ap]; (p, j) of op(b) is B[p·bp + j·bj].
  const [ai, ap] = transposeA ? [1, m] : [k, 1];
  const [bp, bj] = transposeB ? [1, k] : [n, 1];
  const batch = as.slice(0, -2);
  const B = sizeOf(batch);
  const out = alloc(outAval.dtype, B * m * n);
  const A = a!.data;
  const Bd = b!.data;
  const row = new Float64Array(n);
  for (let t = 0; t < B; t++) {
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let p = 0; p < k; p++) {
        const av = A[t * m * k + i * ai + p * ap]!;
        const bo = t * k * n + p * bp;
        for (let j = 0; j < n; j++) row[j]! += av * Bd[bo + j * bj]!;
      }
      out.set(row, t * m * n + i * n);
    }
  }
  return { data: out, shape: [...batch, m, n], dtype: outAval.dtype };
});
