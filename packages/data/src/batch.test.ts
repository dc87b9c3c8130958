import { describe, expect, it } from "vitest";
import { batches, epochOrder, numBatches } from "./batch";
import { DataLoadError } from "./errors";
import { mixSeeds, mulberry32, permutation } from "./random";
import type { Dataset } from "./types";

/** 23 examples of shape [2, 1]; example i holds (i, −i) and label i % 5. */
function ramp(n = 23): Dataset {
  const images = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    images[2 * i] = i;
    images[2 * i + 1] = -i;
  }
  return {
    name: "ramp",
    split: "train",
    images,
    labels: Int32Array.from({ length: n }, (_, i) => i % 5),
    shape: [n, 2, 1],
    numClasses: 5,
  };
}

const order = (ds: Dataset, opts: Parameters<typeof batches>[1]): number[] =>
  [...batches(ds, opts)].flatMap((b) => Array.from(b.indices));

describe("PRNG", () => {
  it("mulberry32 is deterministic, in [0,1), and seeds/streams differ", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    expect(mulberry32(43)()).not.toBe(xs[0]);
    expect(mixSeeds(1, 2)).not.toBe(mixSeeds(2, 1));
    expect(mixSeeds(-1)).not.toBe(mixSeeds(0xffffffff));
    expect(() => mixSeeds(1.5)).toThrow(RangeError);
  });

  it("is pinned: the same permutation on every platform and version", () => {
    expect(Array.from(permutation(10, 0))).toEqual([9, 8, 2, 1, 4, 0, 6, 3, 5, 7]);
  });
});

describe("batches", () => {
  it("an epoch visits every example exactly once, in batches of batchSize", () => {
    const ds = ramp();
    const bs = [...batches(ds, { batchSize: 5, seed: 1 })];
    expect(bs.map((b) => b.labels.length)).toEqual([5, 5, 5, 5, 3]);
    expect(bs[4]!.shape).toEqual([3, 2, 1]);
    expect(order(ds, { batchSize: 5, seed: 1 }).sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
  });

  it("batch contents are the dataset rows of their indices", () => {
    const ds = ramp();
    for (const b of batches(ds, { batchSize: 4, seed: 9, epoch: 2 })) {
      b.indices.forEach((i, k) => {
        expect(b.images[2 * k]).toBe(i);
        expect(b.images[2 * k + 1]).toBe(-i);
        expect(b.labels[k]).toBe(i % 5);
      });
    }
  });

  it("is deterministic in (seed, epoch); epochs and seeds differ", () => {
    const ds = ramp();
    const o = order(ds, { batchSize: 4, seed: 3, epoch: 0 });
    expect(order(ds, { batchSize: 4, seed: 3, epoch: 0 })).toEqual(o);
    expect(order(ds, { batchSize: 7, seed: 3, epoch: 0 })).toEqual(o); // batch size does not change the order
    expect(order(ds, { batchSize: 4, seed: 3, epoch: 1 })).not.toEqual(o);
    expect(order(ds, { batchSize: 4, seed: 4, epoch: 0 })).not.toEqual(o);
    expect(order(ds, { batchSize: 4, seed: 3, shuffle: false })).toEqual(Array.from({ length: 23 }, (_, i) => i));
  });

  it("dropLast drops the short batch", () => {
    const ds = ramp();
    expect([...batches(ds, { batchSize: 5, seed: 0, dropLast: true })].map((b) => b.labels.length)).toEqual([
      5, 5, 5, 5,
    ]);
    expect(numBatches(23, 5, true)).toBe(4);
    expect(numBatches(23, 5)).toBe(5);
    expect(numBatches(20, 5, true)).toBe(4);
  });

  it("trainSize uses the same seeded subset in every epoch", () => {
    const ds = ramp();
    const subset = (epoch: number): number[] =>
      [...epochOrder(23, { seed: 5, epoch, trainSize: 8 })].sort((a, b) => a - b);
    expect(subset(0)).toHaveLength(8);
    expect(new Set(subset(0)).size).toBe(8);
    expect(subset(1)).toEqual(subset(0));
    expect(subset(7)).toEqual(subset(0));
    expect(order(ds, { batchSize: 3, seed: 5, epoch: 1, trainSize: 8 })).not.toEqual(
      order(ds, { batchSize: 3, seed: 5, epoch: 0, trainSize: 8 }),
    );
    expect([...epochOrder(23, { seed: 6, trainSize: 8 })].sort((a, b) => a - b)).not.toEqual(subset(0));
  });

  it("rejects bad options with a DataLoadError", () => {
    const ds = ramp();
    expect(() => [...batches(ds, { batchSize: 0, seed: 0 })]).toThrow(DataLoadError);
    expect(() => [...batches(ds, { batchSize: 2.5, seed: 0 })]).toThrow(/batchSize must be an integer/);
    expect(() => [...batches(ds, { batchSize: 2, seed: 0, trainSize: 24 })]).toThrow(
      /trainSize must be an integer in \[1, 23\]/,
    );
    expect(() => [...batches(ds, { batchSize: 2, seed: 0, epoch: -1 })]).toThrow(/epoch/);
    expect(() => [...batches({ ...ds, shape: [22, 2, 1] }, { batchSize: 2, seed: 0 })]).toThrow(
      /shape\[0\] is 22 but it has 23 labels/,
    );
  });
});
