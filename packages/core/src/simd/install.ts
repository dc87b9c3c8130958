/**
 * SIMD elementwise kernels for the tfjs wasm backend. tfjs-wasm computes tanh, exp, log, … one
 * float at a time (LeNet's Tanh on [100,28,28,6]: 12 ms, 26 ns an element); these compute four at a
 * time with Cephes's float32 algorithms (see packages/core/assembly/elementwise.ts). The module is
 * instantiated on the backend's own heap, so kernels read and write tfjs's tensors in place.
 *
 * `installSimdKernels` registers them under tfjs's kernel names (Tanh, Exp, Expm1, Log, Log1p) for
 * the wasm backend, replacing tfjs-wasm's kernels for float32 inputs (others go to tfjs's kernel),
 * and adds `HodiffTanhGrad` (dy·(1 − y²) in one pass). tfjs-wasm's Sigmoid and Elu are XNNPACK's,
 * already vectorised, and faster than a Cephes-style version (`pnpm bench elementwise`): kept.
 * Transpose is replaced too, for float32/int32 permutations that swap two groups of axes (all of
 * matmul's and conv's gradients): tfjs-wasm's takes 60 ms for a 1024×1024 matrix, a cache-blocked
 * SIMD one about 1 ms. The broadcast/layout section adds Add and Multiply where one operand repeats
 * along the other's leading axes (a bias), Reverse, Transpose by any other permutation, and
 * `HodiffCol2Im` (conv2d's input gradient as matmul + scatter, see `K.conv2d`).
 */
import {
  FUSED_KERNELS,
  runtime,
  softmaxView,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  type TfDataType,
  type HeapGemm,
} from "../kernels";
import { broadcastShapes, broadcastStrides, forEachIndex, maxScatterView, sameShape, sizeOf } from "../shapes";
import { SIMD_WASM_BASE64 } from "./module";

export type { HeapGemm } from "../kernels";

/** The kernels the module exports: (x, out, n) for unary ones, byte offsets and an element count. */
type Unary = (x: number, out: number, n: number) => void;
interface SimdExports {
  tanh: Unary;
  exp: Unary;
  expm1: Unary;
  log: Unary;
  log1p: Unary;
  elu: Unary;
  tanhGrad: (y: number, dy: number, out: number, n: number) => void;
  eluGrad: (x: number, dy: number, out: number, n: number) => void;
  transpose: (x: number, out: number, batch: number, rows: number, cols: number, chunk: number) => void;
  sumMiddle: (x: number, out: number, outer: number, r: number, inner: number) => void;
  maxMiddle: (x: number, out: number, outer: number, r: number, inner: number) => void;
  addRows: (a: number, b: number, out: number, outer: number, inner: number) => void;
  mulRows: (a: number, b: number, out: number, outer: number, inner: number) => void;
  reverseMiddle: (x: number, out: number, outer: number, r: number, inner: number) => void;
  transposeNd: (x: number, out: number, ...plan: TransposeNdArgs) => void;
  col2im: (cols: number, out: number, ...dims: number[]) => void;
  /** Byte offsets, then batch, h, w, c, ho, wo, kh, kw, sh, sw, dh, dw, top, left. */
  im2col: (x: number, out: number, ...dims: number[]) => void;
  /** The max-pool kernels: byte offsets, then x viewed as [a, r1, b, r2, c, r3, d] (`maxScatterView`). */
  maxScatter: (x: number, m: number, t: number, out: number, ...view: number[]) => void;
  maxScatterTanhGrad: (x: number, m: number, t: number, out: number, ...view: number[]) => void;
  maxWindows: (x: number, out: number, ...view: number[]) => void;
  /** Byte offsets of x, m, t and out, then n, hp, kh, wp, kw, c (helper "sumk"). */
  maxScatterTanhGradHwnc: (x: number, m: number, t: number, out: number, ...dims: number[]) => void;
  maxGather: (x: number, m: number, s: number, out: number, ...view: number[]) => void;
  /** tanh(x + b), b along x's last axis: byte offsets of x, b, out, then rows and columns. */
  biasTanh: (x: number, b: number, out: number, rows: number, cols: number) => void;
}

/** transposeNd's arguments after x and out: rows, cols, ldx, ldo, chunk, then (n, x stride, out stride) × 4. */
type TransposeNdArgs = [number, number, number, number, number, ...number[]];

/** The parts of tfjs-wasm's BackendWasm used here (not in its public types). */
interface WasmBackend extends KernelBackend {
  wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory; HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: TfDataType): TensorInfo;
}

/** tfjs kernel name → export of the module. */
export const SIMD_UNARY: Readonly<Record<string, keyof SimdExports>> = {
  Tanh: "tanh",
  Exp: "exp",
  Expm1: "expm1",
  Log: "log",
  Log1p: "log1p",
};

/** Name of the fused tanh-derivative kernel (inputs y, dy): dy·(1 − y²). */
export const TANH_GRAD = FUSED_KERNELS.tanhGrad;
/** ELU as x > 0 ? x : expm1(x) (input x; tfjs's Elu computes exp(x) − 1, inexact near 0). */
export const ELU = FUSED_KERNELS.elu;
/** The fused ELU-derivative kernel (inputs x, dy): dy·(x > 0 ? 1 : eˣ). */
export const ELU_GRAD = FUSED_KERNELS.eluGrad;
/** The scatter half of a conv as matmul + col2im (input cols; see `K.conv2d`). */
export const COL2IM = FUSED_KERNELS.col2im;

let installed: { backend: WasmBackend; exports: SimdExports } | null = null;
const originals = new Map<string, KernelConfig>();
let enabled = false;

const decode = (b64: string): Uint8Array => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

const offset = (backend: WasmBackend, t: TensorInfo): number => backend.dataIdMap.get(t.dataId)!.memoryOffset;

