/**
 * Seeded shuffling and minibatches. An epoch's order is a function of (seed, epoch) only, so a
 * run can be resumed at any epoch and two runs with the same seed see the same batches. The PRNG
 * is mulberry32 (see `random.ts`); seeds are mixed with the murmur3 finaliser.
 */
import { DataLoadError, invalidArgument } from "./errors";
import { permutation, mulberry32, shuffleInPlace } from "./random";
import type { Dataset } from "./types";

/** One minibatch: images `shape = [batch, ...example]`, labels, and which examples they are. @category model */
export interface Batch {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly shape: number[];
  /** Indices into the dataset, in batch order. */
  readonly indices: Int32Array;
}

/** Options of `batches` and `epochOrder`. @category model */
export interface BatchOptions {
  readonly batchSize: number;
  /** Seed of the shuffle (and of the `trainSize` subset). */
  readonly seed: number;
  /** Epoch number (default 0): each epoch has its own order. */
  readonly epoch?: number;
  /** Drop the last batch if it is smaller than `batchSize` (default false). */
  readonly dropLast?: boolean;
  /** Use only this many examples: a seeded subset, the same in every epoch (default: all). */
  readonly trainSize?: number;
  /** Shuffle (default true); false keeps dataset order (for evaluation). */
  readonly shuffle?: boolean;
}

/** Stream tags, so the subset and the per-epoch shuffles never share a PRNG stream. */
const SUBSET_STREAM = 0x5b5e7;
const SHUFFLE_STREAM = 0x5f1e;

function fail(message: string): never {
  throw new DataLoadError(invalidArgument(message));
}

function checkInt(name: string, x: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(x) || x < min || x > max)
    fail(`batches: ${name} must be an integer in [${min}, ${max}], got ${x}`);
}

/**
 * The example indices visited in one epoch, in order: the `trainSize` subset (a seeded choice
 * that does not depend on the epoch; sorted), shuffled with (seed, epoch) unless `shuffle` is false.
 * @example epochOrder(5, { seed: 1, epoch: 0 })  // a permutation of 0..4, the same every run
 * @category batching
 */
export function epochOrder(n: number, opts: Omit<BatchOptions, "batchSize" | "dropLast">): Int32Array {
  const epoch = opts.epoch ?? 0;
  checkInt("seed", opts.seed, Number.MIN_SAFE_INTEGER);
  checkInt("epoch", epoch, 0);
  let order: Int32Array;
  if (opts.trainSize === undefined || opts.trainSize === n) {
    order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
  } else {
    checkInt("trainSize", opts.trainSize, 1, n);
    order = permutation(n, opts.seed, SUBSET_STREAM).slice(0, opts.trainSize).sort();
  }
  return opts.shuffle === false ? order : shuffleInPlace(order, mulberry32(opts.seed, SHUFFLE_STREAM, epoch));
}

/** How many batches `batches` yields for `n` examples. @category batching */
export function numBatches(n: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/**
 * Iterate over the minibatches of one epoch. Each batch copies its examples into fresh arrays
 * (`images` float32 with `shape = [b, ...dataset.shape.slice(1)]`, `labels` int32).
 * Throws `DataLoadError` (`invalid-argument`) on a bad option.
 * @example for (const b of batches(ds, { batchSize: 128, seed: 0, epoch })) step(b.images, b.labels)
 * @category batching
 */
export function* batches(dataset: Dataset, opts: BatchOptions): Generator<Batch, void, undefined> {
  const n = dataset.labels.length;
  const [n0, ...example] = dataset.shape;
  if (n0 !== n) fail(`batches: dataset.shape[0] is ${n0} but it has ${n} labels`);
  const perExample = example.reduce((a, b) => a * b, 1);
  if (dataset.images.length !== n * perExample) {
    fail(
      `batches: images hold ${dataset.images.length} values, shape [${dataset.shape.join(", ")}] needs ${n * perExample}`,
    );
  }
  checkInt("batchSize", opts.batchSize, 1);
  const order = epochOrder(n, opts);
  const count = numBatches(order.length, opts.batchSize, opts.dropLast);
  for (let b = 0; b < count; b++) {
    const indices = order.slice(b * opts.batchSize, Math.min((b + 1) * opts.batchSize, order.length));
    const images = new Float32Array(indices.length * perExample);
    const labels = new Int32Array(indices.length);
    indices.forEach((idx, k) => {
      images.set(dataset.images.subarray(idx * perExample, (idx + 1) * perExample), k * perExample);
      labels[k] = dataset.labels[idx]!;
    });
    yield { images, labels, shape: [indices.length, ...example], indices };
  }
}
