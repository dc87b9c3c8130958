/**
 * matmul's transpose flags on the native GEMM: a gradient's matmuls reach OpenBLAS with cblas's
 * transpose flags, so no Transpose kernel runs (tfjs-wasm's XNNPACK path still materialises them,
 * its flagged BatchMatMul being slow), with the same values as the wasm-only gradient.
 * Skipped, with the reason in each name, where the addon is not built (see gemm.test.ts).
 */
import * as hd from "@hodiff/core";
import { mlp, nll } from "@hodiff/nn";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installNativeGemm, type NativeGemm } from "./gemm";
import { SKIP, built } from "./testing/skip";
// core's test fixture (not public API), as convFilter.test.ts reaches it.
import { randomFloats } from "../../core/src/testing/randomFloats";

const randomArray = (shape: number[], seed: number) => hd.array(randomFloats(shape, seed), { shape });

/** The gradient's values and the names of the kernels it ran. */
async function profiled(f: () => hd.Tree<hd.Value>): Promise<{ values: number[][]; kernels: string[] }> {
  let values: number[][] = [];
  const info = await tf.profile(() => {
    const g = f();
    values = hd.treeLeaves(g).map((t) => Array.from(hd.toFlat(t as hd.Value)));
    hd.dispose(g);
  });
  return { values, kernels: info.kernels.map((k) => k.name) };
}

const expectClose = (got: number[][], want: number[][]) =>
  got.forEach((g, l) =>
    g.forEach((v, i) => expect(Math.abs(v - want[l]![i]!)).toBeLessThan(1e-5 + 1e-4 * Math.abs(want[l]![i]!))),
  );

describe("a matmul gradient on the native GEMM", () => {
  let native: NativeGemm | undefined;
  beforeAll(async () => void (await hd.setBackend("wasm")));
  afterAll(() => native?.uninstall());

  const cases: Array<[string, () => hd.Tree<hd.Value>, () => void]> = [];
  {
    // x·w and xᵀ-flagged rules: ∂x = c·wᵀ (transposeB), ∂w = xᵀ·c (transposeA); batched too.
    const x = randomArray([2, 6, 5], 1);
    const w = randomArray([2, 5, 4], 2);
    const loss = (a: hd.Value, b: hd.Value) => hd.sum(hd.tanh(hd.matmul(a, b)));
    cases.push(["batched x·w", () => hd.grad(loss, { argnums: [0, 1] })(x, w), () => hd.dispose([x, w])]);
  }
  {
    const model = mlp([30, 64, 20, 5], "tanh", 1);
    const params = model.init(hd.random.key(3));
    const x = randomArray([16, 30], 4);
    const labels = Int32Array.from({ length: 16 }, (_, i) => i % 5);
    const loss = (p: typeof params) => nll(model.apply(p, x), labels);
    cases.push(["an MLP's", () => hd.grad(loss)(params), () => hd.dispose([params, x])]);
  }
  afterAll(() => cases.forEach(([, , free]) => free()));

  for (const [name, grad] of cases) {
    it.skipIf(!built)(`${name}: no Transpose kernel, the wasm-only values, no tensors left${SKIP}`, async () => {
      const wasmOnly = await profiled(grad);
      // Without the native GEMM the kernel seam materialises the transposes (XNNPACK's flags are slow).
      expect(wasmOnly.kernels).toContain("Transpose");
      const before = hd.numTensors();
      native = installNativeGemm({ threads: 1 });
      expect(hd.heapGemmActive()).toBe(true);
      const withNative = await profiled(grad);
      native.uninstall();
      native = undefined;
      expect(hd.numTensors()).toBe(before);
      expect(withNative.kernels).toContain("BatchMatMul");
      expect(withNative.kernels).not.toContain("Transpose");
      expectClose(withNative.values, wasmOnly.values);
    });
  }
});
