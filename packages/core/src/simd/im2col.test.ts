/**
 * The im2col patch-matrix kernel (HodiffIm2Col) against a brute-force index map, value for value
 * (NaN, ±Inf, −0 included: it only copies); K.conv2d's im2col + matmul path against the cpu
 * backend's conv on random and edge inputs; and the conv primitive's derivatives (its forward, its
 * input- and filter-gradient rules all being convs) through that path against finite differences.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "../index";
import { setBackend } from "../backend";
import { K, runtime } from "../kernels";
import { GRAD_OPS } from "../primitives/opTable";
import { checkGrads } from "../testing";
import { IM2COL, installSimdKernels, type Im2ColAttrs } from "./install";
import { expectConvClose, jsGemm } from "./fixtures";

/** A linear congruential generator: floats in [0, n). */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * n;
}

const EDGE = [NaN, Infinity, -Infinity, -0, 0];
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Values in ±1 with, where `edges`, about one in `every` an edge value (NaN, ±Inf, ±0; 3 by default). */
function values(n: number, seed: number, edges = false, every = 3): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (edges && r(every) < 1 ? EDGE[Math.floor(r(EDGE.length))]! : r(2) - 1));
}

type Pads = [[number, number], [number, number]];
/** [x shape, filter shape, strides, padding, dilations] */
type Conv = [number[], number[], [number, number], Pads, [number, number]];

const outSize = (n: number, k: number, s: number, lo: number, hi: number, d: number) =>
  Math.floor((n + lo + hi - (k - 1) * d - 1) / s) + 1;

/** The patch matrix by definition: row (b, i, j), column (u, v, ch) is x at the window's pixel or 0. */
function patchesByDefinition(x: Float32Array, [xs, ws, s, p, d]: Conv): Float32Array {
  const [B, H, W, C] = xs as [number, number, number, number];
  const [kh, kw] = ws as [number, number];
  const Ho = outSize(H, kh, s[0], p[0][0], p[0][1], d[0]);
  const Wo = outSize(W, kw, s[1], p[1][0], p[1][1], d[1]);
  const out: number[] = [];
  for (let b = 0; b < B; b++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++)
        for (let u = 0; u < kh; u++)
          for (let v = 0; v < kw; v++)
            for (let c = 0; c < C; c++) {
              const y = i * s[0] + u * d[0] - p[0][0];
              const z = j * s[1] + v * d[1] - p[1][0];
              out.push(y >= 0 && y < H && z >= 0 && z < W ? x[((b * H + y) * W + z) * C + c]! : 0);
            }
  return Float32Array.from(out);
}

const CASES: Conv[] = [
  // stride 1, 'same' 3×3 (VGG's)
  [
    [2, 5, 6, 3],
    [3, 3, 3, 4],
    [1, 1],
    [
      [1, 1],
      [1, 1],
    ],
    [1, 1],
  ],
  // stride 2, asymmetric padding, odd sizes
  [
    [3, 7, 5, 2],
    [3, 2, 2, 5],
    [2, 2],
    [
      [0, 2],
      [1, 0],
    ],
    [1, 1],
  ],
  // dilation 2 × 3 (tfjs takes strides or dilations, not both), a side unpadded
  [
    [1, 9, 8, 5],
    [2, 3, 5, 3],
    [1, 1],
    [
      [2, 0],
      [0, 3],
    ],
    [2, 3],
  ],
  // 1×1 filter, no padding (no patch matrix: x is one already)
  [
    [2, 4, 3, 6],
    [1, 1, 6, 7],
    [1, 1],
    [
      [0, 0],
      [0, 0],
    ],
    [1, 1],
  ],
  // 1×1 filter, stride 2, padded
  [
    [1, 5, 5, 4],
    [1, 1, 4, 2],
    [2, 2],
    [
      [1, 0],
      [0, 1],
    ],
    [1, 1],
  ],
  // C = 1, B = 1, LeNet-like 5×5 with more padding than the filter's reach on one side (whole
  // windows of padding), the output not so much larger than x that the col2im path takes it
  [
    [1, 6, 7, 1],
    [5, 5, 1, 3],
    [1, 1],
    [
      [5, 0],
      [1, 0],
    ],
    [1, 1],
  ],
  // the filter-gradient form: a large "filter" whose taps carry a few channels each
  [
    [4, 6, 6, 5],
    [4, 5, 5, 9],
    [1, 1],
    [
      [1, 1],
      [1, 1],
    ],
    [1, 1],
  ],
  // wide channels (vector copies plus a tail of 3), stride 3 × 1
  [
    [2, 6, 7, 11],
    [3, 3, 11, 2],
    [3, 1],
    [
      [1, 1],
      [2, 2],
    ],
    [1, 1],
  ],
  // stride 1, dilation 1 × 2 over wide channels
  [
    [1, 5, 9, 11],
    [2, 3, 11, 3],
    [1, 1],
    [
      [0, 1],
      [2, 1],
    ],
    [1, 2],
  ],
  // 16 output channels from 3: im2col only with a native GEMM
  [
    [2, 5, 6, 3],
    [3, 3, 3, 16],
    [1, 1],
    [
      [1, 1],
      [1, 1],
    ],
    [1, 1],
  ],
];

