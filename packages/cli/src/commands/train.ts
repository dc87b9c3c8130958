/**
 * `hodiff train`: train a model on a data set with an optimizer, writing config.json,
 * metrics.jsonl and a checkpoint after every epoch into `--out DIR`; `--resume DIR` continues
 * such a run to `--epochs` exactly as if it had not stopped.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import * as hd from "@hodiff/core";
import { CHECKPOINT_FILE, hasCheckpoint } from "../checkpoint";
import type { DatasetChoice } from "../datasets";
import type { Io } from "../io";
import { METRICS_FILE } from "../metrics";
import {
  OPTIMIZERS,
  OPTIMIZER_NAMES,
  allHyperFlags,
  camel,
  type HyperSpec,
  type HyperValue,
  type OptimizerEntry,
  type OptimizerName,
} from "../optimizers";
import { train, type TrainConfig } from "../trainer";
import { anyInt, finiteNumber, intAtLeast, UsageError } from "../usage";
import type { CommandModule } from "./types";
import { addModelDataOptions, backendOption } from "../sharedOptions";

// options

/** The options of `train` that are not hyperparameters, as commander parses them. */
interface TrainFlags {
  readonly model: string;
  readonly hidden?: number[];
  readonly dataset: string;
  readonly dataSeed: number;
  readonly dataDir?: string;
  readonly syntheticExamples: number;
  readonly syntheticShape?: number[];
  readonly optimizer: string;
  readonly epochs: number;
  readonly trainSize?: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly valSize: number;
  readonly logEvery: number;
  readonly backend?: "wasm" | "cpu";
  readonly out?: string;
  readonly resume?: string;
  readonly progress: boolean;
  readonly [hyper: string]: unknown;
}

/** Flags a resumed run may change: they do not affect the trajectory. */
const RESUMABLE = new Set(["epochs", "backend", "dataDir", "progress", "resume", "out"]);

/** Flag (without dashes) of each config key, for messages. */
const FLAG_OF: Readonly<Record<string, string>> = {
  model: "model",
  hidden: "hidden",
  dataset: "dataset",
  dataSeed: "data-seed",
  syntheticExamples: "synthetic-examples",
  syntheticShape: "synthetic-shape",
  optimizer: "optimizer",
  epochs: "epochs",
  trainSize: "train-size",
  batchSize: "batch-size",
  seed: "seed",
  valSize: "val-size",
  logEvery: "log-every",
};

function hyperParser(spec: HyperSpec): (value: string) => HyperValue {
  if (spec.kind === "int") return intAtLeast(spec.min ?? 0);
  if (spec.kind === "choice") return (v) => v;
  if (spec.kind === "string")
    return (v) => {
      if (spec.pattern && !spec.pattern.test(v)) throw new InvalidArgumentError(`expected ${spec.description}.`);
      return v;
    };
  const base = finiteNumber(spec.kind === "positive" || spec.kind === "non-negative" ? spec.kind : "any");
  return (v) => {
    const x = base(v);
    if (spec.max !== undefined && (spec.maxExclusive ? x >= spec.max : x > spec.max))
      throw new InvalidArgumentError(`expected a number ${spec.maxExclusive ? "<" : "≤"} ${spec.max}.`);
    return x;
  };
}

function hyperOption(spec: HyperSpec, usedBy: { name: OptimizerName; default: HyperValue }[]): Option {
  const defaults = usedBy.map((u) => `${u.name}: ${String(u.default)}`).join(", ");
  const description = `${spec.description} [${defaults}]`;
  if (spec.kind === "bool") return new Option(`--${spec.flag}`, description);
  const o = new Option(
    `--${spec.flag} <${spec.kind === "choice" || spec.kind === "string" ? "name" : spec.kind === "int" ? "n" : "x"}>`,
    description,
  );
  return spec.choices ? o.choices([...spec.choices]) : o.argParser(hyperParser(spec));
}

