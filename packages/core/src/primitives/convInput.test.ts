/**
 * conv2d's input gradient ∂⟨ct, conv(x, w)⟩/∂x in eager reverse mode, on cpu and wasm, against a
 * float64 brute-force sum; on wasm the stride-1 input-gradient convs that run on the col2im scatter
 * take the filter itself (`K.convInputScatter`), eager and jitted (the plan's convInput step): no
 * Reverse kernel, no tensors left.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, describe, expect, it } from "vitest";
import * as hd from "../index";
import type { Value } from "../index";
import { setBackend } from "../backend";
import type { ConvFilterParams } from "./linalg";
import { CONV_FILTER_CASES, convFilterParams, cotangentShape } from "../testing/convFilterCases";
import { randomFloats } from "../testing/randomFloats";

const conv = (x: Value, w: Value, p: ConvFilterParams) =>
  hd.conv2d(x, w, { strides: [...p.strides], padding: p.padding.map((q) => [...q]), dilations: [...p.dilations] });

/** dX[b, i·s₀+u·d₀−p₀, j·s₁+v·d₁−p₁, c] = Σ w[u,v,c,o]·ct[b,i,j,o] over in-bounds positions, in float64. */
function bruteInputGradient(
  w: Float32Array,
  filter: readonly number[],
  ct: Float32Array,
  ctShape: readonly number[],
  xShape: readonly number[],
  p: ConvFilterParams,
): number[] {
  const [B, H, W, C] = xShape as [number, number, number, number];
  const [kh, kw, , O] = filter as [number, number, number, number];
  const [, Ho, Wo] = ctShape as [number, number, number, number];
  const dx = new Array<number>(B * H * W * C).fill(0);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++)
        for (let u = 0; u < kh; u++)
          for (let v = 0; v < kw; v++) {
            const r = i * p.strides[0] + u * p.dilations[0] - p.padding[0][0];
            const q = j * p.strides[1] + v * p.dilations[1] - p.padding[1][0];
            if (r < 0 || r >= H || q < 0 || q >= W) continue;
            for (let c = 0; c < C; c++)
              for (let o = 0; o < O; o++)
                dx[((b * H + r) * W + q) * C + c]! +=
                  w[((u * kw + v) * C + c) * O + o]! * ct[((b * Ho + i) * Wo + j) * O + o]!;
          }
  return dx;
}

for (const backend of ["cpu", "wasm"] as const) {
  describe(`conv2d's input gradient on ${backend}`, () => {
    afterAll(async () => void (await setBackend("cpu")));

    it.each(CONV_FILTER_CASES.map((c) => [c.name, c] as const))("%s: equals the brute-force sum", async (_n, c) => {
      await setBackend(backend);
      const before = hd.numTensors();
      const p = convFilterParams(c);
      const ctShape = cotangentShape(c, p);
      const ws = randomFloats(c.filter, 2);
      const cts = randomFloats(ctShape, 3);
      const inputGrad = (x: Value, w: Value, ct: Value) =>
        hd.grad((xv: Value) => hd.sum(hd.mul(ct, conv(xv, w, p))))(x);
      // Eager, and jitted (the plan's convInput step: staging/fuse.ts, unflipConvInput).
      const jitted = hd.jit(inputGrad);
      const want = bruteInputGradient(ws, c.filter, cts, ctShape, c.x, p);
      const scale = Math.max(...want.map(Math.abs));
      for (const f of [inputGrad, jitted]) {
        const got = hd.tidy(() => {
          const w = hd.array(ws, { shape: c.filter });
          const ct = hd.array(cts, { shape: ctShape });
          return Array.from(hd.toFlat(f(hd.zeros(c.x), w, ct)));
        });
        expect(got.length).toBe(want.length);
        want.forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThan(1e-5 * scale + 1e-6));
      }
      jitted.dispose();
      expect(hd.numTensors()).toBe(before);
    });
  });
}

describe("conv2d's input gradient on the col2im scatter (wasm)", () => {
  afterAll(async () => void (await setBackend("cpu")));

  it("takes the filter unflipped: HodiffCol2Im and no Reverse, no tensors left", async () => {
    await setBackend("wasm");
    const c = CONV_FILTER_CASES.find((k) => k.name.startsWith("LeNet conv2"))!;
    const p = convFilterParams(c);
    const ctShape = cotangentShape(c, p);
    const w = hd.array(randomFloats(c.filter, 2), { shape: c.filter });
    const ct = hd.array(randomFloats(ctShape, 3), { shape: ctShape });
    const x = hd.zeros(c.x);
    const before = hd.numTensors();
    const inputGrad = (xv: Value, wv: Value, cv: Value) =>
      hd.grad((xi: Value) => hd.sum(hd.mul(cv, conv(xi, wv, p))))(xv);
    const jitted = hd.jit(inputGrad);
    hd.dispose(jitted(x, w, ct));
    for (const f of [inputGrad, jitted]) {
      const info = await tf.profile(() => {
        hd.dispose(f(x, w, ct));
      });
      const names = info.kernels.map((k) => k.name);
      expect(names).toContain("HodiffCol2Im");
      expect(names).not.toContain("Reverse");
    }
    jitted.dispose();
    expect(hd.numTensors()).toBe(before);
    hd.dispose([w, ct, x]);
  });
});
