/**
 * The one seam between hodiff and TensorFlow.js kernels. Primitive implementations call these
 * functions and nothing else from tfjs, so the kernel layer can be swapped or extended without
 * touching tracing or derivative rules.
 */
import * as tf from "@tensorflow/tfjs-core";
// The pure-JS backend, always available, registered on load.
import "@tensorflow/tfjs-backend-cpu";
import { broadcastShapes, convOutSize, keptShape, maxScatterView, sameShape, sizeOf } from "./shapes";
import * as gpu from "./webgpu/kernels";

export type Tensor = tf.Tensor;
export type Tensor4D = tf.Tensor4D;
/** The tfjs module, as webgpu/kernels.ts receives it (it imports tfjs's types only, through here). */
export type Tf = typeof tf;

gpu.useTfjs(tf);

/** Names of hodiff's fused kernels, registered on wasm by `simd/install.ts` (inputs in comments). */
export const FUSED_KERNELS = {
  /** (y, dy) ↦ dy·(1 − y²) */
  tanhGrad: "HodiffTanhGrad",
  /** x ↦ x > 0 ? x : expm1(x) */
  elu: "HodiffElu",
  /** (x, dy) ↦ dy·(x > 0 ? 1 : eˣ) */
  eluGrad: "HodiffEluGrad",
  /** (x, m, t; axes) ↦ (x == m)·t / #ties, m and t of x's shape without `axes` (see `K.maxScatter`) */
  maxScatter: "HodiffMaxScatter",
  /** (x; axes) ↦ max over the axes, in one pass over windows whose innermost kept run is > 1 */
  maxWindows: "HodiffMaxWindows",
  /** (x, m, s; axes) ↦ Σ over the axes of s·(x == m)/#ties: maxScatter's transpose in s */
  maxGather: "HodiffMaxGather",
  /** cols [b, h, w, kh, kw, c] ↦ out[b, i + u·dh + p0, j + v·dw + q0, :] = Σ cols[b, i, j, u, v, :] */
  col2im: "HodiffCol2Im",
  /** x [b, h, w, c] ↦ patches [b·ho·wo, kh·kw·c], zero in the padding (see `K.conv2d`'s im2col path) */
  im2col: "HodiffIm2Col",
  /** (x, m, t; axes) ↦ maxScatter(x, m, t)·(1 − x²): pooling's gradient then tanh's, x = tanh's output */
  maxScatterTanhGrad: "HodiffMaxScatterTanhGrad",
  /** (x, b) ↦ tanh(x + b), b [c] along x's last axis (a layer's bias and tanh in one pass) */
  biasTanh: "HodiffBiasTanh",
  /** (x [n, hp, kh, wp, kw, c], m, t) ↦ maxScatterTanhGrad over axes [2, 4], written as [hp·kh, wp·kw, n, c] */
  maxScatterTanhGradHwnc: "HodiffMaxScatterTanhGradHwnc",
  /** (x; axes) ↦ x − log Σ_axes exp(x − max_axes x), axes consecutive (`softmaxView`) */
  logSoftmax: "HodiffLogSoftmax",
  /** (y, dy; axes) ↦ dy − exp(y)·Σ_axes dy */
  logSoftmaxGrad: "HodiffLogSoftmaxGrad",
} as const;
// ---- eager log-softmax kernels (helper "eager") ----

/**
 * x's shape as [outer, r, inner] around the reduced `axes` (sorted) when they are consecutive: the
 * view the log-softmax kernels loop over; null otherwise (tfjs ops compose the op instead).
 */
export function softmaxView(shape: readonly number[], axes: readonly number[]): [number, number, number] | null {
  if (axes.length === 0 || axes.some((a, k) => a !== axes[0]! + k)) return null;
  const first = axes[0]!;
  const last = axes.at(-1)! + 1;
  return [sizeOf(shape.slice(0, first)), sizeOf(shape.slice(first, last)), sizeOf(shape.slice(last))];
}
// ---- end eager log-softmax kernels ----
// Set by simd/install.ts (which imports this module, so the test is passed in rather than imported).
let fusedKernelsActive: () => boolean = () => false;
export type DType = "float32" | "int32" | "bool";

/**
 * A float32 GEMM on a heap (tfjs-wasm's memory): for each b < batch,
 * C_b = op(A_b)·op(B_b), op = transpose when the flag is set; A_b is m×k after op, B_b k×n, C_b m×n,
 * all row-major and contiguous, batches `m*k`, `k*n`, `m*n` floats apart; offsets in bytes.
 */
export type HeapGemm = (
  heap: ArrayBuffer,
  a: number,
  b: number,
  c: number,
  batch: number,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
) => void;
let heapGemm: HeapGemm | null = null;

/**
 * Which transpose flags tf.matMul takes on `a`, `b` at least as fast as plain operands ([A's, B's]);
 * `K.matmul` passes those and materialises the other transposes. Measured with
 * `npx tsx bench/matmulLayouts.ts [--backend cpu] [--gemm native]` (the paper MLP's gradient matmuls;
 * flags against transpose + matmul, one loaded run of each, bench/results/2026-12-06-matmul-layouts.txt):
 * - wasm with a heap GEMM (native BLAS): both — cblas's flags (dW1 = Xᵀ·c 2.69 vs 2.92 ms, dX2 =
 *   c·W2ᵀ 0.53 vs 0.55 ms; dW2 = H1ᵀ·c 0.68 vs 0.51 ms in that run), and no Transpose kernel to run.
 * - wasm with XNNPACK: neither — its BatchMatMul with flags is 8–43× slower (dW1 173.7 vs 4.0 ms,
 *   dX2 12.0 vs 1.5 ms, dW2 40.8 vs 1.1 ms).
 * - cpu: B's (c·W2ᵀ 32.3 vs 48.1 ms), not A's (Xᵀ·c 173.9 vs 171.6 ms, H1ᵀ·c 42.5 vs 39.4 ms).
 * - webgpu: neither, as before the flags existed. Measured only on a software adapter (llvmpipe,
 *   `--backend webgpu`): A's flag 1.0–1.07×, B's 0.45×; not measured on a hardware GPU.
 */
function flagsTaken(a: Tensor, b: Tensor): [boolean, boolean] {
  const backend = tf.getBackend();
  if (backend === "wasm") {
    const native = heapGemm !== null && fusedKernelsActive() && a.dtype === "float32" && b.dtype === "float32";
    return [native, native];
  }
  return [false, backend === "cpu"];
}

/**
 * XNNPACK (the wasm backend) handles at most 6 dimensions in broadcasting elementwise ops and in
 * pad, and past that returns wrong values with only a console warning. Nested vmap/jvp easily
 * makes rank-7 arrays, so such ops run on an equivalent lower-rank view: adjacent axes that
 * broadcast the same way in every operand (or are unpadded) are merged.
 */
const MAX_RANK = 6;

