/**
 * Failures as sentences: what went wrong with a file (the errno codes of Node's fs), the command
 * that resumes a run, and `RunFailed`, an error that carries the advice of its run directory.
 */

/** A failure of a run that has started; the message ends with how to continue it. @category errors */
export class RunFailed extends Error {
  override name = "RunFailed";
}

const REASONS: Readonly<Record<string, string>> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is exhausted",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "the file system is read-only",
  ENOTDIR: "a part of the path is a file, not a directory",
  ENOENT: "no such file or directory",
  EEXIST: "it already exists",
  EISDIR: "it is a directory",
  EMFILE: "too many open files",
  EIO: "an input/output error of the device",
};

const ACTIONS: Readonly<Record<string, string>> = {
  mkdir: "create the directory",
  open: "open",
  write: "write",
  read: "read",
  rename: "rename",
  link: "create",
  unlink: "remove",
  rmdir: "remove",
  ftruncate: "truncate",
  truncate: "truncate",
  scandir: "list",
  fsync: "flush",
};

/** True for an error thrown by Node's fs (it has an errno `code` and a `syscall`). @category errors */
export const isFsError = (e: unknown): e is NodeJS.ErrnoException =>
  e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string" && "syscall" in e;

/**
 * One sentence for `e`: for a file-system error "cannot write PATH: no space left on the device",
 * otherwise its message.
 * @category errors
 */
export function describeError(e: unknown): string {
  if (isFsError(e)) {
    const reason = REASONS[e.code!] ?? e.code!;
    const action = ACTIONS[e.syscall!] ?? e.syscall!;
    return e.path === undefined ? `cannot ${action}: ${reason}` : `cannot ${action} ${e.path}: ${reason}`;
  }
  return e instanceof Error ? e.message : String(e);
}

/** `s` quoted for a POSIX shell when it needs it. @category utils */
export const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The command that continues the run in `dir`, with the flags that are not saved in the run. @category utils */
export function resumeCommand(
  dir: string,
  flags: { epochs?: number; dataDir?: string; backend?: string; onNonFinite?: string } = {},
): string {
  const parts = ["hodiff", "train", "--resume", shellQuote(dir)];
  if (flags.epochs !== undefined) parts.push("--epochs", String(flags.epochs));
  if (flags.dataDir !== undefined) parts.push("--data-dir", shellQuote(flags.dataDir));
  if (flags.backend !== undefined) parts.push("--backend", flags.backend);
  if (flags.onNonFinite === "skip") parts.push("--on-nonfinite", "skip");
  return parts.join(" ");
}
