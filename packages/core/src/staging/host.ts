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
import type { Eqn, Jaxpr } from "./jaxpr";
import { broadcastStrides, collapseAxes, forEachIndex, forEachRow, sizeOf, stridesOf } from "../shapes";
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

/**
 * A plan with an array of at least this many elements (256 KiB of float32) runs host kernels on
 * scalars only (`hostPlacement`). Its large kernels leave the CPU caches cold, so the JS between two
 * kernels runs slower than in a loop of small ops, and a host step with its download and upload
 * can then cost more than the tfjs kernel it replaces. `npx tsx bench/hostPlacement.ts [--gemm wasm]`
 * measures both (2026-12-06, loaded machine): a 1000-float dataSync 2.3 µs in a loop against
 * 10.4 µs right after a 512×512 XNNPACK matmul (a 10-float tf.tensor 2.9 vs 16.5 µs); a rerun
 * (~13:00 UTC, 2 cores shared by 3 jobs) 1.12 vs 1.82 µs and 2.86 vs 3.63 µs, with this rule
 * jitted gradients of 4.00 ms (MLP, none ÷ placed 0.9996) and 10.22 ms (LeNet-5, 1.0043). Other
 * thresholds (host kernels on every array up to HOST_MAX_SIZE, or up to 256 elements) were tried
 * in scratch runs whose times were not kept; the script does not measure them.
 */
const LARGE_PLAN = 2 ** 16;

/**
 * The equations of `j` a plan runs as host kernels, by `runsOnHost`, and in a program holding an
 * array of LARGE_PLAN elements or more, scalars only. Plans place their steps by it and fusion
 * (`fuse.ts`) leaves alone the pairs it places on the host.
 */
export function hostPlacement(j: Jaxpr): (e: Eqn) => boolean {
  const large = j.eqns.some(
    (e) => sizeOf(e.outs[0]!.aval.shape) >= LARGE_PLAN || e.inputs.some((a) => sizeOf(a.aval.shape) >= LARGE_PLAN),
  );
  return (e) => {
    const ins = e.inputs.map((a) => a.aval);
    const out = e.outs[0]!.aval;
    return (
      runsOnHost(e.prim as AnyPrimitive, ins, out) &&
      (!large || (sizeOf(out.shape) <= 1 && ins.every((a) => sizeOf(a.shape) <= 1)))
    );
  };
}

const alloc = (dtype: DType, n: number): HostData =>
  dtype === "float32" ? new Float32Array(n) : dtype === "int32" ? new Int32Array(n) : new Uint8Array(n);

/** Whether the compiled loops and merged-axis paths run; tests turn them off to compare with the general path. */
let fastPaths = true;
/** Tests only: run every host kernel through its general path (`on` false) or its fast paths (true, the default). */
export const setHostFastPaths = (on: boolean): void => void (fastPaths = on);