/** tfjs's own kernel `name` on `backend` (set up for it), for inputs these kernels do not take. */
function original(name: string, args: Parameters<KernelFunc>[0]) {
  const config = originals.get(name)!;
  if (args.backend !== installed?.backend) config.setupFunc?.(args.backend);
  return config.kernelFunc(args);
}

/** Where a fused kernel (one with no tfjs kernel to fall back to) runs: the backend installed on, and the module. */
function installedFor(args: Parameters<KernelFunc>[0], name: string): { backend: WasmBackend; exports: SimdExports } {
  if (args.backend !== installed?.backend)
    throw new Error(`${name}: the wasm backend changed since installSimdKernels`);
  return installed;
}

function unaryKernel(name: string, fn: keyof SimdExports): KernelConfig {
  return {
    kernelName: name,
    backendName: "wasm",
    kernelFunc: (args) => {
      const x = args.inputs.x as TensorInfo;
      const backend = args.backend as WasmBackend;
      if (x.dtype !== "float32" || backend !== installed?.backend) return original(name, args);
      const out = backend.makeOutput(x.shape, "float32");
      const n = runtime.sizeFromShape(x.shape);
      if (n > 0) (installed.exports[fn] as Unary)(offset(backend, x), offset(backend, out), n);
      return out;
    },
  };
}

/** A kernel of two same-shape float32 inputs (`a`, `dy`) and one output, computed by `fn`. */
function binaryKernel(name: string, a: string, fn: "tanhGrad" | "eluGrad"): KernelConfig {
  return {
    kernelName: name,
    backendName: "wasm",
    kernelFunc: (args) => {
      const x = args.inputs[a] as TensorInfo;
      const dy = args.inputs.dy as TensorInfo;
      const { backend, exports } = installedFor(args, name);
      const out = backend.makeOutput(x.shape, "float32");
      const n = runtime.sizeFromShape(x.shape);
      if (n > 0) exports[fn](offset(backend, x), offset(backend, dy), offset(backend, out), n);
      return out;
    },
  };
}

/** Kernels of hodiff's own (not replacing tfjs's). */
const ADDED = [
  binaryKernel(TANH_GRAD, "y", "tanhGrad"),
  binaryKernel(ELU_GRAD, "x", "eluGrad"),
  unaryKernel(ELU, "elu"),
];

/**
 * A transpose as a swap of two axis groups: [batch, rows, cols, chunk] with out[b, j, i, k] =
 * x[b, i, j, k], after dropping size-1 axes and merging axes that stay adjacent; null for other
 * permutations (and for the identity).
 */
export function asSwap(shape: readonly number[], perm: readonly number[]): [number, number, number, number] | null {
  const groups: number[][] = []; // runs of input axes adjacent in both, in output order
  for (const a of perm.filter((a) => shape[a] !== 1)) {
    const g = groups.at(-1);
    if (g && g.at(-1)! + 1 === a) g.push(a);
    else groups.push([a]);
  }
  const byInput = [...groups].sort((a, b) => a[0]! - b[0]!);
  const size = byInput.map((g) => g.reduce((p, a) => p * shape[a]!, 1));
  const q = groups.map((g) => byInput.indexOf(g)).join(",");
  const [s0 = 1, s1 = 1, s2 = 1, s3 = 1] = size;
  if (q === "1,0") return [1, s0, s1, 1];
  if (q === "1,0,2") return [1, s0, s1, s2];
  if (q === "0,2,1") return [s0, s1, s2, 1];
  if (q === "0,2,1,3") return [s0, s1, s2, s3];
  return null;
}

const transposeKernel: KernelConfig = {
  kernelName: "Transpose",
  backendName: "wasm",
  kernelFunc: (args) => {
    const x = args.inputs.x as TensorInfo;
    const perm = (args.attrs as { perm: number[] }).perm;
    const backend = args.backend as WasmBackend;
    const swap = x.dtype === "float32" || x.dtype === "int32" ? asSwap(x.shape, perm) : null;
    if (!swap || backend !== installed?.backend) return transposeAny(args);
    const out = backend.makeOutput(
      perm.map((a) => x.shape[a]!),
      x.dtype,
    );
    installed.exports.transpose(offset(backend, x), offset(backend, out), ...swap);
    return out;
  },
};

// ── broadcast / layout kernels ──────────────────────────────────────────────────────────────────

/**
 * [outer, inner] when one operand is the full output and the other repeats along its leading axes
 * (its shape, leading 1s dropped, is a suffix of the output's: a bias [C] against [..., C]); `big`
 * says which input is the full one. null otherwise (same shapes included: tfjs's add is fast there).
 */
export function asRows(
  a: readonly number[],
  b: readonly number[],
): { outer: number; inner: number; big: "a" | "b" } | null {
  const out = broadcastShapes("broadcast", [a, b]);
  const size = sizeOf(out);
  const fullA = sizeOf(a) === size;
  const fullB = sizeOf(b) === size;
  if (fullA === fullB || size === 0) return null;
  const small = fullA ? b : a;
  const first = small.findIndex((d) => d !== 1);
  const tail = first < 0 ? [] : small.slice(first);
  if (!sameShape(tail, out.slice(out.length - tail.length))) return null;
  const inner = sizeOf(tail);
  return { outer: size / inner, inner, big: fullA ? "a" : "b" };
}

/** Add or Multiply of float32 operands where one repeats along the other's leading axes (`asRows`). */
function rowsKernel(name: "Add" | "Multiply", fn: "addRows" | "mulRows"): KernelConfig {
  return {
    kernelName: name,
    backendName: "wasm",
    kernelFunc: (args) => {
      const a = args.inputs.a as TensorInfo;
      const b = args.inputs.b as TensorInfo;
      const backend = args.backend as WasmBackend;
      const rows = a.dtype === "float32" && b.dtype === "float32" ? asRows(a.shape, b.shape) : null;
      if (!rows || backend !== installed?.backend) return original(name, args);
      const [big, small] = rows.big === "a" ? [a, b] : [b, a];
      // The output has the broadcast shape, which may have more (size-1) leading axes than `big`.
      const out = backend.makeOutput(broadcastShapes(name, [a.shape, b.shape]), "float32");
      installed.exports[fn](offset(backend, big), offset(backend, small), offset(backend, out), rows.outer, rows.inner);
      return out;
    },
  };
}

