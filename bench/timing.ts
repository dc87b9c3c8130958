/** Timing helpers: median wall time of a function whose result is forced with dataSync(). */
import * as tf from "@tensorflow/tfjs-core";
import { dispose, setSimdKernels, treeLeaves, type Tree } from "@hodiff/core";

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
  return median(times);
}

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

/** The middle element of xs sorted (the upper one of an even count). */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Cost of `fn` in units of `baseline`, robust to a machine whose load drifts: each repetition
 * times the baseline (median of 3) right before one run of `fn`; the median ratio is reported.
 */
export function pairedRatio(
  baseline: () => unknown,
  fn: () => unknown,
  repeats: number,
): { ratio: number; baselineMs: number; fnMs: number } {
  medianMs(baseline, 1, 2);
  medianMs(fn, 1, 0);
  const ratios: number[] = [];
  const base: number[] = [];
  const cost: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const b = medianMs(baseline, 3, 0);
    const t = medianMs(fn, 1, 0);
    ratios.push(t / b);
    base.push(b);
    cost.push(t);
  }
  return { ratio: median(ratios), baselineMs: median(base), fnMs: median(cost) };
}

/**
 * Median CPU milliseconds (user + system, this process) of `fn`, outputs read back and freed.
 * Unlike wall time it barely moves when other jobs load the machine.
 */
export function medianCpuMs(fn: () => unknown, repeats: number, warmup = 3): number {
  const times: number[] = [];
  for (let i = 0; i < warmup + repeats; i++) {
    const c0 = process.cpuUsage();
    const out = fn();
    for (const leaf of treeLeaves(out as Tree<unknown>)) if (leaf instanceof tf.Tensor) leaf.dataSync();
    const c = process.cpuUsage(c0);
    dispose(out);
    if (i >= warmup) times.push((c.user + c.system) / 1000);
  }
  return median(times);
}

/**
 * tfjs-wasm's kernels against hodiff's SIMD ones on the same call, switched back and forth in one
 * run (`repeats` interleaved pairs after 2 warm-up pairs), so the ratio holds on a loaded machine:
 * medians, and minima (the least disturbed run). `once` times one call in ms. Leaves SIMD on.
 */
export function simdAgainstTfjs(once: () => number, repeats: number): Record<string, number> {
  const [tfjs, simd] = interleaved(
    repeats,
    () => (setSimdKernels(false), once()),
    () => (setSimdKernels(true), once()),
    2,
  );
  return compareTimes("tfjs", tfjs, "simd", simd, 2, 1);
}

/**
 * `repeats` times of `a` and of `b` (each returns the milliseconds of one run), run alternately
 * after `warmup` discarded rounds of each, so that a drifting load falls on both alike.
 */
export function interleaved(repeats: number, a: () => number, b: () => number, warmup = 1): [number[], number[]] {
  const [ta, tb]: [number[], number[]] = [[], []];
  for (let i = 0; i < warmup + repeats; i++) {
    const [x, y] = [a(), b()];
    if (i >= warmup) {
      ta.push(x);
      tb.push(y);
    }
  }
  return [ta, tb];
}

/**
 * Two sets of times of the same work by `before` and `after`: `<before>_ms`, `<after>_ms` (medians),
 * `speedup` = before ÷ after, and the same of the fastest runs (`*_min_ms`, `speedup_min`).
 */
export function compareTimes(
  before: string,
  a: readonly number[],
  after: string,
  b: readonly number[],
  digits: number,
  speedupDigits: number,
): Record<string, number> {
  return {
    [`${before}_ms`]: round(median(a), digits),
    [`${after}_ms`]: round(median(b), digits),
    speedup: round(median(a) / median(b), speedupDigits),
    [`${before}_min_ms`]: round(Math.min(...a), digits),
    [`${after}_min_ms`]: round(Math.min(...b), digits),
    speedup_min: round(Math.min(...a) / Math.min(...b), speedupDigits),
  };
}
