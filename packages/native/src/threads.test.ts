/**
 * The addon in several worker threads at once (as @hodiff/parallel's workers use it): each thread
 * loads its own instance (Node-API context-aware module) and calls OpenBLAS's sgemm concurrently
 * with the others. Debian's libopenblas0-pthread is built with USE_THREAD=1, which compiles in
 * OpenBLAS's locks (its buffer allocator is shared by every calling thread); this checks it under
 * stress: every product equals a float64 brute-force product within float32 rounding, and has the
 * same bits as the same product computed with no other thread running.
 *
 * Skipped, with the reason in each name, where the addon is not built (see gemm.test.ts).
 */
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { ADDON_URL } from "./addon";
import { SKIP, built } from "./testing/skip";

/** [m, n, k]: from OpenBLAS's small-matrix path to products that need its packing buffers. */
const SHAPES: [number, number, number][] = [
  [100, 200, 784],
  [100, 784, 200],
  [7, 5, 3],
  [256, 256, 256],
  [1, 300, 500],
  [130, 70, 1000],
];

interface Outcome {
  worstError: number;
  bitDiffs: number;
  products: number;
  threads: number;
}

/** `workers` threads, each running every shape `rounds` times with `blasThreads` OpenBLAS threads, all at once. */
async function concurrently(workers: number, rounds: number, blasThreads: number): Promise<Outcome[]> {
  const barrier = new Int32Array(new SharedArrayBuffer(8));
  barrier[1] = workers;
  const url = new URL("./testing/gemmWorker.mjs", import.meta.url);
  return Promise.all(
    Array.from(
      { length: workers },
      (_, w) =>
        new Promise<Outcome>((resolve, reject) => {
          const worker = new Worker(url, {
            workerData: {
              addonPath: fileURLToPath(ADDON_URL),
              seed: 17 + w,
              shapes: SHAPES,
              rounds,
              blasThreads,
              barrier,
            },
          });
          worker.once("message", (m: Outcome) => void worker.terminate().then(() => resolve(m)));
          worker.once("error", reject);
        }),
    ),
  );
}

describe(`@hodiff/native in concurrent worker threads${SKIP}`, () => {
  it.skipIf(!built)("two workers × 1 BLAS thread: every product right and bit-equal to the product alone", async () => {
    const out = await concurrently(2, 12, 1);
    for (const o of out) {
      expect(o.products).toBe(12 * SHAPES.length);
      expect(o.threads).toBe(1);
      expect(o.bitDiffs).toBe(0);
      // Within a few ulps of the float32 rounding bound k·2⁻²⁴·Σ|aᵢbᵢ| (usually far below it).
      expect(o.worstError).toBeLessThan(1);
    }
  });

  it.skipIf(!built)("three workers × 2 BLAS threads (oversubscribed): every product still right", async () => {
    const out = await concurrently(3, 4, 2);
    for (const o of out) {
      expect(o.products).toBe(4 * SHAPES.length);
      expect(o.worstError).toBeLessThan(1);
    }
  });
});
