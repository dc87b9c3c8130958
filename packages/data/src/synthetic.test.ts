import { describe, expect, it } from "vitest";
import { batches } from "./batch";
import { DataLoadError } from "./errors";
import { syntheticDataset } from "./synthetic";
import type { Dataset } from "./types";

/** Accuracy on `test` of the nearest-centroid classifier fitted on `train`. */
function nearestCentroidAccuracy(train: Dataset, test: Dataset): number {
  const d = train.images.length / train.labels.length;
  const k = train.numClasses;
  const sums = new Float64Array(k * d);
  const counts = new Float64Array(k);
  train.labels.forEach((y, i) => {
    counts[y]!++;
    for (let j = 0; j < d; j++) sums[y * d + j]! += train.images[i * d + j]!;
  });
  let correct = 0;
  test.labels.forEach((y, i) => {
    let best = -1;
    let bestDist = Infinity;
    for (let c = 0; c < k; c++) {
      let dist = 0;
      for (let j = 0; j < d; j++) dist += (test.images[i * d + j]! - sums[c * d + j]! / counts[c]!) ** 2;
      if (dist < bestDist) [best, bestDist] = [c, dist];
    }
    if (best === y) correct++;
  });
  return correct / test.labels.length;
}

describe("syntheticDataset", () => {
  it("has the requested shapes, any per-example shape", () => {
    for (const shape of [[8], [28, 28, 1], [32, 32, 3], [2, 3, 4, 5]]) {
      const ds = syntheticDataset({ n: 30, shape, numClasses: 4, seed: 1 });
      expect(ds.shape).toEqual([30, ...shape]);
      expect(ds.images).toBeInstanceOf(Float32Array);
      expect(ds.images.length).toBe(30 * shape.reduce((a, b) => a * b, 1));
      expect(ds.labels).toBeInstanceOf(Int32Array);
      expect(ds.labels.length).toBe(30);
      expect(ds.numClasses).toBe(4);
      expect(ds.images.every(Number.isFinite)).toBe(true);
    }
  });

  it("is deterministic, balanced, and works with batches", () => {
    const a = syntheticDataset({ n: 100, shape: [5], seed: 3 });
    const b = syntheticDataset({ n: 100, shape: [5], seed: 3 });
    expect(Array.from(a.images)).toEqual(Array.from(b.images));
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(Array.from(syntheticDataset({ n: 100, shape: [5], seed: 4 }).images)).not.toEqual(Array.from(a.images));
    const counts = new Array<number>(10).fill(0);
    a.labels.forEach((y) => counts[y]!++);
    expect(counts).toEqual(new Array<number>(10).fill(10));
    expect([...batches(a, { batchSize: 32, seed: 0 })].map((x) => x.shape)).toEqual([
      [32, 5],
      [32, 5],
      [32, 5],
      [4, 5],
    ]);
  });

  it("is learnable: splits share the class centres, a nearest-centroid classifier generalises", () => {
    const opts = { shape: [16], numClasses: 10, seed: 11 };
    const train = syntheticDataset({ ...opts, n: 500 });
    const test = syntheticDataset({ ...opts, n: 200, split: "test" });
    expect(Array.from(test.images.subarray(0, 16))).not.toEqual(Array.from(train.images.subarray(0, 16)));
    expect(nearestCentroidAccuracy(train, test)).toBeGreaterThan(0.9);
    // with no separation there is nothing to learn
    const flat = { ...opts, separation: 0 };
    const chance = nearestCentroidAccuracy(
      syntheticDataset({ ...flat, n: 500 }),
      syntheticDataset({ ...flat, n: 500, split: "test" }),
    );
    expect(chance).toBeLessThan(0.25);
  });

  it("rejects bad options", () => {
    expect(() => syntheticDataset({ n: 0, shape: [2] })).toThrow(DataLoadError);
    expect(() => syntheticDataset({ n: 3, shape: [] })).toThrow(/shape must be a non-empty list/);
    expect(() => syntheticDataset({ n: 3, shape: [2], noise: -1 })).toThrow(/≥ 0/);
  });
});
