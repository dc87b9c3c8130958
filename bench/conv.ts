/**
 * `pnpm bench conv [--models lenet,vgg11] [--gemm wasm,native]`: every convolution one gradient of
 * each model runs (forward convs, and the input- and filter-gradient rules' convs), recorded at
 * K.conv2d, timed through tfjs-wasm's Conv2D (XNNPACK; or the col2im path where K.conv2d takes it)
 * and as im2col + matmul (the SIMD patch matrix, then BatchMatMul: XNNPACK, or with `--gemm native`
 * @hodiff/native's OpenBLAS on one thread), interleaved in one run so the ratio holds on a loaded
 * machine: medians, and minima (the least disturbed run). `m, k, n`: the matmul's [m, k]·[k, n]. A
 * new filter tensor each call, as in training. The wasm lines back K.conv2d's rule for plain wasm
 * (`im2colFaster` in packages/core/src/kernels.ts): `rule` is the path it picks for the line, to read
 * against `speedup` (K.conv2d's col2im path, where it applies, comes before the rule).
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { MODELS, nll, type ModelName } from "@hodiff/nn";
import { K, im2colFaster, runtime } from "../packages/core/src/kernels";
import { convOutSize } from "../packages/core/src/shapes";
import { PAPER } from "./models";
import { compareTimes } from "./timing";
import type { Bench } from "./suites";

type Pads = [[number, number], [number, number]];
interface Case {
  x: number[];
  w: number[];
  strides: [number, number];
  padding: Pads;
  dilations: [number, number];
}

/** The distinct K.conv2d calls of one gradient of `model` (forward and backward). */
function recordConvs(model: ModelName): Case[] {
  const m = MODELS[model]();
  const B = PAPER[model]!.batch;
  const params = m.init(hd.random.key(0));
  const x = hd.random.normal(hd.random.key(1), [B, ...m.inputShape]);
  const labels = Array.from({ length: B }, (_, i) => i % m.numClasses);
  const seen = new Map<string, Case>();
  const original = K.conv2d;
  K.conv2d = (xs, ws, strides, padding, dilations) => {
    const c: Case = { x: xs.shape, w: ws.shape, strides, padding, dilations };
    seen.set(JSON.stringify(c), c);
    return original(xs, ws, strides, padding, dilations);
  };
  try {
    hd.dispose(hd.grad((p: typeof params) => nll(m.apply(p, x), labels))(params));
  } finally {
    K.conv2d = original;
  }
  hd.dispose([params, x]);
  return [...seen.values()];
}

export const convBench: Bench = async ({ backend, repeats, models: names, gemm: gemms }) => {
  if (!hd.simdKernelsActive()) return [{ name: "conv", backend, skipped: "SIMD kernels not active" }];
  const out: Record<string, unknown>[] = [];
  for (const gemm of (gemms ?? "wasm").split(",")) {
    if (gemm !== "wasm" && gemm !== "native")
      throw new Error(`bench conv: unknown --gemm '${gemm}' (use wasm, native)`);
    // One OpenBLAS thread, as tfjs-wasm's one (and PyTorch's --threads 1).
    const native = gemm === "native" ? (await import("@hodiff/native")).installNativeGemm({ threads: 1 }) : null;
    try {
      out.push(...timeConvs(repeats, (names ?? "lenet,vgg11").split(",") as ModelName[]));
    } finally {
      native?.uninstall();
    }
  }
  return out;
};

/** The lines of `convBench` for the GEMM installed now. */
function timeConvs(repeats: number, models: ModelName[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const backend = "wasm";
  for (const model of models) {
    for (const c of recordConvs(model)) {
      const x = tf.randomNormal(c.x);
      const wValues = tf.tidy(() => tf.randomNormal(c.w).dataSync()); // the values only: the tensor is freed
      const once = (mode: "never" | "always") => {
        runtime.setIm2colMode(mode);
        // A new filter each call, as in training (the filter is a new parameter, a flipped filter or
        // a cotangent): tfjs-wasm caches XNNPACK's packed filter per filter tensor.
        const w = tf.tensor(wValues, c.w);
        const t0 = performance.now();
        const y = K.conv2d(x, w, c.strides, c.padding, c.dilations);
        y.dataSync();
        const t1 = performance.now();
        tf.dispose([y, w]);
        return t1 - t0;
      };
      const t = { direct: [] as number[], im2col: [] as number[] };
      for (let i = 0; i < repeats + 1; i++) {
        const a = once("never");
        const b = once("always");
        if (i > 0) {
          t.direct.push(a);
          t.im2col.push(b);
        }
      }
      runtime.setIm2colMode("auto");
      const [B, H, W, C] = c.x as [number, number, number, number];
      const [kh, kw, , O] = c.w as [number, number, number, number];
      const Ho = convOutSize(H, kh, c.padding[0][0], c.padding[0][1], c.strides[0], c.dilations[0]);
      const Wo = convOutSize(W, kw, c.padding[1][0], c.padding[1][1], c.strides[1], c.dilations[1]);
      out.push({
        name: "conv",
        model,
        backend,
        gemm: runtime.heapGemm() ? "native" : "xnnpack",
        ...c,
        m: B * Ho * Wo,
        k: kh * kw * C,
        n: O,
        ...compareTimes("direct", t.direct, "im2col", t.im2col, 2, 2),
        rule: im2colFaster(kh * kw * C, O, kh * kw, runtime.heapGemm() !== null) ? "im2col" : "direct",
      });
      x.dispose();
    }
  }
  return out;
}
