/** The shape of a command module: one module per command, registered on the program. */
import type { Command } from "commander";
import type { Io } from "../io";

/** What a command gets from the program. @category model */
export interface CommandContext {
  readonly io: Io;
  /** Set the exit status of the run (0 when the command succeeded). */
  readonly setExit: (code: number) => void;
}

/** A command of `hodiff`: `register` adds it (name, arguments, options, action) to the program. @category model */
export interface CommandModule {
  register(program: Command, ctx: CommandContext): void;
}