const diff = (a: ArrayLike<number>, b: ArrayLike<number>): number[] => {
  const bad: number[] = [];
  if (a.length !== b.length) return [-1];
  for (let i = 0; i < a.length && bad.length < 5; i++) if (!Object.is(a[i], b[i])) bad.push(i);
  return bad;
};

describe("HodiffIm2Col and conv2d as im2col + matmul on wasm", () => {
  let reference: Float32Array[] = [];
  /**
   * x with edge values (one in 40, so that most windows stay finite); the filter with them only in
   * unpadded convs: where padding meets an infinite weight, tfjs's cpu conv skips the padded pixel
   * while a patch matrix (and XNNPACK's conv) multiplies it, 0·∞ = NaN.
   */
  const inputs = (c: Conv, i: number) => {
    const unpadded = c[3].flat().every((p) => p === 0);
    return [
      tf.tensor(values(size(c[0]), i, true, 40), c[0]),
      tf.tensor(values(size(c[1]), i + 50, unpadded, 40), c[1]),
    ];
  };
  const conv = (c: Conv, i: number) => {
    const [x, w] = inputs(c, i);
    return K.conv2d(x!, w!, c[2], c[3], c[4]);
  };

  beforeAll(async () => {
    await setBackend("cpu");
    reference = CASES.map((c, i) => tf.tidy(() => conv(c, i).dataSync() as Float32Array));
    await setBackend("wasm");
    expect(await installSimdKernels()).toBe(true);
    runtime.setIm2colMode("always");
  });
  afterAll(() => runtime.setIm2colMode("auto"));

  it("builds the patch matrix of the definition, NaN, ±Inf and −0 copied as they are", () => {
    const before = tf.memory().numTensors;
    for (const [i, c] of CASES.entries()) {
      const xv = values(size(c[0]), i, true);
      const [, , s, p, d] = c;
      const attrs: Im2ColAttrs = {
        kh: c[1][0]!,
        kw: c[1][1]!,
        ho: outSize(c[0][1]!, c[1][0]!, s[0], p[0][0], p[0][1], d[0]),
        wo: outSize(c[0][2]!, c[1][1]!, s[1], p[1][0], p[1][1], d[1]),
        strides: s,
        dilations: d,
        offsets: [p[0][0], p[1][0]],
      };
      const got = tf.tidy(() => {
        const x = tf.tensor(xv, c[0]);
        const out = tf.engine().runKernel(IM2COL, { x }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
        expect(out.shape).toEqual([c[0][0]! * attrs.ho * attrs.wo, attrs.kh * attrs.kw * c[0][3]!]);
        return out.dataSync();
      });
      expect(diff(got, patchesByDefinition(xv, c)), `${c[0]} ⊛ ${c[1]}`).toEqual([]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("conv2d equals the cpu backend's conv (NaN and ±Inf where it has them), without leaking", () => {
    const before = tf.memory().numTensors;
    for (const [i, c] of CASES.entries()) {
      const got = tf.tidy(() => conv(c, i).dataSync());
      const k = c[1][0]! * c[1][1]! * c[1][2]!;
      const finite = expectConvClose(got, reference[i]!, k, `${c[0]} ⊛ ${c[1]}`);
      if (k > 1) expect(finite, `${c[0]} ⊛ ${c[1]}: some finite outputs`).toBeGreaterThan(0);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("goes through HodiffIm2Col (but for the unpadded 1×1 conv), in chunks of images past the cap", async () => {
    for (const [i, c] of CASES.entries()) {
      // (tf.profile itself keeps a tensor per call, so this test does not count tensors.)
      const names = (await tf.profile(() => void tf.tidy(() => conv(c, i)))).kernels.map((k) => k.name);
      const pointwise = c[1][0] === 1 && c[1][1] === 1 && c[2].every((s) => s === 1) && c[3].flat().every((p) => !p);
      expect(names.includes(IM2COL), `${c[0]} ⊛ ${c[1]}`).toBe(!pointwise);
      expect(names, `${c[0]} ⊛ ${c[1]}`).not.toContain("Conv2D");
    }
    // A cap of two images' patches: case 1 (3 images) is built as 2 + 1, with the same values.
    const c = CASES[1]!;
    const whole = tf.tidy(() => conv(c, 1).dataSync());
    const [, H, W, C] = c[0] as [number, number, number, number];
    const perImage = outSize(H, 3, 2, 0, 2, 1) * outSize(W, 2, 2, 1, 0, 1) * 3 * 2 * C;
    const cap = runtime.setIm2colMax(2 * perImage);
    try {
      const before = tf.memory().numTensors;
      const kernels = (await tf.profile(() => void tf.tidy(() => conv(c, 1)))).kernels;
      expect(kernels.filter((k) => k.name === IM2COL)).toHaveLength(2);
      expect(
        diff(
          tf.tidy(() => conv(c, 1).dataSync()),
          whole,
        ),
      ).toEqual([]);
      expect(tf.memory().numTensors).toBe(before + 1); // tf.profile's own
    } finally {
      runtime.setIm2colMax(cap);
    }
  });

  it("in 'auto', follows its rule on plain wasm and with a native GEMM", async () => {
    const kernelsOf = async (c: Conv, i: number) =>
      (await tf.profile(() => void tf.tidy(() => conv(c, i)))).kernels.map((k) => k.name);
    // k = 4·4·16 = 256 products into n = 128 channels over 16 taps: the filter-gradient form.
    const wide: Conv = [
      [1, 5, 5, 16],
      [4, 4, 16, 128],
      [1, 1],
      [
        [1, 1],
        [1, 1],
      ],
      [1, 1],
    ];
    runtime.setIm2colMode("auto");
    try {
      const last = CASES.length - 1;
      expect(await kernelsOf(CASES[last]!, last)).toContain("Conv2D");
      expect(await kernelsOf(CASES[last]!, last)).not.toContain(IM2COL);
      expect(await kernelsOf(wide, 9)).toContain(IM2COL);
      runtime.setHeapGemm(jsGemm); // C = A·B by definition on the heap (what a native BLAS computes)
      // With a native GEMM: im2col from 16 output channels on, XNNPACK's conv below.
      expect(await kernelsOf(CASES[0]!, 0)).toContain("Conv2D");
      const names = await kernelsOf(CASES[last]!, last);
      expect(names).toContain(IM2COL);
      expect(names).not.toContain("Conv2D");
      const c = CASES[last]!;
      const got = tf.tidy(() => conv(c, last).dataSync());
      expectConvClose(got, reference[last]!, c[1][0]! * c[1][1]! * c[1][2]!, `${c[0]} ⊛ ${c[1]} on the heap GEMM`);
    } finally {
      runtime.setHeapGemm(null);
      runtime.setIm2colMode("always");
    }
  });

  // The conv primitive's derivative tests (forward, input and filter gradients, orders 1 and 2,
  // forward and reverse), every conv going through im2col + matmul.
  it.each(GRAD_OPS.filter((s) => s.name.startsWith("conv2d")).map((s) => [s.name, s] as const))(
    "derivatives of %s through the im2col path against finite differences",
    async (_name, spec) => {
      const args = spec.args();
      let error: unknown;
      const options = { order: spec.order ?? 2, eps: 1e-2, atol: 3e-3, rtol: 3e-3 };
      const profile = await tf.profile(() => {
        try {
          checkGrads(spec.f, args, options);
        } catch (e) {
          error = e;
        }
      });
      expect(error).toBeUndefined();
      const kernels = profile.kernels.map((k) => k.name);
      expect(kernels).toContain(IM2COL);
      expect(kernels).not.toContain("Conv2D");
      const before = hd.numTensors();
      checkGrads(spec.f, args, options);
      expect(hd.numTensors()).toBe(before);
      hd.dispose(args);
    },
  );
});
