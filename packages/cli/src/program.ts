/**
 * The `hodiff` program: one commander program with one module per command (`COMMANDS`), and
 * `run(argv, io)`, which parses, runs and maps every failure to an exit status: 0 success,
 * 1 failure (missing data, corrupt checkpoint, a full disk, a locked run directory…), 2 usage
 * error (the message names the flag), 130/143 a run stopped by SIGINT/SIGTERM. Every failure is
 * printed as a sentence; `--debug` (anywhere on the line, or HODIFF_DEBUG=1) adds the stack trace.
 */
import { Command, CommanderError } from "commander";
import * as hd from "@hodiff/core";
import { DataLoadError } from "@hodiff/data";
import { CheckpointError } from "./checkpoint";
import { describeError, isFsError, RunFailed } from "./failures";
import { RunLockedError } from "./lock";
import { MetricsError } from "./metrics";
import { fetchCommand } from "./commands/fetch";
import { inspectCommand } from "./commands/inspect";
import { lrCommand } from "./commands/lr";
import { reportCommand } from "./commands/report";
import { trainCommand } from "./commands/train";
import type { CommandModule } from "./commands/types";
import { processIo, type Io } from "./io";
import { RunError } from "./trainer";
import { EXIT, UsageError } from "./usage";

/** The commands, in help order. @category registry */
export const COMMANDS: readonly CommandModule[] = [
  fetchCommand,
  trainCommand,
  inspectCommand,
  lrCommand,
  reportCommand,
];

/** Version of the CLI. @category model */
export const VERSION = "0.1.0";

/**
 * A fresh program writing to `io`; `setExit` receives each command's exit status.
 * @category constructors
 */
export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command("hodiff")
    .description("hodiff: JAX-style higher-order derivatives on TensorFlow.js — data, training, checkpoints")
    .version(VERSION)
    .option("--debug", "print the stack trace of a failure (also HODIFF_DEBUG=1)")
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, "")),
      writeErr: (s) => io.err(s.replace(/\n$/, "")),
    });
  for (const c of COMMANDS) c.register(program, { io, setExit });
  return program;
}

/**
 * Run `hodiff` with the arguments `argv` (without `node` and the script); resolves to the exit status.
 * @example await run(["train", "--dataset", "synthetic", "--out", "runs/x"])  // 0
 * @category run
 */
export async function run(argv: readonly string[], io: Io = processIo()): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => (code = c));
  const end = argv.indexOf("--");
  const debug =
    (end === -1 ? argv : argv.slice(0, end)).includes("--debug") ||
    ["1", "true"].includes(process.env["HODIFF_DEBUG"] ?? "");
  const args = argv.filter((a, i) => a !== "--debug" || (end !== -1 && i > end));
  if (args.length === 0) {
    program.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    await program.parseAsync([...args], { from: "user" });
    return code;
  } catch (e) {
    const status = failureStatus(e, io);
    if (debug && !(e instanceof CommanderError)) io.err(stackOf(e));
    return status;
  }
}

/** The stack of `e` and of its causes. */
function stackOf(e: unknown): string {
  const parts: string[] = [];
  for (let x: unknown = e; x !== undefined; x = x instanceof Error ? x.cause : undefined)
    parts.push(x instanceof Error ? (x.stack ?? x.message) : String(x));
  return parts.join("\ncaused by: ");
}

/** Print `e` as a sentence; its exit status. */
function failureStatus(e: unknown, io: Io): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage; // already printed
  if (e instanceof UsageError) {
    io.err(`error: ${e.message}`);
    io.err("(add --help for usage)");
    return EXIT.usage;
  }
  if (
    e instanceof RunError ||
    e instanceof RunFailed ||
    e instanceof RunLockedError ||
    e instanceof CheckpointError ||
    e instanceof MetricsError ||
    e instanceof DataLoadError ||
    e instanceof hd.HodiffError ||
    isFsError(e)
  ) {
    io.err(`error: ${describeError(e)}`);
    return EXIT.failure;
  }
  if (e instanceof WebAssembly.RuntimeError) {
    io.err(wasmFailure(e));
    return EXIT.failure;
  }
  io.err(`error: ${describeError(e)} (an unexpected failure: rerun with --debug for the stack trace)`);
  return EXIT.failure;
}

/**
 * The message for a trap of the wasm backend. Its heap is capped near 4 GiB and running out shows up
 * only as a trap (`Aborted()`, `memory access out of bounds`) from whichever kernel allocates next.
 * @internal
 */
export function wasmFailure(e: Error): string {
  return [
    `error: the wasm backend stopped with "${e.message}".`,
    "This is almost always its heap (4 GiB at most) running out. Use less memory per computation:",
    "a smaller --batch-size, and with newton-summary a smaller --summary-batch-size or --chunk-size 1",
    "(one group direction at a time in the summaries); or --backend cpu, which has no such cap but is much slower.",
  ].join("\n");
}
