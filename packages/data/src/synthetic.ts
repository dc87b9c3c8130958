/**
 * A seeded synthetic classification set of any shape, for tests and examples: Gaussian clusters,
 * one per class. Class k has a centre μ_k ~ N(0, (separation²/d)·I) (d = values per example),
 * and an example of class k is μ_k + noise·N(0, I). Centres are then ≈ separation·√2 apart while
 * the noise along the line between two centres has std `noise`, so a linear classifier can reach
 * high accuracy when separation ≫ noise (the default 4 vs 1 gives > 95% for a few classes).
 */
import { DataLoadError, invalidArgument } from "./errors";
import { mulberry32, randNormal, shuffleInPlace } from "./random";
import type { Dataset, Split } from "./types";

/** Options of `syntheticDataset`. @category synthetic */
export interface SyntheticOptions {
  /** Number of examples. */
  readonly n: number;
  /** Shape of one example, e.g. `[28, 28, 1]` or `[8]`. */
  readonly shape: readonly number[];
  /** Number of classes (default 10). */
  readonly numClasses?: number;
  /** Seed of the class centres (default 0): the same seed gives the same problem. */
  readonly seed?: number;
  /** Which split to sample (default `train`): splits share the centres but not the samples. */
  readonly split?: Split;
  /** Scale of the centres (default 4). */
  readonly separation?: number;
  /** Std of the per-value noise (default 1). */
  readonly noise?: number;
}

const SPLIT_TAG: Readonly<Record<Split, number>> = {
  train: 1,
  validation: 2,
  test: 3,
};
const CENTRE_STREAM = 0xc3e7;

/**
 * A synthetic `Dataset` (`name` "synthetic") with balanced classes in random order; images are
 * float32 of `shape = [n, ...opts.shape]`. Deterministic in (seed, split, n, shape, …).
 * Throws `DataLoadError` (`invalid-argument`) on bad options.
 * @example syntheticDataset({ n: 100, shape: [4], numClasses: 3, seed: 7 }).shape  // [100, 4]
 * @category synthetic
 */
export function syntheticDataset(opts: SyntheticOptions): Dataset {
  const numClasses = opts.numClasses ?? 10;
  const seed = opts.seed ?? 0;
  const split = opts.split ?? "train";
  const separation = opts.separation ?? 4;
  const noise = opts.noise ?? 1;
  const bad = (m: string): never => {
    throw new DataLoadError(invalidArgument(`syntheticDataset: ${m}`));
  };
  if (!Number.isSafeInteger(opts.n) || opts.n < 1) bad(`n must be a positive integer, got ${opts.n}`);
  if (opts.shape.length === 0 || !opts.shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    bad(`shape must be a non-empty list of positive integers, got [${opts.shape.join(", ")}]`);
  }
  if (!Number.isSafeInteger(numClasses) || numClasses < 1)
    bad(`numClasses must be a positive integer, got ${numClasses}`);
  if (!Number.isSafeInteger(seed)) bad(`seed must be an integer, got ${seed}`);
  if (!(separation >= 0) || !(noise >= 0)) bad(`separation and noise must be ≥ 0, got ${separation} and ${noise}`);

  const d = opts.shape.reduce((a, b) => a * b, 1);
  const centreRng = mulberry32(seed, CENTRE_STREAM);
  const scale = separation / Math.sqrt(d);
  const centres = new Float64Array(numClasses * d);
  for (let i = 0; i < centres.length; i++) centres[i] = scale * randNormal(centreRng);

  const rng = mulberry32(seed, SPLIT_TAG[split], opts.n);
  const labels = new Int32Array(opts.n);
  for (let i = 0; i < opts.n; i++) labels[i] = i % numClasses;
  shuffleInPlace(labels, rng);
  const images = new Float32Array(opts.n * d);
  for (let i = 0; i < opts.n; i++) {
    const c = labels[i]! * d;
    for (let j = 0; j < d; j++) images[i * d + j] = centres[c + j]! + noise * randNormal(rng);
  }
  return {
    name: "synthetic",
    split,
    images,
    labels,
    shape: [opts.n, ...opts.shape],
    numClasses,
  };
}