/**
 * Reverse of float32/int32 along any axes as passes over [outer, r, inner] views, one per run of
 * adjacent reversed axes (flipping a run of axes is flipping their merged axis). tfjs-wasm's
 * Reverse walks element by element (a [3,3,512,512] filter flip: 175 ms).
 */
const reverseKernel: KernelConfig = {
  kernelName: "Reverse",
  backendName: "wasm",
  kernelFunc: (args) => {
    const x = args.inputs.x as TensorInfo;
    const backend = args.backend as WasmBackend;
    const n = runtime.sizeFromShape(x.shape);
    if ((x.dtype !== "float32" && x.dtype !== "int32") || n === 0 || backend !== installed?.backend)
      return original("Reverse", args);
    const axes = runtime.parseAxisParam((args.attrs as { dims: number | number[] }).dims, x.shape);
    const runs = reductionRuns(x.shape, axes);
    const out = backend.makeOutput(x.shape, x.dtype);
    const passes = runs.flatMap(([, rev], k) => (rev ? [k] : []));
    if (passes.length === 0) {
      backend.wasm.HEAPU8.copyWithin(offset(backend, out), offset(backend, x), offset(backend, x) + n * 4);
      return out;
    }
    let src = x;
    const temps: TensorInfo[] = [];
    passes.forEach((k, p) => {
      const r = runs[k]![0];
      const inner = runs.slice(k + 1).reduce((q, [d]) => q * d, 1);
      const dst = p === passes.length - 1 ? out : backend.makeOutput([n], x.dtype);
      if (dst !== out) temps.push(dst);
      installed!.exports.reverseMiddle(offset(backend, src), offset(backend, dst), n / (r * inner), r, inner);
      src = dst;
    });
    for (const t of temps) backend.disposeData(t.dataId);
    return out;
  },
};

/**
 * A permutation after dropping size-1 axes and merging axes adjacent in both orders: the merged
 * shape `m` (input order) and `order` (out axis k is merged input axis order[k]).
 */
function mergeAxes(shape: readonly number[], perm: readonly number[]): { m: number[]; order: number[] } {
  // Kept axes are renumbered 0, 1, … so that axes with only size-1 axes between them are adjacent.
  const kept = shape.flatMap((d, a) => (d === 1 ? [] : [a]));
  const groups: number[][] = [];
  for (const k of perm.filter((a) => shape[a] !== 1).map((a) => kept.indexOf(a))) {
    const g = groups.at(-1);
    if (g && g.at(-1)! + 1 === k) g.push(k);
    else groups.push([k]);
  }
  const byInput = [...groups].sort((g, h) => g[0]! - h[0]!);
  const m = byInput.map((g) => g.reduce((p, k) => p * shape[kept[k]!]!, 1));
  return { m, order: groups.map((g) => byInput.indexOf(g)) };
}

/** Arguments of the module's `transposeNd` (after x and out), or null past rank 6 or for the identity. */
export function transposePlan(shape: readonly number[], perm: readonly number[]): TransposeNdArgs | null {
  const { m, order } = mergeAxes(shape, perm);
  if (m.length < 2 || m.length > 6) return null;
  const sx = m.map((_, a) => m.slice(a + 1).reduce((p, d) => p * d, 1));
  const so: number[] = new Array<number>(m.length);
  order.forEach((a, k) => (so[a] = order.slice(k + 1).reduce((p, b) => p * m[b]!, 1)));
  let last = m.length - 1;
  let chunk = 1;
  if (order.at(-1) === last) {
    chunk = m[last]!; // the innermost axis stays innermost: move whole runs of it
    order.pop();
    last--;
  }
  const A = order.at(-1)!; // out's innermost axis (other than the chunk)
  const B = last; // x's innermost
  const others = order.filter((a) => a !== A && a !== B);
  // Padded in front: the kernel loops over the innermost of the four in one call.
  const padded = [[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], ...others.map((a) => [m[a]!, sx[a]!, so[a]!])];
  return [m[A]!, m[B]!, sx[A]!, so[B]!, chunk, ...padded.slice(-4).flat()];
}

/**
 * Below this many columns (x's innermost axis) the one-pass kernel runs strips of 4 rows, which
 * neither cache-set aliasing nor few columns slow down: LeNet-5's [100,32,32,3] by [3,1,2,0] took
 * 0.052 ms in one pass against 0.073 ms in two (0.14 against 0.24 from memory; scratch kernel timing
 * of the module's exports, 2026-12-06, loaded machine). The same bound as `transposeNd`'s in
 * assembly/elementwise.ts.
 */
const STRIPS = 8;

/**
 * Whether rows `stride` floats apart fall into the same few cache sets (a multiple of 4 KiB): the
 * one-pass transpose then evicts its own lines (VGG's [32,16,16,128] by [3,1,2,0]: 1.7 ms in one
 * pass, 0.3 ms in two; `bench/layout.ts` has LeNet's case).
 */
const aliased = (stride: number): boolean => (stride * 4) % 4096 === 0;

/**
 * Transposes that are not swaps of two axis groups (`asSwap`), e.g. conv's filter-gradient
 * [3,1,2,0]. When x's innermost axis has ≥ STRIPS columns and the rows' strides alias in the cache, out's
 * innermost axis A is first moved to the end ([pre, A, post] → [pre, post, A], a swap), which
 * leaves a transpose of whole runs of A.
 */
