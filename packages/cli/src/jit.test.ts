/**
 * `hodiff train --jit`: the (loss, gradient) step as one jit plan follows the eager trajectory
 * within float32 rounding (Adam, NewtonSummary, K-FAC whose statistics steps keep their own
 * gradient; the MLP and LeNet-5); `--jit off` is the library's `train` without options, bit for
 * bit; the setting is printed, recorded and kept on resume; with --threads 2 the pool's jitted
 * parts (the pool asked for jit) follow one eager thread; the plan is traced once per batch shape, equals eager
 * `valueAndGrad` and leaks no tensor.
 */
import { mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as hd from "@hodiff/core";
import { nll, type Params } from "@hodiff/nn";
import { jitStep, type JitStep } from "./jitStep";
import { buildModel } from "./models";
import {
  beforeEachUpdate,
  expectLibraryTrainSame,
  hodiff,
  expectRecorded,
  resumed,
  runResult,
  silentIo,
  tempDir,
  TINY,
  tinyConfig,
} from "./testing/harness";
import { OPTIMIZERS, type OptimizerEntry } from "./optimizers";
import { train } from "./trainer";

// Every jitStep made (the real one), so a test can see that the loop computed its steps with it.
const madeSteps = vi.hoisted(() => [] as JitStep[]);
vi.mock("./jitStep", async (importOriginal) => {
  const real = await importOriginal<typeof import("./jitStep")>();
  return {
    ...real,
    jitStep: (...a: Parameters<typeof real.jitStep>) => (madeSteps.push(real.jitStep(...a)), madeSteps.at(-1)!),
  };
});

// The jit option of every pool the loop starts, so a test can see that --jit on reached the pool.
const poolJit = vi.hoisted(() => [] as (boolean | undefined)[]);
vi.mock("@hodiff/parallel", async (importOriginal) => {
  const real = await importOriginal<typeof import("@hodiff/parallel")>();
  return {
    ...real,
    createPool: (...a: Parameters<typeof real.createPool>) => (poolJit.push(a[0].jit), real.createPool(...a)),
  };
});

const tmp = tempDir();
afterAll(() => tmp.cleanup());
beforeAll(() => hd.setBackend("wasm"));

/** Largest |a − b| relative to max |a|. */
const relDiff = (a: readonly number[], b: readonly number[]) => {
  expect(b).toHaveLength(a.length);
  const scale = Math.max(...a.map(Math.abs));
  return Math.max(...a.map((x, i) => Math.abs(x - b[i]!))) / scale;
};

const LENET = [
  ...["--model", "lenet", "--dataset", "synthetic", "--synthetic-examples", "96", "--batch-size", "32"],
  ...["--val-size", "0", "--log-every", "1", "--seed", "5", "--no-progress"],
];

describe.each([
  ["mlp, adam", [...TINY, "--optimizer", "adam", "--lr", "0.01", "--epochs", "2"]],
  [
    "mlp, newton-summary",
    [...TINY, "--optimizer", "newton-summary", "--lr", "0.1", "--period", "2", "--warmup", "1", "--epochs", "2"],
  ],
  [
    "mlp, kfac (every other step its own gradient)",
    [...TINY, "--optimizer", "kfac", "--cov-every", "2", "--epochs", "2"],
  ],
  // SGD: Adam's first steps move each parameter by ±lr whatever the size of its gradient, so a
  // rounding-sized difference in a near-zero gradient element becomes an lr-sized one
  ["lenet, sgd", [...LENET, "--optimizer", "sgd", "--lr", "0.05", "--epochs", "1"]],
])("hodiff train %s --jit on", (name, flags) => {
  it("follows the --jit off trajectory within float32 rounding, and leaks no tensor", async () => {
    const runs: Record<string, ReturnType<typeof runResult>> = {};
    const before = hd.numTensors();
    for (const jit of ["off", "on"]) {
      const out = tmp.path(`${name.replace(/\W+/g, "-")}-${jit}`);
      const r = await hodiff("train", ...flags, "--threads", "1", "--gemm", "wasm", "--jit", jit, "--out", out);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out.split("\n")[0]).toMatch(new RegExp(`, jit ${jit}$`));
      runs[jit] = runResult(out);
    }
    expect(hd.numTensors()).toBe(before);
    const [off, on] = [runs["off"]!, runs["on"]!];
    expect(on.losses.length).toBeGreaterThanOrEqual(3);
    expect(relDiff(off.losses, on.losses)).toBeLessThan(1e-5);
    expect(relDiff(off.params, on.params)).toBeLessThan(1e-5);
  });
});

/** `hodiff train` of TINY for `epochs` epochs on one thread and the wasm GEMM, with `--jit jit`, into `dir`. */
const tinyOneWasmThread = (epochs: string, jit: "on" | "off", dir: string) =>
  hodiff("train", ...TINY, "--epochs", epochs, "--threads", "1", "--gemm", "wasm", "--jit", jit, "--out", dir);

