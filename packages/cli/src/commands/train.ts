/**
 * `hodiff train`: train a model on a data set with an optimizer, writing config.json,
 * metrics.jsonl and a checkpoint after every epoch into `--out DIR`; `--resume DIR` continues
 * such a run to `--epochs` exactly as if it had not stopped (and starts over from config.json a
 * run stopped before its first checkpoint). The directory is locked for the run's life; a start
 * that fails leaves nothing behind; SIGINT/SIGTERM stop between two updates and print the command
 * that resumes.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import * as hd from "@hodiff/core";
import { CHECKPOINT_FILE, hasCheckpoint, removeUnusedBins, repairBest } from "../checkpoint";
import { removeDeadTemps } from "../durable";
import { describeError, isFsError, resumeCommand, RunFailed } from "../failures";
import { acquireRunLock, type RunLock } from "../lock";
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
import { NonFiniteError, RunError, RunInterrupted, train, type StopRequest, type TrainConfig } from "../trainer";
import { anyInt, finiteNumber, intAtLeast, UsageError } from "../usage";
import type { CommandModule } from "./types";
import { addModelDataOptions, backendOption } from "../sharedOptions";
import {
  describeExecution,
  recordedExecution,
  resolveExecution,
  resumedRequest,
  type Execution,
  type ExecutionRequest,
} from "../execution";

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
  readonly backend?: "webgpu" | "wasm" | "cpu" | "auto";
  readonly out?: string;
  readonly resume?: string;
  readonly progress: boolean;
  readonly onNonfinite: "stop" | "skip";
  readonly threads: number | "auto";
  readonly gemm: "wasm" | "native" | "auto";
  readonly blasThreads: number | "auto";
  readonly jit: "on" | "off" | "auto";
  readonly [hyper: string]: unknown;
}

/**
 * Flags a resumed run may change: they do not affect the trajectory (--threads, --gemm,
 * --blas-threads and --jit only within float32 rounding). Not given, --threads, --gemm,
 * --blas-threads and --jit keep the run's recorded values (execution.ts: resumedRequest).
 */
const RESUMABLE = new Set([
  "epochs",
  "backend",
  "threads",
  "gemm",
  "blasThreads",
  "jit",
  "dataDir",
  "progress",
  "resume",
  "out",
  "onNonfinite",
]);

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

/** The JSON of `path`, or a sentence saying it is damaged. */
function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (e) {
    throw new RunError(`${path} is not valid JSON (${(e as Error).message}): the run directory is damaged`);
  }
}

/**
 * The saved config of the run in `dir` (its checkpoint's, or config.json's when it stopped before
 * its first checkpoint), with `--epochs` replaced; other given flags must agree with it. Also the
 * execution the run recorded (null for a run made before it was recorded).
 */