function broadcastBinary(op: (a: Tensor, b: Tensor) => Tensor) {
  return (a: Tensor, b: Tensor): Tensor => {
    const rank = Math.max(a.rank, b.rank);
    if (rank <= MAX_RANK) return op(a, b);
    const pa = [...new Array(rank - a.rank).fill(1), ...a.shape];
    const pb = [...new Array(rank - b.rank).fill(1), ...b.shape];
    const out = pa.map((d, i) => Math.max(d, pb[i]!));
    const groupsA: number[] = [];
    const groupsB: number[] = [];
    let last = "";
    out.forEach((_, i) => {
      const pattern = `${pa[i] === out[i]}${pb[i] === out[i]}`;
      if (i > 0 && pattern === last) {
        groupsA[groupsA.length - 1]! *= pa[i]!;
        groupsB[groupsB.length - 1]! *= pb[i]!;
      } else {
        groupsA.push(pa[i]!);
        groupsB.push(pb[i]!);
      }
      last = pattern;
    });
    return tf.tidy(() => tf.reshape(op(tf.reshape(a, groupsA), tf.reshape(b, groupsB)), out));
  };
}

/** Arrays of at least this many elements get their zeros from the Fill kernel (see `zeros`). */
const ZEROS_BY_FILL = 1024;

/**
 * Zeros of `shape`. tf.zeros makes them in a JS array and copies that in: on wasm about 0.6 ms for
 * a [784, 1024] array (a gradient's zero cotangent of the MLP's first weights), where the Fill
 * kernel takes 0.04 ms (medians of 50 calls of each, timed with performance.now() in a scratch
 * script, 2026-12-06, loaded machine); below `ZEROS_BY_FILL` elements tf.zeros is the cheaper (no
 * kernel call).
 */
function zeros(shape: number[], dtype: DType): Tensor {
  const n = tf.util.sizeFromShape(shape);
  // Filled flat, then reshaped (free): webgpu's Fill shader takes ranks up to 6 only.
  return dtype !== "bool" && n >= ZEROS_BY_FILL
    ? tf.tidy(() => tf.reshape(tf.fill([n], 0, dtype), shape))
    : tf.zeros(shape, dtype);
}

/**
 * `a` broadcast to `shape`, by XNNPACK's broadcasting add onto zeros. On wasm, tfjs's broadcastTo
 * (the Tile kernel) and the broadcasting paths of Select and of the comparisons are 10–30× slower
 * than that (a [1,1,1,1] → [32,32,32,64] Tile: 256 ms vs 8.5 ms). Exact, except that −0 becomes +0.
 */
function expand(a: Tensor, shape: number[]): Tensor {
  if (sameShape(a.shape, shape)) return a;
  if (a.dtype === "int32") return tf.broadcastTo(a, shape); // float32 would round values past 2²⁴
  return tf.tidy(() => {
    const f = broadcastBinary((x, y) => tf.add(x, y))(
      a.dtype === "float32" ? a : tf.cast(a, "float32"),
      zeros(shape, "float32"),
    );
    return a.dtype === "float32" ? f : tf.cast(f, a.dtype);
  });
}

/** A comparison whose operands are first broadcast to one shape (see `expand`). */
function compare(op: (a: Tensor, b: Tensor) => Tensor) {
  const same = broadcastBinary(op);
  return (a: Tensor, b: Tensor): Tensor => {
    if (sameShape(a.shape, b.shape)) return same(a, b);
    const shape = broadcastShapes("compare", [a.shape, b.shape]);
    return tf.tidy(() => same(expand(a, shape), expand(b, shape)));
  };
}

/**
 * x flipped along `axes`. tfjs's Reverse kernel is slow on wasm for large arrays (flipping a
 * [3,3,512,512] filter over its two spatial axes: 175 ms). With the SIMD kernels installed, Reverse
 * is theirs (float32/int32, one pass per run of flipped axes); otherwise, when the flipped axes are
 * the leading ones and few rows result, the rows of a [rows, rest] view are concatenated in reverse
 * order instead (87 ms) — the case of conv2d's input-gradient rule.
 */
function reverseAxes(x: Tensor, axes: number[]): Tensor {
  if (fusedKernelsActive() && x.dtype !== "bool") return tf.reverse(x, axes);
  const sorted = [...axes].sort((a, b) => a - b);
  const leading = sorted.every((a, i) => a === i);
  const rows = x.shape.slice(0, sorted.length).reduce((a, b) => a * b, 1);
  if (!leading || rows > 64 || rows === x.size) return tf.reverse(x, axes);
  return tf.tidy(() => {
    const view = tf.reshape(x, [rows, x.size / rows]);
    const flipped = tf.concat(
      Array.from({ length: rows }, (_, i) => tf.slice(view, [rows - 1 - i, 0], [1, -1])),
      0,
    );
    return tf.reshape(flipped, x.shape);
  });
}

/**
 * Output pixels per input pixel from which a stride-1 conv scatters (`conv2dScatter`): the ratio of
 * the two formulations' multiply-adds. At 1 (VGG-11's 'same' convs) tfjs's conv was as fast or
 * faster in a scratch comparison on this machine; at 2 (LeNet's input gradient) and above the
 * scatter was 2–3× faster.
 */
const SCATTER_RATIO = 1.5;
/** The most floats conv2dScatter's intermediate may hold (64 MiB). */
const SCATTER_MAX = 2 ** 24;

/**
 * A stride-1 conv whose output has many more pixels than its input — conv2d's input-gradient rule,
 * a "full" conv of the cotangent that is mostly zero padding — as a matmul and a scatter:
 * cols[b,i,j,u,v,:] = x[b,i,j,:]·w[kh−1−u, kw−1−v] (a [B·H·W, Ci] × [Ci, kh·kw·Co] matmul), then
 * out[b, i + u·dh + p0, j + v·dw + q0] += cols[b,i,j,u,v] (SIMD col2im), with p0 = top − (kh−1)·dh.
 * tfjs-wasm's conv instead computes each output pixel from a mostly-zero window with few output
 * channels (LeNet's [100,10,10,16] ⊛ [5,5,16,6] padded by 4: `pnpm bench layout`, "conv2d, padding 4").
 * null where the direct conv is the better choice or the SIMD kernels are off.
 */
function conv2dScatter(
  x: Tensor,
  w: Tensor,
  strides: [number, number],
  padding: [[number, number], [number, number]],
  dilations: [number, number],
): Tensor | null {
  const [kh, kw, Ci, Co] = w.shape as [number, number, number, number];
  if (w.dtype !== "float32") return null;
  const cols = (x2: Tensor): Tensor =>
    tf.matMul(x2 as tf.Tensor2D, tf.reshape(tf.transpose(tf.reverse(w, [0, 1]), [2, 0, 1, 3]), [Ci, kh * kw * Co]));
  return scatterConv(x, [kh, kw, Co], strides, padding, dilations, cols);
}

/**
 * conv2dScatter's geometry check and col2im, the [B·H·W, kh·kw·Co] matrix of x's pixels times the
 * flipped filter given by `cols` (of x as [B·H·W, Ci]); null where the scatter is not the choice.
 */