function transposeAny(args: Parameters<KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const x = args.inputs.x as TensorInfo;
  const perm = (args.attrs as { perm: number[] }).perm;
  const backend = args.backend as WasmBackend;
  const plan = x.dtype === "float32" || x.dtype === "int32" ? transposePlan(x.shape, perm) : null;
  if (!plan || runtime.sizeFromShape(x.shape) === 0 || backend !== installed?.backend)
    return original("Transpose", args);
  const out = backend.makeOutput(
    perm.map((a) => x.shape[a]!),
    x.dtype,
  );
  const [rows, cols, ldx, ldo, chunk] = plan;
  if (chunk > 1 || rows < 4 || cols < STRIPS || (!aliased(ldx) && !aliased(ldo))) {
    installed.exports.transposeNd(offset(backend, x), offset(backend, out), ...plan);
    return out;
  }
  const { m, order } = mergeAxes(x.shape, perm);
  const A = order.at(-1)!;
  const pre = m.slice(0, A).reduce((p, d) => p * d, 1);
  const post = m.slice(A + 1).reduce((p, d) => p * d, 1);
  // The second pass: mid's axes are x's merged axes but A, then A; out takes them in `order`.
  const midAxis = (a: number) => (a === A ? m.length - 1 : a < A ? a : a - 1);
  const midShape = [...m.filter((_, a) => a !== A), m[A]!];
  const second = transposePlan(
    midShape,
    order.map((a) => midAxis(a)),
  );
  const mid = second ? backend.makeOutput([pre * post * m[A]!], x.dtype) : out;
  installed.exports.transpose(offset(backend, x), offset(backend, mid), pre, m[A]!, post, 1);
  if (!second) return out; // the first pass was the whole permutation
  installed.exports.transposeNd(offset(backend, mid), offset(backend, out), ...second);
  backend.disposeData(mid.dataId);
  return out;
}

/** col2im's attributes (see `K.conv2d`'s scatter path): cols is [batch, h, w, kh, kw, c]. */
interface Col2ImAttrs {
  batch: number;
  h: number;
  w: number;
  ho: number;
  wo: number;
  kh: number;
  kw: number;
  c: number;
  dh: number;
  dw: number;
  p0: number;
  q0: number;
}

/** out[b, i + u·dh + p0, j + v·dw + q0, :] = Σ cols[b, i, j, u, v, :] (out: [batch, ho, wo, c], zero elsewhere). */
const col2imKernel: KernelConfig = {
  kernelName: COL2IM,
  backendName: "wasm",
  kernelFunc: (args) => {
    const cols = args.inputs.x as TensorInfo;
    const { backend, exports } = installedFor(args, COL2IM);
    const a = args.attrs as unknown as Col2ImAttrs;
    const out = backend.makeOutput([a.batch, a.ho, a.wo, a.c], "float32");
    if (runtime.sizeFromShape([a.batch, a.ho, a.wo, a.c]) === 0) return out;
    exports.col2im(
      offset(backend, cols),
      offset(backend, out),
      a.batch,
      a.h,
      a.w,
      a.ho,
      a.wo,
      a.kh,
      a.kw,
      a.c,
      a.dh,
      a.dw,
      a.p0,
      a.q0,
    );
    return out;
  },
};

/** Kernels of hodiff's own in this section (registered like `ADDED`). */
const LAYOUT_ADDED = [col2imKernel];

/** The broadcast/layout kernels replacing tfjs-wasm's (Transpose's general case goes through `transposeAny`). */
const LAYOUT_KERNELS = [rowsKernel("Add", "addRows"), rowsKernel("Multiply", "mulRows"), reverseKernel];

// ── end of broadcast / layout kernels ───────────────────────────────────────────────────────────

// ---- native GEMM ----
// BatchMatMul through a native GEMM (`runtime.setHeapGemm`, e.g. @hodiff/native's OpenBLAS) on the
// backend's own heap: no copies. XNNPACK's wasm GEMM is 128-bit SIMD; a native BLAS uses the CPU's
// full vector width (512³: 6.0 ms in tfjs-wasm, 1.6 ms in OpenBLAS's SkylakeX kernel and 2.5 ms in
// its Haswell one, one thread; `npx tsx bench/nativeGemm.ts`, bench/results/2026-12-06-native-gemm.txt).

/** One heap GEMM call of `gemmPlan`: batch indices of A, B and C, the batch count, the rows stacked. */
interface GemmCall {
  a: number;
  b: number;
  c: number;
  batch: number;
  stack: number;
}

/**
 * The heap GEMM calls for a batched matmul with batch shapes `batchA`, `batchB` (tfjs broadcasts
 * them): [aBatch, bBatch, cBatch, count, rows] triples of batch indices, merged where possible.
 * Equal batches are one call of `batch`; a shared B (batch 1) without transposed A is one call
 * with the batches stacked as rows (count 1, rows × batch); anything else one call per output batch.
 */
export function gemmPlan(
  batchA: readonly number[],
  batchB: readonly number[],
  transA: boolean,
): { out: number[]; calls: GemmCall[] } {
  const out = broadcastShapes("matMul", [batchA, batchB]);
  const total = sizeOf(out);
  const na = sizeOf(batchA);
  const nb = sizeOf(batchB);
  if (na === total && nb === total) return { out, calls: [{ a: 0, b: 0, c: 0, batch: total, stack: 1 }] };
  if (nb === 1 && na === total && !transA) return { out, calls: [{ a: 0, b: 0, c: 0, batch: 1, stack: total }] };
  // General broadcasting: A's and B's batch at each output batch (0 along their size-1 axes).
  const calls: GemmCall[] = [];
  forEachIndex(out, [broadcastStrides(batchA, out), broadcastStrides(batchB, out)], ([a, b]) =>
    calls.push({ a: a!, b: b!, c: calls.length, batch: 1, stack: 1 }),
  );
  return { out, calls };
}