function resumedConfig(dir: string, f: TrainFlags, cmd: Command): { cfg: TrainConfig; recorded: Execution | null } {
  const manifest = hasCheckpoint(dir)
    ? readJson<{ config: TrainConfig; epoch: number; execution?: unknown }>(join(dir, CHECKPOINT_FILE))
    : { ...readJson<{ config: TrainConfig; execution?: unknown }>(join(dir, CONFIG_FILE)), epoch: 0 };
  const saved = manifest.config;
  const optimizer = cmd.getOptionValueSource("optimizer") === "cli" ? f.optimizer : saved.optimizer;
  const fromFlags = configFromFlags({ ...f, optimizer }, cmd);
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const differs = (flag: string, given: unknown, was: unknown) =>
    new UsageError(
      `--${flag}`,
      `--${flag} ${JSON.stringify(given)} differs from the run's ${JSON.stringify(was)}: a resumed run keeps its configuration (only --epochs, --backend, --threads, --gemm, --blas-threads, --jit, --data-dir, --on-nonfinite and --no-progress may change)`,
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
  return { cfg: { ...saved, epochs }, recorded: recordedExecution(manifest.execution) };
}

const CONFIG_FILE = "config.json";

/** True when `dir` holds (the start of) a run. */
const holdsRun = (dir: string) => [CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE].some((f) => existsSync(join(dir, f)));

/** Remove what dead writers left in `dir` (temporary files, unreferenced tensor files); say so. */
function tidyRunDir(dir: string, io: Io): void {
  const temps = removeDeadTemps(dir);
  repairBest(dir);
  const bins = removeUnusedBins(dir);
  const files = [...temps.files, ...bins];
  if (files.length > 0)
    io.err(`note: removed ${files.length} file(s) an interrupted run left in ${dir}: ${files.join(", ")}`);
}

/** The signal's exit status (128 + its number). */
const signalExit = (s: NodeJS.Signals) => 128 + (s === "SIGINT" ? 2 : s === "SIGTERM" ? 15 : 1);

/**
 * Until the returned function is called, SIGINT and SIGTERM ask the run to stop after the current
 * update (a second one exits at once: the directory stays resumable, it only loses that update).
 */
function onSignals(stop: StopRequest, io: Io): () => void {
  const handler = (signal: NodeJS.Signals) => {
    if (stop.requested !== null) process.exit(signalExit(signal));
    stop.requested = signal;
    io.err(`${signal}: stopping after the current update (send it again to stop at once)`);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.removeListener("SIGINT", handler);
    process.removeListener("SIGTERM", handler);
  };
}

/**
 * Select the tfjs backend named by `--backend`: the default is wasm (cpu if wasm cannot start);
 * `auto` tries webgpu first and keeps it on a hardware adapter only, else wasm, else cpu — and does
 * not try it when `syncReads` says why the run needs synchronous reads (webgpu has none). One notice
 * line (stderr) says which backend is used whenever it is not the one named (auto's choice, a
 * fallback, webgpu on a software adapter); a named backend that cannot start is an error.
 * @category utils
 */
export async function selectBackend(
  name: "webgpu" | "wasm" | "cpu" | "auto" | undefined,
  io: Io,
  syncReads?: string,
): Promise<string> {
  if (name === undefined) return hd.useDefaultBackend((m) => io.err(m));
  if (name === "auto" && syncReads !== undefined) {
    const fallback: string[] = []; // wasm's failure, if any, goes into the same line
    const used = await hd.useDefaultBackend((m) => fallback.push(m.replace(/^hodiff: /, "")));
    io.err(`hodiff: webgpu not used: ${syncReads}; using ${used}.${fallback.map((m) => ` (${m})`).join("")}`);
    return used;
  }
  if (name === "auto") return hd.useDefaultBackend((m) => io.err(m), { preferWebGpu: true });
  try {
    await hd.setBackend(name);
  } catch (e) {
    throw new RunError(`--backend ${name} could not start: ${describeError(e)}`);
  }
  const adapter = hd.getWebGpuAdapter();
  if (name === "webgpu" && adapter?.software === true)
    io.err(
      `hodiff: using webgpu on a software adapter (${adapter.description}): expect it slower than --backend wasm.`,
    );
  return name;
}

/**
 * Why @hodiff/native's GEMM cannot be installed here (the end of a sentence starting "--gemm
 * native "), or null when it can. Imported only when the backend is wasm and --gemm is not wasm:
 * the package is an optional peer, absent from many installs.
 */
async function nativeUnavailable(): Promise<string | null> {
  let native: typeof import("@hodiff/native");
  try {
    native = await import("@hodiff/native");
  } catch (e) {
    return `needs the package @hodiff/native beside @hodiff/cli (npm install @hodiff/native): ${describeError(e)}`;
  }
  try {
    native.loadAddon();
    return null;
  } catch (e) {
    return `cannot load: ${describeError(e)}`;
  }
}

/** `--threads`, `--gemm`, `--blas-threads`, `--jit` as given: undefined where not given on the command line. */
function givenExecutionFlags(f: TrainFlags, cmd: Command) {
  const given = (key: string) => cmd.getOptionValueSource(key) === "cli";
  return {
    ...(given("gemm") ? { gemm: f.gemm } : {}),
    ...(given("threads") ? { threads: f.threads } : {}),
    ...(given("blasThreads") ? { blasThreads: f.blasThreads } : {}),
    ...(given("jit") ? { jit: f.jit } : {}),
  };
}

/**
 * The run's execution on `backend` (a resumed run: what it recorded, unless flags say otherwise),
 * with @hodiff/native's GEMM installed when it is native (the handle uninstalls it).
 */
async function useExecution(
  f: TrainFlags,
  cmd: Command,
  cfg: TrainConfig,
  backend: string,
  recorded: Execution | null | undefined,
  io: Io,
): Promise<{ execution: Execution; native: { uninstall(): void } | null }> {
  const base = {
    backend,
    model: cfg.model,
    paperWidths: cfg.hidden === null,
    cores: availableParallelism(),
    // probed only where it can be chosen: resolveExecution never reads it for --gemm wasm or another backend
    nativeUnavailable: backend === "wasm" && f.gemm !== "wasm" ? await nativeUnavailable() : "is not used",
  };
  let request: ExecutionRequest;
  if (recorded === undefined)
    request = { ...base, gemm: f.gemm, threads: f.threads, blasThreads: f.blasThreads, jit: f.jit };
  else {
    const r = resumedRequest(base, givenExecutionFlags(f, cmd), recorded);
    for (const note of r.notes) io.err(note);
    request = r.request;
  }
  const execution = resolveExecution(request);
  if (execution.gemm !== "native") return { execution, native: null };
  try {
    const native = await import("@hodiff/native");
    return { execution, native: native.installNativeGemm({ threads: execution.blasThreads ?? 1 }) };
  } catch (e) {
    throw new RunError(`--gemm native: ${describeError(e)}`);
  }
}

/** `--threads` and `--blas-threads`: an integer ≥ 1, or auto. */
const countOrAuto = (value: string): number | "auto" => (value === "auto" ? "auto" : intAtLeast(1)(value));

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
      .option(
        "--threads <n>",
        "threads over each batch, or auto: n > 1 starts n − 1 worker threads (@hodiff/parallel) that compute the gradient and NewtonSummary's summaries on parts of the batch (K-FAC's statistics updates stay on one thread); equal to 1 thread within float32 rounding. auto: the setting measured fastest for the model on 2 cores (the paper's MLP on the wasm GEMM and LeNet-5: 2; otherwise 1; 1 on one core, on a backend other than wasm and with --hidden)",
        countOrAuto,
        "auto",
      )
      .addOption(
        new Option(
          "--gemm <name>",
          "matrix products on the wasm backend: wasm (tfjs-wasm's XNNPACK, built in), native (@hodiff/native: OpenBLAS on tfjs-wasm's heap, in every thread of --threads n; its addon must be built) or auto (native where @hodiff/native loads, else wasm)",
        )
          .choices(["auto", "wasm", "native"])
          .default("auto"),
      )
      .option(
        "--blas-threads <n>",
        "with the native GEMM: OpenBLAS's thread count (process-wide, shared by --threads n's threads), or auto (VGG-11' and BigMLP: 2 on ≥ 2 cores with one thread; otherwise 1)",
        countOrAuto,
        "auto",
      )
      .addOption(
        new Option(
          "--jit <mode>",
          "the (loss, gradient) step as compiled plans (hd.jit, the batch an argument, traced once per batch shape; with --threads n, once per part size in each thread): on, off (eager, as before) or auto (on with one thread on wasm for a paper model where it measured faster: every paper model on both GEMMs but vBigMLP, not measured; off for a pool, whose jit was not robustly faster); equal to off within float32 rounding",
        )
          .choices(["auto", "on", "off"])
          .default("auto"),
      )
      .option("--out <dir>", "run directory (must not hold a run yet)")
      .option(
        "--resume <dir>",
        "continue the run in <dir> up to --epochs (a run stopped before its first checkpoint starts over)",
      )
      .addOption(
        new Option("--on-nonfinite <action>", "a non-finite loss, gradient or update: stop the run, or skip the update")
          .choices(["stop", "skip"])
          .default("stop"),
      )
      .option("--no-progress", "no progress bar (it is drawn only on a terminal anyway)");
    for (const { spec, usedBy } of allHyperFlags()) cmd.addOption(hyperOption(spec, usedBy));
    cmd.addHelpText(
      "after",
      `\nOptimizers:\n${OPTIMIZER_NAMES.map((n) => `  ${n.padEnd(15)} ${(OPTIMIZERS[n] as OptimizerEntry).summary}`).join("\n")}\n\nExecution: --threads, --gemm, --blas-threads and --jit default to auto, the setting measured fastest for the model on this machine's cores (packages/cli/README.md, "Defaults"); the run's first line says what they resolved to, config.json and the checkpoints record it, and a resumed run keeps it unless given. --threads 1 --gemm wasm forces one thread on tfjs-wasm's GEMM.\n\nExamples:\n  hodiff train --model mlp --dataset mnist --optimizer adam --lr 1e-3 --epochs 10 --out runs/mlp-adam\n  hodiff train --resume runs/mlp-adam --epochs 20`,
    );
    cmd.action(async (f: TrainFlags, c: Command) => {
      let dir: string;
      let cfg: TrainConfig;
      let recorded: Execution | null | undefined; // a resumed run's (undefined: a new run)
      let lock: RunLock;
      let created: string | undefined; // the first directory this start created, removed if it fails
      if (f.resume !== undefined) {
        dir = f.resume;
        if (f.out !== undefined && resolve(f.out) !== resolve(dir))
          throw new UsageError(
            "--out",
            `--out ${f.out} differs from --resume ${dir}: a resumed run writes into its own directory`,
          );
        if (!existsSync(dir) || !statSync(dir).isDirectory())
          throw new UsageError("--resume", `--resume ${dir}: no such directory`);
        lock = acquireRunLock(dir, io);
        try {
          if (!hasCheckpoint(dir) && !existsSync(join(dir, CONFIG_FILE)))
            throw new UsageError(
              "--resume",
              `--resume ${dir}: no run there (no ${CHECKPOINT_FILE}, no ${CONFIG_FILE}): start one with --out ${dir}`,
            );
          tidyRunDir(dir, io);
          ({ cfg, recorded } = resumedConfig(dir, f, c));
          if (!hasCheckpoint(dir))
            io.err(
              `note: ${dir} has no checkpoint yet (it stopped during its first epoch): starting it over from its ${CONFIG_FILE}`,
            );
        } catch (e) {
          lock.release();
          throw e;
        }
      } else {
        if (f.out === undefined) throw new UsageError("--out", "train needs --out <dir> (or --resume <dir>)");
        dir = f.out;
        if (existsSync(dir) && !statSync(dir).isDirectory())
          throw new UsageError("--out", `--out ${dir} is a file, not a directory: choose another --out`);
        if (holdsRun(dir))
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
        try {
          created = mkdirSync(dir, { recursive: true });
        } catch (e) {
          throw new RunError(`--out ${dir}: ${describeError(e)}`);
        }
        try {
          lock = acquireRunLock(dir, io);
        } catch (e) {
          if (created !== undefined) rmSync(created, { recursive: true, force: true });
          throw e;
        }
        // checked again under the lock: another start may have begun between the check and the lock
        if (holdsRun(dir)) {
          lock.release();
          throw new UsageError("--out", `--out ${dir} already holds a run: continue it with --resume ${dir}`);
        }
        tidyRunDir(dir, io);
      }
      const resume = f.resume !== undefined && hasCheckpoint(dir);
      const given = (key: string) => c.getOptionValueSource(key) === "cli";
      const again = resumeCommand(dir, {
        epochs: cfg.epochs,
        dataDir: f.dataDir,
        backend: given("backend") ? f.backend : undefined,
        onNonFinite: f.onNonfinite,
      });
      const stop: StopRequest = { requested: null };
      const offSignals = onSignals(stop, io);
      let started = false;
      let nativeGemm: { uninstall(): void } | null = null;
      try {
        const entry = optimizerEntry(cfg.optimizer);
        const syncReads = entry.syncReads && `--optimizer ${cfg.optimizer}: ${entry.syncReads}`;
        const backend = await selectBackend(f.backend, io, syncReads);
        const { execution: run, native } = await useExecution(f, c, cfg, backend, recorded, io);
        nativeGemm = native;
        await train(cfg, {
          dir,
          resume,
          io,
          progress: f.progress,
          backend,
          threads: run.threads,
          // With --threads n: the pool's workers install the same GEMM (and BLAS thread count).
          ...(run.gemm === "native" ? { gemm: "native" as const, blasThreads: run.blasThreads ?? 1 } : {}),
          jit: run.jit,
          execution: run,
          dataDir: f.dataDir,
          onNonFinite: f.onNonfinite,
          stop,
          onStarted: () => {
            started = true;
            io.out(describeExecution(run));
          },
        });
        setExit(0);
      } catch (e) {
        if (e instanceof RunInterrupted) {
          io.err(
            e.epochsDone > 0 || resume
              ? `stopped by ${e.signal}: ${dir} keeps its checkpoint (after epoch ${Math.max(e.epochsDone, 0)}); continue with: ${again}`
              : `stopped by ${e.signal} before the first checkpoint; start it over with: ${again}`,
          );
          setExit(signalExit(e.signal));
          return;
        }
        if (e instanceof NonFiniteError)
          throw new RunFailed(
            e.message +
              (f.onNonfinite === "skip"
                ? " Lower the learning rate (a new run)."
                : ` Lower the learning rate (a new run), or drop such updates: ${resumeCommand(dir, { epochs: cfg.epochs, dataDir: f.dataDir, backend: given("backend") ? f.backend : undefined, onNonFinite: "skip" })}`),
            { cause: e },
          );
        if (started && (isFsError(e) || !(e instanceof UsageError)))
          throw new RunFailed(
            `${describeError(e)}. ${dir} is still resumable: once that is fixed, continue with: ${again}`,
            { cause: e },
          );
        throw e;
      } finally {
        nativeGemm?.uninstall();
        offSignals();
        lock.release();
        if (!started && created !== undefined) rmSync(created, { recursive: true, force: true });
      }
    });
  },
};
