/**
 * Test cases for convFilterP (conv2d's filter gradient), shared by core's tests (cpu, wasm) and
 * @hodiff/native's (the im2col route on the native GEMM): shapes, params, and a float64 brute-force
 * filter gradient as the independent truth.
 */
import { resolvePadding, type ConvFilterParams, type Padding } from "../primitives/linalg";
import { convOutSize } from "../shapes";

export interface ConvFilterCase {
  readonly name: string;
  /** x [b, h, w, c] */
  readonly x: number[];
  /** the filter [kh, kw, c, o] whose gradient is formed */
  readonly filter: number[];
  readonly strides: [number, number];
  readonly padding: Padding;
  readonly dilations?: [number, number];
}

/** Strides, same/valid padding, non-square kernels, C = 1/3/6, O = 1/6/16, batch 1; LeNet-5's two convs. */
export const CONV_FILTER_CASES: ConvFilterCase[] = [
  { name: "LeNet conv1 (batch 4)", x: [4, 32, 32, 3], filter: [5, 5, 3, 6], strides: [1, 1], padding: "valid" },
  { name: "LeNet conv2 (batch 4)", x: [4, 14, 14, 6], filter: [5, 5, 6, 16], strides: [1, 1], padding: "valid" },
  {
    name: "3×2 kernel, stride 2, same, C 1, O 1",
    x: [2, 7, 6, 1],
    filter: [3, 2, 1, 1],
    strides: [2, 2],
    padding: "same",
  },
  {
    name: "2×3 kernel, strides 2×1, valid, batch 1",
    x: [1, 6, 7, 3],
    filter: [2, 3, 3, 6],
    strides: [2, 1],
    padding: "valid",
  },
  { name: "3×3 same, C 3, O 16", x: [3, 5, 5, 3], filter: [3, 3, 3, 16], strides: [1, 1], padding: "same" },
  { name: "1×1 pointwise, batch 1", x: [1, 4, 4, 3], filter: [1, 1, 3, 6], strides: [1, 1], padding: "valid" },
  { name: "stride 3 leaving rows unused", x: [2, 8, 8, 1], filter: [2, 2, 1, 6], strides: [3, 3], padding: "valid" },
  {
    name: "dilated 2, strided 2 (tfjs refuses both: dense then subsampled)",
    x: [1, 9, 9, 3],
    filter: [2, 2, 3, 1],
    strides: [2, 2],
    padding: "same",
    dilations: [2, 2],
  },
];

/** The case's conv params with explicit padding and the filter's extent. */
export function convFilterParams(c: ConvFilterCase): ConvFilterParams {
  const dilations = c.dilations ?? [1, 1];
  return {
    strides: c.strides,
    padding: resolvePadding(c.padding, c.x.slice(1, 3), c.filter.slice(0, 2), c.strides, dilations),
    dilations,
    filter: [c.filter[0]!, c.filter[1]!],
  };
}

/** The cotangent's shape [b, ho, wo, o]: the conv's output for the case's x, filter and params `p`. */
export function cotangentShape(c: ConvFilterCase, p: ConvFilterParams): number[] {
  const [, H, W] = c.x as [number, number, number, number];
  const [kh, kw] = p.filter;
  const ho = convOutSize(H, kh, p.padding[0][0], p.padding[0][1], p.strides[0], p.dilations[0]);
  const wo = convOutSize(W, kw, p.padding[1][0], p.padding[1][1], p.strides[1], p.dilations[1]);
  return [c.x[0]!, ho, wo, c.filter[3]!];
}

/** dW[u,v,c,o] = Σ_{b,i,j} x[b, i·s₀+u·d₀−p₀, j·s₁+v·d₁−p₁, c]·ct[b,i,j,o], summed in float64. */
export function bruteFilterGradient(
  x: Float32Array,
  xShape: readonly number[],
  ct: Float32Array,
  ctShape: readonly number[],
  filter: readonly number[],
  p: ConvFilterParams,
): number[] {
  const [B, H, W, C] = xShape as [number, number, number, number];
  const [, Ho, Wo, O] = ctShape as [number, number, number, number];
  const [kh, kw] = filter as [number, number];
  const dw = new Float64Array(kh * kw * C * O);
  for (let u = 0; u < kh; u++)
    for (let v = 0; v < kw; v++)
      for (let b = 0; b < B; b++)
        for (let i = 0; i < Ho; i++) {
          const r = i * p.strides[0] + u * p.dilations[0] - p.padding[0][0];
          if (r < 0 || r >= H) continue;
          for (let j = 0; j < Wo; j++) {
            const q = j * p.strides[1] + v * p.dilations[1] - p.padding[1][0];
            if (q < 0 || q >= W) continue;
            for (let c = 0; c < C; c++) {
              const xv = x[((b * H + r) * W + q) * C + c]!;
              const [at, from] = [((u * kw + v) * C + c) * O, ((b * Ho + i) * Wo + j) * O];
              for (let o = 0; o < O; o++) dw[at + o] = dw[at + o]! + xv * ct[from + o]!;
            }
          }
        }
  return Array.from(dw);
}
