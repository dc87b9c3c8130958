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
 * The "filter gradient" lines time convFilterP's routes (`timeFilters`) the same way.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { MODELS, nll, type ModelName } from "@hodiff/nn";
import { K, convFilterIm2colFaster, im2colFaster, runtime } from "../packages/core/src/kernels";
import { convFilterP, type ConvFilterParams } from "../packages/core/src/primitives/linalg";
import { convOutSize } from "../packages/core/src/shapes";
import { PAPER } from "./models";
import { compareTimes, interleaved } from "./timing";
import type { Bench } from "./suites";

type Pads = [[number, number], [number, number]];
interface Case {
  x: number[];
  w: number[];
  strides: [number, number];
  padding: Pads;
  dilations: [number, number];
}

/** A filter gradient convFilter(x, ct): x [b, h, w, c], the cotangent ct [b, ho, wo, o]. */
interface FilterCase {
  x: number[];
  ct: number[];
  params: ConvFilterParams;
}

/**
 * The distinct K.conv2d calls of one gradient of `model` (forward and backward; the filter
 * gradients' convs where they take the composite route), and its filter gradients (K.convFilter).
 */
function recordConvs(model: ModelName): { convs: Case[]; filters: FilterCase[] } {
  const m = MODELS[model]();
  const B = PAPER[model]!.batch;
  const params = m.init(hd.random.key(0));
  const x = hd.random.normal(hd.random.key(1), [B, ...m.inputShape]);
  const labels = Array.from({ length: B }, (_, i) => i % m.numClasses);
  const seen = new Map<string, Case>();
  const filters = new Map<string, FilterCase>();
  const [original, originalFilter] = [K.conv2d, K.convFilter];
  K.conv2d = (xs, ws, strides, padding, dilations) => {
    const c: Case = { x: xs.shape, w: ws.shape, strides, padding, dilations };
    seen.set(JSON.stringify(c), c);
    return original(xs, ws, strides, padding, dilations);
  };
  K.convFilter = (xs, cts, filter, strides, padding, dilations) => {
    const f: FilterCase = { x: xs.shape, ct: cts.shape, params: { strides, padding, dilations, filter } };
    filters.set(JSON.stringify(f), f);
    return originalFilter(xs, cts, filter, strides, padding, dilations);
  };
  try {
    hd.dispose(hd.grad((p: typeof params) => nll(m.apply(p, x), labels))(params));
  } finally {
    K.conv2d = original;
    K.convFilter = originalFilter;
  }
  hd.dispose([params, x]);
  return { convs: [...seen.values()], filters: [...filters.values()] };
}

/**
 * ms of `run(t)` until its result is read back, `t` a tensor made from `values` just before the clock
 * starts (so no kernel caches a value of an earlier call); both freed after.
 */
function timeOnFresh(values: tf.TypedArray, shape: number[], run: (t: tf.Tensor) => tf.Tensor): number {
  const t = tf.tensor(values, shape);
  const t0 = performance.now();
  const y = run(t);
  y.dataSync();
  const t1 = performance.now();
  tf.dispose([y, t]);
  return t1 - t0;
}

/**
 * The "filter gradient" lines: convFilterP's two routes on the model's filter gradients, interleaved —
 * the composite (transposes of x and ct, a conv, a transpose) and im2col + a transposeA matmul
 * (on XNNPACK the seam materialises that transpose). `rule`: the route `K.convFilter` picks.
 */
function timeFilters(repeats: number, model: ModelName, filters: FilterCase[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const f of filters) {
    const x = tf.randomNormal(f.x);
    const ctValues = tf.tidy(() => tf.randomNormal(f.ct).dataSync());
    const once = (route: "composite" | "im2col") => {
      runtime.setConvFilterRoute(route);
      // a new cotangent each call, as in training
      return timeOnFresh(ctValues, f.ct, (ct) => convFilterP.impl([x, ct], f.params) as tf.Tensor);
    };
    const [composite, im2col] = interleaved(
      repeats,
      () => once("composite"),
      () => once("im2col"),
    );
    runtime.setConvFilterRoute("auto");
    const [B, , , C] = f.x as [number, number, number, number];
    const [, Ho, Wo, O] = f.ct as [number, number, number, number];
    const [kh, kw] = f.params.filter;
    out.push({
      name: "filter gradient",
      model,
      backend: "wasm",
      gemm: runtime.heapGemm() ? "native" : "xnnpack",
      x: f.x,
      ct: f.ct,
      ...f.params,
      m: kh * kw * C,
      k: B * Ho * Wo,
      n: O,
      ...compareTimes("composite", composite, "im2col", im2col, 2, 2),
      rule: convFilterIm2colFaster(O, runtime.heapGemm() !== null) ? "im2col" : "composite",
    });
    x.dispose();
  }
  return out;
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
    const { convs, filters } = recordConvs(model);
    out.push(...timeFilters(repeats, model, filters));
    for (const c of convs) {
      const x = tf.randomNormal(c.x);
      const wValues = tf.tidy(() => tf.randomNormal(c.w).dataSync()); // the values only: the tensor is freed
      const once = (mode: "never" | "always") => {
        runtime.setIm2colMode(mode);
        // A new filter each call, as in training (the filter is a new parameter, a flipped filter or
        // a cotangent): tfjs-wasm caches XNNPACK's packed filter per filter tensor.
        return timeOnFresh(wValues, c.w, (w) => K.conv2d(x, w, c.strides, c.padding, c.dilations));
      };
      const [direct, im2col] = interleaved(
        repeats,
        () => once("never"),
        () => once("always"),
      );
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
        ...compareTimes("direct", direct, "im2col", im2col, 2, 2),
        rule: im2colFaster(kh * kw * C, O, kh * kw, runtime.heapGemm() !== null) ? "im2col" : "direct",
      });
      x.dispose();
    }
  }
  return out;
}
