/** Where the commands write: injected so that tests run commands in-process and read their output. */

/** Output of a command. @category model */
export interface Io {
  /** A line of results (stdout). */
  readonly out: (line: string) => void;
  /** A line of diagnostics (stderr). */
  readonly err: (line: string) => void;
  /** The stream of the progress bar (drawn only when it is a TTY). */
  readonly progressStream: NodeJS.WriteStream;
}

/** The process's own streams. @category constructors */
export const processIo = (): Io => ({
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  progressStream: process.stderr,
});