/** The backend's WebAssembly.Memory (read its `buffer` after any allocation: growth replaces it). */
const wasmMemory = (backend: WasmBackend): WebAssembly.Memory | undefined =>
  backend.wasm.asm?.memory ?? backend.wasm.wasmMemory;

/** BatchMatMul: float32 with a heap GEMM set → the native GEMM; everything else → tfjs-wasm's. */
const batchMatMulKernel: KernelConfig = {
  kernelName: "BatchMatMul",
  backendName: "wasm",
  kernelFunc: (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA: ta = false, transposeB: tb = false } = args.attrs as {
      transposeA?: boolean;
      transposeB?: boolean;
    };
    const backend = args.backend as WasmBackend;
    const gemm = runtime.heapGemm();
    const memory = wasmMemory(backend);
    if (gemm === null || a.dtype !== "float32" || b.dtype !== "float32" || backend !== installed?.backend || !memory)
      return original("BatchMatMul", args);
    const [ra, rb] = [a.shape.length, b.shape.length];
    const m = a.shape[ta ? ra - 1 : ra - 2]!;
    const k = a.shape[ta ? ra - 2 : ra - 1]!;
    const n = b.shape[tb ? rb - 2 : rb - 1]!;
    if (k !== b.shape[tb ? rb - 1 : rb - 2]) return original("BatchMatMul", args); // tfjs's error message
    const plan = gemmPlan(a.shape.slice(0, -2), b.shape.slice(0, -2), ta);
    const out = backend.makeOutput([...plan.out, m, n], "float32");
    if (m * n * sizeOf(plan.out) === 0) return out;
    const heap = memory.buffer; // after makeOutput, which may have grown (and so replaced) it
    const [oa, ob, oc] = [offset(backend, a), offset(backend, b), offset(backend, out)];
    for (const call of plan.calls) {
      gemm(
        heap,
        oa + call.a * m * k * 4,
        ob + call.b * k * n * 4,
        oc + call.c * m * n * 4,
        call.batch,
        m * call.stack,
        n,
        k,
        ta,
        tb,
      );
    }
    return out;
  },
};

/** The native-GEMM kernels replacing tfjs-wasm's (they defer to it while no heap GEMM is set). */
const NATIVE_KERNELS = [batchMatMulKernel];

/**
 * Route the wasm backend's float32 matmuls C_i = op(A_i)·op(B_i) through `gemm` (a native BLAS on the
 * heap), or back to XNNPACK with null.
 */
export function setHeapGemm(gemm: HeapGemm | null): void {
  runtime.setHeapGemm(gemm);
}

/** Whether float32 matmuls on the active backend go to a native GEMM now (set, on wasm, kernels installed). */
export const heapGemmActive = (): boolean => runtime.heapGemm() !== null && simdKernelsActive();

// ---- end of native GEMM ----

/**
 * Slice by copying contiguous runs within the heap. tfjs-wasm's Slice first reads the whole input
 * out of the heap (readSync copies it), so slicing one row of a [9, 262144] array — conv2d's filter
 * flip — copies all nine (23 ms instead of 0.1 ms).
 */
const sliceKernel: KernelConfig = {
  kernelName: "Slice",
  backendName: "wasm",
  kernelFunc: (args) => {
    const x = args.inputs.x as TensorInfo;
    const backend = args.backend as WasmBackend;
    const width = x.dtype === "float32" || x.dtype === "int32" ? 4 : x.dtype === "bool" ? 1 : 0;
    if (width === 0 || x.shape.length === 0 || backend !== installed?.backend) return original("Slice", args);
    const { begin, size } = args.attrs as { begin: number | number[]; size: number | number[] };
    const [b, s] = runtime.parseSliceParams(x, begin, size);
    const out = backend.makeOutput(s, x.dtype);
    const n = runtime.sizeFromShape(s);
    if (n === 0) return out;
    const strides = [...runtime.computeStrides(x.shape), 1];
    // Axes from `inner` on are copied as one run per index of the axes before it.
    let inner = x.shape.length - 1;
    while (inner > 0 && b[inner] === 0 && s[inner] === x.shape[inner]) inner--;
    const run = s[inner]! * strides[inner]!;
    const heap = backend.wasm.HEAPU8; // read after makeOutput, which may have grown the heap
    const src = offset(backend, x);
    const dst = offset(backend, out);
    const idx = new Array<number>(inner).fill(0);
    for (let r = 0, o = dst; r < n / run; r++, o += run * width) {
      let from = b[inner]! * strides[inner]!;
      for (let a = 0; a < inner; a++) from += (b[a]! + idx[a]!) * strides[a]!;
      heap.copyWithin(o, src + from * width, src + (from + run) * width);
      for (let a = inner - 1; a >= 0 && ++idx[a]! === s[a]; a--) idx[a] = 0; // next outer index
    }
    return out;
  },
};

/**
 * The runs of `shape` after merging adjacent axes that are both reduced or both kept (size-1 axes
 * join either): [size, reduced] pairs.
 */
export function reductionRuns(shape: readonly number[], axes: readonly number[]): Array<[number, boolean]> {
  const runs: Array<[number, boolean]> = [];
  shape.forEach((d, a) => {
    if (d === 1) return;
    const red = axes.includes(a);
    const last = runs.at(-1);
    if (last && last[1] === red) last[0] *= d;
    else runs.push([d, red]);
  });
  return runs;
}

/**
 * Sum or Max over any axes of a float32 array as passes over [outer, r, inner] views, one per run
 * of reduced axes, innermost first. tfjs-wasm transposes the reduced axes to the end first (its
 * generic transpose: a 2×2 max pool's Max over [100,5,2,5,2,16] took 11 ms).
 */
