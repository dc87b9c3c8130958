/**
 * matmul and conv2d. Their rules (`rules/`) use only kernels that are fast on wasm: matmul transpose
 * flags (which `K.matmul` runs as explicit transposes where the GEMM is slow with them), forward
 * convolutions instead of Conv2DBackprop*.
 */
import { K, runtime, type Tensor } from "../kernels";
import { bind, shapeError, transformDepth, type Aval, type BDim, type Primitive, type Value } from "../trace/core";
import { convOutSize, sizeOf } from "../shapes";

const def = <P>(p: Primitive<P>): Primitive<P> => p;
const fmt = (a: Aval) => `${a.dtype}[${a.shape.join(",")}]`;

/**
 * Products (matmul, conv2d with its params) computed inside a transform, by the data (and shapes) of their operands (a tensor's data never
 * changes; a Variable's assign gives it new data). Forward-over-reverse along θ + s·u needs x·u
 * twice — the base of the tangent x·(s ⊗ u) and the deferred weight cotangent's ⟨c, x·u⟩ — and
 * both come here with the same two arrays; the second gets the first's data (no kernel) while the
 * first product is alive. Outside transforms every matmul runs (plain eager code is left as written).
 */
const products = new WeakMap<object, WeakMap<object, Map<string, Tensor>>>();

/** While `shareProducts` runs: the data ids made before it began are below `before`; the products it keeps. */
let sharing: { readonly before: number; readonly kept: Tensor[] } | null = null;

/** The backend's number for a tensor's data (cpu, wasm and webgpu number their data in order), or NaN. */
const dataNumber = (t: Tensor): number => {
  const id = (t.dataId as { id?: unknown }).id;
  return typeof id === "number" ? id : NaN;
};

function memoProduct(a: Tensor, b: Tensor, params: string, compute: () => Tensor): Tensor {
  if (transformDepth() === 0) return compute();
  // A reshape (or a lossless cast) shares its operand's data: the shapes and dtypes are part of the
  // product. Data outlives a backend switch (it moves): a product is reused on its own backend only.
  const key = `${runtime.getBackend()}:${a.dtype}[${a.shape.join()}]·${b.dtype}[${b.shape.join()}]${params}`;
  let byB = products.get(a.dataId);
  let byKey = byB?.get(b.dataId);
  const seen = byKey?.get(key);
  if (seen !== undefined && !seen.isDisposed) return K.reshape(seen, seen.shape);
  const out = compute();
  if (byB === undefined) products.set(a.dataId, (byB = new WeakMap()));
  if (byKey === undefined) byB.set(b.dataId, (byKey = new Map()));
  if (sharing !== null && dataNumber(a) < sharing.before && dataNumber(b) < sharing.before) {
    // Both operands predate shareProducts, so later passes meet the same product: a handle of
    // its own, kept past the transform that made `out` (which frees `out` when it returns).
    const held = runtime.keep(K.reshape(out, out.shape));
    sharing.kept.push(held);
    byKey.set(key, held);
  } else byKey.set(key, out);
  return out;
}

/**
 * shareProducts(body) = body(), where a matmul or conv2d inside a transform of two arrays whose
 * data existed before body began (parameters, directions, data) is computed once for all of body's
 * transforms: the product is kept until body returns. For passes over the same parameters and
 * data, e.g. x·u₁ of the first layer in each of `summaries`' two passes. Products of arrays made
 * inside body are not kept (they differ from pass to pass), so the memory kept is a few
 * first-layer activations.
 */
export function shareProducts<R>(body: () => R): R {
  if (sharing !== null) return body(); // inside an enclosing call: its products are kept until it returns
  const probe = K.scalar(0, "float32");
  sharing = { before: dataNumber(probe), kept: [] };
  probe.dispose();
  const { kept } = sharing;
  try {
    return body();
  } finally {
    sharing = null;
    for (const t of kept) t.dispose();
  }
}

/**
 * matmul's parameters, as JAX's dot_general carries dimension numbers: matmul(a, b; p) =
 * op(a)·op(b), op = the swap of the last two axes where the flag is set (absent = false). The
 * gradient rules emit flags instead of explicit transposes; the kernel seam (`K.matmul`) decides
 * per backend whether the GEMM takes them or the transposes are materialised.
 */