function scatterConv(
  x: Tensor,
  [kh, kw, Co]: [number, number, number],
  strides: [number, number],
  padding: [[number, number], [number, number]],
  dilations: [number, number],
  cols: (x2: Tensor) => Tensor,
): Tensor | null {
  if (!fusedKernelsActive() || x.dtype !== "float32" || strides[0] !== 1 || strides[1] !== 1) return null;
  const [B, H, W, Ci] = x.shape as [number, number, number, number];
  const [dh, dw] = dilations;
  const Ho = convOutSize(H, kh, padding[0][0], padding[0][1], 1, dh);
  const Wo = convOutSize(W, kw, padding[1][0], padding[1][1], 1, dw);
  if (Ho * Wo < SCATTER_RATIO * H * W || B * H * W * kh * kw * Co > SCATTER_MAX || x.size === 0) return null;
  return tf.tidy(() => {
    const cols2 = cols(tf.reshape(x, [B * H * W, Ci]));
    const attrs = { batch: B, h: H, w: W, ho: Ho, wo: Wo, kh, kw, c: Co, dh, dw };
    const offsets = { p0: padding[0][0] - (kh - 1) * dh, q0: padding[1][0] - (kw - 1) * dw };
    return tf.engine().runKernel(FUSED_KERNELS.col2im, { x: cols2 }, { ...attrs, ...offsets }) as Tensor;
  });
}

// ---- im2col ----

/** When K.conv2d takes the im2col path: by the rule below ("auto"), always where it can, or never. */
export type Im2colMode = "auto" | "always" | "never";
let im2colMode: Im2colMode = "auto";
/** The most floats one patch matrix may hold (64 MiB); larger ones are built a few images at a time. */
let IM2COL_MAX = 2 ** 24;

/**
 * Whether im2col + matmul beats tfjs-wasm's Conv2D (XNNPACK's indirect conv, which packs each new
 * filter tensor anew) for an [m, k]·[k, n] product (k = kh·kw·c, n output channels) over `taps` =
 * kh·kw. Fitted on `pnpm bench conv` runs of 2026-12-06 (medians); the quiet sitting's lines (the
 * end of `bench/results/2026-12-06-sitting-5.txt`, `--gemm wasm,native`, OpenBLAS's own kernels):
 * - with the native GEMM (`native`): when n ≥ 16. VGG-11''s convs 1.0–24× faster as im2col, LeNet-5's
 *   with 16 output channels 1.6× and 3.8×; its 6-channel ones 0.56× (k = 75), 0.98× and 1.03×.
 * - with XNNPACK's matmul: when k ≥ 256 and n ≥ 256, or n ≥ 64 with ≥ 16 taps (the filter-gradient
 *   rule's convs: x as [c, h, w, b] with the [ho, wo, b, o] cotangent as filter, few channels per
 *   tap). VGG-11''s convs so chosen 0.99–1.8× faster, those left out 0.87–0.99×, LeNet-5's
 *   (n ≤ 16) 0.53–1.02×.
 */
export function im2colFaster(k: number, n: number, taps: number, native: boolean): boolean {
  if (native) return n >= 16;
  return k >= 256 && (n >= 256 || (n >= 64 && taps >= 16));
}

/** How many images' patch matrices (perImage floats each) fit in IM2COL_MAX at once, at most b. */
const im2colChunk = (b: number, perImage: number): number => Math.min(b, Math.floor(IM2COL_MAX / perImage));

/**
 * The [n·ho·wo, kh·kw·c] patch matrix of xs's n images (SIMD im2col, zeros for the padding); for a
 * 1×1, stride-1, unpadded conv that is xs itself, reshaped.
 */
