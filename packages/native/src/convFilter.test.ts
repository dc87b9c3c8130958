/**
 * conv2d's filter gradient on the native GEMM: patches(x)ᵀ·ct, one transposeA matmul per im2col
 * chunk (core's `K.convFilter`), against a float64 brute-force sum — whole and chunked a few images
 * at a time — and a LeNet-5 gradient whose filter gradients run no Transpose kernel; jitted, conv2's
 * patch matrix shared by its conv and its filter gradient (core's staging/fuse.ts, sharePatches).
 * Skipped, with the reason in each name, where the addon is not built (see gemm.test.ts).
 */
import * as hd from "@hodiff/core";
import { lenet5, nll } from "@hodiff/nn";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installNativeGemm, type NativeGemm } from "./gemm";
import { SKIP, built } from "./testing/skip";
// The route and im2col chunk cap are test knobs of core's kernel seam and the cases are core's test
// fixtures, none of them public API: reached in core's sources, as bench/conv.ts does.
import { runtime } from "../../core/src/kernels";
import {
  CONV_FILTER_CASES,
  bruteFilterGradient,
  convFilterParams,
  cotangentShape,
} from "../../core/src/testing/convFilterCases";
import { randomFloats } from "../../core/src/testing/randomFloats";

describe("the conv filter gradient on the native GEMM", () => {
  let native: NativeGemm | undefined;
  beforeAll(async () => {
    await hd.setBackend("wasm");
    if (built) native = installNativeGemm({ threads: 1 });
    // The rule (`convFilterIm2colFaster`) keeps few-channel filter gradients on the composite
    // route: these tests force the im2col route, but the last, which checks the rule's own choice.
    runtime.setConvFilterRoute("im2col");
  });
  afterAll(() => {
    runtime.setConvFilterRoute("auto");
    native?.uninstall();
  });

  for (const chunked of [false, true]) {
    it.skipIf(!built).each(CONV_FILTER_CASES.map((c) => [c.name, c] as const))(
      `%s${chunked ? ", one image per im2col chunk" : ""}: ∂w of ⟨ct, conv(x, w)⟩ equals the brute-force sum${SKIP}`,
      async (_n, c) => {
        expect(hd.heapGemmActive()).toBe(true);
        const before = hd.numTensors();
        const p = convFilterParams(c);
        const ctShape = cotangentShape(c, p);
        const [, ho, wo] = ctShape as [number, number, number, number];
        const [kh, kw, C] = c.filter as [number, number, number, number];
        // A cap of one image's patch matrix (the largest of the chunk's factors) makes one chunk per image.
        const cap = runtime.setIm2colMax(chunked ? ho * wo * kh * kw * C : 2 ** 24);
        try {
          const xs = randomFloats(c.x, 1);
          const cts = randomFloats(ctShape, 3);
          const opts = {
            strides: p.strides,
            padding: p.padding.map((q) => [...q] as [number, number]),
            dilations: p.dilations,
          };
          const got = hd.tidy(() => {
            const x = hd.array(xs, { shape: c.x });
            const ct = hd.array(cts, { shape: ctShape });
            const loss = (w: hd.Value) => hd.sum(hd.mul(ct, hd.conv2d(x, w, opts)));
            return Array.from(hd.toFlat(hd.grad(loss)(hd.zeros(c.filter))));
          });
          const want = bruteFilterGradient(xs, c.x, cts, ctShape, c.filter, p);
          const scale = Math.max(...want.map(Math.abs));
          want.forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThan(1e-5 * scale + 1e-6));
        } finally {
          runtime.setIm2colMax(cap);
        }
        expect(hd.numTensors()).toBe(before);
      },
    );
  }

  it.skipIf(!built)(
    `LeNet-5's gradient: no Transpose of x or ct for the filter gradients, no tensors left${SKIP}`,
    async () => {
      const model = lenet5();
      const params = model.init(hd.random.key(0));
      const B = 8;
      const x = hd.random.normal(hd.random.key(1), [B, ...model.inputShape]);
      const labels = Array.from({ length: B }, (_, i) => i % model.numClasses);
      const before = hd.numTensors();
      const info = await tf.profile(() => {
        const g = hd.grad((p: typeof params) => nll(model.apply(p, x), labels))(params);
        hd.treeLeaves(g).forEach((t) => hd.toFlat(t as hd.Value));
        hd.dispose(g);
      });
      expect(hd.numTensors()).toBe(before);
      // The filter gradients take im2col + a transposeA matmul; the only Transposes left are the input
      // gradient's filter flips ([5, 5, c, o] ↦ [5, 5, o, c]), none of a batch-sized operand.
      const transposed = info.kernels.filter((k) => k.name === "Transpose").map((k) => k.inputShapes[0]!);
      expect(transposed.filter((s) => s.includes(B))).toEqual([]);
      expect(info.kernels.map((k) => k.name)).toContain("HodiffIm2Col");
      hd.dispose([params, x]);
    },
  );

  it.skipIf(!built)(
    `jitted LeNet-5 gradient (auto routes): conv2's patches shared with its filter gradient, equal to eager${SKIP}`,
    async () => {
      runtime.setConvFilterRoute("auto");
      try {
        const model = lenet5();
        const params = model.init(hd.random.key(0));
        const B = 8;
        const x = hd.random.normal(hd.random.key(1), [B, ...model.inputShape]);
        const labels = Array.from({ length: B }, (_, i) => i % model.numClasses);
        const loss = (p: typeof params, xs: hd.Value) => nll(model.apply(p, xs), labels);
        const before = hd.numTensors();
        const eager = hd.grad(loss)(params, x);
        const jgrad = hd.jit(hd.grad(loss));
        hd.dispose(jgrad(params, x));
        let jitted: unknown;
        const info = await tf.profile(() => void (jitted = jgrad(params, x)));
        const names = info.kernels.map((k) => k.name);
        // conv2 (16 output channels) as im2col + matmul: one patch matrix for its conv and its filter
        // gradient, which then transposes neither x nor ct ([B, 14, 14, 6], [B, 10, 10, 16]).
        expect(names.filter((n) => n === "HodiffIm2Col")).toHaveLength(1);
        const transposed = info.kernels.filter((k) => k.name === "Transpose").map((k) => k.inputShapes[0]!);
        const conv2Operands = [`${[B, 14, 14, 6]}`, `${[B, 10, 10, 16]}`];
        expect(transposed.filter((s) => conv2Operands.includes(`${s}`))).toEqual([]);
        const [a, b] = [hd.treeLeaves(eager), hd.treeLeaves(jitted)];
        a.forEach((leaf, i) => {
          const [u, v] = [hd.toFlat(leaf as hd.Value), hd.toFlat(b[i] as hd.Value)];
          const scale = Math.max(...Array.from(u, Math.abs));
          u.forEach((w, k) => expect(Math.abs(w - v[k]!), `leaf ${i} at ${k}`).toBeLessThan(1e-5 * scale + 1e-7));
        });
        hd.dispose([eager, jitted]);
        jgrad.dispose();
        expect(hd.numTensors()).toBe(before);
        hd.dispose([params, x]);
      } finally {
        runtime.setConvFilterRoute("im2col");
      }
    },
  );

  it.skipIf(!built)(
    `the rule's own choice: im2col from 64 output channels, the composite (transposes of x, ct) below${SKIP}`,
    async () => {
      runtime.setConvFilterRoute("auto");
      try {
        const B = 5; // no other axis of x, ct or the filter is 5
        const x = hd.random.normal(hd.random.key(2), [B, 6, 6, 3]);
        const batchTransposes = async (o: number): Promise<number> => {
          const w = hd.zeros([3, 3, 3, o]);
          const before = hd.numTensors();
          const info = await tf.profile(() => {
            const g = hd.grad((v: hd.Value) => hd.sum(hd.conv2d(x, v)))(w);
            hd.toFlat(g);
            hd.dispose(g);
          });
          expect(hd.numTensors()).toBe(before);
          hd.dispose(w);
          return info.kernels.filter((k) => k.name === "Transpose" && k.inputShapes[0]!.includes(B)).length;
        };
        expect(await batchTransposes(64)).toBe(0);
        expect(await batchTransposes(8)).toBeGreaterThan(0);
        hd.dispose(x);
      } finally {
        runtime.setConvFilterRoute("im2col");
      }
    },
  );
});