export interface MatmulParams {
  readonly transposeA?: boolean;
  readonly transposeB?: boolean;
}

/** The params with only the set flags (so equal products have equal params, e.g. for memo and CSE keys). */
export const matmulParams = (transposeA = false, transposeB = false): MatmulParams => ({
  ...(transposeA ? { transposeA: true } : {}),
  ...(transposeB ? { transposeB: true } : {}),
});

function matmulImpl(a: Tensor, b: Tensor, { transposeA = false, transposeB = false }: MatmulParams): Tensor {
  if (a.rank <= 3) return K.matmul(a, b, transposeA, transposeB);
  const [ra, ca] = a.shape.slice(-2) as [number, number];
  const [rb, cb] = b.shape.slice(-2) as [number, number];
  const batch = a.shape.slice(0, -2);
  const B = sizeOf(batch);
  return runtime.tidy(() => {
    const out = K.matmul(K.reshape(a, [B, ra, ca]), K.reshape(b, [B, rb, cb]), transposeA, transposeB);
    return K.reshape(out, [...batch, ...out.shape.slice(-2)]);
  });
}

/** (rows, columns) of op(x): x's last two axes, swapped when `transposed`. */
function opDims(shape: readonly number[], transposed: boolean | undefined): [number, number] {
  const [r, c] = shape.slice(-2) as [number, number];
  return transposed ? [c, r] : [r, c];
}

/** matmul(a, b; {transposeA, transposeB}) = op(a)·op(b) over equal batch dims, op(x) = x with its last two axes swapped where flagged. */
export const matmulP: Primitive<MatmulParams> = def({
  name: "matmul",
  bilinear: true,
  impl: ([a, b], p) =>
    memoProduct(a!, b!, `${p.transposeA ? " aᵀ" : ""}${p.transposeB ? " bᵀ" : ""}`, () => matmulImpl(a!, b!, p)),
  abstractEval: ([a, b], p) => {
    const as = a!.shape;
    const bs = b!.shape;
    const ok = as.length >= 2 && as.length === bs.length && as.slice(0, -2).every((d, i) => d === bs[i]);
    const [m, k] = ok ? opDims(as, p.transposeA) : [0, 0];
    const [k2, n] = ok ? opDims(bs, p.transposeB) : [0, 0];
    if (!ok || k !== k2 || a!.dtype !== b!.dtype) {
      const t = (flag: boolean | undefined) => (flag ? "ᵀ" : "");
      shapeError("matmul", `cannot multiply ${fmt(a!)}${t(p.transposeA)} by ${fmt(b!)}${t(p.transposeB)}`);
    }
    return { shape: [...as.slice(0, -2), m, n], dtype: a!.dtype };
  },
});

/** matmul on operands of equal rank ≥ 2 and equal batch dims (no broadcasting). */
export const matmulRaw = (a: Value, b: Value): Value => bind(matmulP, [a, b], {});

/** op(a)·op(b), op = the swap of the last two axes where the flag is set; operands as `matmulRaw`'s. */
export const matmulT = (a: Value, b: Value, transposeA: boolean, transposeB: boolean): Value =>
  bind(matmulP, [a, b], matmulParams(transposeA, transposeB));

export interface Conv2DParams {
  readonly strides: readonly [number, number];
  readonly padding: readonly [readonly [number, number], readonly [number, number]];
  readonly dilations: readonly [number, number];
}

/** Strides and dilations both above 1, which tfjs refuses together: conv2d runs a dense conv, then subsamples. */
export const stridedAndDilated = ({ strides, dilations }: Conv2DParams): boolean =>
  (strides[0] > 1 || strides[1] > 1) && (dilations[0] > 1 || dilations[1] > 1);

function convImpl(x: Tensor, w: Tensor, p: Conv2DParams): Tensor {
  const { strides, padding, dilations } = p;
  if (!stridedAndDilated(p)) {
    return K.conv2d(x, w, [strides[0], strides[1]], [[...padding[0]], [...padding[1]]], [dilations[0], dilations[1]]);
  }
  // tfjs refuses strides and dilations together: convolve densely, then subsample.
  return runtime.tidy(() => {
    const dense = K.conv2d(x, w, [1, 1], [[...padding[0]], [...padding[1]]], [dilations[0], dilations[1]]);
    return runtime.strided4(dense, [1, strides[0], strides[1], 1]);
  });
}