function patchMatrix(
  xs: Tensor,
  kh: number,
  kw: number,
  ho: number,
  wo: number,
  strides: [number, number],
  padding: [[number, number], [number, number]],
  dilations: [number, number],
): tf.Tensor2D {
  const [n, h, w, c] = xs.shape as [number, number, number, number];
  if (kh === 1 && kw === 1 && strides[0] === 1 && strides[1] === 1 && padding.flat().every((p) => p === 0))
    return tf.reshape(xs, [n * h * w, c]);
  const attrs = { kh, kw, ho, wo, strides, dilations, offsets: [padding[0][0], padding[1][0]] };
  return tf.engine().runKernel(FUSED_KERNELS.im2col, { x: xs }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}

/**
 * conv(x, w) as one matmul: patches(x) · w.reshape(kh·kw·c, o), patches the [b·ho·wo, kh·kw·c]
 * matrix of x's windows (SIMD im2col, zeros for the padding), reshaped to [b, ho, wo, o]. With a
 * native GEMM installed (`runtime.setHeapGemm`) the matmul, and so nearly every conv and conv
 * gradient, runs on it; which convs take this path is `im2colFaster`'s rule. A patch matrix over
 * IM2COL_MAX floats is built and multiplied a few images at a time. null where tfjs's conv is the
 * choice.
 */
function conv2dIm2col(
  x: Tensor,
  w: Tensor,
  strides: [number, number],
  padding: [[number, number], [number, number]],
  dilations: [number, number],
): Tensor | null {
  if (im2colMode === "never" || !fusedKernelsActive() || x.dtype !== "float32" || w.dtype !== "float32") return null;
  const [B, H, W, C] = x.shape as [number, number, number, number];
  const [kh, kw, , O] = w.shape as [number, number, number, number];
  const [sh, sw] = strides;
  const [dh, dw] = dilations;
  const Ho = convOutSize(H, kh, padding[0][0], padding[0][1], sh, dh);
  const Wo = convOutSize(W, kw, padding[1][0], padding[1][1], sw, dw);
  if (x.size === 0 || w.size === 0 || Ho <= 0 || Wo <= 0) return null;
  const chunk = im2colChunk(B, Ho * Wo * kh * kw * C);
  if (chunk < 1) return null;
  if (im2colMode === "auto" && !im2colFaster(kh * kw * C, O, kh * kw, heapGemm !== null)) return null;
  return tf.tidy(() => {
    const w2 = tf.reshape(w, [kh * kw * C, O]) as tf.Tensor2D;
    const product = (xs: Tensor): Tensor => tf.matMul(patchMatrix(xs, kh, kw, Ho, Wo, strides, padding, dilations), w2);
    const parts: Tensor[] = [];
    for (let b = 0; b < B; b += chunk) parts.push(product(chunk >= B ? x : tf.slice(x, b, Math.min(chunk, B - b))));
    const flat = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
    return tf.reshape(flat, [B, Ho, Wo, O]);
  });
}

/**
 * Whether convFilter's im2col route (`convFilterIm2col`) beats the composite (transposes + a conv
 * of the transposed operands, itself im2col + matmul or XNNPACK's conv) for a filter gradient with
 * n = o output channels: with the native GEMM for n ≥ 64 (whatever kh·kw·c); never on XNNPACK (its
 * flagged BatchMatMul is slow, `flagsTaken`). Both routes build a patch matrix of the same size,
 * so only the transposes of x and ct are saved. `pnpm bench conv --gemm wasm,native`, "filter
 * gradient" lines of sitting 8 (bench/results/2026-12-06-sitting-8.txt; speedup by median / by
 * minimum): VGG-11''s seven (n = 64–512) 0.87–1.45 / 1.02–1.24 (e.g. 1.52 vs 1.78 ms by minimum,
 * n = 64), LeNet-5's (n = 6, 16) 0.71–0.91 / 0.70–0.90 (0.69 vs 0.48 ms, n = 16).
 */
export function convFilterIm2colFaster(n: number, native: boolean): boolean {
  return native && n >= 64;
}
/** convFilter's route: by the rule above ("auto"), or forced (benchmarks, tests; "im2col" also without the native GEMM). */
export type ConvFilterRoute = "auto" | "im2col" | "composite";
let convFilterRoute: ConvFilterRoute = "auto";

/**
 * conv2d's filter gradient dW[u, v, c, o] = Σ_{b,i,j} x[b, i·s₀ + u·d₀ − p₀, j·s₁ + v·d₁ − p₁, c]·ct[b, i, j, o]
 * as dW.reshape(kh·kw·c, o) = patches(x)ᵀ · ct.reshape(b·ho·wo, o): the forward's own im2col matrix
 * and one transposeA matmul on the native GEMM (no Transpose of x or ct; with o < 16 the product
 * is formed as (ctᵀ·patches)ᵀ, a transpose of the small [o, kh·kw·c] result), a few images at a time where
 * the patch matrix would pass IM2COL_MAX (the chunks' products summed). null where the composite
 * route (`convFilterP`'s impl) is the choice.
 */
function convFilterIm2col(
  x: Tensor,
  ct: Tensor,
  filter: [number, number],
  strides: [number, number],
  padding: [[number, number], [number, number]],
  dilations: [number, number],
): Tensor | null {
  const chunk = convFilterIm2colChunk(x, ct, filter);
  if (chunk === null) return null;
  const [B, , , C] = x.shape as [number, number, number, number];
  const [, Ho, Wo, O] = ct.shape as [number, number, number, number];
  const [kh, kw] = filter;
  return tf.tidy(() => {
    const product = (xs: Tensor, cs: Tensor): Tensor =>
      patchesTimesCt(patchMatrix(xs, kh, kw, Ho, Wo, strides, padding, dilations), cs);
    let sum: Tensor | null = null;
    for (let b = 0; b < B; b += chunk) {
      const n = Math.min(chunk, B - b);
      const part = chunk >= B ? product(x, ct) : product(tf.slice(x, b, n), tf.slice(ct, b, n));
      sum = sum === null ? part : tf.add(sum, part);
    }
    return asFilter(sum!, [kh, kw, C, O]);
  });
}

/** Images per im2col chunk where convFilter takes its im2col route (`convFilterIm2col`) for x and a cotangent of this shape, else null. */
function convFilterIm2colChunk(
  x: { readonly shape: readonly number[]; readonly dtype: string },
  ct: { readonly shape: readonly number[]; readonly dtype: string },
  filter: readonly [number, number],
): number | null {
  if (convFilterRoute === "composite" || !fusedKernelsActive()) return null;
  if (convFilterRoute === "auto" && (im2colMode === "never" || heapGemm === null)) return null;
  if (x.dtype !== "float32" || ct.dtype !== "float32" || sizeOf(x.shape) === 0 || sizeOf(ct.shape) === 0) return null;
  const [B, , , C] = x.shape as [number, number, number, number];
  const [, Ho, Wo, O] = ct.shape as [number, number, number, number];
  const chunk = im2colChunk(B, Ho * Wo * filter[0] * filter[1] * C);
  if (chunk < 1) return null;
  if (convFilterRoute === "auto" && im2colMode === "auto" && !convFilterIm2colFaster(O, true)) return null;
  return chunk;
}

/** Below this many output channels the filter gradient's product is formed transposed (`patchesTimesCt`). */
const NARROW_O = 16;

/** patchesᵀ·ct as [k, o], or under NARROW_O output channels its transpose ctᵀ·patches as [o, k]; ct [n, ho, wo, o] over the patches' n·ho·wo rows. */
function patchesTimesCt(patches: Tensor, ct: Tensor): Tensor {
  const ct2 = tf.reshape(ct, [patches.shape[0]!, ct.shape[3]!]);
  // With few output channels dWᵀ = ctᵀ·patches ([o, k], then a transpose of that small result):
  // on OpenBLAS 2.83 against patchesᵀ·ct's 3.47 ms for LeNet-5's conv1 (o = 6), 0.55 against 0.53 ms
  // at o = 16 (medians, one loaded run: `npx tsx bench/narrowFilterProduct.ts`,
  // bench/results/2026-12-06-narrow-filter-product.txt; `pnpm bench conv` times the route as a whole).
  return ct.shape[3]! < NARROW_O ? K.matmul(ct2, patches, true, false) : K.matmul(patches, ct2, true, false);
}

/** A patchesTimesCt product (or a sum of them) as the filter gradient [kh, kw, c, o]. */
const asFilter = (dw: Tensor, filter: [number, number, number, number]): Tensor =>
  tf.reshape(filter[3] < NARROW_O ? K.transpose(dw, [1, 0]) : dw, filter);

// ---- shared patches (jit plans: staging/fuse.ts, sharePatches) ----

/**
 * Whether a plan should build conv2d(x, w)'s patch matrix once and use it for the conv and for its
 * filter gradient convFilter(x, ct) (`K.patches`, `K.patchConv`, `K.patchFilter`): where K.conv2d
 * would take the im2col path in one piece (`im2colFaster`, no chunks, not the col2im scatter or
 * webgpu) and a native GEMM takes patchesᵀ as a flag. The filter gradient then needs no im2col
 * and no transposes of x and ct (LeNet-5's conv2; its kernels: `tf.profile` of a jitted gradient,
 * as packages/native's convFilter.test.ts checks).
 */
function sharesPatches(
  xShape: readonly number[],
  wShape: readonly number[],
  strides: readonly [number, number],
  padding: readonly (readonly [number, number])[],
  dilations: readonly [number, number],
): boolean {
  if (im2colMode === "never" || convFilterRoute === "composite" || heapGemm === null) return false;
  if (!fusedKernelsActive() || tf.getBackend() !== "wasm") return false;
  const [B, H, W, C] = xShape as [number, number, number, number];
  const [kh, kw, , O] = wShape as [number, number, number, number];
  const Ho = convOutSize(H, kh, padding[0]![0], padding[0]![1], strides[0], dilations[0]);
  const Wo = convOutSize(W, kw, padding[1]![0], padding[1]![1], strides[1], dilations[1]);
  if (B * H * W * C === 0 || O === 0 || Ho <= 0 || Wo <= 0 || im2colChunk(B, Ho * Wo * kh * kw * C) < B) return false;
  // The col2im scatter's own rule (conv2dScatter) wins first for such stride-1 convs.
  const scatters = strides[0] === 1 && strides[1] === 1 && Ho * Wo >= SCATTER_RATIO * H * W;
  return !scatters && (im2colMode === "always" || im2colFaster(kh * kw * C, O, kh * kw, true));
}

/** conv(x, w) (+ b) = patches · w.reshape(kh·kw·c, o) (+ b), reshaped to `out` [b, ho, wo, o]. */
function patchConv(patches: Tensor, w: Tensor, b: Tensor | undefined, out: readonly number[]): Tensor {
  return tf.tidy(() => {
    const [kh, kw, C, O] = w.shape as [number, number, number, number];
    const y = tf.reshape(tf.matMul(patches as tf.Tensor2D, tf.reshape(w, [kh * kw * C, O]) as tf.Tensor2D), [...out]);
    return b === undefined ? y : K.add(y, b);
  });
}

/** convFilter(x, ct) from x's patch matrix: patchesᵀ·ct reshaped to the filter's [kh, kw, c, o]. */
function patchFilter(patches: Tensor, ct: Tensor, filter: readonly [number, number]): Tensor {
  return tf.tidy(() => {
    const C = patches.shape[1]! / (filter[0] * filter[1]);
    return asFilter(patchesTimesCt(patches, ct), [filter[0], filter[1], C, ct.shape[3]!]);
  });
}
// ---- end shared patches ----

// ---- conv input gradient from the unflipped filter (helper "eagerconv") ----

/**
 * conv2d's input-gradient conv conv2d(c, flip(w)) with flip(w)[u, v, o, ci] = w[kh−1−u, kw−1−v, ci, o]
 * (stride 1), on the col2im scatter straight from w: the scatter's matrix is c·w.reshape(kh·kw·ci, o)ᵀ
 * (a transposeB matmul, free on the native GEMM), so neither flip(w) nor the scatter's own unflip
 * (a Reverse and a Transpose each) is formed. null where K.conv2d(c, flip(w)) would not scatter.
 */
function convInputScatter(
  c: Tensor,
  w: Tensor,
  padding: [[number, number], [number, number]],
  dilations: [number, number],
): Tensor | null {
  if (gpu.onWebGpu() || w.dtype !== "float32" || w.rank !== 4) return null;
  const [kh, kw, Ci, O] = w.shape as [number, number, number, number];
  const cols = (c2: Tensor): Tensor => K.matmul(c2, tf.reshape(w, [kh * kw * Ci, O]), false, true);
  return scatterConv(c, [kh, kw, Ci], [1, 1], padding, dilations, cols);
}
// ---- end conv input gradient from the unflipped filter ----
// ---- end im2col ----

/**
 * K.conv2d's routes tried before tfjs's Conv2D, in order: webgpu's padded conv, the col2im scatter,
 * im2col + matmul; null where tfjs's Conv2D (`tfConv2d`) is the choice.
 */
function conv2dOwn(
  x: Tensor,
  w: Tensor,
  strides: [number, number],
  padding: [[number, number], [number, number]],
  dilations: [number, number],
): Tensor | null {
  if (gpu.onWebGpu()) return gpu.conv2dPadded(x, w, strides, padding, dilations);
  return conv2dScatter(x, w, strides, padding, dilations) ?? conv2dIm2col(x, w, strides, padding, dilations);
}

/** tfjs's own Conv2D, NHWC with explicit padding. */
const tfConv2d = (
  x: Tensor,
  w: Tensor,
  strides: [number, number],
  padding: [[number, number], [number, number]],
  dilations: [number, number],
): Tensor =>
  tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, strides, [[0, 0], padding[0], padding[1], [0, 0]], "NHWC", dilations);

