/**
 * Optional checks of the real caches. Each data set is tested only if its cache is present (CI
 * never downloads); otherwise the test is skipped and its name says why and what to run.
 * When present, the cached bytes are re-verified against every fact of docs/data.md and the loaders
 * are checked on the real data.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import * as E from "fp-ts/Either";
import { describe, expect, it } from "vitest";
import { datasetCacheDir, MANIFEST_FILE, readCache } from "./cache";
import { fetchCommand, type DataError } from "./errors";
import { loadDataset, loadDatasetSplits } from "./load";
import { DATASET_NAMES, DATASETS } from "./specs";
import { verifyRaw } from "./verify";

const rightOf = <A>(r: E.Either<DataError, A>): A => {
  if (E.isLeft(r)) throw new Error(r.left.message);
  return r.right;
};

describe("real data caches (optional)", () => {
  for (const name of DATASET_NAMES) {
    const dir = datasetCacheDir(name);
    const present = existsSync(join(dir, MANIFEST_FILE));
    const spec = DATASETS[name];
    const title = present
      ? `${name}: the cache at ${dir} passes every docs/data.md check and loads`
      : `${name}: SKIPPED, no cache at ${dir} (run \`${fetchCommand(name)}\` to enable)`;
    it.skipIf(!present)(title, () => {
      const raw = rightOf(readCache(name, dir));
      const checks = rightOf(verifyRaw(spec, raw));
      expect(checks.every((c) => c.ok)).toBe(true);

      const [h, w, c] = spec.imageShape;
      const nTrain = spec.expect.trainCount - spec.validationSize;
      if (c === 1) {
        const { train, validation, test } = rightOf(loadDatasetSplits(name, { verify: false })); // hashed above
        expect(train.shape).toEqual([nTrain, h, w, c]);
        expect(validation.shape).toEqual([spec.validationSize, h, w, c]);
        expect(test.shape).toEqual([spec.expect.testCount, h, w, c]);
        expect(Array.from(test.labels.subarray(0, 10))).toEqual(spec.expect.firstTestLabels);
        // normalised with the training statistics: the training part has mean ≈ 0 and std ≈ 1
        let s = 0;
        let ss = 0;
        const xs = train.images;
        for (let i = 0; i < xs.length; i++) {
          s += xs[i]!;
          ss += xs[i]! * xs[i]!;
        }
        const m = s / train.images.length;
        expect(Math.abs(m)).toBeLessThan(0.01);
        expect(Math.abs(Math.sqrt(ss / train.images.length - m * m) - 1)).toBeLessThan(0.01);
      } else {
        // CIFAR-10: keep memory modest, load the test split only
        const test = rightOf(loadDataset(name, { split: "test", verify: false })); // hashed above
        expect(test.shape).toEqual([spec.expect.testCount, h, w, c]);
        expect(Array.from(test.labels.subarray(0, 10))).toEqual(spec.expect.firstTestLabels);
      }
    });
  }
});
