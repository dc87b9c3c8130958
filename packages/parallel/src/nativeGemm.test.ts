/**
 * A pool whose workers use @hodiff/native's OpenBLAS GEMM (`gemm: "native"`): its gradient and
 * summaries equal one thread's within float32 rounding — one thread on tfjs-wasm's own GEMM (an
 * independent implementation) and one thread on OpenBLAS —, every worker really runs OpenBLAS
 * (the test task throws otherwise), calls leave numTensors unchanged, and a worker that cannot load
 * the addon fails createPool with the fix in the message.
 *
 * Skipped, with the reason in each name, where the addon is not built (no C compiler or OpenBLAS:
 * `apt-get install gcc libopenblas-dev`, then `pnpm --filter @hodiff/native run build:native`).
 * CI installs OpenBLAS and builds it (.ci/run).
 */
import * as hd from "@hodiff/core";
import { installNativeGemm, nativeGemmAvailable, type NativeGemm } from "@hodiff/native";
import { nll } from "@hodiff/nn";
import { canonical, summaries, type Summaries } from "@hodiff/partition";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, type Pool } from "./pool";
import type { Params, TaskBatch } from "./task";
import { testModel, type TestInit, type TestModel } from "./testing/models";
import { relDiff, setup } from "./testing/batch";

const TASK = new URL("./testing/models.ts", import.meta.url);
const built = nativeGemmAvailable();
const SKIP = built
  ? ""
  : " [SKIPPED: @hodiff/native's addon not built — apt-get install libopenblas-dev; pnpm --filter @hodiff/native run build:native]";

const flatSummaries = (s: Summaries) => [s.loss, ...s.gbar, ...s.hbar.flat(), ...s.order3Diag];

/** The test task's loss without its GEMM check (for one thread on either GEMM). */
const plainLoss =
  (name: TestModel): Pool["loss"] =>
  (p, b) =>
    nll(testModel(name).apply(p as never, b.x as never), b.labels as Int32Array);

/** One thread's (L, ∇L) and summaries of `loss`, on the GEMM installed now. */
function oneThread(loss: Pool["loss"], params: Params, u: Params, batch: TaskBatch) {
  const [value, grads] = hd.valueAndGrad((p: Params) => loss(p, batch))(params);
  const s = summaries((p: never) => loss(p, batch), canonical(params))(params, u);
  const out = { loss: hd.item(value), grads, summaries: flatSummaries(s) };
  hd.dispose(value);
  return out;
}

describe.each<[TestModel, number]>([
  ["tiny-mlp", 9],
  ["tiny-cnn", 7],
])(`pool(%s, B = %i, 3 threads, gemm: "native") equals one thread${SKIP}`, (name, B) => {
  let pool: Pool;
  let native: NativeGemm;
  beforeAll(async () => {
    if (!built) return;
    await hd.setBackend("wasm");
    native = installNativeGemm({ threads: 1 }); // the calling thread's part on OpenBLAS too
    const init: TestInit = { model: name, gemm: "native" };
    // Even split: every call runs on all three threads, so two workers call OpenBLAS at once.
    pool = await createPool({ task: TASK, init, threads: 3, gemm: "native", blasThreads: 1, split: "even" });
  });
  afterAll(async () => {
    await pool?.close();
    native?.uninstall();
  });

  it.skipIf(!built)("gradient and summaries, against tfjs-wasm's GEMM and OpenBLAS on one thread", () => {
    const { params, x, labels, u } = setup(name, B, 4, 5);
    const batch = { x, labels };
    native.uninstall();
    const wasm = oneThread(plainLoss(name), params, u, batch);
    native = installNativeGemm({ threads: 1 });
    const blas = oneThread(pool.loss, params, u, batch); // pool.loss checks it runs on OpenBLAS
    const before = hd.numTensors();
    for (let call = 0; call < 4; call++) {
      const got = pool.valueAndGrad(params, batch);
      expect(hd.numTensors() - before).toBe(hd.treeLeaves(got.grads).length); // only the result
      for (const want of [wasm, blas]) {
        expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(want.loss));
        expect(relDiff(got.grads, want.grads)).toBeLessThan(1e-5);
      }
      hd.dispose(got.grads);
      const s = flatSummaries(pool.summaries(params, u, batch, canonical(params)));
      expect(hd.numTensors()).toBe(before);
      for (const want of [wasm.summaries, blas.summaries]) {
        const scale = Math.max(...want.map(Math.abs));
        want.forEach((v, i) => expect(Math.abs(s[i]! - v)).toBeLessThanOrEqual(1e-4 * scale));
      }
    }
    hd.dispose([wasm.grads, blas.grads, params, x, u]);
  });
});

describe(`pool with gemm: "native": errors${SKIP}`, () => {
  beforeAll(() => hd.setBackend("wasm"));

  it.skipIf(!built)(
    "without the native GEMM, the test task sees tfjs-wasm's in the workers (the check works)",
    async () => {
      await using pool = await createPool({
        task: TASK,
        init: { model: "tiny-mlp", gemm: "native" },
        threads: 2,
        split: "even",
      });
      using native = installNativeGemm({ threads: 1 });
      const { params, x, labels } = setup("tiny-mlp", 4, 1, 5);
      expect(() => pool.valueAndGrad(params, { x, labels })).toThrow(
        /worker 1 failed: test task: expected the native GEMM/,
      );
      native.uninstall();
      hd.dispose([params, x]);
    },
  );

  it("a worker that cannot load the addon fails createPool, saying how to build it", async () => {
    // Workers copy the environment when they start: theirs points at no addon.
    process.env.HODIFF_NATIVE_ADDON = "/nonexistent/hodiff_native.node";
    try {
      await expect(createPool({ task: TASK, init: { model: "tiny-mlp" }, threads: 2, gemm: "native" })).rejects.toThrow(
        /a worker could not start: .*hodiff_native\.node is not usable.*apt-get install gcc libopenblas-dev/,
      );
    } finally {
      delete process.env.HODIFF_NATIVE_ADDON;
    }
  });

  it("refuses options that cannot work, before starting a worker", async () => {
    const task = { task: TASK, init: { model: "tiny-mlp" } as TestInit, threads: 2 };
    await expect(createPool({ ...task, blasThreads: 2 })).rejects.toThrow(/blasThreads applies only to gemm: "native"/);
    await expect(createPool({ ...task, gemm: "native", blasThreads: 0 })).rejects.toThrow(/blasThreads must be/);
    await expect(createPool({ ...task, gemm: "native", backend: "cpu" })).rejects.toThrow(/use backend "wasm"/);
  });
});