// ---- fused conv + bias ----

/**
 * conv(x, w) + b, b of shape [O] added along the output's last axis, as one FusedConv2D kernel where
 * K.conv2d would run tfjs's own Conv2D (on wasm XNNPACK adds b in the conv's epilogue, sparing an
 * Add kernel over the whole output). Where K.conv2d takes another path (the col2im scatter, im2col +
 * matmul: then b is added after the matmul; webgpu's padded conv) or the backend has no FusedConv2D,
 * it is that conv and then K.add. Plans call this for add(conv2d(x, w), b) (staging/fuse.ts).
 */
function conv2dBias(
  x: Tensor,
  w: Tensor,
  b: Tensor,
  strides: [number, number],
  padding: [[number, number], [number, number]],
  dilations: [number, number],
): Tensor {
  return tf.tidy(() => {
    const other = conv2dOwn(x, w, strides, padding, dilations);
    if (other !== null) return K.add(other, b);
    const fusable =
      x.dtype === "float32" &&
      w.dtype === "float32" &&
      b.dtype === "float32" &&
      tf.getKernel("FusedConv2D", tf.getBackend()) !== undefined;
    if (!fusable) return K.add(tfConv2d(x, w, strides, padding, dilations), b);
    // The kernel itself, not tf.fused.conv2d: that op wraps it in a custom-gradient scope (a
    // second recorded op per call), and plans need no tfjs gradients.
    const attrs = {
      strides,
      pad: [[0, 0], padding[0], padding[1], [0, 0]],
      dataFormat: "NHWC",
      dilations,
      dimRoundingMode: undefined,
      activation: "linear",
      leakyreluAlpha: 0,
    };
    return tf
      .engine()
      .runKernel("FusedConv2D", { x, filter: w, bias: b }, attrs as unknown as tf.NamedAttrMap) as Tensor;
  });
}
// ---- end fused conv + bias ----

/** (x == m)/#ties along `axes`, at x's shape, as tfjs ops (the composed rule of K.maxScatter and K.maxGather). */
function maxWeights(x: Tensor, m: Tensor, axes: number[]): Tensor {
  const kept = keptShape(x.shape, axes);
  return tf.tidy(() => {
    const mask = K.cast(K.equal(x, tf.reshape(m, kept)), "float32");
    return K.div(mask, tf.reshape(K.sum(mask, axes), kept));
  });
}

/** The permutation moving the reduced `axes` after the kept ones (order kept), and their new indices. */
function reducedLast(rank: number, axes: number[]): { perm: number[]; last: number[] } {
  const perm = [...Array(rank).keys()].sort((a, b) => Number(axes.includes(a)) - Number(axes.includes(b)));
  return { perm, last: axes.map((_, i) => rank - axes.length + i) };
}

function padAnyRank(x: Tensor, paddings: Array<[number, number]>): Tensor {
  if (x.rank <= MAX_RANK) return tf.pad(x, paddings);
  // Merge runs of unpadded axes; padded axes stay as they are.
  const shape: number[] = [];
  const pads: Array<[number, number]> = [];
  x.shape.forEach((d, i) => {
    const [lo, hi] = paddings[i]!;
    const prev = pads[pads.length - 1];
    if (lo === 0 && hi === 0 && prev !== undefined && prev[0] === 0 && prev[1] === 0) shape[shape.length - 1]! *= d;
    else {
      shape.push(d);
      pads.push([lo, hi]);
    }
  });
  const out = x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
  return tf.tidy(() => tf.reshape(tf.pad(tf.reshape(x, shape), pads), out));
}

/** max or sum over `axes` keeping them as size 1 (webgpu reduces any rank by its own route, then reshapes). */
function reduceKept(op: "max" | "sum", x: Tensor, axes: number[]): Tensor {
  if (!gpu.onWebGpu()) return op === "max" ? tf.max(x, axes, true) : tf.sum(x, axes, true);
  return tf.reshape(gpu.reduceAnyRank(op === "max" ? tf.max : tf.sum, x, axes), keptShape(x.shape, axes));
}

// ---- direct kernel calls (helper "planoh") ----
/**
 * Hot ops run straight through the engine (`runKernel`), skipping tfjs's op wrapper, which for
 * K's operands (tensors already) only adds work between two kernels: a scope opened and closed
 * around each op (a Set of the result's tensors), argument conversion and checks. Each takes this
 * path only where the wrapper would do nothing else — equal dtypes (no upcast), float32 for tanh,
 * no bool sum — and the kernels check shapes themselves (the same errors); elsewhere the tf op runs.
 */
const ENGINE = tf.engine();
const runK = (name: string, inputs: tf.NamedTensorMap, attrs?: object): Tensor =>
  ENGINE.runKernel(name, inputs, attrs as tf.NamedAttrMap | undefined) as Tensor;
