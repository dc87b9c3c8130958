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

  it("permutations are permutations, seeded, and different seeds give different ones", () => {
    const p = Array.from(permutation(50, 7));
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(permutation(50, 7))).toEqual(p);
    expect(Array.from(permutation(50, 8))).not.toEqual(p);
    expect(Array.from(permutation(50, 7, 1))).not.toEqual(p);
  });

  it("permutations are uniform: where item 0 lands, over 5,000 seeds, is even across 5 positions", () => {
    const counts = new Array<number>(5).fill(0);
    for (let s = 0; s < 5000; s++) counts[permutation(5, s).indexOf(0)]! += 1;
    // each count is Binomial(5000, 1/5): mean 1000, σ ≈ 28; ±150 is more than 5σ
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });

  it("permutation and epoch orders are the documented algorithm, recomputed here in BigInt arithmetic", () => {
    // mixSeeds (murmur3 fmix32 chain), mulberry32 and Fisher–Yates as random.ts/batch.ts describe
    // them, written independently with exact BigInt arithmetic mod 2³² (no Math.imul, no >>>).
    for (const [n, seeds] of [
      [10, [0]],
      [23, [3, 0x5f1e, 0]],
      [23, [3, 0x5f1e, 1]],
      [100, [-12345, 0x5b5e7]],
    ] as [number, number[]][]) {
      expect(Array.from(permutation(n, ...seeds))).toEqual(referencePermutation(n, seeds));
    }
    // batches(): the shuffle stream is (seed, 0x5f1e, epoch); the trainSize subset is the first
    // trainSize of the permutation with stream (seed, 0x5b5e7), sorted, then shuffled per epoch.
    const ds = ramp();
    expect(order(ds, { batchSize: 4, seed: 3, epoch: 1 })).toEqual(referencePermutation(23, [3, 0x5f1e, 1]));
    const subset = referencePermutation(23, [5, 0x5b5e7])
      .slice(0, 8)
      .sort((a, b) => a - b);
    const shuffled = referenceShuffle(subset, [5, 0x5f1e, 2]);
    expect(order(ds, { batchSize: 3, seed: 5, epoch: 2, trainSize: 8 })).toEqual(shuffled);
  });
});

// An independent reference of the documented PRNG, in BigInt arithmetic.
const M32 = 0xffffffffn;
const u32 = (x: bigint) => x & M32;
function fmix32Ref(h: bigint): bigint {
  h = u32(h);
  h ^= h >> 16n;
  h = u32(h * 0x85ebca6bn);
  h ^= h >> 13n;
  h = u32(h * 0xc2b2ae35n);
  return h ^ (h >> 16n);
}
function mixSeedsRef(parts: readonly number[]): bigint {
  let h = 0x9e3779b9n;
  for (const p of parts) {
    const v = BigInt(p);
    h = fmix32Ref(h ^ fmix32Ref(u32(v) + 0x6d2b79f5n)); // low 32 bits
    h = fmix32Ref(h ^ fmix32Ref(u32(v >> 32n) + 0x27d4eb2fn)); // high 32 bits (floor division)
  }
  return h;
}
function mulberry32Ref(seeds: readonly number[]): () => number {
  let a = mixSeedsRef(seeds);
  return () => {
    a = u32(a + 0x6d2b79f5n);
    let t = u32((a ^ (a >> 15n)) * (a | 1n));
    t = u32(t + u32((t ^ (t >> 7n)) * (t | 61n))) ^ t;
    return Number(t ^ (t >> 14n)) / 2 ** 32;
  };
}
function referenceShuffle(items: number[], seeds: readonly number[]): number[] {
  const a = [...items];
  const rng = mulberry32Ref(seeds);
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
const referencePermutation = (n: number, seeds: readonly number[]) =>
  referenceShuffle(
    Array.from({ length: n }, (_, i) => i),
    seeds,
  );

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