describe("--jit off, on, recorded", () => {
  it("--jit off is the library's train without options, bit for bit", async () => {
    const dir = tmp.path("off");
    const r = await tinyOneWasmThread("2", "off", dir);
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toBe("backend wasm, gemm wasm (XNNPACK), threads 1, jit off");
    await expectLibraryTrainSame(dir, tmp.path("off-library"));
  });

  it("--jit on is printed and recorded; a resumed run keeps it; --jit off on resume changes it", async () => {
    const dir = tmp.path("kept");
    const on = { backend: "wasm", gemm: "wasm", threads: 1, blasThreads: null, jit: true };
    const first = await tinyOneWasmThread("1", "on", dir);
    expect(first.code).toBe(0);
    expect(first.out.split("\n")[0]).toBe("backend wasm, gemm wasm (XNNPACK), threads 1, jit on");
    expectRecorded(dir, on);
    // auto would give TINY (--hidden: not measured) the eager step: the resumed run has it from the record
    expect(await resumed(dir, "2")).toBe("backend wasm, gemm wasm (XNNPACK), threads 1, jit on");
    expectRecorded(dir, on);
    await resumed(dir, "3", "--jit", "off");
    const off = { ...on, jit: false };
    expectRecorded(dir, off);
  });

  it("--jit on --threads 2 (each thread's part jitted) follows one eager thread within float32 rounding", async () => {
    const runs: Record<string, ReturnType<typeof runResult>> = {};
    const before = hd.numTensors();
    const pools = poolJit.length;
    for (const [threads, jit] of [
      ["1", "off"],
      ["2", "on"],
    ] as const) {
      const out = tmp.path(`pool-${threads}-${jit}`);
      const flags = ["--optimizer", "sgd", "--lr", "0.05", "--epochs", "2", "--threads", threads, "--jit", jit];
      const r = await hodiff("train", ...TINY, ...flags, "--gemm", "wasm", "--out", out);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out.split("\n")[0]).toBe(`backend wasm, gemm wasm (XNNPACK), threads ${threads}, jit ${jit}`);
      runs[jit] = runResult(out);
    }
    expect(hd.numTensors()).toBe(before);
    expect(poolJit.slice(pools)).toEqual([true]); // one pool, the --threads 2 run's, asked for jitted parts
    expect(relDiff(runs["off"]!.losses, runs["on"]!.losses)).toBeLessThan(1e-5);
    expect(relDiff(runs["off"]!.params, runs["on"]!.params)).toBeLessThan(1e-5);
  });
});

describe("the loop with jit: true", () => {
  it("holds the same number of tensors at every update after the first (which compiles the plan), none after", async () => {
    const counts: number[] = [];
    const plans: (number | undefined)[] = [];
    const made = madeSteps.length;
    const entry = beforeEachUpdate(OPTIMIZERS.adam as OptimizerEntry, () => {
      counts.push(hd.numTensors());
      plans.push(madeSteps[made]?.plans);
    });
    const cfg = tinyConfig({ epochs: 2, syntheticExamples: 128 }); // 4 updates per epoch
    const dir = tmp.path("counts");
    mkdirSync(dir);
    const before = hd.numTensors();
    await train(cfg, {
      dir,
      resume: false,
      io: silentIo,
      progress: false,
      backend: "wasm",
      jit: true,
      optimizerEntry: entry,
    });
    expect(hd.numTensors()).toBe(before);
    expect(counts).toHaveLength(8);
    expect(new Set(counts.slice(1)).size).toBe(1);
    // the loop made one jitStep and computed every gradient with it: one plan (one batch shape)
    expect(madeSteps.length - made).toBe(1);
    expect(plans).toEqual(new Array(8).fill(1));
  });
});

describe("jitStep", () => {
  it("equals eager valueAndGrad of the mean NLL, one plan per batch shape, no tensor left per step", () => {
    const model = buildModel("lenet", { inputShape: [28, 28, 1] });
    const params = model.init(hd.random.key(1));
    const batch = (n: number, seed: number) => {
      const x = hd.random.normal(hd.random.key(seed), [n, 28, 28, 1]);
      const labels = Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % 10);
      return { x, labels };
    };
    const step = jitStep(model);
    const flat = (g: Params) => hd.treeLeaves(g).flatMap((t) => Array.from(hd.toFlat(t)));
    /** One jitted step on (x, labels) equals eager valueAndGrad there, loss and gradient. */
    const expectEager = (x: hd.Value, labels: Int32Array) => {
      const [l, g] = step(params, x, labels);
      const [le, ge] = hd.valueAndGrad((p: Params) => nll(model.apply(p, x), labels))(params);
      expect(Math.abs(hd.item(l) - hd.item(le))).toBeLessThan(1e-5 * Math.abs(hd.item(le)));
      expect(relDiff(flat(ge), flat(g))).toBeLessThan(1e-5);
      hd.dispose([l, g, le, ge]);
    };
    const b = batch(16, 2);
    expectEager(b.x, b.labels);
    expect(step.plans).toBe(1);
    // later steps of the same shape reuse the plan and leave no tensor behind
    const settled = hd.numTensors();
    for (let i = 0; i < 3; i++) {
      const [l, g] = step(params, b.x, b.labels);
      hd.dispose([l, g]);
      expect(hd.numTensors()).toBe(settled);
    }
    // other labels, same shape: the labels are an argument of the plan, not a constant of its trace
    expectEager(
      b.x,
      b.labels.map((c) => (c + 3) % 10),
    );
    expect(step.plans).toBe(1);
    // a smaller last batch: a second plan
    const small = batch(5, 3);
    expectEager(small.x, small.labels);
    expect(step.plans).toBe(2);
    step.dispose();
    hd.dispose([b.x, small.x, params]);
  });

  it("frees every plan's tensors when disposed", () => {
    const before = hd.numTensors();
    const model = buildModel("mlp", { inputShape: [8], hidden: [16] });
    const params = model.init(hd.random.key(0));
    const x = hd.random.normal(hd.random.key(4), [8, 8]);
    const step = jitStep(model);
    const [l, g] = step(params, x, Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]));
    hd.dispose([l, g, x, params]);
    step.dispose();
    expect(hd.numTensors()).toBe(before);
  });
});
