import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import { CHECKPOINT_FILE } from "./checkpoint";
import { METRICS_FILE, readMetrics } from "./metrics";
import type { Io } from "./io";
import { OPTIMIZERS, type OptimizerEntry } from "./optimizers";
import { beforeEachUpdate, hodiff, silentIo, tempDir, timeless, TINY, tinyConfig } from "./testing/harness";
import { train } from "./trainer";
import { selectBackend } from "./commands/train";
import { isPositiveDefinite } from "./testing/linalg";

const tmp = tempDir();

/** NewtonSummary with a summary every 2 updates, one warm-up summary, and a plateau that halves λ
 * unless the epoch's loss improved by 90% (so that it fires in these short runs). */
const NEWTON = [
  ...["--optimizer", "newton-summary", "--lr", "0.1", "--period", "2", "--warmup", "1", "--summary-batch-size", "32"],
  ...["--plateau-patience", "0", "--plateau-threshold", "0.9"],
];
afterAll(() => tmp.cleanup());
beforeAll(async () => {
  await hd.setBackend("wasm");
});

/** A record without its wall-clock fields (the only fields allowed to differ between runs). */

/** The trajectory of a run directory: metrics without times, and the checkpoint (tensor bytes and trees). */
function trajectory(dir: string) {
  const manifest = JSON.parse(readFileSync(`${dir}/${CHECKPOINT_FILE}`, "utf8"));
  return {
    metrics: readMetrics(`${dir}/${METRICS_FILE}`).map(timeless),
    bin: readFileSync(`${dir}/${manifest.tensors.file}`),
    manifest: { ...manifest, config: { ...manifest.config } },
  };
}

