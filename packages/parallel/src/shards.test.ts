import { describe, expect, it } from "vitest";
import {
  arenaLayout,
  batchSize,
  combineSummaries,
  partSizes,
  placeParts,
  rebalance,
  SoloOrPool,
  splitSizes,
  weightedSizes,
} from "./shards";

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

describe("weightedSizes", () => {
  it("sums to B, each part within one of B·share, and equal shares give partSizes", () => {
    for (let B = 0; B <= 40; B += 3)
      for (const shares of [
        [1, 1],
        [0.7, 0.3],
        [0.2, 0.5, 0.3],
        [1, 1, 1, 1],
      ]) {
        const s = weightedSizes(B, shares);
        const total = shares.reduce((a, b) => a + b, 0);
        expect(s.reduce((a, b) => a + b, 0)).toBe(B);
        s.forEach((n, k) => expect(Math.abs(n - (B * shares[k]!) / total)).toBeLessThan(1));
        if (shares.every((x) => x === shares[0])) expect(s).toEqual(partSizes(B, shares.length));
      }
    expect(weightedSizes(10, [0.55, 0.45])).toEqual([6, 4]);
  });
});

describe("splitSizes", () => {
  it("never leaves the calling thread's part empty when there is an example", () => {
    expect(weightedSizes(1, [0.4, 0.6])).toEqual([0, 1]);
    expect(splitSizes(1, [0.4, 0.6])).toEqual([1, 0]);
    expect(splitSizes(2, [0.2, 0.4, 0.4])).toEqual([1, 0, 1]);
    expect(splitSizes(0, [0.5, 0.5])).toEqual([0, 0]);
    expect(splitSizes(10, [0.55, 0.45])).toEqual([6, 4]);
  });
});

describe("SoloOrPool", () => {
  it("warms the pool up (solo every eighth call), then runs the faster, probing the other every `probe`-th call", () => {
    const c = new SoloOrPool(8, 24);
    const runs: boolean[] = [];
    for (let i = 0; i < 49; i++) {
      const solo = c.next();
      runs.push(solo);
      c.record(solo, solo ? 1 : 2); // the calling thread alone is faster
    }
    // The warm-up: solo at calls 1, 9 and 17 only, however much faster it is measured.
    runs.slice(0, 24).forEach((solo, n) => expect(solo).toBe(n % 8 === 1));
    runs.slice(24).forEach((solo, j) => expect(solo).toBe((j + 24) % 8 !== 0)); // the pool at calls 24, 32, 40, 48
    expect(c.estimate("solo")).toBe(1);
    expect(c.counts).toEqual({ solo: 3 + 21, all: 49 });
  });
  it("ignores the warm-up call and a single slow call of the faster way", () => {
    const c = new SoloOrPool(16, 14);
    // Calls 0–13: solo at 1 and 9 only; the pool's calls: its warm-up, then one call slowed by another job's load.
    const pool = [50, 1, 9, 1];
    const solo = [50, 2];
    for (let i = 0; i < 14; i++) {
      const s = c.next();
      c.record(s, (s ? solo : pool).shift() ?? (s ? 2 : 1));
    }
    expect(c.estimate("pool")).toBe(1);
    expect(c.next()).toBe(false);
  });
  it("keeps a faster pool through two slow calls in a row (the fastest of the last three decides)", () => {
    const c = new SoloOrPool(16, 10);
    for (let i = 0; i < 10; i++) {
      const s = c.next();
      c.record(s, s ? 1.6 : 1.1);
    }
    // Two pool calls slowed by the other thread's JIT or GC: still faster at its best.
    for (const ms of [2.1, 1.9]) {
      expect(c.next()).toBe(false);
      c.record(false, ms);
    }
    expect(c.estimate("pool")).toBe(1.1);
    expect(c.next()).toBe(false);
    // Three slow calls in a row: a real change, the calling thread alone is faster now.
    c.record(false, 2);
    expect(c.estimate("pool")).toBe(1.9);
    expect(c.next()).toBe(true);
  });
  it("follows a change: once the pool becomes faster, its probes move the choice back", () => {
    const c = new SoloOrPool(4, 8);
    let poolMs = 3;
    let last = true;
    for (let i = 0; i < 60; i++) {
      if (i === 20) poolMs = 0.5;
      last = c.next();
      c.record(last, last ? 1 : poolMs);
    }
    expect(last).toBe(false);
    expect(c.estimate("pool")).toBe(0.5);
  });
  it("by default warms the pool up for 64 calls, 8 of them solo", () => {
    const c = new SoloOrPool();
    let solo = 0;
    for (let i = 0; i < 64; i++) {
      const s = c.next();
      if (s) solo++;
      c.record(s, s ? 1 : 2);
    }
    expect(solo).toBe(8);
    expect([c.next(), c.next()]).toEqual([false, true]); // call 64 probes the pool, 65 runs alone (measured faster)
  });
});

