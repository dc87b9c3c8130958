/**
 * Loading a cached data set: read the cache (sizes and sha256 checked against the manifest), take
 * the requested split, normalise to float32. The boundary is total: every failure is a `DataError`
 * in an fp-ts `Either`; `loadDatasetOrThrow` is the throwing convenience.
 *
 * Splits (docs/math.md): `train` and `validation` partition the official training set with a seeded
 * random choice of `validationSize` examples (MNIST/Fashion-MNIST 54k/6k, CIFAR-10 45k/5k);
 * `test` is the official test set. Both parts keep the file order; shuffling is `batches`' job.
 */
import * as E from "fp-ts/Either";
import { pipe } from "fp-ts/function";
import { datasetCacheDir, readCache } from "./cache";
import { corruptCache, DataLoadError, invalidArgument, type DataError } from "./errors";
import { permutation } from "./random";
import { DATASETS, isDatasetName, type DatasetName, type DatasetSpec } from "./specs";
import type { Dataset, RawDataset, RawSplit, Split } from "./types";

/** The seed of the train/validation split unless one is given. @category load */
export const DEFAULT_SPLIT_SEED = 0;

/** Stream tag mixed into split seeds, so a split never shares a stream with a shuffle of the same seed. */
const SPLIT_STREAM = 0x5b117;

/** Options of `loadDataset`. @category load */
export interface LoadOptions {
  readonly split: Split;
  /** Cache root (default `$HODIFF_DATA_DIR`, then `<repo>/.cache/hodiff-data`). */
  readonly cacheDir?: string;
  /** Seed of the train/validation split (default `DEFAULT_SPLIT_SEED`). */
  readonly splitSeed?: number;
  /** Examples held out for validation (default: the spec's, 6000 or 5000). */
  readonly validationSize?: number;
  /** Check the sha256 of the cache files (default true; sizes are always checked). */
  readonly verify?: boolean;
}

/** The three splits of a data set. @category load */
export interface DatasetSplits {
  readonly train: Dataset;
  readonly validation: Dataset;
  readonly test: Dataset;
}

/**
 * Partition 0..n-1 into `train` (n − validationSize indices) and `validation` (validationSize),
 * uniformly at random given `seed`; both are sorted ascending. Deterministic: the same (n,
 * validationSize, seed) always gives the same partition.
 * @example splitIndices(10, 2, 0)  // { train: [8 indices], validation: [2 indices] }, disjoint, covering 0..9
 * @category load
 */
export function splitIndices(
  n: number,
  validationSize: number,
  seed: number = DEFAULT_SPLIT_SEED,
): { train: Int32Array; validation: Int32Array } {
  if (!Number.isInteger(validationSize) || validationSize < 0 || validationSize > n) {
    throw new RangeError(`splitIndices: validationSize must be an integer in [0, ${n}], got ${validationSize}`);
  }
  const p = permutation(n, seed, SPLIT_STREAM);
  return {
    validation: p.slice(0, validationSize).sort(),
    train: p.slice(validationSize).sort(),
  };
}

/**
 * (x/255 − mean[c]) / std[c] for interleaved uint8 pixels with `mean.length` channels, via a
 * 256-entry lookup table per channel (exact in float32 for every byte value).
 * @category load
 */
export function normalize(pixels: Uint8Array, mean: readonly number[], std: readonly number[]): Float32Array {
  const channels = mean.length;
  if (channels === 0 || std.length !== channels) {
    throw new RangeError(
      `normalize: mean and std must have the same non-zero length, got ${mean.length} and ${std.length}`,
    );
  }
  const lut = new Float32Array(256 * channels);
  for (let c = 0; c < channels; c++) for (let v = 0; v < 256; v++) lut[256 * c + v] = (v / 255 - mean[c]!) / std[c]!;
  const out = new Float32Array(pixels.length);
  if (channels === 1) {
    for (let i = 0; i < pixels.length; i++) out[i] = lut[pixels[i]!]!;
  } else {
    for (let i = 0; i < pixels.length; i += channels) {
      for (let c = 0; c < channels; c++) out[i + c] = lut[256 * c + pixels[i + c]!]!;
    }
  }
  return out;
}

/** Gather the examples `indices` of a raw split (all of it if `indices` is undefined). */
function gather(s: RawSplit, perImage: number, indices?: Int32Array): { images: Uint8Array; labels: Uint8Array } {
  if (indices === undefined) return { images: s.images, labels: s.labels };
  const images = new Uint8Array(indices.length * perImage);
  const labels = new Uint8Array(indices.length);
  indices.forEach((idx, k) => {
    images.set(s.images.subarray(idx * perImage, (idx + 1) * perImage), k * perImage);
    labels[k] = s.labels[idx]!;
  });
  return { images, labels };
}

