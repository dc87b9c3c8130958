/**
 * `hodiff train --threads 2`: the gradient (and NewtonSummary's summaries) computed by a pool of
 * two threads over halves of each batch give the trajectory of one thread, within float32
 * rounding (the halves' sums are added in another order), for Adam and NewtonSummary; the run
 * ends with its workers, leaking no tensor.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import { hodiff, runResult as result, silentIo, tempDir, TINY, tinyConfig } from "./testing/harness";
import { train } from "./trainer";
import { UsageError } from "./usage";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
beforeAll(() => hd.setBackend("wasm"));

const OPTIMIZERS: Record<string, string[]> = {
  adam: ["--optimizer", "adam", "--lr", "0.01"],
  // a summary every 2 updates, one warm-up summary: 8 of the 16 updates compute summaries on the pool
  "newton-summary": [
    ...["--optimizer", "newton-summary", "--lr", "0.1", "--period", "2", "--warmup", "1"],
    ...["--summary-batch-size", "33"], // odd: the parts are 17 and 16 examples
  ],
};

describe.each(Object.keys(OPTIMIZERS))("hodiff train --optimizer %s --threads 2", (name) => {
  it("follows the --threads 1 trajectory within float32 rounding", async () => {
    const runs: Record<string, ReturnType<typeof result>> = {};
    const before = hd.numTensors();
    for (const threads of ["1", "2"]) {
      const out = tmp.path(`${name}-${threads}`);
      const r = await hodiff(
        "train",
        ...TINY,
        ...OPTIMIZERS[name]!,
        "--epochs",
        "2",
        "--threads",
        threads,
        "--gemm",
        "wasm", // tfjs-wasm's GEMM in every thread (gemm.test.ts runs the pool with the native one)
        "--out",
        out,
      );
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      runs[threads] = result(out);
    }
    expect(hd.numTensors()).toBe(before);
    const [one, two] = [runs["1"]!, runs["2"]!];
    expect(two.losses).toHaveLength(16);
    two.losses.forEach((l, i) =>
      expect(Math.abs(l - one.losses[i]!)).toBeLessThanOrEqual(1e-5 * Math.abs(one.losses[i]!)),
    );
    const scale = Math.max(...one.params.map(Math.abs));
    const diff = Math.max(...two.params.map((p, i) => Math.abs(p - one.params[i]!)));
    expect(diff / scale).toBeLessThan(1e-5);
    // not the same computation: the two-thread sums differ in the last bits somewhere
    expect(two.params.some((p, i) => p !== one.params[i])).toBe(true);
  });
});

describe("--threads on webgpu", () => {
  it("is refused before anything is written: the pool's threads read synchronously", async () => {
    const cfg = tinyConfig({ hyper: { lr: 0.01 } });
    const run = { dir: tmp.path("webgpu-threads"), resume: false, io: silentIo, progress: false, threads: 2 };
    await expect(train(cfg, { ...run, backend: "webgpu" })).rejects.toThrow(UsageError);
    await expect(train(cfg, { ...run, backend: "webgpu" })).rejects.toThrow(
      /--threads 2 runs on the wasm or cpu backend only/,
    );
  });
});
