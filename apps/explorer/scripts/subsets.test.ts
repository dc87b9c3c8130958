/**
 * The explorer's subsets decode to exactly what @hodiff/data's loader gives for the same examples
 * (the first of its train and validation splits). Needs the real caches; skipped, saying why,
 * when one is missing (CI fetches none).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { datasetCacheDir, loadDatasetOrThrow, readManifest, type DatasetName, type Split } from "@hodiff/data";
import { afterAll, describe, expect, it } from "vitest";
import { decodeSplit, type SubsetFiles } from "../src/subset";
import { writeSubset } from "./subsets";

const dir = mkdtempSync(join(tmpdir(), "explorer-subsets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (files: SubsetFiles, split: "train" | "validation") =>
  decodeSplit(
    files,
    files[split],
    readFileSync(join(dir, files[split].images)),
    readFileSync(join(dir, files[split].labels)),
  );

// CIFAR-10's train split is checked through MNIST's: the same code writes both splits, and loading
// 45,000 normalised CIFAR images (553 MB) for the test would not be reasonable.
const cases: [DatasetName, readonly Split[]][] = [
  ["mnist", ["train", "validation"]],
  ["cifar10", ["validation"]],
];

describe("explorer subsets", () => {
  for (const [name, splits] of cases) {
    const present = readManifest(name, datasetCacheDir(name))._tag === "Right";
    it.skipIf(!present)(
      present
        ? `${name}: decoded subsets equal the loader's first examples`
        : `${name}: SKIPPED, no cache at ${datasetCacheDir(name)}`,
      async () => {
        const files = await writeSubset(name, dir, { train: 37, validation: 23 });
        for (const split of splits) {
          const got = read(files, split as "train" | "validation");
          const want = loadDatasetOrThrow(name, { split, verify: false });
          const per = want.shape.slice(1).reduce((a, b) => a * b, 1);
          expect(got.shape).toEqual(want.shape.slice(1));
          expect(got.images.length).toBe(got.count * per);
          // The first differing index (−1: none): a diff of 100k floats would take vitest minutes.
          expect(got.images.findIndex((v, i) => v !== want.images[i])).toBe(-1);
          expect(Array.from(got.labels)).toEqual(Array.from(want.labels.subarray(0, got.count)));
        }
      },
    );
  }
});
