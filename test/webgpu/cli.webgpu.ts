/**
 * `hodiff train|inspect|lr --backend webgpu` in Node (`pnpm test:webgpu`): each command runs on
 * webgpu and agrees with the same command on cpu within float32 tolerance; the training loop leaves
 * no tensor behind and resumes bit for bit (newton-summary and kfac read ahead without blocking through their
 * `prepare`); `--backend auto` says in one line what it chose; an optimizer entry whose update reads values
 * synchronously is refused, and a synchronous read that slips through names its async variant.
 */
import { existsSync, readFileSync } from "node:fs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import { beforeEachUpdate, hodiff, silentIo, tempDir, TINY, tinyConfig } from "../../packages/cli/src/testing/harness";
import { readMetrics, METRICS_FILE, type MetricsRecord } from "../../packages/cli/src/metrics";
import { OPTIMIZERS, type OptimizerEntry } from "../../packages/cli/src/optimizers";
import { train } from "../../packages/cli/src/trainer";

const tmp = tempDir("hodiff-cli-webgpu-");
afterAll(() => tmp.cleanup());

// A shader that fails validation leaves zeros and throws nothing: every test checks the device log.
afterEach(() => {
  expect(hd.takeWebGpuErrors(), "webgpu device errors").toEqual([]);
});

/** float32 agreement of two runs' numbers: |a − b| ≤ atol + rtol·|b|. */
function expectClose(name: string, got: readonly number[], want: readonly number[], rtol = 1e-3, atol = 1e-5): void {
  expect(got.length, `${name}: length`).toBe(want.length);
  got.forEach((g, i) => {
    expect(Math.abs(g - want[i]!), `${name}[${i}]: webgpu ${g} vs cpu ${want[i]}`).toBeLessThanOrEqual(
      atol + rtol * Math.abs(want[i]!),
    );
  });
}

/** The one notice line `--backend webgpu` prints on a software adapter (none on a hardware one). */
const softwareNotice = (err: string) => {
  const lines = err === "" ? [] : err.split("\n");
  if (hd.getWebGpuAdapter()?.software === true) {
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^hodiff: using webgpu on a software adapter \(.+\): expect it slower than --backend wasm\.$/,
    );
  } else expect(lines).toEqual([]);
};

const NEWTON = [
  ...["--optimizer", "newton-summary", "--lr", "0.1", "--period", "2", "--warmup", "1", "--summary-batch-size", "32"],
];
const ADAM = ["--optimizer", "adam", "--lr", "0.01"];
// folds statistics every 2 updates and inverts every 4 (updates 0 and 4 of the 8 of an epoch)
const KFAC = ["--optimizer", "kfac", "--cov-every", "2", "--inv-every", "4"];
const KFAC_FACTORED = [...KFAC, "--damping-mode", "factored"];

/** A one-epoch adam run on a small synthetic set, for `train` called as a library. */
const TINY_CONFIG = tinyConfig();

describe("hodiff train --backend webgpu", () => {
  it.each([
    ["newton-summary", NEWTON],
    ["adam", ADAM],
    ["kfac", KFAC],
    ["kfac-factored", KFAC_FACTORED],
  ])("%s: one epoch follows the cpu run within float32 tolerance; no tensor left", async (name, opt) => {
    const run = async (backend: string) => {
      const dir = tmp.path(`train-${name}-${backend}`);
      const before = hd.numTensors();
      const r = await hodiff("train", ...TINY, ...opt, "--epochs", "1", "--backend", backend, "--out", dir);
      expect(r.code, r.err).toBe(0);
      expect(hd.numTensors()).toBe(before);
      return { r, records: readMetrics(`${dir}/${METRICS_FILE}`), dir };
    };
    const cpu = await run("cpu");
    const gpu = await run("webgpu");
    softwareNotice(gpu.r.err);
    expect(JSON.parse(readFileSync(`${gpu.dir}/checkpoint.json`, "utf8")).backend).toBe("webgpu");
    const steps = (rs: MetricsRecord[]) => rs.filter((x) => x.kind === "step");
    expect(steps(gpu.records)).toHaveLength(8);
    // (llvmpipe: within 3e-7 relative over these 8 updates, kfac 1e-7; η within 1e-5)
    expectClose(
      "step losses",
      steps(gpu.records).map((x) => x.train_loss),
      steps(cpu.records).map((x) => x.train_loss),
      1e-4,
    );
    const epoch = (rs: MetricsRecord[]) => rs.find((x) => x.kind === "epoch")!;
    expectClose("val_loss", [epoch(gpu.records).val_loss as number], [epoch(cpu.records).val_loss as number], 1e-4);
    expect(epoch(gpu.records).val_accuracy).toBe(epoch(cpu.records).val_accuracy);
    if (name === "newton-summary") {
      // η per group, solved from the summaries read back from the device
      const eta = (rs: MetricsRecord[]) => Object.values(epoch(rs).eta as Record<string, number>);
      expect(eta(cpu.records).length).toBeGreaterThan(0);
      expectClose("η", eta(gpu.records), eta(cpu.records), 1e-3, 1e-5);
    }
  });

  it.each([
    ["newton-summary", NEWTON],
    ["kfac", KFAC],
  ])("%s: 1 epoch + --resume to 2 equals 2 epochs straight, bit for bit, on webgpu", async (name, opt) => {
    const straight = tmp.path(`resume-straight-${name}`);
    const split = tmp.path(`resume-split-${name}`);
    const gpu = ["--backend", "webgpu"];
    expect((await hodiff("train", ...TINY, ...opt, ...gpu, "--epochs", "2", "--out", straight)).code).toBe(0);
    expect((await hodiff("train", ...TINY, ...opt, ...gpu, "--epochs", "1", "--out", split)).code).toBe(0);
    const r = await hodiff("train", "--resume", split, "--epochs", "2", ...gpu, "--no-progress");
    expect(r.code, r.err).toBe(0);
    const timeless = (dir: string) =>
      readMetrics(`${dir}/${METRICS_FILE}`).map((x) =>
        Object.fromEntries(Object.entries(x).filter(([k]) => !k.endsWith("time_s"))),
      );
    expect(timeless(split)).toEqual(timeless(straight));
    const bin = (dir: string) => readFileSync(`${dir}/ckpt-00000016.bin`);
    expect(bin(split).equals(bin(straight))).toBe(true);
  });

  it("refuses an optimizer entry that declares synchronous reads (syncReads), before any tensor or file", async () => {
    await hd.setBackend("webgpu");
    const adam = OPTIMIZERS.adam as OptimizerEntry;
    const reading: OptimizerEntry = { ...adam, syncReads: "its update reads values synchronously (a test entry)" };
    const dir = tmp.path("sync-entry");
    const before = hd.numTensors();
    await expect(
      train(TINY_CONFIG, {
        dir,
        resume: false,
        io: silentIo,
        progress: false,
        backend: "webgpu",
        optimizerEntry: reading,
      }),
    ).rejects.toThrow(
      /--optimizer adam cannot run on the webgpu backend: its update reads values synchronously .*itemAsync/,
    );
    expect(hd.numTensors()).toBe(before);
    expect(existsSync(dir)).toBe(false);
  });

  it("a synchronous read that slips into the loop fails naming its async variant", async () => {
    await hd.setBackend("webgpu");
    const adam = OPTIMIZERS.adam as OptimizerEntry;
    // an optimizer entry (library use) whose update reads the gradient's first value synchronously
    const reading = beforeEachUpdate(adam, (g) => hd.item(hd.treeLeaves(g as never)[0] as hd.Value));
    const before = hd.numTensors();
    await expect(
      train(TINY_CONFIG, {
        dir: tmp.dir,
        resume: false,
        io: silentIo,
        progress: false,
        backend: "webgpu",
        optimizerEntry: reading,
      }),
    ).rejects.toThrow(/item: synchronous reads are not possible on the webgpu backend .*use await itemAsync\(x\)/);
    expect(hd.numTensors()).toBe(before);
  });
});

