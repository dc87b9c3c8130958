/** Timing helpers: median wall time of a function whose result is forced with dataSync(). */
import * as tf from "@tensorflow/tfjs-core";
import { dispose, treeLeaves, type Tree } from "@hodiff/core";

/** Median milliseconds of `fn` over `repeats` runs after `warmup` runs; outputs are read back and freed. */
export function medianMs(fn: () => unknown, repeats: number, warmup = 3): number {
  const times: number[] = [];
  for (let i = 0; i < warmup + repeats; i++) {
    const t0 = performance.now();
    const out = fn();
    for (const leaf of treeLeaves(out as Tree<unknown>)) if (leaf instanceof tf.Tensor) leaf.dataSync();
    const t1 = performance.now();
    dispose(out);
    if (i >= warmup) times.push(t1 - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));
