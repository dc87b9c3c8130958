import { join } from "node:path";
import * as E from "fp-ts/Either";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cacheRoot, DATA_DIR_ENV, datasetCacheDir, writeCache } from "./cache";
import { DataLoadError, FETCH_COMMAND, fetchCommand, type DataError } from "./errors";
import { loadDataset, loadDatasetOrThrow, loadDatasetSplits, normalize, splitIndices } from "./load";
import { CIFAR10, MNIST } from "./specs";
import { tempDir, tinyRaw } from "./test-fixtures/fixtures";

const rightOf = <A>(r: E.Either<DataError, A>): A => {
  if (E.isLeft(r)) throw new Error(`expected Right, got Left: ${r.left.message}`);
  return r.right;
};

describe("splitIndices", () => {
  it("is deterministic for a seed, and other seeds give other splits", () => {
    const a = splitIndices(1000, 100, 7);
    const b = splitIndices(1000, 100, 7);
    expect(Array.from(a.validation)).toEqual(Array.from(b.validation));
    expect(Array.from(a.train)).toEqual(Array.from(b.train));
    expect(Array.from(splitIndices(1000, 100, 8).validation)).not.toEqual(Array.from(a.validation));
  });

  it("train and validation are disjoint, sorted and cover 0..n-1 (the paper's sizes)", () => {
    for (const [n, v] of [
      [60000, 6000],
      [50000, 5000],
      [10, 0],
      [10, 10],
    ] as const) {
      const { train, validation } = splitIndices(n, v, 0);
      expect(validation.length).toBe(v);
      expect(train.length).toBe(n - v);
      const seen = new Uint8Array(n);
      for (const i of [...train, ...validation]) seen[i]!++;
      expect(seen.every((k) => k === 1)).toBe(true);
      expect(train.every((x, i) => i === 0 || x > train[i - 1]!)).toBe(true);
      expect(validation.every((x, i) => i === 0 || x > validation[i - 1]!)).toBe(true);
    }
  });

  it("draws validation uniformly (every decile of the index range is represented)", () => {
    const { validation } = splitIndices(60000, 6000, 0);
    const deciles = new Array<number>(10).fill(0);
    for (const i of validation) deciles[Math.floor(i / 6000)]!++;
    for (const k of deciles) expect(Math.abs(k - 600)).toBeLessThan(120);
  });

  it("rejects an impossible size", () => {
    expect(() => splitIndices(10, 11)).toThrow(/validationSize must be an integer in \[0, 10\]/);
  });
});

describe("normalize", () => {
  it("computes (x/255 − mean)/std per channel", () => {
    const out = normalize(Uint8Array.of(0, 255, 128, 10, 20, 30), [0.4914, 0.4822, 0.4465], [0.247, 0.2435, 0.2616]);
    const want = [
      (0 - 0.4914) / 0.247,
      (1 - 0.4822) / 0.2435,
      (128 / 255 - 0.4465) / 0.2616,
      (10 / 255 - 0.4914) / 0.247,
      (20 / 255 - 0.4822) / 0.2435,
      (30 / 255 - 0.4465) / 0.2616,
    ];
    out.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 5));
    expect(normalize(Uint8Array.of(0, 255), [0.1307], [0.3081])[1]).toBeCloseTo((1 - 0.1307) / 0.3081, 5);
  });
});

