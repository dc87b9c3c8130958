import { describe, expect, it } from "vitest";
import { batchSize, combineSummaries, partSizes, sliceBatch } from "./shards";

describe("partSizes", () => {
  it("splits B into n parts that sum to B and differ by at most one", () => {
    for (let B = 0; B <= 13; B++)
      for (let n = 1; n <= 5; n++) {
        const s = partSizes(B, n);
        expect(s).toHaveLength(n);
        expect(s.reduce((a, b) => a + b, 0)).toBe(B);
        expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1);
      }
    expect(partSizes(7, 2)).toEqual([4, 3]);
  });
});

describe("sliceBatch and batchSize", () => {
  const batch = {
    x: { data: Float32Array.from({ length: 10 }, (_, i) => i), shape: [5, 2] },
    labels: { data: Int32Array.from([0, 1, 2, 3, 4]), shape: [5] },
  };
  it("takes examples [start, start + count) of every input", () => {
    const part = sliceBatch(batch, 3, 2);
    expect(Array.from(part.x!.data)).toEqual([6, 7, 8, 9]);
    expect(part.x!.shape).toEqual([2, 2]);
    expect(Array.from(part.labels!.data)).toEqual([3, 4]);
    expect(batchSize(batch)).toBe(5);
  });
  it("names an input whose first axis disagrees", () => {
    expect(() => batchSize({ ...batch, labels: { data: new Int32Array(4), shape: [4] } })).toThrow(/'labels'.*\[4\]/);
  });
});

describe("combining parts", () => {
  it("summaries combine entry by entry", () => {
    const a = {
      loss: 1,
      gbar: [1, 2],
      hbar: [
        [1, 0],
        [0, 1],
      ],
      order3Diag: [3, 4],
    };
    const b = {
      loss: 3,
      gbar: [3, 6],
      hbar: [
        [3, 2],
        [2, 3],
      ],
      order3Diag: [1, 0],
    };
    expect(combineSummaries([a, b], [0.5, 0.5])).toEqual({
      loss: 2,
      gbar: [2, 4],
      hbar: [
        [2, 1],
        [1, 2],
      ],
      order3Diag: [2, 2],
    });
  });
});
