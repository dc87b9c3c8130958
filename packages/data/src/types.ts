/** The data types shared by the loaders, the batcher and the synthetic sets. */

/** Which part of a data set: `train` and `validation` partition the official training set. @category model */
export type Split = "train" | "validation" | "test";

/**
 * A classification data set in memory, ready for a model.
 * - `images`: float32, NHWC, row-major, `shape = [n, height, width, channels]` (synthetic sets may
 *   have any per-example shape); normalised per channel as (x/255 − mean)/std for real data.
 * - `labels`: class indices in [0, numClasses), one per example.
 * @category model
 */
export interface Dataset {
  readonly name: string;
  readonly split: Split;
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly shape: number[];
  readonly numClasses: number;
}

/** One split as stored in the cache: uint8 NHWC images and uint8 labels. @category model */
export interface RawSplit {
  readonly count: number;
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
}

/** A decoded data set before normalisation (what the cache holds). @category model */
export interface RawDataset {
  readonly name: string;
  /** [height, width, channels]. */
  readonly imageShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly train: RawSplit;
  readonly test: RawSplit;
}