describe("hodiff inspect and lr --backend webgpu", () => {
  const PROBE = [
    ...["--model", "mlp", "--hidden", "16", "--dataset", "synthetic", "--synthetic-shape", "8"],
    ...["--synthetic-examples", "256", "--batch-size", "32", "--batches", "2", "--seed", "3"],
  ];

  it("inspect: H̄, ḡ and D̄(3) on webgpu match cpu's", async () => {
    const read = async (backend: string) => {
      const out = tmp.path(`inspect-${backend}`);
      const r = await hodiff("inspect", ...PROBE, "--backend", backend, "--out", out);
      expect(r.code, r.err).toBe(0);
      if (backend === "webgpu") softwareNotice(r.err);
      return JSON.parse(readFileSync(`${out}/interaction.json`, "utf8"));
    };
    const cpu = await read("cpu");
    const gpu = await read("webgpu");
    expect(gpu.meta.backend).toBe("webgpu");
    expect(gpu.labels).toEqual(cpu.labels);
    expectClose("loss", [gpu.loss], [cpu.loss], 1e-4);
    expectClose("ḡ", gpu.gbar, cpu.gbar);
    expectClose("H̄", gpu.hbar.flat(), cpu.hbar.flat(), 1e-3, 1e-4);
    expectClose("D̄(3)", gpu.order3Diag, cpu.order3Diag, 1e-3, 1e-4);
  });

  it("lr: η = H̄⁻¹ḡ and the cubic η on webgpu match cpu's", async () => {
    const read = async (backend: string) => {
      const r = await hodiff("lr", ...PROBE, "--backend", backend, "--json");
      expect(r.code, r.err).toBe(0);
      return JSON.parse(r.out);
    };
    const cpu = await read("cpu");
    const gpu = await read("webgpu");
    expect(gpu.meta.backend).toBe("webgpu");
    expect([gpu.linearCase, gpu.cubicCase]).toEqual([cpu.linearCase, cpu.cubicCase]);
    for (const key of ["gbar", "hbarDiag", "etaLinear", "etaCubic"] as const)
      if (cpu[key] !== null) expectClose(key, gpu[key], cpu[key], 5e-3, 1e-5);
  });

  it("--backend auto uses webgpu on a hardware adapter only, else wasm, and says so in one line", async () => {
    await hd.setBackend("webgpu");
    const software = hd.getWebGpuAdapter()!.software;
    const r = await hodiff("lr", ...PROBE, "--backend", "auto", "--json");
    expect(r.code, r.err).toBe(0);
    expect(r.err.split("\n")).toHaveLength(1);
    if (software) {
      expect(r.err).toMatch(/^hodiff: webgpu not used: its only adapter is a software one .*; using wasm\.$/);
      expect(JSON.parse(r.out).meta.backend).toBe("wasm");
    } else {
      expect(r.err).toMatch(/^hodiff: using webgpu/);
      expect(JSON.parse(r.out).meta.backend).toBe("webgpu");
    }
    await hd.setBackend("webgpu"); // the afterEach reads the device log
  });
});