function reduceKernel(name: "Sum" | "Max", fn: "sumMiddle" | "maxMiddle"): KernelConfig {
  return {
    kernelName: name,
    backendName: "wasm",
    kernelFunc: (args) => {
      const x = args.inputs.x as TensorInfo;
      const backend = args.backend as WasmBackend;
      // Sum's attribute is `axis`, Max's `reductionIndices`.
      const attrs = args.attrs as { axis?: number | number[]; reductionIndices?: number | number[]; keepDims: boolean };
      const keepDims = attrs.keepDims;
      const axes = runtime.parseAxisParam((name === "Sum" ? attrs.axis : attrs.reductionIndices)!, x.shape);
      const n = runtime.sizeFromShape(x.shape);
      if (x.dtype !== "float32" || n === 0 || backend !== installed?.backend) return original(name, args);
      const outShape = keepDims
        ? x.shape.map((d, a) => (axes.includes(a) ? 1 : d))
        : x.shape.filter((_, a) => !axes.includes(a));
      const runs = reductionRuns(x.shape, axes);
      const out = backend.makeOutput(outShape, "float32");
      if (!runs.some(([, red]) => red)) {
        backend.wasm.HEAPU8.copyWithin(offset(backend, out), offset(backend, x), offset(backend, x) + n * 4);
        return out;
      }
      let src = x;
      let size = n;
      const temps: TensorInfo[] = [];
      for (let k = runs.length - 1; k >= 0; k--) {
        const [r, red] = runs[k]!;
        if (!red) continue;
        const inner = runs.slice(k + 1).reduce((p, [d, rd]) => (rd ? p : p * d), 1);
        const outer = size / (r * inner);
        const last = !runs.slice(0, k).some(([, rd]) => rd);
        const dst = last ? out : backend.makeOutput([outer * inner], "float32");
        if (!last) temps.push(dst);
        installed.exports[fn](offset(backend, src), offset(backend, dst), outer, r, inner);
        src = dst;
        size = outer * inner;
      }
      for (const t of temps) backend.disposeData(t.dataId);
      return out;
    },
  };
}

/** The tfjs kernels replaced on wasm. */
const REDUCTIONS = [reduceKernel("Sum", "sumMiddle"), reduceKernel("Max", "maxMiddle")];
const REPLACED = [
  ...Object.keys(SIMD_UNARY),
  "Transpose",
  "Slice",
  "Sum",
  "Max",
  ...LAYOUT_KERNELS.map((k) => k.kernelName),
  ...NATIVE_KERNELS.map((k) => k.kernelName),
];

function register(on: boolean): void {
  for (const [name, fn] of Object.entries(SIMD_UNARY)) {
    runtime.unregisterKernel(name, "wasm");
    runtime.registerKernel(on ? unaryKernel(name, fn) : originals.get(name)!);
  }
  for (const k of [transposeKernel, sliceKernel, ...REDUCTIONS, ...LAYOUT_KERNELS, ...NATIVE_KERNELS]) {
    runtime.unregisterKernel(k.kernelName, "wasm");
    runtime.registerKernel(on ? k : originals.get(k.kernelName)!);
  }
  for (const k of [...ADDED, ...LAYOUT_ADDED]) {
    if (on && !runtime.getKernel(k.kernelName, "wasm")) runtime.registerKernel(k);
    if (!on && runtime.getKernel(k.kernelName, "wasm")) runtime.unregisterKernel(k.kernelName, "wasm");
  }
  enabled = on;
}

/**
 * Instantiate the SIMD module on the active wasm backend's heap and register its kernels.
 * Resolves to false (and leaves tfjs's kernels) where that is impossible: no wasm backend active,
 * a shared (threaded) heap, or no WebAssembly SIMD.
 */
export async function installSimdKernels(): Promise<boolean> {
  const backend = runtime.backend() as WasmBackend;
  if (runtime.getBackend() !== "wasm") return false;
  if (installed?.backend === backend) {
    if (!enabled) register(true);
    return true;
  }
  const memory = backend.wasm.asm?.memory ?? backend.wasm.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory)) return false;
  try {
    const { instance } = await WebAssembly.instantiate(decode(SIMD_WASM_BASE64), { env: { memory } });
    installed = { backend, exports: instance.exports as unknown as SimdExports };
  } catch {
    return false; // e.g. a shared memory (threaded build), or an engine without SIMD
  }
  for (const name of REPLACED) if (!originals.has(name)) originals.set(name, runtime.getKernel(name, "wasm")!);
  register(true);
  return true;
}

/** Switch between these kernels (true) and tfjs-wasm's own (false), e.g. to compare them. */
export function setSimdKernels(on: boolean): void {
  if (!installed) {
    if (on) throw new Error("setSimdKernels: the SIMD kernels are not installed (set the wasm backend first)");
    return;
  }
  if (on !== enabled) register(on);
}

/** Whether the SIMD kernels are installed and in use (then `HodiffTanhGrad` exists on wasm). */
export const simdKernelsActive = (): boolean =>
  enabled && runtime.getBackend() === "wasm" && installed?.backend === runtime.backend();
runtime.setFusedKernelsActive(simdKernelsActive);

// ── max-pool weights ──

/** Name of the fused derivative of a max over axes (inputs x, m, t; attribute axes): see `K.maxScatter`. */
export const MAX_SCATTER = FUSED_KERNELS.maxScatter;

/**
 * A kernel of max's derivative weights w = (x == m)/#ties over `axes`, with no broadcast of m:
 * maxScatter (inputs x, m, t: out = w·t, x's shape, windows with ties written twice) or its
 * transpose maxGather (inputs x, m, s: out = Σ over the axes of w·s, m's shape). The composed ops
 * were Equal on a broadcast m, Cast, Sum, RealDiv and a broadcasting Mul (`pnpm bench pooling`
 * compares them). K.maxScatter/K.maxGather only call these for float32 x whose axes fit the view.
 */
