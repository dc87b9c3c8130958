/** Test helpers: run `hodiff` in-process with captured output, in a temporary directory. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Io } from "../io";
import type { OptimizerEntry } from "../optimizers";
import { run } from "../program";
import type { TrainConfig } from "../trainer";
import * as hd from "@hodiff/core";
import { loadCheckpoint } from "../checkpoint";
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
