/** `--summary-batches sequential`: the k-th summary minibatch is the k-th slice of the training subset, cycling. */
import { describe, expect, it } from "vitest";
import { sequentialBatch } from "./trainer";

describe("sequentialBatch", () => {
  // 16 examples of 2 pixels: example i has pixels (i, −i) and label i mod 3; the subset is in stored order.
  const n = 16;
  const train = {
    name: "toy",
    split: "train" as const,
    images: Float32Array.from({ length: 2 * n }, (_, j) => (j % 2 === 0 ? 1 : -1) * Math.floor(j / 2)),
    labels: Int32Array.from({ length: n }, (_, i) => i % 3),
    shape: [n, 2],
    numClasses: 3,
  };
  const subset = Int32Array.from({ length: n }, (_, i) => i);
  const firstPixels = (index: number) => {
    const b = sequentialBatch(train as never, subset, 6, index);
    return { ids: Array.from({ length: b.labels.length }, (_, i) => b.images[2 * i]!), shape: b.shape };
  };
  it("takes consecutive slices of B' examples, the last of a pass shorter, then starts over", () => {
    expect(firstPixels(0)).toEqual({ ids: [0, 1, 2, 3, 4, 5], shape: [6, 2] });
    expect(firstPixels(1).ids).toEqual([6, 7, 8, 9, 10, 11]);
    expect(firstPixels(2)).toEqual({ ids: [12, 13, 14, 15], shape: [4, 2] });
    expect(firstPixels(3).ids).toEqual([0, 1, 2, 3, 4, 5]);
    const b = sequentialBatch(train as never, subset, 6, 1);
    expect(Array.from(b.labels)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(Array.from(b.images.subarray(0, 4))).toEqual([6, -6, 7, -7]);
  });
});
