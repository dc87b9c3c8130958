/**
 * The `hodiff` program: one commander program with one module per command (`COMMANDS`), and
 * `run(argv, io)`, which parses, runs and maps every failure to an exit status: 0 success,
 * 1 failure (missing data, corrupt checkpoint…), 2 usage error (the message names the flag).
 */
import { Command, CommanderError } from "commander";
import * as hd from "@hodiff/core";
import { DataLoadError } from "@hodiff/data";
import { CheckpointError } from "./checkpoint";
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
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage; // already printed
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}`);
      io.err("(add --help for usage)");
      return EXIT.usage;
    }
    if (
      e instanceof RunError ||
      e instanceof CheckpointError ||
      e instanceof DataLoadError ||
      e instanceof hd.HodiffError
    ) {
      io.err(`error: ${e.message}`);
      return EXIT.failure;
    }
    if (e instanceof WebAssembly.RuntimeError) {
      io.err(wasmFailure(e));
      return EXIT.failure;
    }
    io.err(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return EXIT.failure;
  }
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
