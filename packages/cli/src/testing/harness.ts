/** Test helpers: run `hodiff` in-process with captured output, in a temporary directory. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Io } from "../io";
import type { OptimizerEntry } from "../optimizers";
import { run } from "../program";
import { train, type TrainConfig } from "../trainer";
import { expect } from "vitest";
import * as hd from "@hodiff/core";
import { CHECKPOINT_FILE, loadCheckpoint } from "../checkpoint";
import { METRICS_FILE, readMetrics, type MetricsRecord } from "../metrics";

/** The result of one in-process run. */
export interface Ran {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** An `Io` that drops every line (no progress bar). */
export const silentIo: Io = { out: () => {}, err: () => {}, progressStream: { isTTY: false } as NodeJS.WriteStream };

/** `entry` with `before(grads)` called ahead of each of its updates (a test's hook: count, throw, read). */
export function beforeEachUpdate(entry: OptimizerEntry, before: (grads: unknown) => void): OptimizerEntry {
  return {
    ...entry,
    build: (h, ctx) => {
      const inner = entry.build(h, ctx).transformation;
      return {
        transformation: {
          init: inner.init,
          update: (s, p, g, e) => {
            before(g);
            return inner.update(s, p, g, e);
          },
        },
      };
    },
  };
}

/** Run `hodiff argv` in-process, capturing stdout and stderr lines. */
export async function hodiff(...argv: string[]): Promise<Ran> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    progressStream: { isTTY: false } as NodeJS.WriteStream,
  };
  const code = await run(argv, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** A fresh temporary directory and its cleanup. */
export function tempDir(prefix = "hodiff-cli-"): { dir: string; path: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Flags of a tiny, fast synthetic run: an 8-16-10 tanh MLP (the paper's MLP family with
 * `--hidden 16`) on 256 synthetic 8-dimensional examples, batches of 32 (8 steps per epoch).
 */
export const TINY = [
  "--model",
  "mlp",
  "--hidden",
  "16",
  "--dataset",
  "synthetic",
  "--synthetic-shape",
  "8",
  "--synthetic-examples",
  "256",
  "--batch-size",
  "32",
  "--val-size",
  "64",
  "--log-every",
  "1",
  "--seed",
  "3",
  "--no-progress",
] as const;

/**
 * A one-epoch adam run of `TINY`'s 8-16-10 MLP on 64 synthetic examples, batches of 32, for `train`
 * called as a library; `over` replaces fields.
 */
export function tinyConfig(over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    model: "mlp",
    hidden: [16],
    dataset: "synthetic",
    dataSeed: 0,
    syntheticExamples: 64,
    syntheticShape: [8],
    optimizer: "adam",
    hyper: { lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8 },
    epochs: 1,
    trainSize: null,
    batchSize: 32,
    seed: 0,
    valSize: 0,
    logEvery: 0,
    ...over,
  };
}

/** Losses of every step record, and the final parameters, of the run in `dir`. */
export function runResult(dir: string): { losses: number[]; params: number[] } {
  const losses = readMetrics(`${dir}/${METRICS_FILE}`)
    .filter((r) => r.kind === "step")
    .map((r) => r.train_loss);
  const ck = loadCheckpoint(dir);
  const params = hd.treeLeaves(ck.params).flatMap((l) => Array.from(hd.toFlat(l)));
  hd.dispose([ck.params, ck.optState] as never);
  return { losses, params };
}

/** A metrics record without its wall times (`*time_s`), which differ between runs. */
export const timeless = (r: MetricsRecord) =>
  Object.fromEntries(Object.entries(r).filter(([k]) => !k.endsWith("time_s")));

/** A JSON file as a record. */
export const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;

/** The execution config.json, the checkpoint and the last epoch record of the run in `dir` hold. */
export const recorded = (dir: string) => ({
  config: readJson(`${dir}/config.json`)["execution"],
  checkpoint: readJson(`${dir}/${CHECKPOINT_FILE}`)["execution"],
  epoch: readMetrics(`${dir}/${METRICS_FILE}`)
    .filter((r) => r.kind === "epoch")
    .at(-1)?.["execution"],
});

/** Expects config.json, the checkpoint and the last epoch record of the run in `dir` all to hold the execution `want`. */
export const expectRecorded = (dir: string, want: unknown) =>
  expect(recorded(dir)).toEqual({ config: want, checkpoint: want, epoch: want });

/** Resumes the run in `dir` up to `epochs` epochs with `flags` (no progress bar), expects it to succeed; its first line. */
export async function resumed(dir: string, epochs: string, ...flags: string[]): Promise<string> {
  const r = await hodiff("train", "--resume", dir, "--epochs", epochs, ...flags, "--no-progress");
  expect(r.code).toBe(0);
  return r.out.split("\n")[0]!;
}

/** The bytes of the checkpoint's tensor file in `dir`. */
const binOf = (dir: string) =>
  readFileSync(`${dir}/${(readJson(`${dir}/${CHECKPOINT_FILE}`)["tensors"] as { file: string }).file}`);

/**
 * Runs the library's `train` without options on the config the run in `dir` recorded, in `libDir`
 * (made here), and expects its metrics (less wall times) and checkpoint tensors to equal the run's, bit for bit.
 */
export async function expectLibraryTrainSame(dir: string, libDir: string): Promise<void> {
  mkdirSync(libDir);
  const cfg = readJson(`${dir}/config.json`)["config"] as TrainConfig;
  await train(cfg, { dir: libDir, resume: false, io: silentIo, progress: false, backend: "wasm" });
  expect(readMetrics(`${libDir}/${METRICS_FILE}`).map(timeless)).toEqual(
    readMetrics(`${dir}/${METRICS_FILE}`).map(timeless),
  );
  expect(binOf(libDir).equals(binOf(dir))).toBe(true);
}
