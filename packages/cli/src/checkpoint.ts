/**
 * Checkpoints: everything a run needs to continue exactly as if it had not stopped. A checkpoint
 * is a JSON manifest (`checkpoint.json`: step, epoch, RNG, config, the pytrees of the parameters
 * and of the optimizer state with tensors replaced by references) and one binary file of tensor
 * bytes (`ckpt-<step>.bin`, float32/int32/bool in machine order, each tensor 8-byte aligned) named
 * by the manifest with its sha256. Writing is atomic: the binary file, then the manifest, each
 * written to a temporary name, fsynced and renamed; renaming the manifest is the commit point,
 * after which older binary files are removed. A crash leaves the previous checkpoint valid.
 * `best.json` is a copy of the manifest of the best epoch so far (lowest validation loss, or
 * training loss without validation); the binary files of both manifests are kept.
 *
 * The encoding of a state tree is exact: float32 tensors keep their bits, JS numbers are written
 * by JSON's shortest round-trip form (±Infinity, NaN and −0 as tagged values), typed arrays keep
 * their type, `undefined` is kept.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as hd from "@hodiff/core";
import { fsyncPath, writeFileAtomic } from "./durable";

export { writeFileAtomic };

// model

/** A JSON value. @category model */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json };

/** Where a tensor's bytes are in the binary file. @category model */
export interface TensorEntry {
  readonly dtype: "float32" | "int32" | "bool";
  readonly shape: readonly number[];
  readonly offset: number;
  readonly byteLength: number;
}

/** What a checkpoint holds, besides the tensors. @category model */
export interface CheckpointMeta {
  /** Epochs completed. */
  readonly epoch: number;
  /** Updates done. */
  readonly step: number;
  /** Number of lines of metrics.jsonl written when the checkpoint was taken. */
  readonly metricsLines: number;
  /** Mean training loss of the last completed epoch (passed as `extras.value` on the next update). */
  readonly lastEpochLoss: number | null;
  /** How the run's randomness is derived (all of it is a function of the seed and the counters). */
  readonly rng: Json;
  /** The run's configuration. */
  readonly config: Json;
  /** The backend the run used (results are bitwise reproducible on the same backend). */
  readonly backend: string;
  /** How the run executed (execution.ts's `Execution`: backend, gemm, threads, BLAS threads, jit); absent in older checkpoints (and `jit` in those before `--jit`). */
  readonly execution?: Json;
  /** The best epoch up to this one and its score (lower is better). */
  readonly best?: { readonly epoch: number; readonly metric: string; readonly value: number };
  /** Updates skipped so far for a non-finite loss, gradient or update (`--on-nonfinite skip`). */
  readonly nonfiniteSkipped?: number;
}

/** A loaded checkpoint; the caller owns the tensors of `params` and `optState`. @category model */
export interface Checkpoint extends CheckpointMeta {
  readonly params: unknown;
  readonly optState: unknown;
}

/** The file that names the current checkpoint. @category model */
export const CHECKPOINT_FILE = "checkpoint.json";
/** The manifest of the best checkpoint so far. @category model */
export const BEST_FILE = "best.json";
const FORMAT = "hodiff-checkpoint";
const VERSION = 1;

/** A checkpoint that cannot be read (missing, corrupt, another format). @category errors */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

// encoding

const TYPED = { Float64Array, Float32Array, Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array, Uint8Array };
type TypedName = keyof typeof TYPED;

const isPlainObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && [Object.prototype, null].includes(Object.getPrototypeOf(x));

const isTensor = (x: unknown): x is hd.Tensor =>
  typeof x === "object" && x !== null && !(x instanceof hd.Tracer) && "dataSync" in x && "shape" in x && "dtype" in x;

const encodeNumber = (x: number): Json =>
  Number.isFinite(x) && !Object.is(x, -0) ? x : { $number: Object.is(x, -0) ? "-0" : String(x) };

const decodeNumber = (s: string): number => (s === "-0" ? -0 : Number(s));

interface TensorSink {
  readonly entries: TensorEntry[];
  /** The file's pieces: padding, or a tensor whose bytes are read (asynchronously) after encoding. */
  readonly chunks: (Uint8Array | hd.Tensor)[];
  bytes: number;
}

/** Bytes per element as tfjs stores each dtype (bool: one byte). */
const ELEMENT_BYTES = { float32: 4, int32: 4, bool: 1 } as const;