describe("hodiff train on the synthetic set", () => {
  it("trains end to end: exit 0, one line per epoch, config, metrics and a checkpoint; no tensor leaks", async () => {
    const out = tmp.path("e2e");
    const before = hd.numTensors();
    const r = await hodiff(
      "train",
      ...TINY,
      "--optimizer",
      "sgd",
      "--lr",
      "0.1",
      "--momentum",
      "0.9",
      "--epochs",
      "2",
      "--out",
      out,
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(hd.numTensors()).toBe(before);
    // the execution line (defaults.test.ts checks its values), then one line per epoch
    expect(r.out.split("\n")).toHaveLength(3);
    expect(r.out).toMatch(/^backend wasm, .*, threads 1.*\nepoch 1\/2: train_loss \d+\.\d+, val_loss .*, 8 steps in/);
    // the lock is gone; best.json names the best epoch's checkpoint (epoch 2's here, or epoch 1's bin is kept too)
    const files = readdirSync(out).sort();
    expect(files.filter((f) => !f.startsWith("ckpt-"))).toEqual([
      "best.json",
      "checkpoint.json",
      "config.json",
      "metrics.jsonl",
    ]);
    expect(files).toContain("ckpt-00000016.bin");

    const records = readMetrics(`${out}/${METRICS_FILE}`);
    const steps = records.filter((x) => x.kind === "step");
    const epochs = records.filter((x) => x.kind === "epoch");
    expect(steps.map((x) => x.step)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(steps.map((x) => x.epoch)).toEqual([...new Array<number>(8).fill(1), ...new Array<number>(8).fill(2)]);
    expect(epochs.map((x) => [x.epoch, x.step])).toEqual([
      [1, 8],
      [2, 16],
    ]);
    for (const x of records) {
      expect(Number.isInteger(x.epoch) && Number.isInteger(x.step)).toBe(true);
      expect(Number.isFinite(x.train_loss)).toBe(true);
    }
    for (const e of epochs) {
      expect(e).toHaveProperty("val_loss");
      expect(e).toHaveProperty("val_accuracy");
      expect(e).toHaveProperty("epoch_time_s");
    }
    // the epoch's train_loss is the mean of its step losses
    const mean1 = steps.slice(0, 8).reduce((a, x) => a + x.train_loss, 0) / 8;
    expect(epochs[0]!.train_loss).toBeCloseTo(mean1, 12);
    // SGD with momentum learns this easy problem
    expect(epochs[1]!.val_accuracy as number).toBeGreaterThan(0.5);
    expect(epochs[1]!.train_loss).toBeLessThan(steps[0]!.train_loss);

    const config = JSON.parse(readFileSync(`${out}/config.json`, "utf8"));
    expect(config.config).toMatchObject({
      model: "mlp",
      hidden: [16],
      optimizer: "sgd",
      hyper: { lr: 0.1, momentum: 0.9 },
    });
    expect(config.model).toMatchObject({ inputShape: [8], parameters: 8 * 16 + 16 + 16 * 10 + 10 });
  });

  it("is deterministic: the same flags give the same trajectory, another seed another one", async () => {
    const run = async (name: string, seed: string) => {
      const args = [...TINY, "--seed", seed, "--epochs", "1", "--out", tmp.path(name)];
      expect((await hodiff("train", ...args)).code).toBe(0);
      return trajectory(tmp.path(name));
    };
    const a = await run("det-a", "3");
    const b = await run("det-b", "3");
    const c = await run("det-c", "4");
    expect(b.metrics).toEqual(a.metrics);
    expect(b.bin.equals(a.bin)).toBe(true);
    expect(c.bin.equals(a.bin)).toBe(false);
  });

  describe.each([
    ["adam", ["--optimizer", "adam", "--lr", "0.01"], 1, 2],
    ["sgd with Nesterov momentum", ["--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.9", "--nesterov"], 1, 2],
    // 2 + 1: the resumed run's first update is where the plateau scheduler halves λ
    ["newton-summary and its plateau scheduler", NEWTON, 2, 3],
    ["kfac", ["--optimizer", "kfac", "--cov-every", "2", "--inv-every", "4"], 1, 2],
    [
      "kfac with factored damping",
      ["--optimizer", "kfac", "--damping-mode", "factored", "--cov-every", "2", "--inv-every", "4"],
      1,
      2,
    ],
  ])("--resume with %s", (name, opt, first, total) => {
    it(`${first} epoch(s) + resume to ${total} equals ${total} epochs straight: metrics, parameters and optimizer state`, async () => {
      const key = name.replace(/\W+/g, "-");
      const straight = tmp.path(`straight-${key}`);
      const split = tmp.path(`split-${key}`);
      expect((await hodiff("train", ...TINY, ...opt, "--epochs", `${total}`, "--out", straight)).code).toBe(0);
      expect((await hodiff("train", ...TINY, ...opt, "--epochs", `${first}`, "--out", split)).code).toBe(0);
      const resumed = await hodiff("train", "--resume", split, "--epochs", `${total}`, "--no-progress");
      expect(resumed.err).toMatch(
        new RegExp(`^resuming .* after epoch ${first} \\(step ${8 * first}\\), up to epoch ${total}$`),
      );
      expect(resumed.code).toBe(0);
      expect(resumed.out).toMatch(new RegExp(`^backend wasm, [^\n]*\nepoch ${first + 1}/${total}: `));

      const a = trajectory(straight);
      const b = trajectory(split);
      expect(b.metrics).toEqual(a.metrics);
      expect(b.bin.equals(a.bin)).toBe(true); // every float32 of params and optimizer state, bit for bit
      expect(b.manifest.params).toEqual(a.manifest.params);
      expect(b.manifest.optState).toEqual(a.manifest.optState);
      expect(b.manifest.config).toEqual(a.manifest.config);
      expect([b.manifest.epoch, b.manifest.step, b.manifest.lastEpochLoss]).toEqual([
        a.manifest.epoch,
        a.manifest.step,
        a.manifest.lastEpochLoss,
      ]);
      // the K-FAC state holds the inverse its damping mode asks for
      if (opt.includes("kfac"))
        expect(JSON.stringify(a.manifest.optState)).toContain(opt.includes("factored") ? '"Ainv"' : '"QA"');
    });
  });

  it("newton-summary logs λ, η per group and the solver's case; its plateau scheduler reduces λ", async () => {
    const dir = tmp.path("newton");
    const r = await hodiff("train", ...TINY, ...NEWTON, "--epochs", "3", "--out", dir);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const records = readMetrics(`${dir}/${METRICS_FILE}`);
    const [first, second, third] = records;
    expect(first).toMatchObject({ step: 1, lambda: 0.1, eta: null, solver_case: null, summaries: 1 });
    expect(first!.skipped).toMatch(/^warm-up/);
    expect(second).toMatchObject({ step: 2, eta: null, summaries: 1 });
    // the second summary (update 2) is the first solve: η for each group of the canonical partition
    expect(Object.keys(third!.eta as object)).toEqual(["fc1.w", "fc1.b", "fc2.w", "fc2.b"]);
    expect(third).toMatchObject({ step: 3, solve_step: 2, summaries: 2, skipped: null });
    expect(typeof third!.solver_case).toBe("string");
    for (const v of Object.values(third!.eta as object)) expect(v).toBeGreaterThanOrEqual(0);
    // epoch 1's loss sets the plateau's best; epoch 2's does not improve on it by 90%, so λ is
    // halved from the first update of epoch 3
    const epochs = records.filter((x) => x.kind === "epoch");
    expect(epochs[1]!.train_loss).toBeGreaterThan(0.1 * epochs[0]!.train_loss);
    const epoch3 = records.filter((x) => x.kind === "step" && x.epoch === 3);
    expect(epoch3.map((x) => x.lambda_scale)).toEqual(new Array<number>(8).fill(0.5));
    expect(epoch3[0]!.lambda).toBeCloseTo(0.05, 12);
    expect(epochs.map((x) => x.lambda_scale)).toEqual([1, 1, 0.5]);
    // The last solve's case follows from the averaged summaries it solved with (kept in the final
    // state): H̄ ≻ 0 (float64 Cholesky) with some d_s ≠ 0 is positive-definite, otherwise indefinite.
    // The state is newtonSummary's chain [momentum, scaleBySummaries, plateau]; the summaries' part holds them.
    const [, { averaged }] = trajectory(dir).manifest.optState as [
      unknown,
      { averaged: { step: number; hbar: number[][]; order3Diag: number[] } },
    ];
    const last = records.filter((x) => x.kind === "step").at(-1)!;
    expect(last.solve_step).toBe(averaged.step);
    const expected = isPositiveDefinite(averaged.hbar)
      ? averaged.order3Diag.some((d) => d !== 0)
        ? "positive-definite"
        : "quadratic"
      : "indefinite";
    expect(last.solver_case).toBe(expected);
  });

  it("newton-summary --semantics reference-code: warm-up by steps, no step and no solve before it ends", async () => {
    const dir = tmp.path("newton-reference");
    const r = await hodiff("train", ...TINY, ...NEWTON, "--semantics", "reference-code", "--epochs", "1", "--out", dir);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const steps = readMetrics(`${dir}/${METRICS_FILE}`).filter((x) => x.kind === "step");
    expect(steps[0]!.skipped).toMatch(/^warm-up: update 0 of the first 2/);
    expect(steps[1]!.skipped).toMatch(/^warm-up: update 1 of the first 2/);
    expect(steps[2]).toMatchObject({ solve_step: 2, skipped: null });
  });

  it("--chunk-size 1 (one group direction at a time) follows the same trajectory as the default batching", async () => {
    const batched = tmp.path("chunk-default");
    const single = tmp.path("chunk-1");
    expect((await hodiff("train", ...TINY, ...NEWTON, "--epochs", "1", "--out", batched)).code).toBe(0);
    const r = await hodiff("train", ...TINY, ...NEWTON, "--epochs", "1", "--chunk-size", "1", "--out", single);
    expect([r.code, r.err]).toEqual([0, ""]);
    const [a, b] = [trajectory(batched).metrics, trajectory(single).metrics];
    expect(b.length).toBe(a.length);
    a.forEach((x, i) => {
      expect(b[i]!.train_loss).toBeCloseTo(x.train_loss as number, 5);
      if (x.eta)
        for (const [k, v] of Object.entries(x.eta as Record<string, number>))
          expect((b[i]!.eta as Record<string, number>)[k]).toBeCloseTo(v, 4);
    });
  });

  it("a resumed run drops the records written after the last checkpoint (a crash mid-epoch)", async () => {
    const straight = tmp.path("crash-straight");
    const crashed = tmp.path("crash");
    expect((await hodiff("train", ...TINY, "--epochs", "2", "--out", straight)).code).toBe(0);
    expect((await hodiff("train", ...TINY, "--epochs", "1", "--out", crashed)).code).toBe(0);
    appendFileSync(`${crashed}/${METRICS_FILE}`, '{"kind":"step","epoch":2,"step":9,"train_loss":1}\n');
    expect((await hodiff("train", "--resume", crashed, "--epochs", "2")).code).toBe(0);
    expect(trajectory(crashed).metrics).toEqual(trajectory(straight).metrics);
  });

  it("a run resumed on another backend says that it is no longer bitwise reproducible", async () => {
    const dir = tmp.path("backend");
    expect((await hodiff("train", ...TINY, "--epochs", "1", "--backend", "wasm", "--out", dir)).code).toBe(0);
    const r = await hodiff("train", "--resume", dir, "--epochs", "2", "--backend", "cpu");
    await hd.setBackend("wasm");
    expect(r.code).toBe(0);
    expect(r.err).toMatch(
      /note: the run used the wasm backend and continues on cpu: results agree within float32 tolerance/,
    );
    expect(JSON.parse(readFileSync(`${dir}/${CHECKPOINT_FILE}`, "utf8")).backend).toBe("cpu");
  });

  it("--backend auto does not try webgpu for a run that needs synchronous reads, and says so in one line", async () => {
    // no registry optimizer needs them any more (kfac reads ahead through kfacPrepare); library
    // entries may (OptimizerEntry.syncReads)
    const lines: string[] = [];
    const io: Io = { out: () => {}, err: (m) => lines.push(m), progressStream: { isTTY: false } as NodeJS.WriteStream };
    const used = await selectBackend("auto", io, "--optimizer mine: its update reads values synchronously");
    expect(used).toBe("wasm");
    expect(hd.getBackend()).toBe("wasm");
    expect(lines).toEqual([
      "hodiff: webgpu not used: --optimizer mine: its update reads values synchronously; using wasm.",
    ]);
    expect(Object.values(OPTIMIZERS).filter((e) => (e as OptimizerEntry).syncReads !== undefined)).toEqual([]);
  });

  it("resume when the run is already complete does nothing more", async () => {
    const dir = tmp.path("complete");
    expect((await hodiff("train", ...TINY, "--epochs", "1", "--out", dir)).code).toBe(0);
    const before = trajectory(dir);
    const r = await hodiff("train", "--resume", dir);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^backend wasm, [^\n]*$/); // what it would run with, and no epoch
    expect(trajectory(dir).metrics).toEqual(before.metrics);
  });

  it("--log-every 0 writes epoch records only; --train-size trains on a subset", async () => {
    const dir = tmp.path("epoch-only");
    const r = await hodiff("train", ...TINY, "--log-every", "0", "--train-size", "64", "--epochs", "2", "--out", dir);
    expect(r.code).toBe(0);
    const records = readMetrics(`${dir}/${METRICS_FILE}`);
    expect(records.map((x) => [x.kind, x.epoch, x.step])).toEqual([
      ["epoch", 1, 2],
      ["epoch", 2, 4],
    ]);
  });

  it("an update that throws midway (here the third) rejects with its error and frees the update's tensors", async () => {
    const sgd = OPTIMIZERS.sgd as OptimizerEntry;
    let updates = 0;
    const failing = beforeEachUpdate(sgd, () => {
      if (++updates === 3) throw new Error("update 3 failed");
    });
    const cfg = tinyConfig({
      syntheticExamples: 128,
      optimizer: "sgd",
      hyper: { lr: 0.1, momentum: 0, nesterov: false },
    });
    const dir = tmp.path("failing");
    mkdirSync(dir);
    const before = hd.numTensors();
    await expect(
      train(cfg, { dir, resume: false, io: silentIo, progress: false, backend: "wasm", optimizerEntry: failing }),
    ).rejects.toThrow("update 3 failed");
    expect(updates).toBe(3);
    expect(hd.numTensors()).toBe(before);
  });

  it("trains the paper's full-size MLP (784-1024-200-100-10) on 28×28 synthetic images", async () => {
    const dir = tmp.path("paper-mlp");
    const r = await hodiff(
      "train",
      ...["--model", "mlp", "--dataset", "synthetic", "--synthetic-examples", "64", "--batch-size", "32"],
      ...["--val-size", "32", "--epochs", "1", "--no-progress", "--out", dir],
    );
    expect(r.code).toBe(0);
    const config = JSON.parse(readFileSync(`${dir}/config.json`, "utf8"));
    expect(config.model).toEqual({ name: "mlp", inputShape: [28, 28, 1], parameters: 1_029_950 });
    expect(existsSync(`${dir}/ckpt-00000002.bin`)).toBe(true);
  });
});