function maxWeightsKernel(
  name: string,
  fn: "maxScatter" | "maxGather" | "maxScatterTanhGrad",
  arg: "t" | "s",
  outShapeOf: "x" | "m",
): KernelConfig {
  return {
    kernelName: name,
    backendName: "wasm",
    kernelFunc: (args) => {
      const { x, m } = args.inputs as { x: TensorInfo; m: TensorInfo };
      const third = args.inputs[arg] as TensorInfo;
      const { backend, exports } = installedFor(args, name);
      const view = maxScatterView(x.shape, (args.attrs as { axes: number[] }).axes);
      if (!view) throw new Error(`${name}: more than three runs of reduced axes (K.${fn} rearranges those)`);
      const shape = (outShapeOf === "x" ? x : m).shape;
      const out = backend.makeOutput(shape, "float32");
      if (runtime.sizeFromShape(shape) === 0) return out;
      const at = (u: TensorInfo) => offset(backend, u);
      exports[fn](at(x), at(m), at(third), at(out), ...view);
      return out;
    },
  };
}

/** Name of the one-pass max over windows (input x; attribute axes): K.max's route for pooling layouts. */
export const MAX_WINDOWS = FUSED_KERNELS.maxWindows;

/**
 * The max over axes in one pass with no intermediate array, where the innermost kept run has more
 * than one float (max pooling's [N, Ho, k, Wo, k, C] over [2, 4]): the Max kernel above makes two
 * middle-axis passes there, with scalar tails for C mod 4.
 */
const maxWindowsKernel: KernelConfig = {
  kernelName: MAX_WINDOWS,
  backendName: "wasm",
  kernelFunc: (args) => {
    const x = args.inputs.x as TensorInfo;
    const axes = (args.attrs as { axes: number[] }).axes;
    const { backend, exports } = installedFor(args, MAX_WINDOWS);
    const view = maxScatterView(x.shape, axes);
    if (!view || view[6]! < 2) throw new Error(`${MAX_WINDOWS}: [${x.shape}] over [${axes}] has no kept innermost run`);
    const out = backend.makeOutput(
      x.shape.filter((_, i) => !axes.includes(i)),
      "float32",
    );
    exports.maxWindows(offset(backend, x), offset(backend, out), ...view);
    return out;
  },
};

/** Name of maxScatter's transpose (inputs x, m, s; attribute axes): see `K.maxGather`. */
export const MAX_GATHER = FUSED_KERNELS.maxGather;

/** Name of maxScatter followed by tanh's derivative rule at x (inputs x, m, t; attribute axes): see `K.maxScatterTanhGrad`. */
export const MAX_SCATTER_TANH_GRAD = FUSED_KERNELS.maxScatterTanhGrad;

ADDED.push(
  maxWeightsKernel(MAX_SCATTER, "maxScatter", "t", "x"),
  maxWindowsKernel,
  maxWeightsKernel(MAX_GATHER, "maxGather", "s", "m"),
  maxWeightsKernel(MAX_SCATTER_TANH_GRAD, "maxScatterTanhGrad", "t", "x"),
);

// ---- im2col ----

/** Name of the patch-matrix kernel (input x; see `Im2ColAttrs`): conv2d as one matmul (`K.conv2d`). */
export const IM2COL = FUSED_KERNELS.im2col;

/** im2col's attributes: a conv of x [batch, h, w, c] with a kh×kw filter to an [batch, ho, wo, ·] output. */
export interface Im2ColAttrs {
  kh: number;
  kw: number;
  ho: number;
  wo: number;
  strides: [number, number];
  dilations: [number, number];
  /** Zero rows above and columns left of x: [top, left] (the bottom and right follow from ho, wo). */
  offsets: [number, number];
}

/**
 * out[b·ho·wo + i·wo + j, (u·kw + v)·c + ch] = x[b, i·sh + u·dh − top, j·sw + v·dw − left, ch], 0 where
 * that is outside x: the [batch·ho·wo, kh·kw·c] patch matrix, so conv(x, w) = out · w.reshape(kh·kw·c, o).
 */
const im2colKernel: KernelConfig = {
  kernelName: IM2COL,
  backendName: "wasm",
  kernelFunc: (args) => {
    const x = args.inputs.x as TensorInfo;
    const { backend, exports } = installedFor(args, IM2COL);
    const { kh, kw, ho, wo, strides, dilations, offsets } = args.attrs as unknown as Im2ColAttrs;
    const [batch, h, w, c] = x.shape as [number, number, number, number];
    const shape = [batch * ho * wo, kh * kw * c];
    const out = backend.makeOutput(shape, "float32");
    if (runtime.sizeFromShape(shape) === 0) return out;
    exports.im2col(
      offset(backend, x),
      offset(backend, out),
      batch,
      h,
      w,
      c,
      ho,
      wo,
      kh,
      kw,
      ...strides,
      ...dilations,
      ...offsets,
    );
    return out;
  },
};
ADDED.push(im2colKernel);
// ---- end im2col ----

// ---- log-softmax (helper "eager") ----
// log-softmax and its derivative over an [outer, r, inner] view (`softmaxView`): the loops are
// JS over the heap, the exponentials the module's SIMD exp. Each is one kernel call instead of the
// six (four) tfjs kernels of the composition; sums run in float64.

/** The heap as floats (read after makeOutput, which may have grown it). */
const heapF32 = (backend: WasmBackend): Float32Array => new Float32Array(backend.wasm.HEAPU8.buffer);

const softmaxAxes = (args: Parameters<KernelFunc>[0], shape: number[]): [number, number, number] => {
  const { axes } = args.attrs as unknown as { axes: number[] };
  const view = softmaxView(shape, axes);
  if (!view)
    throw new Error(`log-softmax kernels: axes [${axes.join(",")}] are not consecutive axes of [${shape.join(",")}]`);
  return view;
};