/** Encode a pytree-like state as JSON, sending tensors to `sink`. */
function encode(x: unknown, sink: TensorSink, path: string): Json {
  if (x === null || typeof x === "boolean" || typeof x === "string") return x;
  if (x === undefined) return { $undefined: true };
  if (typeof x === "number") return encodeNumber(x);
  if (Array.isArray(x)) return x.map((v, i) => encode(v, sink, `${path}.${i}`));
  if (isTensor(x)) {
    const dtype = x.dtype as TensorEntry["dtype"];
    if (!["float32", "int32", "bool"].includes(dtype))
      throw new CheckpointError(`checkpoint: cannot save a ${dtype} tensor at ${path}`);
    const byteLength = x.size * ELEMENT_BYTES[dtype];
    const offset = Math.ceil(sink.bytes / 8) * 8;
    if (offset > sink.bytes) sink.chunks.push(new Uint8Array(offset - sink.bytes));
    sink.chunks.push(x);
    sink.bytes = offset + byteLength;
    sink.entries.push({ dtype, shape: [...x.shape], offset, byteLength });
    return { $tensor: sink.entries.length - 1 };
  }
  if (ArrayBuffer.isView(x) && x.constructor.name in TYPED) {
    return { $typed: x.constructor.name, values: Array.from(x as unknown as ArrayLike<number>, encodeNumber) };
  }
  if (isPlainObject(x)) {
    const o: Record<string, Json> = {};
    for (const [k, v] of Object.entries(x)) o[k] = encode(v, sink, path === "" ? k : `${path}.${k}`);
    return Object.keys(o).some((k) => k.startsWith("$")) ? { $object: o } : o;
  }
  const what = typeof x === "object" ? (x.constructor?.name ?? "object") : typeof x;
  throw new CheckpointError(`checkpoint: cannot save a ${what} at ${path === "" ? "the root" : path}`);
}

/** Deep-freeze plain containers (as `@hodiff/optim` freezes its states); tensors are left alone. */
function freezeContainers<T>(x: T): T {
  if (Array.isArray(x) || isPlainObject(x)) {
    for (const v of Object.values(x as object)) freezeContainers(v);
    Object.freeze(x);
  }
  return x;
}

function decode(j: Json, tensors: (i: number) => hd.Tensor): unknown {
  if (j === null || typeof j !== "object") return j;
  if (Array.isArray(j)) return j.map((v) => decode(v, tensors));
  const o = j as { readonly [key: string]: Json };
  if ("$tensor" in o) return tensors(o["$tensor"] as number);
  if ("$number" in o) return decodeNumber(o["$number"] as string);
  if ("$undefined" in o) return undefined;
  if ("$typed" in o) {
    const Ctor = TYPED[o["$typed"] as TypedName];
    const values = (o["values"] as Json[]).map((v) => (typeof v === "number" ? v : (decode(v, tensors) as number)));
    return Ctor.from(values);
  }
  const fields = "$object" in o ? (o["$object"] as { readonly [key: string]: Json }) : o;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = decode(v, tensors);
  return out;
}

// files

const binName = (step: number) => `ckpt-${String(step).padStart(8, "0")}.bin`;

/** The bytes of each chunk, tensors read without blocking (the only reads webgpu has). */
async function chunkBytes(sink: TensorSink): Promise<Uint8Array[]> {
  return Promise.all(
    sink.chunks.map(async (c) => {
      if (c instanceof Uint8Array) return c;
      const read = await hd.toFlatAsync(c);
      // bool is one byte per element in the file, whatever array type a backend reads it into
      const data = c.dtype === "bool" && !(read instanceof Uint8Array) ? Uint8Array.from(read) : read;
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    }),
  );
}

/**
 * Save a checkpoint of `params` and `optState` (pytrees of tensors and plain values) in `dir`,
 * atomically; older binary files are removed once the new manifest is in place. The tensors are
 * read without blocking; the caller keeps them alive until the returned promise settles.
 * @category checkpoints
 */
export async function saveCheckpoint(
  dir: string,
  meta: CheckpointMeta,
  params: unknown,
  optState: unknown,
  opts: { readonly best?: boolean } = {},
): Promise<void> {
  const sink: TensorSink = { entries: [], chunks: [], bytes: 0 };
  const encodedParams = encode(params, sink, "params");
  const encodedState = encode(optState, sink, "optState");
  const chunks = await chunkBytes(sink);
  const file = binName(meta.step);
  const sha256 = createHash("sha256");
  for (const c of chunks) sha256.update(c);
  writeFileAtomic(join(dir, file), chunks, "bin");
  const manifest = JSON.stringify({
    format: FORMAT,
    version: VERSION,
    ...meta,
    lastEpochLoss: meta.lastEpochLoss === null ? null : encodeNumber(meta.lastEpochLoss),
    tensors: { file, bytes: sink.bytes, sha256: sha256.digest("hex"), entries: sink.entries },
    params: encodedParams,
    optState: encodedState,
  });
  writeFileAtomic(join(dir, CHECKPOINT_FILE), manifest, "manifest");
  if (opts.best) writeFileAtomic(join(dir, BEST_FILE), manifest, "best");
  fsyncPath(dir);
  removeUnusedBins(dir);
}