/** The hyperparameters of `entry`: its defaults, replaced by the flags given on the command line. */
function resolveHyper(name: OptimizerName, entry: OptimizerEntry, cmd: Command): Record<string, HyperValue> {
  const own = new Set(entry.hyper.map((h) => h.flag));
  const hyper: Record<string, HyperValue> = {};
  for (const { spec } of allHyperFlags()) {
    const key = camel(spec.flag);
    if (cmd.getOptionValueSource(key) !== "cli") continue;
    if (!own.has(spec.flag)) {
      const flags = entry.hyper.map((h) => `--${h.flag}`).join(", ") || "none";
      throw new UsageError(
        `--${spec.flag}`,
        `--${spec.flag} does not apply to --optimizer ${name} (its flags: ${flags})`,
      );
    }
  }
  for (const spec of entry.hyper) {
    const key = camel(spec.flag);
    const v = cmd.getOptionValue(key) as HyperValue | undefined;
    hyper[key] = cmd.getOptionValueSource(key) === "cli" && v !== undefined ? v : spec.default;
  }
  return hyper;
}

function optimizerEntry(name: string): OptimizerEntry {
  const entry = OPTIMIZERS[name as OptimizerName] as OptimizerEntry;
  return entry;
}

/** The config of a new run, from the flags. */
function configFromFlags(f: TrainFlags, cmd: Command): TrainConfig {
  const optimizer = f.optimizer as OptimizerName;
  return {
    model: f.model as TrainConfig["model"],
    hidden: f.hidden ?? null,
    dataset: f.dataset as DatasetChoice,
    dataSeed: f.dataSeed,
    syntheticExamples: f.syntheticExamples,
    syntheticShape: f.syntheticShape ?? null,
    optimizer,
    hyper: resolveHyper(optimizer, optimizerEntry(optimizer), cmd),
    epochs: f.epochs,
    trainSize: f.trainSize ?? null,
    batchSize: f.batchSize,
    seed: f.seed,
    valSize: f.valSize,
    logEvery: f.logEvery,
  };
}

/** The saved config of the run in `dir`, with `--epochs` replaced; other given flags must agree with it. */
function resumedConfig(dir: string, f: TrainFlags, cmd: Command): TrainConfig {
  if (!hasCheckpoint(dir))
    throw new UsageError(
      "--resume",
      `--resume ${dir}: no ${CHECKPOINT_FILE} there (a run writes one after its first epoch)`,
    );
  const manifest = JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), "utf8")) as {
    config: TrainConfig;
    epoch: number;
  };
  const saved = manifest.config;
  const optimizer = cmd.getOptionValueSource("optimizer") === "cli" ? f.optimizer : saved.optimizer;
  const fromFlags = configFromFlags({ ...f, optimizer }, cmd);
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const differs = (flag: string, given: unknown, was: unknown) =>
    new UsageError(
      `--${flag}`,
      `--${flag} ${JSON.stringify(given)} differs from the run's ${JSON.stringify(was)}: a resumed run keeps its configuration (only --epochs, --backend, --data-dir and --no-progress may change)`,
    );
  for (const key of Object.keys(FLAG_OF)) {
    if (RESUMABLE.has(key) || cmd.getOptionValueSource(key) !== "cli") continue;
    const k = key as keyof TrainConfig;
    if (!same(fromFlags[k], saved[k])) throw differs(FLAG_OF[key]!, fromFlags[k], saved[k]);
  }
  for (const { spec } of allHyperFlags()) {
    const key = camel(spec.flag);
    if (cmd.getOptionValueSource(key) === "cli" && !same(fromFlags.hyper[key], saved.hyper[key]))
      throw differs(spec.flag, fromFlags.hyper[key], saved.hyper[key]);
  }
  const epochs = cmd.getOptionValueSource("epochs") === "cli" ? f.epochs : saved.epochs;
  if (epochs < manifest.epoch)
    throw new UsageError(
      "--epochs",
      `--epochs ${epochs} is fewer than the ${manifest.epoch} epochs the run in ${dir} has done`,
    );
  return { ...saved, epochs };
}