const direct = {
  add: (a: Tensor, b: Tensor): Tensor => (a.dtype === b.dtype ? runK(tf.Add, { a, b }) : tf.add(a, b)),
  sub: (a: Tensor, b: Tensor): Tensor => (a.dtype === b.dtype ? runK(tf.Sub, { a, b }) : tf.sub(a, b)),
  mul: (a: Tensor, b: Tensor): Tensor => (a.dtype === b.dtype ? runK(tf.Multiply, { a, b }) : tf.mul(a, b)),
  tanh: (x: Tensor): Tensor => (x.dtype === "float32" ? runK(tf.Tanh, { x }) : tf.tanh(x)),
  sum: (x: Tensor, axis: number[]): Tensor =>
    x.dtype !== "bool" ? runK(tf.Sum, { x }, { axis, keepDims: false }) : tf.sum(x, axis),
  reshape: (x: Tensor, shape: number[]): Tensor => runK(tf.Reshape, { x }, { shape }),
  /** transpose_'s own checks first (rank ≤ 1 gives a clone there). */
  transpose: (x: Tensor, perm: number[]): Tensor =>
    x.rank >= 2 && perm.length === x.rank && perm.every((p) => p >= 0 && p < x.rank)
      ? runK(tf.Transpose, { x }, { perm })
      : tf.transpose(x, perm),
  matMul: (a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor =>
    a.dtype === b.dtype
      ? runK(tf.BatchMatMul, { a, b }, { transposeA, transposeB })
      : tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, transposeA, transposeB),
};
// ---- end direct kernel calls ----