/** The binary file a manifest names (null when it is missing or unreadable). */
function binOf(path: string): string | null {
  try {
    const file = (JSON.parse(readFileSync(path, "utf8")) as { tensors?: { file?: unknown } }).tensors?.file;
    return typeof file === "string" ? file : null;
  } catch {
    return null;
  }
}

/**
 * Remove the `ckpt-*.bin` files that neither checkpoint.json nor best.json names (left by a crash
 * between writing a binary file and committing its manifest, or superseded).
 * @category checkpoints
 */
export function removeUnusedBins(dir: string): string[] {
  const manifests = [CHECKPOINT_FILE, BEST_FILE].map((f) => join(dir, f)).filter((p) => existsSync(p));
  const keep = new Set(manifests.map(binOf));
  // a manifest that cannot be read may still name a file someone wants to recover: remove nothing
  if (keep.has(null)) return [];
  const removed: string[] = [];
  for (const f of readdirSync(dir)) {
    if (/^ckpt-\d+\.bin$/.test(f) && !keep.has(f)) {
      rmSync(join(dir, f), { force: true });
      removed.push(f);
    }
  }
  return removed;
}

/**
 * After a crash between committing checkpoint.json and copying it to best.json, the best epoch's
 * manifest is only in checkpoint.json: copy it (its `best.epoch` says whether it is the best).
 * @category checkpoints
 */
export function repairBest(dir: string): void {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) return;
  const text = readFileSync(path, "utf8");
  let m: { epoch?: number; best?: { epoch?: number } };
  try {
    m = JSON.parse(text) as typeof m;
  } catch {
    return; // loading it says what is wrong
  }
  if (m.best?.epoch === undefined || m.best.epoch !== m.epoch) return;
  const bestPath = join(dir, BEST_FILE);
  if (existsSync(bestPath) && readFileSync(bestPath, "utf8") === text) return;
  writeFileAtomic(bestPath, text, "best");
}

/** True when `dir` holds a checkpoint manifest. @category checkpoints */
export const hasCheckpoint = (dir: string): boolean => existsSync(join(dir, CHECKPOINT_FILE));

/**
 * Load the checkpoint of `dir`: checks the format, the size and sha256 of the binary file, and
 * rebuilds the tensors (the caller owns them). State containers come back frozen.
 * @category checkpoints
 */
export function loadCheckpoint(dir: string, manifestFile: string = CHECKPOINT_FILE): Checkpoint {
  const path = join(dir, manifestFile);
  if (!existsSync(path)) throw new CheckpointError(`${dir}: no ${manifestFile}: not a hodiff run directory`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let m: any;
  try {
    m = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new CheckpointError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (m?.format !== FORMAT || m?.version !== VERSION)
    throw new CheckpointError(`${path}: not a ${FORMAT} version ${VERSION} manifest`);
  const binPath = join(dir, m.tensors.file as string);
  if (!existsSync(binPath)) throw new CheckpointError(`${path}: its tensor file ${m.tensors.file} is missing`);
  const bin = readFileSync(binPath);
  const digest = createHash("sha256").update(bin).digest("hex");
  if (bin.byteLength !== m.tensors.bytes || digest !== m.tensors.sha256)
    throw new CheckpointError(
      `${binPath}: size or sha256 does not match ${CHECKPOINT_FILE}: the checkpoint is corrupt`,
    );
  const entries = m.tensors.entries as TensorEntry[];
  const made: hd.Tensor[] = [];
  const tensor = (i: number): hd.Tensor => {
    const e = entries[i];
    if (e === undefined) throw new CheckpointError(`${path}: tensor reference ${i} out of range`);
    const bytes = bin.buffer.slice(bin.byteOffset + e.offset, bin.byteOffset + e.offset + e.byteLength);
    const data =
      e.dtype === "float32"
        ? new Float32Array(bytes)
        : e.dtype === "int32"
          ? new Int32Array(bytes)
          : new Uint8Array(bytes);
    const t = hd.array(data, { dtype: e.dtype, shape: e.shape });
    made.push(t);
    return t;
  };
  try {
    const params = decode(m.params, tensor);
    const optState = freezeContainers(decode(m.optState, tensor));
    return {
      epoch: m.epoch,
      step: m.step,
      metricsLines: m.metricsLines,
      lastEpochLoss: m.lastEpochLoss === null ? null : (decode(m.lastEpochLoss, tensor) as number),
      rng: m.rng,
      config: m.config,
      backend: m.backend,
      ...(m.execution === undefined ? {} : { execution: m.execution }),
      ...(m.best === undefined ? {} : { best: m.best }),
      ...(m.nonfiniteSkipped === undefined ? {} : { nonfiniteSkipped: m.nonfiniteSkipped }),
      params,
      optState,
    };
  } catch (e) {
    hd.dispose(made);
    throw e;
  }
}