function checkedSpec(name: string): E.Either<DataError, DatasetSpec> {
  return isDatasetName(name)
    ? E.right(DATASETS[name])
    : E.left(invalidArgument(`unknown data set "${name}"; known: ${Object.keys(DATASETS).join(", ")}`));
}

/** Build the normalised `Dataset` of one split from a verified raw cache. */
function makeSplit(
  spec: DatasetSpec,
  raw: RawDataset,
  split: Split,
  opts: Omit<LoadOptions, "split">,
): E.Either<DataError, Dataset> {
  const [h, w, c] = raw.imageShape;
  const perImage = h * w * c;
  let part: { images: Uint8Array; labels: Uint8Array };
  if (split === "test") {
    part = gather(raw.test, perImage);
  } else {
    const v = opts.validationSize ?? spec.validationSize;
    if (!Number.isInteger(v) || v < 0 || v >= raw.train.count) {
      return E.left(
        invalidArgument(`${spec.name}: validationSize must be an integer in [0, ${raw.train.count}), got ${v}`),
      );
    }
    const seed = opts.splitSeed ?? DEFAULT_SPLIT_SEED;
    if (!Number.isSafeInteger(seed))
      return E.left(invalidArgument(`${spec.name}: splitSeed must be an integer, got ${seed}`));
    const idx = splitIndices(raw.train.count, v, seed);
    part = gather(raw.train, perImage, split === "train" ? idx.train : idx.validation);
  }
  const n = part.labels.length;
  return E.right({
    name: spec.name,
    split,
    images: normalize(part.images, spec.normalization.mean, spec.normalization.std),
    labels: Int32Array.from(part.labels),
    shape: [n, h, w, c],
    numClasses: spec.numClasses,
  });
}

/** Read and check the cache of `spec`, including that its image shape is the spec's. */
function readVerifiedCache(
  spec: DatasetSpec,
  cacheDir: string | undefined,
  verify: boolean | undefined,
): E.Either<DataError, RawDataset> {
  const dir = datasetCacheDir(spec.name, cacheDir);
  return pipe(
    readCache(spec.name, dir, { verify }),
    E.filterOrElse(
      (raw) => raw.imageShape.every((d, i) => d === spec.imageShape[i]) && raw.numClasses === spec.numClasses,
      (raw) =>
        corruptCache(
          spec.name,
          dir,
          "manifest.json",
          `holds ${raw.imageShape.join("×")} images of ${raw.numClasses} classes, ${spec.name} has ` +
            `${spec.imageShape.join("×")} and ${spec.numClasses}`,
        ),
    ),
  );
}

/**
 * Load one split of a cached data set as normalised float32 NHWC images and int32 labels.
 * Left `missing-cache` / `corrupt-cache` (the message names the fetch command),
 * `invalid-argument` for a bad name or option.
 * @example pipe(loadDataset("mnist", { split: "train" }), E.map((d) => d.shape))  // Right([54000, 28, 28, 1])
 * @category load
 */
export function loadDataset(name: DatasetName, opts: LoadOptions): E.Either<DataError, Dataset> {
  return pipe(
    checkedSpec(name),
    E.flatMap((spec) =>
      pipe(
        readVerifiedCache(spec, opts.cacheDir, opts.verify),
        E.flatMap((raw) => makeSplit(spec, raw, opts.split, opts)),
      ),
    ),
  );
}

/**
 * Load train, validation and test at once, reading and hashing the cache only once.
 * @category load
 */
export function loadDatasetSplits(
  name: DatasetName,
  opts: Omit<LoadOptions, "split"> = {},
): E.Either<DataError, DatasetSplits> {
  return pipe(
    checkedSpec(name),
    E.flatMap((spec) =>
      pipe(
        readVerifiedCache(spec, opts.cacheDir, opts.verify),
        E.flatMap((raw) =>
          pipe(
            E.Do,
            E.bind("train", () => makeSplit(spec, raw, "train", opts)),
            E.bind("validation", () => makeSplit(spec, raw, "validation", opts)),
            E.bind("test", () => makeSplit(spec, raw, "test", opts)),
          ),
        ),
      ),
    ),
  );
}

/**
 * `loadDataset`, throwing a `DataLoadError` (whose `error` is the `DataError`) instead of
 * returning Left. For scripts and examples.
 * @category load
 */
export function loadDatasetOrThrow(name: DatasetName, opts: LoadOptions): Dataset {
  const r = loadDataset(name, opts);
  if (E.isLeft(r)) throw new DataLoadError(r.left);
  return r.right;
}