export const K = {
  add: broadcastBinary(direct.add),
  sub: broadcastBinary(direct.sub),
  mul: broadcastBinary(direct.mul),
  div: broadcastBinary((a, b) => tf.div(a, b)),
  pow: broadcastBinary((a, b) => tf.pow(a, b)),
  maximum: broadcastBinary((a, b) => tf.maximum(a, b)),
  minimum: broadcastBinary((a, b) => tf.minimum(a, b)),
  neg: (a: Tensor) => tf.neg(a),
  exp: (a: Tensor) => tf.exp(a),
  log: (a: Tensor) => tf.log(a),
  log1p: (a: Tensor) => tf.log1p(a),
  expm1: (a: Tensor) => tf.expm1(a),
  sin: (a: Tensor) => tf.sin(a),
  cos: (a: Tensor) => tf.cos(a),
  tanh: direct.tanh,
  /** t·(1 − y²): one SIMD kernel on wasm for same-shape float32 operands, else three tfjs ops. */
  tanhGrad: (y: Tensor, t: Tensor): Tensor =>
    fusedKernelsActive() && sameShape(y.shape, t.shape) && y.dtype === "float32" && t.dtype === "float32"
      ? (tf.engine().runKernel(FUSED_KERNELS.tanhGrad, { y, dy: t }) as Tensor)
      : tf.tidy(() => K.mul(t, tf.sub(1, K.mul(y, y)))),
  /** x > 0 ? x : expm1(x): one SIMD kernel on wasm for float32, else four tfjs ops (the same values). */
  elu: (x: Tensor): Tensor =>
    fusedKernelsActive() && x.dtype === "float32"
      ? (tf.engine().runKernel(FUSED_KERNELS.elu, { x }) as Tensor)
      : tf.tidy(() => {
          const zero = tf.zerosLike(x);
          return K.where(tf.greater(x, zero), x, tf.expm1(tf.minimum(x, zero)));
        }),
  /** t·(x > 0 ? 1 : eˣ): one SIMD kernel on wasm for same-shape float32 operands, else tfjs ops. */
  eluGrad: (x: Tensor, t: Tensor): Tensor =>
    fusedKernelsActive() && sameShape(x.shape, t.shape) && x.dtype === "float32" && t.dtype === "float32"
      ? (tf.engine().runKernel(FUSED_KERNELS.eluGrad, { x, dy: t }) as Tensor)
      : tf.tidy(() => {
          const zero = tf.zerosLike(x);
          return K.mul(t, K.where(tf.greater(x, zero), tf.onesLike(x), tf.exp(tf.minimum(x, zero))));
        }),
  /**
   * The derivative of m = max of x over `axes` applied to t (m and t of m's shape): w ⊙ t with
   * w = (x == m) / #ties along the axes (ties share t; NaN where no x equals m). One SIMD kernel on
   * wasm for float32 (up to three runs of reduced axes), else the same ops as the composed rule.
   */
  maxScatter: (x: Tensor, m: Tensor, t: Tensor, axes: number[]): Tensor => {
    if (fusedKernelsActive() && x.dtype === "float32") {
      if (maxScatterView(x.shape, axes) !== null) {
        return tf.engine().runKernel(FUSED_KERNELS.maxScatter, { x, m, t }, { axes }) as Tensor;
      }
      // More than three runs of reduced axes (rank ≥ 7): with the reduced axes moved last, one run.
      const { perm, last } = reducedLast(x.rank, axes);
      const inverse = perm.map((_, i) => perm.indexOf(i));
      return tf.tidy(() => K.transpose(K.maxScatter(K.transpose(x, perm), m, t, last), inverse));
    }
    const kept = keptShape(x.shape, axes);
    return tf.tidy(() => K.mul(maxWeights(x, m, axes), tf.reshape(t, kept)));
  },
  /**
   * tanhGrad(x, maxScatter(x, m, t, axes)) — max pooling's gradient through the tanh whose output x
   * is (plans fuse the pair, staging/fuse.ts): one SIMD pass on wasm where `K.maxScatter` runs its
   * kernel directly, bit-identical to the two; else those two.
   */
  maxScatterTanhGrad: (x: Tensor, m: Tensor, t: Tensor, axes: number[]): Tensor =>
    fusedKernelsActive() && x.dtype === "float32" && maxScatterView(x.shape, axes) !== null
      ? (tf.engine().runKernel(FUSED_KERNELS.maxScatterTanhGrad, { x, m, t }, { axes }) as Tensor)
      : tf.tidy(() => K.tanhGrad(x, K.maxScatter(x, m, t, axes))),
  /**
   * Σ over `axes` of s ⊙ w, w = (x == m)/#ties (s of x's shape; m of the max's): reduce-max's JVP,
   * the transpose of `maxScatter` in its last argument. One SIMD kernel on wasm for float32, else
   * tfjs ops. Equal to the composed ops to float32 rounding of the sum (bit-equal without ties).
   */
  maxGather: (x: Tensor, m: Tensor, s: Tensor, axes: number[]): Tensor => {
    if (fusedKernelsActive() && x.dtype === "float32") {
      if (maxScatterView(x.shape, axes) !== null) {
        return tf.engine().runKernel(FUSED_KERNELS.maxGather, { x, m, s }, { axes }) as Tensor;
      }
      const { perm, last } = reducedLast(x.rank, axes);
      return tf.tidy(() => K.maxGather(K.transpose(x, perm), m, K.transpose(s, perm), last));
    }
    return tf.tidy(() => K.sum(K.mul(s, maxWeights(x, m, axes)), axes));
  },
  sqrt: (a: Tensor) => tf.sqrt(a),
  greater: compare((a, b) => tf.greater(a, b)),
  less: compare((a, b) => tf.less(a, b)),
  equal: compare((a, b) => tf.equal(a, b)),
  where: (c: Tensor, a: Tensor, b: Tensor): Tensor => {
    const shape = broadcastShapes("where", [c.shape, a.shape, b.shape]);
    const select = gpu.onWebGpu() ? gpu.whereFlat : tf.where;
    return tf.tidy(() => select(expand(c, shape), expand(a, shape), expand(b, shape)));
  },
  sum: (a: Tensor, axes: number[]) => (gpu.onWebGpu() ? gpu.reduceAnyRank(tf.sum, a, axes) : direct.sum(a, axes)),
  /** max over axes; on wasm, max pooling's layouts (a kept innermost run) go to one SIMD pass. */
  max: (a: Tensor, axes: number[]): Tensor => {
    if (gpu.onWebGpu()) return gpu.reduceAnyRank(tf.max, a, axes);
    const view = fusedKernelsActive() && a.dtype === "float32" && a.size > 0 ? maxScatterView(a.shape, axes) : null;
    if (view && view[6]! > 1) return tf.engine().runKernel(FUSED_KERNELS.maxWindows, { x: a }, { axes }) as Tensor;
    return tf.max(a, axes);
  },
  // ---- eager log-softmax (helper "eager"): one K call for what was nine traced ops ----
  /**
   * x − log Σ_axes exp(x − max x) along `axes` (sorted): one kernel on wasm (float32, consecutive
   * axes), else tfjs ops with kept dims.
   */
  logSoftmax: (x: Tensor, axes: number[]): Tensor => {
    if (fusedKernelsActive() && x.dtype === "float32" && softmaxView(x.shape, axes)) {
      return tf.engine().runKernel(FUSED_KERNELS.logSoftmax, { x }, { axes }) as Tensor;
    }
    return tf.tidy(() => {
      const s = K.sub(x, reduceKept("max", x, axes));
      return K.sub(s, tf.log(reduceKept("sum", tf.exp(s), axes)));
    });
  },
  /** t − exp(y)·Σ_axes t (y = logSoftmax(x)): logSoftmax's derivative applied to t; one kernel on wasm. */
  logSoftmaxGrad: (y: Tensor, t: Tensor, axes: number[]): Tensor => {
    const fused = fusedKernelsActive() && y.dtype === "float32" && t.dtype === "float32";
    if (fused && sameShape(y.shape, t.shape) && softmaxView(y.shape, axes)) {
      return tf.engine().runKernel(FUSED_KERNELS.logSoftmaxGrad, { y, dy: t }, { axes }) as Tensor;
    }
    return tf.tidy(() => K.sub(t, K.mul(tf.exp(y), reduceKept("sum", t, axes))));
  },
  // ---- end eager log-softmax ----
  /**
   * tanh(x + b), b of shape [c] along x's last axis: one SIMD pass on wasm (`HodiffBiasTanh`,
   * bit-identical to Add then Tanh there), elsewhere the two ops. Plans fuse tanh(add(z, b)) into it.
   */
  biasTanh: (x: Tensor, b: Tensor): Tensor => {
    const ok = fusedKernelsActive() && x.dtype === "float32" && b.dtype === "float32" && x.rank >= 1;
    if (ok && b.rank === 1 && b.shape[0] === x.shape[x.rank - 1])
      return tf.engine().runKernel(FUSED_KERNELS.biasTanh, { x, b }) as Tensor;
    return tf.tidy(() => K.tanh(K.add(x, b)));
  },
  reshape: direct.reshape,
  broadcastTo: (a: Tensor, shape: number[]) => (sameShape(a.shape, shape) ? tf.clone(a) : expand(a, shape)),
  transpose: (a: Tensor, perm: number[]) =>
    gpu.onWebGpu() ? gpu.transposeAnyRank(a, perm) : direct.transpose(a, perm),
  slice: (a: Tensor, begin: number[], size: number[]) => tf.slice(a, begin, size),
  concat: (xs: Tensor[], axis: number) => (gpu.onWebGpu() ? gpu.concatAnyRank(xs, axis) : tf.concat(xs, axis)),
  pad: (x: Tensor, paddings: Array<[number, number]>) =>
    gpu.onWebGpu() ? gpu.padByConcat(x, paddings) : padAnyRank(x, paddings),
  reverse: reverseAxes,
  cast: (a: Tensor, dtype: DType) => (gpu.onWebGpu() ? gpu.castMaterialized(a, dtype) : tf.cast(a, dtype)),
  /**
   * op(a)·op(b) for rank-2 or rank-3 operands (equal batch), op = swap of the last two axes where
   * the flag is set. The flags go to the GEMM where it takes them at no cost (`flagsTaken`);
   * elsewhere the transposes are materialised and the matmul is plain.
   */
  matmul: (a: Tensor, b: Tensor, transposeA = false, transposeB = false): Tensor => {
    const [takesA, takesB] = transposeA || transposeB ? flagsTaken(a, b) : [true, true];
    const [swapA, swapB] = [transposeA && !takesA, transposeB && !takesB];
    if (!swapA && !swapB) return direct.matMul(a, b, transposeA, transposeB);
    return tf.tidy(() => {
      const swap = [...Array(a.rank - 2).keys(), a.rank - 1, a.rank - 2];
      const at = swapA ? K.transpose(a, swap) : a;
      const bt = swapB ? K.transpose(b, swap) : b;
      return tf.matMul(at as tf.Tensor3D, bt as tf.Tensor3D, transposeA && !swapA, transposeB && !swapB);
    });
  },

  conv2d: (
    x: Tensor,
    w: Tensor,
    strides: [number, number],
    padding: [[number, number], [number, number]],
    dilations: [number, number],
  ) => conv2dOwn(x, w, strides, padding, dilations) ?? tfConv2d(x, w, strides, padding, dilations),
  /** conv2d(x, w) + b with b [O] along the last axis, one FusedConv2D kernel where possible (see conv2dBias). */
  conv2dBias,
  /**
   * conv2d's filter gradient by im2col + a transposeA matmul on the native GEMM (`convFilterIm2col`),
   * or null where the caller's composite route is faster (no native GEMM, other backends).
   */
  convFilter: convFilterIm2col,
  /** conv2d(c, flip(w)), conv2d's input-gradient conv, from w itself where it scatters (see `convInputScatter`); else null. */
  convInputScatter,
  /** Whether plans share conv2d's patch matrix with its filter gradient (see `sharesPatches`). */
  sharesPatches,
  /** x's [b·ho·wo, kh·kw·c] patch matrix for a kh×kw conv with these params, zeros in the padding. */
  patches: (
    x: Tensor,
    filter: readonly [number, number],
    strides: readonly [number, number],
    padding: readonly (readonly [number, number])[],
    dilations: readonly [number, number],
  ): Tensor => {
    const [, H, W] = x.shape as [number, number, number, number];
    const pad: [[number, number], [number, number]] = [
      [padding[0]![0], padding[0]![1]],
      [padding[1]![0], padding[1]![1]],
    ];
    const Ho = convOutSize(H, filter[0], pad[0][0], pad[0][1], strides[0], dilations[0]);
    const Wo = convOutSize(W, filter[1], pad[1][0], pad[1][1], strides[1], dilations[1]);
    return patchMatrix(x, filter[0], filter[1], Ho, Wo, [strides[0], strides[1]], pad, [dilations[0], dilations[1]]);
  },
  /** conv2d (+ bias) from x's patch matrix (`K.patches`), `out` the conv's [b, ho, wo, o]. */
  patchConv,
  /** conv2d's filter gradient from x's patch matrix (`K.patches`) and the cotangent [b, ho, wo, o]. */
  patchFilter,
  // ---- pooling gradient as conv's [h, w, n, c] cotangent (helper "sumk") ----
  /**
   * transpose(reshape(maxScatterTanhGrad(x, m, t, [2, 4]), [n, h, w, c]), [1, 2, 0, 3]) for x of shape
   * [n, hp, kh, wp, kw, c] (2-D max pooling's windows of tanh's output): the pooling and tanh
   * gradient in the [h, w, n, c] layout that convFilter's composite route reads its cotangent in.
   * One SIMD pass on wasm (bit-identical to the three steps); elsewhere those steps.
   */
  maxScatterTanhGradHwnc: (x: Tensor, m: Tensor, t: Tensor): Tensor => {
    const [n, hp, kh, wp, kw, c] = x.shape as [number, number, number, number, number, number];
    if (x.rank === 6 && fusedKernelsActive() && x.dtype === "float32" && x.size > 0)
      return tf.engine().runKernel(FUSED_KERNELS.maxScatterTanhGradHwnc, { x, m, t }) as Tensor;
    return tf.tidy(() =>
      K.transpose(tf.reshape(K.maxScatterTanhGrad(x, m, t, [2, 4]), [n, hp * kh, wp * kw, c]), [1, 2, 0, 3]),
    );
  },
  /** Whether convFilter(x, ct) takes its im2col route now (then it reads ct as it is, not transposed). */
  convFilterTakesIm2col: (
    x: { readonly shape: readonly number[]; readonly dtype: string },
    ct: { readonly shape: readonly number[]; readonly dtype: string },
    filter: readonly [number, number],
  ): boolean => convFilterIm2colChunk(x, ct, filter) !== null,
  // ---- end pooling gradient as [h, w, n, c] ----
  zeros,
  fill: (shape: number[], value: number, dtype: DType) => tf.fill(shape, value, dtype),
  scalar: (value: number, dtype: DType) => tf.scalar(value, dtype),
  tensor: (values: tf.TensorLike, shape: number[] | undefined, dtype: DType) => tf.tensor(values, shape, dtype),
};

