/**
 * The data of a run: a real data set from the cache of `@hodiff/data` (train and validation
 * splits; a missing cache is an error whose message names the fetch command), or a seeded
 * synthetic set whose example shape defaults to the model's input shape.
 */
import * as E from "fp-ts/Either";
import { pipe } from "fp-ts/function";
import { DATASET_NAMES, loadDatasetSplits, syntheticDataset, type DataError, type Dataset } from "@hodiff/data";

// model

/** The CLI names of the data sets. @category registry */
export const DATASET_CHOICES = [...DATASET_NAMES, "synthetic"] as const;

/** A CLI data set name. @category registry */
export type DatasetChoice = (typeof DATASET_CHOICES)[number];

/** What a run trains on and evaluates on. @category model */
export interface RunData {
  readonly train: Dataset;
  /** Validation examples (at most `valSize`); undefined when `valSize` is 0. */
  readonly validation: Dataset | undefined;
}

/** Options of `loadRunData`. @category model */
export interface RunDataOptions {
  readonly dataset: DatasetChoice;
  /** Seed of the synthetic centres, and of the train/validation split of real data. */
  readonly dataSeed: number;
  /** At most this many validation examples (0: no validation). */
  readonly valSize: number;
  /** Synthetic only: examples in the training set. */
  readonly syntheticExamples: number;
  /** Synthetic only: shape of one example. */
  readonly syntheticShape: readonly number[];
  /** Cache root of real data (default: `@hodiff/data`'s). */
  readonly dataDir?: string;
}

// constructors

/** The first `n` examples of `ds`. */
function head(ds: Dataset, n: number): Dataset {
  if (n >= ds.labels.length) return ds;
  const per = ds.images.length / ds.labels.length;
  return {
    ...ds,
    images: ds.images.subarray(0, n * per),
    labels: ds.labels.subarray(0, n),
    shape: [n, ...ds.shape.slice(1)],
  };
}

/**
 * Load (or generate) the training and validation sets of a run.
 * @category constructors
 */
export function loadRunData(opts: RunDataOptions): E.Either<DataError, RunData> {
  if (opts.dataset === "synthetic") {
    const common = { shape: opts.syntheticShape, numClasses: 10, seed: opts.dataSeed };
    return E.right({
      train: syntheticDataset({ ...common, n: opts.syntheticExamples, split: "train" }),
      validation: opts.valSize > 0 ? syntheticDataset({ ...common, n: opts.valSize, split: "validation" }) : undefined,
    });
  }
  return pipe(
    loadDatasetSplits(opts.dataset, { cacheDir: opts.dataDir, splitSeed: opts.dataSeed }),
    E.map((s) => ({ train: s.train, validation: opts.valSize > 0 ? head(s.validation, opts.valSize) : undefined })),
  );
}