export const conv2dP: Primitive<Conv2DParams> = def({
  name: "conv2d",
  bilinear: true,
  impl: ([x, w], p) => memoProduct(x!, w!, JSON.stringify(p), () => convImpl(x!, w!, p)),
  abstractEval: ([x, w], { strides, padding, dilations }) => {
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
});

/** conv2d's params and the filter's spatial extent [kh, kw] (x and the cotangent alone leave it open under strides). */
export interface ConvFilterParams extends Conv2DParams {
  readonly filter: readonly [number, number];
}

/**
 * The composite route: a forward conv of x with channels as batch ([c, h, w, b]) and the cotangent
 * with batch as input channels ([ho, wo, b, o]) as filter, strides and dilations swapped, cropped to
 * the filter's extent (strides may leave extra rows) and transposed to [kh, kw, c, o]. On XNNPACK
 * this is faster than a transposeA matmul (`K.convFilter`): LeNet-5's conv1 4.31 against 20.93 ms
 * by minimum, VGG-11's seven never slower (`bench/results/2026-12-06-sitting-8.txt`, "filter gradient").
 */
function convFilterComposite(x: Tensor, ct: Tensor, p: ConvFilterParams): Tensor {
  return runtime.tidy(() => convFilterCompositeHwnc(x, K.transpose(ct, [1, 2, 0, 3]), p));
}

/** The composite route from the cotangent already as [ho, wo, b, o] (ctt; plans write it so, staging/fuse.ts). */
export function convFilterCompositeHwnc(x: Tensor, ctt: Tensor, p: ConvFilterParams): Tensor {
  const [kh, kw] = p.filter;
  const C = x.shape[3]!;
  const O = ctt.shape[3]!;
  return runtime.tidy(() => {
    const xt = K.transpose(x, [3, 1, 2, 0]);
    const full = convImpl(xt, ctt, { strides: p.dilations, padding: p.padding, dilations: p.strides });
    const exact = full.shape[1] === kh && full.shape[2] === kw;
    return K.transpose(exact ? full : K.slice(full, [0, 0, 0, 0], [C, kh, kw, O]), [1, 2, 0, 3]);
  });
}

/**
 * convFilter(x, ct; p) = ∂⟨ct, conv2d(x, w; p)⟩/∂w, i.e. dW[u,v,c,o] = Σ_{b,i,j} x[b, i·s₀+u·d₀−p₀, j·s₁+v·d₁−p₁, c]·ct[b,i,j,o]:
 * conv2d's filter gradient, bilinear in (x, ct). With the native GEMM it runs as patches(x)ᵀ·ct
 * (im2col, one transposeA matmul, `K.convFilter`); elsewhere as transposes and a conv.
 */
export const convFilterP: Primitive<ConvFilterParams> = def({
  name: "convFilter",
  bilinear: true,
  impl: ([x, ct], p) =>
    memoProduct(x!, ct!, `filter ${JSON.stringify(p)}`, () => {
      const pad: [[number, number], [number, number]] = [[...p.padding[0]], [...p.padding[1]]];
      return (
        K.convFilter(x!, ct!, [...p.filter], [...p.strides], pad, [...p.dilations]) ?? convFilterComposite(x!, ct!, p)
      );
    }),
  abstractEval: ([x, ct], { strides, padding, dilations, filter }) => {
    const xs = x!.shape;
    const cs = ct!.shape;
    const ok =
      xs.length === 4 &&
      cs.length === 4 &&
      xs[0] === cs[0] &&
      x!.dtype === ct!.dtype &&
      convOutSize(xs[1]!, filter[0], padding[0][0], padding[0][1], strides[0], dilations[0]) === cs[1] &&
      convOutSize(xs[2]!, filter[1], padding[1][0], padding[1][1], strides[1], dilations[1]) === cs[2];
    if (!ok) {
      shapeError(
        "convFilter",
        `cotangent ${fmt(ct!)} is not the output of a ${filter.join("×")} conv of x ${fmt(x!)} with these params`,
      );
    }
    return { shape: [filter[0], filter[1], xs[3]!, cs[3]!], dtype: x!.dtype };
  },
});

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