/**
 * The tensor runtime beyond kernels: memory scopes, backends and type tests. Everything else in
 * core reaches tfjs through here, so this file is the whole of hodiff's dependency on tfjs.
 */
export const runtime = {
  isTensor: (x: unknown): x is Tensor => x instanceof tf.Tensor,
  /** Whether two tensors share their data (one a reshape of the other: the same values in the same order). */
  sameData: (a: Tensor, b: Tensor): boolean => a.dataId === b.dataId && a.size === b.size && a.dtype === b.dtype,
  /** tf.tidy: frees every tensor made by `fn` except those it returns. */
  tidy: <T extends tf.TensorContainer>(fn: () => T): T => tf.tidy(fn),
  /** tf.keep: `t` survives the enclosing tidy (for tensors cached across calls). */
  keep: <T extends Tensor>(t: T): T => tf.keep(t),
  numTensors: (): number => tf.memory().numTensors,
  numBytes: (): number => tf.memory().numBytes,
  /** The identity matrix n × n (float32). */
  eye: (n: number): Tensor => tf.eye(n),
  /** Every s-th element along each axis: x[::strides] for a rank-4 x. */
  strided4: (x: Tensor, strides: [number, number, number, number]): Tensor =>
    tf.stridedSlice(x, [0, 0, 0, 0], x.shape, strides),
  setBackend: (name: string): Promise<boolean> => tf.setBackend(name),
  getBackend: (): string => tf.getBackend(),
  ready: (): Promise<void> => tf.ready(),
  /** Register the wasm backend (imported lazily: registering it makes it the default before it is ready). */
  loadWasm: (): Promise<unknown> => import("@tensorflow/tfjs-backend-wasm"),
  /** Register the webgpu backend (lazily: it registers only if navigator.gpu exists at import). */
  loadWebGpu: (): Promise<unknown> => import("@tensorflow/tfjs-backend-webgpu"),
  /** Read a tensor's values without blocking (the only way on webgpu in Node). */
  data: (t: Tensor): Promise<Float32Array | Int32Array | Uint8Array> =>
    t.data() as Promise<Float32Array | Int32Array | Uint8Array>,
  array: (t: Tensor): Promise<unknown> => t.array(),
  /** PROD silences tfjs's console advice to install tfjs-node (which cannot install offline). */
  setProd: (): void => void tf.env().set("PROD", true),
  /** The active backend's object (simd/install.ts reaches tfjs-wasm's heap through it). */
  backend: (): KernelBackend => tf.backend(),
  registerKernel: (config: KernelConfig): void => tf.registerKernel(config),
  unregisterKernel: (name: string, backend: string): void => tf.unregisterKernel(name, backend),
  getKernel: (name: string, backend: string): KernelConfig | undefined => tf.getKernel(name, backend),
  /** Start recording the webgpu device's uncaptured errors (a failed shader throws nothing). */
  watchWebGpuErrors: (): void => gpu.watchWebGpuErrors(),
  /** The webgpu device errors seen since the last call (and clears them). */
  webGpuErrors: (): string[] => gpu.webGpuErrors(),
  /** Force K.conv2d's im2col path on or off on wasm (tests, benchmarks), or back to its rule ("auto"). */
  setIm2colMode: (mode: Im2colMode): void => void (im2colMode = mode),
  /** Force convFilter's route (`K.convFilter`: im2col + transposeA matmul, or the composite), or back to "auto". */
  setConvFilterRoute: (route: ConvFilterRoute): void => void (convFilterRoute = route),
  /** Cap the floats of one im2col patch matrix (tests of the chunked path); returns the previous cap. */
  setIm2colMax: (floats: number): number => {
    const previous = IM2COL_MAX;
    IM2COL_MAX = floats;
    return previous;
  },
  /** Tells K whether the fused kernels (`FUSED_KERNELS`) can run now. */
  setFusedKernelsActive: (active: () => boolean): void => void (fusedKernelsActive = active),
  /** Route wasm float32 matmuls through `gemm` (a native BLAS), or back to XNNPACK with null. */
  setHeapGemm: (gemm: HeapGemm | null): void => void (heapGemm = gemm),
  /** The native GEMM in use on wasm, if any. */
  heapGemm: (): HeapGemm | null => heapGemm,
  sizeFromShape: (shape: readonly number[]): number => tf.util.sizeFromShape(shape as number[]),
  computeStrides: (shape: readonly number[]): number[] => tf.util.computeStrides(shape as number[]),
  parseAxisParam: (axis: number | number[], shape: readonly number[]): number[] =>
    tf.util.parseAxisParam(axis, shape as number[]),
  parseSliceParams: (x: TensorInfo, begin: number | number[], size?: number | number[]): [number[], number[]] =>
    tf.slice_util.parseSliceParams(x as Tensor, begin, size) as [number[], number[]],
};
/** tfjs's kernel-registry types, for kernels registered by simd/install.ts. */
export type KernelConfig = tf.KernelConfig;
export type KernelFunc = tf.KernelFunc;
export type KernelBackend = tf.KernelBackend;
export type TensorInfo = tf.TensorInfo;
export type TfDataType = tf.DataType;
export type TensorLike = tf.TensorLike;