/** Select the tfjs backend named by `--backend` (default: wasm, cpu if wasm cannot start). @category utils */
export async function selectBackend(name: "wasm" | "cpu" | undefined, io: Io): Promise<string> {
  if (name === undefined) return hd.useDefaultBackend((m) => io.err(m));
  await hd.setBackend(name);
  return name;
}

// command

/** `hodiff train`. @category commands */
export const trainCommand: CommandModule = {
  register(program, { io, setExit }) {
    const cmd = addModelDataOptions(
      program
        .command("train")
        .description("train a model; writes config.json, metrics.jsonl and a checkpoint per epoch into --out"),
      { model: "model", dataset: "data set" },
    )
      .addOption(new Option("--optimizer <name>", "optimizer").choices(OPTIMIZER_NAMES).default("adam"))
      .option("--epochs <n>", "total number of epochs", intAtLeast(1), 10)
      .option("--train-size <n>", "train on a seeded subset of n examples (default: all)", intAtLeast(1))
      .option("--batch-size <n>", "minibatch size (the last partial batch of an epoch is dropped)", intAtLeast(1), 100)
      .option("--seed <n>", "seed of the initialisation, the batch order and the optimizer's randomness", anyInt, 0)
      .option(
        "--val-size <n>",
        "evaluate on at most n validation examples after each epoch (0: none)",
        intAtLeast(0),
        10000,
      )
      .option("--log-every <n>", "write a step record every n updates (0: epoch records only)", intAtLeast(0), 10)
      .addOption(backendOption())
      .option("--out <dir>", "run directory (must not hold a run yet)")
      .option("--resume <dir>", "continue the run in <dir> up to --epochs")
      .option("--no-progress", "no progress bar (it is drawn only on a terminal anyway)");
    for (const { spec, usedBy } of allHyperFlags()) cmd.addOption(hyperOption(spec, usedBy));
    cmd.addHelpText(
      "after",
      `\nOptimizers:\n${OPTIMIZER_NAMES.map((n) => `  ${n.padEnd(15)} ${(OPTIMIZERS[n] as OptimizerEntry).summary}`).join("\n")}\n\nExamples:\n  hodiff train --model mlp --dataset mnist --optimizer adam --lr 1e-3 --epochs 10 --out runs/mlp-adam\n  hodiff train --resume runs/mlp-adam --epochs 20`,
    );
    cmd.action(async (f: TrainFlags, c: Command) => {
      let dir: string;
      let cfg: TrainConfig;
      if (f.resume !== undefined) {
        dir = f.resume;
        if (f.out !== undefined && resolve(f.out) !== resolve(dir))
          throw new UsageError(
            "--out",
            `--out ${f.out} differs from --resume ${dir}: a resumed run writes into its own directory`,
          );
        cfg = resumedConfig(dir, f, c);
      } else {
        if (f.out === undefined) throw new UsageError("--out", "train needs --out <dir> (or --resume <dir>)");
        dir = f.out;
        if (existsSync(join(dir, CHECKPOINT_FILE)) || existsSync(join(dir, METRICS_FILE)))
          throw new UsageError(
            "--out",
            `--out ${dir} already holds a run: continue it with --resume ${dir}, or choose another --out`,
          );
        cfg = configFromFlags(f, c);
        if (cfg.hidden !== null && !["mlp", "bigmlp", "vbigmlp"].includes(cfg.model))
          throw new UsageError(
            "--hidden",
            `--hidden applies only to the MLP models (mlp, bigmlp, vbigmlp), not to --model ${cfg.model}`,
          );
        if (cfg.dataset !== "synthetic") {
          for (const flag of ["syntheticExamples", "syntheticShape"])
            if (c.getOptionValueSource(flag) === "cli")
              throw new UsageError(`--${FLAG_OF[flag]}`, `--${FLAG_OF[flag]} applies only to --dataset synthetic`);
        }
        mkdirSync(dir, { recursive: true });
      }
      const backend = await selectBackend(f.backend, io);
      await train(cfg, { dir, resume: f.resume !== undefined, io, progress: f.progress, backend, dataDir: f.dataDir });
      setExit(0);
    });
  },
};