describe("loadDataset on a fixture cache", () => {
  let tmp: { dir: string; cleanup: () => void };
  const raw = tinyRaw({
    name: "mnist",
    imageShape: [28, 28, 1],
    trainCount: 50,
    testCount: 7,
  });
  const cifarRaw = tinyRaw({
    name: "cifar10",
    imageShape: [32, 32, 3],
    trainCount: 20,
    testCount: 4,
    seed: 3,
  });
  beforeAll(() => {
    tmp = tempDir();
    writeCache(raw, datasetCacheDir("mnist", tmp.dir), {
      title: "t",
      source: "fixture",
      checks: [],
    });
    writeCache(cifarRaw, datasetCacheDir("cifar10", tmp.dir), {
      title: "t",
      source: "fixture",
      checks: [],
    });
  });
  afterAll(() => tmp.cleanup());

  /** Pixel 0 of training image i is i (fixture), so the original index can be read back. */
  const originalIndex = (images: Float32Array, k: number, per: number, mean: number, std: number): number =>
    Math.round((images[k * per]! * std + mean) * 255) + 0;

  it("train and validation are a seeded partition of the training set", () => {
    const opts = { cacheDir: tmp.dir, validationSize: 10, splitSeed: 3 };
    const { train, validation, test } = rightOf(loadDatasetSplits("mnist", opts));
    expect(train.shape).toEqual([40, 28, 28, 1]);
    expect(validation.shape).toEqual([10, 28, 28, 1]);
    expect(test.shape).toEqual([7, 28, 28, 1]);
    expect(train.numClasses).toBe(10);
    const idx = (d: typeof train): number[] =>
      Array.from({ length: d.labels.length }, (_, k) => originalIndex(d.images, k, 784, 0.1307, 0.3081));
    const ti = idx(train);
    const vi = idx(validation);
    expect([...ti, ...vi].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(splitIndices(50, 10, 3).validation)).toEqual(vi);
    // labels travel with their images
    ti.forEach((i, k) => expect(train.labels[k]).toBe(raw.train.labels[i]));
    // the same call gives the same split; loadDataset agrees with loadDatasetSplits
    const again = rightOf(loadDataset("mnist", { ...opts, split: "validation" }));
    expect(Array.from(again.labels)).toEqual(Array.from(validation.labels));
    expect(Array.from(again.images)).toEqual(Array.from(validation.images));
    // another seed, another split
    expect(idx(rightOf(loadDataset("mnist", { ...opts, splitSeed: 4, split: "validation" })))).not.toEqual(vi);
  });

  it("normalises MNIST with (0.1307, 0.3081) and CIFAR-10 per channel, NHWC", () => {
    const test = rightOf(loadDataset("mnist", { split: "test", cacheDir: tmp.dir }));
    expect(test.images[5]).toBeCloseTo((raw.test.images[5]! / 255 - 0.1307) / 0.3081, 5);
    const c = rightOf(loadDataset("cifar10", { split: "test", cacheDir: tmp.dir }));
    expect(c.shape).toEqual([4, 32, 32, 3]);
    const { mean, std } = CIFAR10.normalization;
    for (const k of [0, 1, 2, 3 * 1024 + 2, 3 * 3072 - 1]) {
      const ch = k % 3;
      expect(c.images[k]).toBeCloseTo((cifarRaw.test.images[k]! / 255 - mean[ch]!) / std[ch]!, 5);
    }
    expect(c.labels).toBeInstanceOf(Int32Array);
  });

  it("reports bad options and names as invalid-argument", () => {
    const tooBig = loadDataset("mnist", { split: "train", cacheDir: tmp.dir });
    expect(E.isLeft(tooBig) && tooBig.left.message).toMatch(/validationSize must be an integer in \[0, 50\), got 6000/);
    const unknown = loadDataset("svhn" as never, {
      split: "test",
      cacheDir: tmp.dir,
    });
    expect(E.isLeft(unknown) && unknown.left._tag).toBe("invalid-argument");
  });

  it("a cache of the wrong shape for the name is corrupt", () => {
    writeCache(cifarRaw, datasetCacheDir("fashion-mnist", tmp.dir), {
      title: "t",
      source: "x",
      checks: [],
    });
    const r = loadDataset("fashion-mnist", {
      split: "test",
      cacheDir: tmp.dir,
    });
    expect(E.isLeft(r) && r.left._tag).toBe("corrupt-cache");
  });

  it("loadDatasetOrThrow throws a DataLoadError that names the fetch command", () => {
    expect(loadDatasetOrThrow("mnist", { split: "test", cacheDir: tmp.dir }).labels.length).toBe(7);
    const empty = join(tmp.dir, "empty");
    try {
      loadDatasetOrThrow("cifar10", { split: "test", cacheDir: empty });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DataLoadError);
      expect((e as DataLoadError).error._tag).toBe("missing-cache");
      expect((e as Error).message).toContain(`${FETCH_COMMAND} cifar10`);
    }
  });
});

describe("cache location", () => {
  it("argument, then $HODIFF_DATA_DIR, then <repo>/.cache/hodiff-data", () => {
    const saved = process.env[DATA_DIR_ENV];
    try {
      delete process.env[DATA_DIR_ENV];
      expect(cacheRoot()).toMatch(/[/\\]\.cache[/\\]hodiff-data$/);
      expect(cacheRoot()).toBe(join(__dirname, "..", "..", "..", ".cache", "hodiff-data"));
      process.env[DATA_DIR_ENV] = "/tmp/somewhere";
      expect(cacheRoot()).toBe("/tmp/somewhere");
      expect(datasetCacheDir("mnist")).toBe("/tmp/somewhere/mnist");
      expect(cacheRoot("/x/y")).toBe("/x/y");
    } finally {
      if (saved === undefined) delete process.env[DATA_DIR_ENV];
      else process.env[DATA_DIR_ENV] = saved;
    }
  });

  it("the fetch command lives in one constant", () => {
    expect(fetchCommand("mnist")).toBe(`${FETCH_COMMAND} mnist`);
    expect(fetchCommand("mnist", { force: true })).toBe(`${FETCH_COMMAND} mnist --force`);
    expect(fetchCommand("mnist", { force: true, dir: "/data/my cache" })).toBe(
      `${FETCH_COMMAND} mnist --dir '/data/my cache' --force`,
    );
    expect(MNIST.validationSize).toBe(6000);
    expect(CIFAR10.validationSize).toBe(5000);
  });
});
