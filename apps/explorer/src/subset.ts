/**
 * The data subsets the explorer trains on, as the page and Node read them: uint8 pixels (NHWC)
 * plus, per channel, the 256-entry table of @hodiff/data's normalisation (x/255 − mean[c]) / std[c]
 * computed at build time, so decoding here gives the loader's float32 values bit for bit while the
 * files stay a quarter of float32's size.
 */

/** One split of a subset as stored: file names relative to data/. */
export interface SplitFiles {
  readonly count: number;
  readonly images: string;
  readonly labels: string;
}

/** subset.json's entry for one data set. */
export interface SubsetFiles {
  /** [height, width, channels] of one image. */
  readonly shape: readonly number[];
  /** lut[256·c + v]: the normalised value of byte v in channel c. */
  readonly lut: readonly number[];
  readonly train: SplitFiles;
  readonly validation: SplitFiles;
}

/** subset.json: the data sets by @hodiff/data name. */
export type SubsetIndex = Readonly<Record<string, SubsetFiles>>;

/** A decoded split: normalised NHWC float32 images [count, ...shape] and labels. */
export interface Subset {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
  readonly shape: readonly number[];
}

/** images[i] = lut[256·(i mod c) + bytes[i]] for interleaved channels c; labels widened to int32. */
export function decodeSplit(files: SubsetFiles, split: SplitFiles, bytes: Uint8Array, labels: Uint8Array): Subset {
  const channels = files.shape.at(-1)!;
  const per = files.shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== split.count * per || labels.length !== split.count)
    throw new Error(
      `explorer data: ${split.images} holds ${bytes.length} bytes and ${split.labels} ${labels.length} labels; ` +
        `expected ${split.count} images of ${files.shape.join("×")} (${split.count * per} bytes); rerun scripts/make-data.ts`,
    );
  const lut = Float32Array.from(files.lut);
  const images = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) images[i] = lut[256 * (i % channels) + bytes[i]!]!;
  return { images, labels: Int32Array.from(labels), count: split.count, shape: files.shape };
}