const logSoftmaxKernel: KernelConfig = {
  kernelName: FUSED_KERNELS.logSoftmax,
  backendName: "wasm",
  kernelFunc: (args) => {
    const x = args.inputs.x as TensorInfo;
    const { backend, exports } = installedFor(args, FUSED_KERNELS.logSoftmax);
    const [outer, r, inner] = softmaxAxes(args, x.shape);
    const out = backend.makeOutput(x.shape, "float32");
    const n = outer * r * inner;
    if (n === 0) return out;
    const xi = offset(backend, x) >> 2;
    const oi = offset(backend, out) >> 2;
    const f = heapF32(backend);
    // out = x − m per row (m its max, NaN if any is NaN), then out = exp(out) in place (SIMD), then
    // out = x − (m + log Σ out): the shift is added back in float64, no temporary array.
    const shift = new Float64Array(outer * inner);
    for (let o = 0, row = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++, row++) {
        const base = o * r * inner + i;
        let m = -Infinity;
        for (let k = 0, j = base; k < r; k++, j += inner) m = Math.max(m, f[xi + j]!);
        for (let k = 0, j = base; k < r; k++, j += inner) f[oi + j] = f[xi + j]! - m;
        shift[row] = m;
      }
    }
    exports.exp(oi << 2, oi << 2, n);
    for (let o = 0, row = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++, row++) {
        const base = o * r * inner + i;
        let s = 0;
        for (let k = 0, j = base; k < r; k++, j += inner) s += f[oi + j]!;
        const c = shift[row]! + Math.log(s);
        for (let k = 0, j = base; k < r; k++, j += inner) f[oi + j] = f[xi + j]! - c;
      }
    }
    return out;
  },
};

const logSoftmaxGradKernel: KernelConfig = {
  kernelName: FUSED_KERNELS.logSoftmaxGrad,
  backendName: "wasm",
  kernelFunc: (args) => {
    const y = args.inputs.y as TensorInfo;
    const dy = args.inputs.dy as TensorInfo;
    const { backend, exports } = installedFor(args, FUSED_KERNELS.logSoftmaxGrad);
    const [outer, r, inner] = softmaxAxes(args, y.shape);
    const out = backend.makeOutput(y.shape, "float32");
    const n = outer * r * inner;
    if (n === 0) return out;
    const oi = offset(backend, out) >> 2;
    const ti = offset(backend, dy) >> 2;
    exports.exp(offset(backend, y), oi << 2, n); // out = softmax = exp(y)
    const f = heapF32(backend);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * r * inner + i;
        let s = 0;
        for (let k = 0, j = base; k < r; k++, j += inner) s += f[ti + j]!;
        for (let k = 0, j = base; k < r; k++, j += inner) f[oi + j] = f[ti + j]! - f[oi + j]! * s;
      }
    }
    return out;
  },
};
ADDED.push(logSoftmaxKernel, logSoftmaxGradKernel);
// ---- end log-softmax ----

// ---- bias + tanh (lenetfuse) ----

/** Name of a layer's bias add and tanh in one pass (inputs x [..., c], b [c]): see `K.biasTanh`. */
export const BIAS_TANH = FUSED_KERNELS.biasTanh;

/** tanh(x + b) with b [c] along x's last axis, one pass (`biasTanh` in the module). */
const biasTanhKernel: KernelConfig = {
  kernelName: BIAS_TANH,
  backendName: "wasm",
  kernelFunc: (args) => {
    const { x, b } = args.inputs as { x: TensorInfo; b: TensorInfo };
    const { backend, exports } = installedFor(args, BIAS_TANH);
    const cols = b.shape[0]!;
    if (b.shape.length !== 1 || x.shape[x.shape.length - 1] !== cols)
      throw new Error(`${BIAS_TANH}: bias [${b.shape}] is not x [${x.shape}]'s last axis`);
    const out = backend.makeOutput([...x.shape], "float32");
    const n = runtime.sizeFromShape(x.shape);
    if (n > 0) exports.biasTanh(offset(backend, x), offset(backend, b), offset(backend, out), n / cols, cols);
    return out;
  },
};
ADDED.push(biasTanhKernel);
// ---- end bias + tanh ----

// ---- pooling gradient as conv's [h, w, n, c] cotangent (helper "sumk") ----

/** Name of maxScatterTanhGrad written as [h, w, n, c] (inputs x [n, hp, kh, wp, kw, c], m, t): see `K.maxScatterTanhGradHwnc`. */
export const MAX_SCATTER_TANH_GRAD_HWNC = FUSED_KERNELS.maxScatterTanhGradHwnc;

/** out [hp·kh, wp·kw, n, c] = maxScatterTanhGrad(x, m, t) over axes [2, 4], transposed [1, 2, 0, 3]. */
const maxScatterTanhGradHwncKernel: KernelConfig = {
  kernelName: MAX_SCATTER_TANH_GRAD_HWNC,
  backendName: "wasm",
  kernelFunc: (args) => {
    const { x, m, t } = args.inputs as { x: TensorInfo; m: TensorInfo; t: TensorInfo };
    const { backend, exports } = installedFor(args, MAX_SCATTER_TANH_GRAD_HWNC);
    const [n, hp, kh, wp, kw, c] = x.shape as [number, number, number, number, number, number];
    const kept = [n, hp, wp, c];
    if (x.shape.length !== 6 || !sameShape(m.shape, kept) || !sameShape(t.shape, kept))
      throw new Error(
        `${MAX_SCATTER_TANH_GRAD_HWNC}: x [${x.shape}] is not [n, hp, kh, wp, kw, c] with m [${m.shape}] and t [${t.shape}] of [${kept}]`,
      );
    const out = backend.makeOutput([hp * kh, wp * kw, n, c], "float32");
    if (runtime.sizeFromShape(x.shape) === 0) return out;
    const at = (u: TensorInfo) => offset(backend, u);
    exports.maxScatterTanhGradHwnc(at(x), at(m), at(t), at(out), n, hp, kh, wp, kw, c);
    return out;
  },
};
ADDED.push(maxScatterTanhGradHwncKernel);
// ---- end pooling gradient as [h, w, n, c] ----