/** The general n-ary elementwise kernel with numpy broadcasting; `out` is the output aval (from the jaxpr). */
function generalElementwise(f: (...v: number[]) => number): HostKernel {
  return (xs, _params, out) => {
    const shape = out.shape;
    const n = sizeOf(shape);
    const o = alloc(out.dtype, n);
    const a = xs[0]!.data;
    if (xs.length === 1) {
      for (let i = 0; i < n; i++) o[i] = f(a[i]!);
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

/**
 * The function whose source is `fn`, compiled in strict mode with `new Function`. Every source is
 * one of this module's templates filled with one of its own constant expressions (elementwiseOps,
 * the reductions): no data or caller's string reaches it. undefined where code generation is
 * unavailable (a content security policy forbidding `new Function`): callers run their general path.
 */
function compile<T>(fn: string): T | undefined {
  try {
    return new Function(`"use strict"; return ${fn};`)() as T;
  } catch {
    return undefined;
  }
}

/**
 * At most two axes merged by collapseAxes as R rows of C columns, with each input's (row, column)
 * strides: rank 1 is one row, rank 0 one element.
 */
function asRows(c: { shape: number[]; strides: number[][] }): { R: number; C: number; st: Array<[number, number]> } {
  const two = c.shape.length === 2;
  return {
    R: two ? c.shape[0]! : 1,
    C: two ? c.shape[1]! : (c.shape[0] ?? 1),
    st: c.strides.map((s) => (two ? [s[0]!, s[1]!] : [0, s[0] ?? 0])),
  };
}

/**
 * A loop o[r·C + k] = expr(X[r·xr + k·xc], Y[r·yr + k·yc], …) over r < R, k < C, compiled for one
 * expression: a loop shared by every operation calls its operation through a megamorphic call
 * site; a loop of its own inlines it (no saved bench times the two). Inputs are named x, y, z in `expr`.
 */
type Loop2 = (o: HostData, R: number, C: number, ...inputs: Array<HostData | number>) => void;
function compileLoop(arity: number, expr: string): Loop2 | undefined {
  const v = ["x", "y", "z"].slice(0, arity);
  return compile<Loop2>(`function (o, R, C, ${v.map((n) => `${n.toUpperCase()}, ${n}r, ${n}c`).join(", ")}) {
    let i = 0;
    for (let r = 0; r < R; r++) {
      ${v.map((n) => `let ${n}p = r * ${n}r;`).join(" ")}
      for (let k = 0; k < C; k++) {
        ${v.map((n) => `const ${n} = ${n.toUpperCase()}[${n}p]; ${n}p += ${n}c;`).join(" ")}
        o[i++] = ${expr};
      }
    }
  }`);
}

/**
 * An elementwise kernel: `f` defines it (the general path, any broadcast); `expr`, the same
 * function as a JS expression in x, y, z, compiles a tight loop for the common cases — every
 * broadcast that folds into at most [rows, columns] (same shapes, scalars, a row or column vector
 * against a matrix). Both store to the output's typed array, so results are bit-identical.
 */
function elementwise(arity: number, f: (...v: number[]) => number, expr: string): HostKernel {
  const general = generalElementwise(f);
  const loop = compileLoop(arity, expr);
  if (loop === undefined) return general;
  return (xs, params, out) => {
    if (!fastPaths || xs.length !== arity) return general(xs, params, out);
    const shape = out.shape;
    const c = collapseAxes(
      shape,
      xs.map((x) => broadcastStrides(x.shape, shape)),
    );
    if (c.shape.length > 2) return general(xs, params, out);
    // (No named closures here: tsx's keepNames wraps each in a costly defineProperty.)
    const { R, C, st } = asRows(c);
    const [[xr, xc], [yr, yc] = [0, 0], [zr, zc] = [0, 0]] = st as [[number, number], ...Array<[number, number]>];
    const o = alloc(out.dtype, R * C);
    const x = xs[0]!.data;
    if (arity === 1) loop(o, R, C, x, xr, xc);
    else if (arity === 2) loop(o, R, C, x, xr, xc, xs[1]!.data, yr, yc);
    else loop(o, R, C, x, xr, xc, xs[1]!.data, yr, yc, xs[2]!.data, zr, zc);
    return { data: o, shape, dtype: out.dtype };
  };
}

/** Elementwise definitions: primitive, arity, function, and the same function as an expression in x, y, z. */
const elementwiseOps: Array<[AnyPrimitive, number, (...v: number[]) => number, string]> = [
  [negP, 1, (x) => -x, "-x"],
  [expP, 1, Math.exp, "Math.exp(x)"],
  [expm1P, 1, Math.expm1, "Math.expm1(x)"],
  [logP, 1, Math.log, "Math.log(x)"],
  [log1pP, 1, Math.log1p, "Math.log1p(x)"],
  [sinP, 1, Math.sin, "Math.sin(x)"],
  [cosP, 1, Math.cos, "Math.cos(x)"],
  [tanhP, 1, Math.tanh, "Math.tanh(x)"],
  [sqrtP, 1, Math.sqrt, "Math.sqrt(x)"],
  [eluP, 1, (x) => (x > 0 ? x : Math.expm1(x)), "x > 0 ? x : Math.expm1(x)"],
  [addP, 2, (a, b) => a + b, "x + y"],
  [subP, 2, (a, b) => a - b, "x - y"],
  [mulP, 2, (a, b) => a * b, "x * y"],
  [powP, 2, (a, b) => a ** b, "x ** y"],
  [tanhGradP, 2, (y, t) => t * (1 - y * y), "y * (1 - x * x)"],
  [eluGradP, 2, (x, t) => t * (x > 0 ? 1 : Math.exp(x)), "y * (x > 0 ? 1 : Math.exp(x))"],
  [maximumP, 2, (a, b) => (a !== a || b !== b ? NaN : Math.max(a, b)), "x !== x || y !== y ? NaN : Math.max(x, y)"],
  [minimumP, 2, (a, b) => (a !== a || b !== b ? NaN : Math.min(a, b)), "x !== x || y !== y ? NaN : Math.min(x, y)"],
  [greaterP, 2, (a, b) => (a > b ? 1 : 0), "x > y ? 1 : 0"],
  [lessP, 2, (a, b) => (a < b ? 1 : 0), "x < y ? 1 : 0"],
  [equalP, 2, (a, b) => (a === b ? 1 : 0), "x === y ? 1 : 0"],
  [selectP, 3, (c, a, b) => (c ? a : b), "x ? y : z"],
];
for (const [p, arity, f, expr] of elementwiseOps) table.set(p, elementwise(arity, f, expr));

const int = (xs: HostArray[]) => xs[0]!.dtype === "int32";
const divKernel = elementwise(2, (a, b) => a / b, "x / y");
const intDivKernel = elementwise(2, (a, b) => Math.floor(a / b), "Math.floor(x / y)");
table.set(divP, (xs, p, out) => (int(xs) ? intDivKernel(xs, p, out) : divKernel(xs, p, out)));
const castKernels: Record<DType, HostKernel> = {
  bool: elementwise(1, (v) => (v !== 0 ? 1 : 0), "x !== 0 ? 1 : 0"),
  int32: elementwise(1, Math.trunc, "Math.trunc(x)"),
  float32: elementwise(1, (v) => v, "x"),
};
table.set(castP, (xs, p, out) => castKernels[out.dtype](xs, p, out));
table.set(stopGradientP, (xs) => xs[0]!);
table.set(reshapeP, ([x], { shape }: ReshapeParams) => ({ data: x!.data, shape: [...shape], dtype: x!.dtype }));

/**
 * Gather: out[i] = x[base + offset(i)] over an output of `shape` with per-axis source strides. Axes
 * that merge are merged (collapseAxes); up to four axes left run as plain nested loops, more through forEachRow.
 */
function gather(x: HostArray, shape: readonly number[], strides: number[], base = 0): HostArray {
  const out = alloc(x.dtype, sizeOf(shape));
  const d = x.data;
  const c = fastPaths ? collapseAxes(shape, [strides]) : { shape: [...shape], strides: [strides] };
  if (fastPaths && c.shape.length <= 4) {
    const pad = 4 - c.shape.length;
    const [n0, n1, n2, n3] = [1, 1, 1, 1, ...c.shape].slice(-4) as [number, number, number, number];
    const [s0, s1, s2, s3] = [...new Array<number>(pad).fill(0), ...c.strides[0]!] as [number, number, number, number];
    let i = 0;
    for (let a = 0, pa = base; a < n0; a++, pa += s0)
      for (let b = 0, pb = pa; b < n1; b++, pb += s1)
        for (let e = 0, pe = pb; e < n2; e++, pe += s2)
          for (let f = 0, pf = pe; f < n3; f++, pf += s3) out[i++] = d[pf]!;
  } else {
    let i = 0;
    forEachRow(c.shape, c.strides, (off, n, [st]) => {
      for (let j = 0, p = base + off[0]!; j < n; j++, p += st!) out[i++] = d[p]!;
    });
  }
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

/** The general reduction: walk x in order, out[offset(i)] = op(out[offset(i)], x[i]). */
function generalReduce(x: HostArray, axes: readonly number[], init: number, op: (acc: number, v: number) => number) {
  const { kept: shape, strides } = keptStrides(x.shape, axes);
  const out = alloc(x.dtype, sizeOf(shape)).fill(init);
  const d = x.data;
  let i = 0;
  // Each partial result is stored (rounded to the output's dtype), as before and as the kernels.
  forEachRow(x.shape, [strides], (off, n, [st]) => {
    for (let j = 0, o = off[0]!; j < n; j++, o += st!) out[o] = op(out[o]!, d[i++]!);
  });
  return { data: out, shape, dtype: x.dtype };
}

/**
 * A reduction: acc = op(acc, v) in x's order from `init`, each partial result stored (rounded to
 * the output's dtype, as the kernels). `expr` is `op` as a JS expression in a (accumulator) and v:
 * where x folds into at most two runs of axes (kept then reduced, as a sum over the last axis, or
 * reduced then kept), a loop compiled for it runs; otherwise the general walk.
 */
function reduce(init: number, op: (acc: number, v: number) => number, expr: string): HostKernel {
  const loop = compile<(o: HostData, X: HostData, R: number, C: number, sr: number, sc: number) => void>(
    `function (o, X, R, C, sr, sc) {
      let i = 0;
      for (let r = 0; r < R; r++) {
        let p = r * sr;
        for (let k = 0; k < C; k++, p += sc) { const a = o[p]; const v = X[i++]; o[p] = ${expr}; }
      }
    }`,
  );
  return ([x], { axes }: ReduceParams) => {
    if (loop === undefined || !fastPaths) return generalReduce(x!, axes, init, op);
    const { kept: shape, strides } = keptStrides(x!.shape, axes);
    const c = collapseAxes(x!.shape, [strides]);
    if (c.shape.length > 2) return generalReduce(x!, axes, init, op);
    const { R, C, st } = asRows(c);
    const out = alloc(x!.dtype, sizeOf(shape)).fill(init);
    loop(out, x!.data, R, C, st[0]![0], st[0]![1]);
    return { data: out, shape, dtype: x!.dtype };
  };
}
table.set(
  reduceSumP,
  reduce(0, (a, v) => a + v, "a + v"),
);
table.set(
  reduceMaxP,
  reduce(-Infinity, (a, v) => (v !== v || a !== a ? NaN : v > a ? v : a), "v !== v || a !== a ? NaN : v > a ? v : a"),
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