describe("rebalance", () => {
  it("moves the shares towards the threads' speeds until the parts take equal times", () => {
    // Thread 0 does an example in 1 ms, thread 1 in 2 ms: the parts end together at shares 2/3, 1/3.
    const share = [0.5, 0.5];
    for (let call = 0; call < 60; call++) {
      const sizes = weightedSizes(300, share);
      rebalance(share, sizes, [sizes[0]! * 1, sizes[1]! * 2]);
    }
    expect(share[0]).toBeCloseTo(2 / 3, 2);
    expect(share[0]! + share[1]!).toBeCloseTo(1, 12);
  });
  it("keeps every share at least half an even one, and leaves idle threads' shares alone", () => {
    const share = [0.5, 0.5];
    for (let call = 0; call < 60; call++) rebalance(share, [50, 50], [1, 1000]);
    expect(share[1]).toBeCloseTo(0.25, 12);
    const three = [0.2, 0.5, 0.3];
    rebalance(three, [10, 0, 5], [10, 0, 5]);
    expect(three[1]).toBeCloseTo(0.5, 12);
    expect(three[0]! + three[2]!).toBeCloseTo(0.5, 12);
  });
});

describe("arenaLayout and placeParts", () => {
  it("put θ, u, each worker's gradient and the whole inputs one after another, the parts as views", () => {
    const x = Float32Array.from({ length: 14 }, (_, i) => i);
    const labels = Int32Array.from([0, 1, 2, 3, 4, 5, 6]);
    const inputs = { x: { shape: [7, 2], dtype: "float32" as const }, labels: { shape: [7], dtype: "int32" as const } };
    const sizes = [3, 2, 2];
    const P = 5;
    const base = arenaLayout(P, 2, 0).batch;
    const { parts, offsets, entries } = placeParts(inputs, sizes, base);
    const layout = arenaLayout(P, 2, entries);
    expect([layout.theta, layout.direction, layout.result(1), layout.result(2), layout.batch]).toEqual([
      0, 5, 10, 15, 20,
    ]);
    expect(entries).toBe(14 + 7);
    expect(layout.size).toBe(20 + entries);
    // Filling the arena as the pool does puts each worker's examples at its part's offset.
    const arena = new Float32Array(layout.size);
    const ints = new Int32Array(arena.buffer);
    arena.set(x, offsets.x);
    ints.set(labels, offsets.labels);
    const x2 = parts[1]!.x!;
    expect(x2.shape).toEqual([2, 2]);
    expect(Array.from(arena.subarray(x2.offset, x2.offset + 4))).toEqual([10, 11, 12, 13]);
    const l1 = parts[0]!.labels!;
    expect(l1.dtype).toBe("int32");
    expect(Array.from(ints.subarray(l1.offset, l1.offset + 2))).toEqual([3, 4]);
  });
});

describe("batchSize", () => {
  const batch = {
    x: { shape: [5, 2] },
    labels: { shape: [5] },
  };
  it("is the first axis' length of every input", () => {
    expect(batchSize(batch)).toBe(5);
  });
  it("names an input whose first axis disagrees", () => {
    expect(() => batchSize({ ...batch, labels: { shape: [4] } })).toThrow(/'labels'.*\[4\]/);
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
