/**
 * Errors of `@hodiff/data`: one tagged union, `DataError`, returned inside fp-ts `Either`s by the
 * loaders and the fetch step. Every variant carries a `message` that states the fix; the cache
 * errors name the fetch command.
 */

import { dirname, resolve } from "node:path";
import { cacheRoot } from "./cache";

// -------------------------------------------------------------------------------------------------
// the fetch command (ONE place; the CLI will later become `pnpm hodiff fetch …`)
// -------------------------------------------------------------------------------------------------

/**
 * The command that fetches a data set, without the data set name. Error messages append the name,
 * e.g. `npx tsx packages/data/src/fetch-cli.ts mnist`. Change it here only.
 * @category errors
 */
export const FETCH_COMMAND = "pnpm hodiff fetch";

/**
 * The full command that (re)creates the cache of `name`, e.g. `fetchCommand("mnist")`.
 * `--dir <root>` is added when the cache root is not the default one (the user gave one), and
 * `--force` when an existing cache has to be replaced.
 * @example fetchCommand("cifar10") === "pnpm hodiff fetch cifar10"
 * @example fetchCommand("mnist", { dir: "/data", force: true }) === "pnpm hodiff fetch mnist --dir /data --force"
 * @category errors
 */
export function fetchCommand(name: string, opts: { force?: boolean; dir?: string } = {}): string {
  const quoted = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return `${FETCH_COMMAND} ${name}${opts.dir === undefined ? "" : ` --dir ${quoted(opts.dir)}`}${opts.force ? " --force" : ""}`;
}

/** The `--dir` a fetch of the data set cached at `datasetDir` needs (none for the default root). */
function rootFlag(datasetDir: string): { dir?: string } {
  const root = dirname(resolve(datasetDir));
  return root === cacheRoot() ? {} : { dir: root };
}

// -------------------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------------------

/** No cache (or no manifest) where one was expected. @category errors */
export interface MissingCache {
  readonly _tag: "missing-cache";
  readonly name: string;
  readonly dir: string;
  readonly message: string;
}

/** A cache exists but a file is missing, has the wrong size or sha256, or the manifest is bad. @category errors */
export interface CorruptCache {
  readonly _tag: "corrupt-cache";
  readonly name: string;
  readonly dir: string;
  readonly file: string;
  readonly message: string;
}

/** A file is not what its format says (IDX magic/size, PNG layout, labels JSON). @category errors */
export interface BadFormat {
  readonly _tag: "bad-format";
  readonly file: string;
  readonly message: string;
}

/** A downloaded source file does not have its published checksum. @category errors */
export interface ChecksumMismatch {
  readonly _tag: "checksum-mismatch";
  readonly file: string;
  readonly algorithm: "md5" | "sha256";
  readonly expected: string;
  readonly actual: string;
  readonly message: string;
}

/** Decoded data fail a known fact (counts, per-class counts, first labels, statistics). @category errors */
export interface VerificationFailed {
  readonly _tag: "verification-failed";
  readonly name: string;
  readonly check: string;
  readonly expected: string;
  readonly actual: string;
  readonly message: string;
}

/** A tool of the fetch step (npm, apt-get, dpkg-deb, tar) failed or is not installed. @category errors */
export interface AcquireFailed {
  readonly _tag: "acquire-failed";
  readonly name: string;
  readonly command: string;
  readonly message: string;
}

/** Reading or writing a file failed (disk full, permissions). @category errors */
export interface IoError {
  readonly _tag: "io-error";
  readonly path: string;
  readonly message: string;
}

/** An option is out of range (unknown data set, batch size 0, validation larger than the set…). @category errors */
export interface InvalidArgument {
  readonly _tag: "invalid-argument";
  readonly message: string;
}

/** Everything that can go wrong in `@hodiff/data`, discriminated by `_tag`. @category errors */
export type DataError =
  | MissingCache
  | CorruptCache
  | BadFormat
  | ChecksumMismatch
  | VerificationFailed
  | AcquireFailed
  | IoError
  | InvalidArgument;

// -------------------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------------------

/** `missing-cache`: the message names the fetch command. @category constructors */
export function missingCache(name: string, dir: string, detail?: string): DataError {
  return {
    _tag: "missing-cache",
    name,
    dir,
    message:
      `${name}: no data cache at ${dir}${detail ? ` (${detail})` : ""}. ` +
      `Run \`${fetchCommand(name, rootFlag(dir))}\` to download, verify and cache it.`,
  };
}

/** `corrupt-cache`: the message names the fetch command with `--force`. @category constructors */
export function corruptCache(name: string, dir: string, file: string, detail: string): DataError {
  return {
    _tag: "corrupt-cache",
    name,
    dir,
    file,
    message:
      `${name}: the data cache at ${dir} is corrupt: ${file}: ${detail}. ` +
      `Run \`${fetchCommand(name, { ...rootFlag(dir), force: true })}\` to rebuild it.`,
  };
}

/** `bad-format` for `file`. @category constructors */
export function badFormat(file: string, detail: string): DataError {
  return { _tag: "bad-format", file, message: `${file}: ${detail}` };
}

/** `checksum-mismatch` for `file`. @category constructors */
export function checksumMismatch(
  file: string,
  algorithm: "md5" | "sha256",
  expected: string,
  actual: string,
): DataError {
  return {
    _tag: "checksum-mismatch",
    file,
    algorithm,
    expected,
    actual,
    message:
      `${file}: ${algorithm} is ${actual}, expected ${expected}; ` +
      `the download is damaged or not the published file. Fetch again; if it persists, report it.`,
  };
}

/** `verification-failed` of the check `check` on data set `name`. @category constructors */
export function verificationFailed(name: string, check: string, expected: string, actual: string): DataError {
  return {
    _tag: "verification-failed",
    name,
    check,
    expected,
    actual,
    message: `${name}: verification failed: ${check}: expected ${expected}, got ${actual}. Nothing was cached.`,
  };
}

/** `acquire-failed`: `command` is what was run, `detail` why it failed and how to fix it. @category constructors */
export function acquireFailed(name: string, command: string, detail: string): DataError {
  return {
    _tag: "acquire-failed",
    name,
    command,
    message: `${name}: \`${command}\` failed: ${detail}`,
  };
}

/** `io-error` on `path`. @category constructors */
export function ioError(path: string, detail: string): DataError {
  return { _tag: "io-error", path, message: `${path}: ${detail}` };
}

/** `invalid-argument`. @category constructors */
export function invalidArgument(message: string): DataError {
  return { _tag: "invalid-argument", message };
}

// -------------------------------------------------------------------------------------------------
// throwing boundary
// -------------------------------------------------------------------------------------------------

/** The exception thrown by the `…OrThrow` conveniences; `error` is the `DataError`. @category errors */
export class DataLoadError extends Error {
  override name = "DataLoadError";
  constructor(readonly error: DataError) {
    super(error.message);
  }
}
