/**
 * How a batch is cut into parts, where things lie in the shared arena, and how the parts' results
 * are put back together. Pure functions of numbers and shapes (no tensors, no threads), so they
 * are tested on their own.
 */
import type { Summaries } from "@hodiff/partition";
import type { ArenaLeaf } from "./protocol";

/** The number of entries of an array of this shape. */
export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** The number of entries of arrays of these shapes, one after another. */
export const totalSize = (shapes: readonly (readonly number[])[]): number => shapes.reduce((n, s) => n + sizeOf(s), 0);

/**
 * sizes(B, n): n part sizes that sum to B and differ by at most one (the first B mod n parts get
 * one more), e.g. sizes(7, 2) = [4, 3]; parts may be 0 when B < n.
 */
export function partSizes(batch: number, parts: number): number[] {
  const base = Math.floor(batch / parts);
  const extra = batch % parts;
  return Array.from({ length: parts }, (_, i) => base + (i < extra ? 1 : 0));
}

/**
 * weightedSizes(B, shares): part sizes that sum to B, each B·share_k rounded down and the rest handed out
 * by largest remainder (ties to the first parts): e.g. weightedSizes(10, [0.55, 0.45]) = [6, 4]
 * (5.5 and 4.5: the tie goes to the first). Equal shares give `partSizes(B, n)`.
 */
export function weightedSizes(batch: number, shares: readonly number[]): number[] {
  const total = shares.reduce((a, b) => a + b, 0);
  const exact = shares.map((s) => (batch * s) / total);
  const sizes = exact.map(Math.floor);
  let left = batch - sizes.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left-- <= 0) break;
    sizes[i]!++;
  }
  return sizes;
}

/**
 * The parts of a call: `weightedSizes(B, shares)`, but the calling thread's part (the first) never
 * empty when B > 0 — its loss on no example would be the mean of nothing (NaN), and only the
 * workers' parts may be left out.
 */
export function splitSizes(batch: number, shares: readonly number[]): number[] {
  const sizes = weightedSizes(batch, shares);
  if (batch > 0 && sizes[0] === 0) {
    const k = sizes.indexOf(Math.max(...sizes));
    sizes[k]!--;
    sizes[0] = 1;
  }
  return sizes;
}

/**
 * New shares after one call in which thread k did sizes[k] examples in elapsed[k] ms (its speed:
 * sizes[k] / elapsed[k]): the shares move a quarter of the way towards the speeds' proportions (one
 * noisy call moves them little), and none falls below half an even share, so that every thread
 * keeps getting examples and being measured. Threads that did nothing keep their share. In place.
 */
export function rebalance(share: number[], sizes: readonly number[], elapsed: readonly number[]): void {
  const n = share.length;
  const k = sizes.flatMap((m, i) => (m > 0 && elapsed[i]! > 0 ? [i] : []));
  if (k.length < 2) return;
  const speed = k.map((i) => sizes[i]! / elapsed[i]!);
  const mass = k.reduce((a, i) => a + share[i]!, 0);
  const sum = speed.reduce((a, b) => a + b, 0);
  k.forEach((i, j) => (share[i] = 0.75 * share[i]! + 0.25 * ((mass * speed[j]!) / sum)));
  // Shares below the floor are raised to it; the others are scaled so that all still sum to 1.
  const floor = 0.5 / n;
  for (let pass = 0; pass < n && share.some((s) => s < floor); pass++) {
    const low = share.map((s) => s <= floor);
    const lows = low.filter(Boolean).length;
    const rest = share.reduce((a, s, i) => a + (low[i] ? 0 : s), 0);
    for (let i = 0; i < n; i++) share[i] = low[i] ? floor : (share[i]! * (1 - lows * floor)) / rest;
  }
}

/**
 * Whether a call runs on the calling thread alone ("solo") or on the pool, from the measured time
 * per example of each. The first `warm` calls are a warm-up: every eighth (1, 9, 17, …) runs solo,
 * the others on the pool, because a worker's JavaScript starts unoptimised in its new isolate and
 * the JIT compiling it competes for the cores: LeNet-5's worker half takes 14.2 ms over a new
 * pool's first 20 calls, 9.1 ms after 120 (`npx tsx bench/poolWarmup.ts lenet 161`, in
 * bench/results/2026-12-06-pool-worker.txt; packages/parallel/README.md), so a decision made then
 * would keep the pool cold. Then the faster way runs, and every `probe`-th call the other one, so
 * that its estimate follows changes in load. An estimate is the fastest of the last three calls of
 * that way: other jobs' load (and the JIT or GC of either thread) only ever adds time, and a
 * pool's calls vary more than one thread's (LeNet-5 in `bench models`: 0.10–0.21 ms per example
 * on the pool, 0.15–0.18 alone), so the median of three could let two slow calls send a faster
 * pool solo for good; a real change shows in three calls of the way running. The first call of
 * each way only warms up and is not recorded.
 */
export class SoloOrPool {
  private readonly ms = { solo: [] as number[], pool: [] as number[] };
  private calls = 0;
  /** Calls recorded of each way. */
  private readonly seen = { solo: 0, pool: 0 };
  constructor(
    private readonly probe = 16,
    private readonly warm = 64,
  ) {}

  /** Whether the next call should run solo. */
  next(): boolean {
    const n = this.calls++;
    if (n < this.warm) return n % 8 === 1;
    const soloFaster = this.estimate("solo") < this.estimate("pool");
    return n % this.probe === 0 ? !soloFaster : soloFaster;
  }

  /** Calls run solo so far, and calls in all. */
  get counts(): { solo: number; all: number } {
    return { solo: this.seen.solo, all: this.seen.solo + this.seen.pool };
  }

  /** Record a call's time per example (ms). */
  record(solo: boolean, msPerExample: number): void {
    const mode = solo ? "solo" : "pool";
    if (this.seen[mode]++ === 0) return; // the warm-up call
    const list = this.ms[mode];
    list.push(msPerExample);
    if (list.length > 3) list.shift();
  }

  /** The current estimate (ms per example) of a way, Infinity before it is measured. */
  estimate(mode: "solo" | "pool"): number {
    const list = this.ms[mode];
    return list.length === 0 ? Infinity : Math.min(...list);
  }
}

/** The number of examples of a batch; every input must have the same first-axis length. */
export function batchSize(batch: Readonly<Record<string, { readonly shape: readonly number[] }>>): number {
  const names = Object.keys(batch);
  if (names.length === 0) throw new Error("parallel: the batch has no inputs");
  const sizes = names.map((n) => batch[n]!.shape[0]);
  const b = sizes[0];
  names.forEach((n, i) => {
    const s = sizes[i];
    if (s === undefined || s !== b)
      throw new Error(
        `parallel: batch input '${n}' has shape [${batch[n]!.shape.join(", ")}]; every input needs the ` +
          `examples along its first axis, ${b} of them like '${names[0]}'`,
      );
  });
  return b!;
}

/**
 * Where things lie in a pool's shared arena (offsets in 4-byte units) for P parameters, `workers`
 * workers and `batchEntries` entries of the workers' batch parts:
 * [θ (P) | u (P) | worker 1's gradient (P) | … | worker n's gradient (P) | batch parts].
 */
export function arenaLayout(params: number, workers: number, batchEntries: number) {
  return {
    theta: 0,
    direction: params,
    /** Where worker k (1-based) writes its gradient. */
    result: (k: number) => (1 + k) * params,
    batch: (2 + workers) * params,
    size: (2 + workers) * params + batchEntries,
  };
}

/** An input's shape and type, as the arena needs them. */
export type InputSpec = { readonly shape: readonly number[]; readonly dtype: "float32" | "int32" };

/**
 * Where the batch goes in the arena, from offset `base` on: each whole input, one after another
 * (so that it is copied in one piece), and worker k's part (index k − 1) as the view of its
 * examples [sizes[0] + … + sizes[k−1], … + sizes[k]) of each. Returns the parts, each input's
 * offset and the number of entries used.
 */
export function placeParts(
  inputs: Readonly<Record<string, InputSpec>>,
  sizes: readonly number[],
  base: number,
): { parts: Record<string, ArenaLeaf>[]; offsets: Record<string, number>; entries: number } {
  const parts: Record<string, ArenaLeaf>[] = sizes.slice(1).map(() => ({}));
  const offsets: Record<string, number> = {};
  let offset = base;
  for (const [name, { shape, dtype }] of Object.entries(inputs)) {
    const per = sizeOf(shape.slice(1));
    offsets[name] = offset;
    let start = sizes[0]!;
    for (let k = 1; k < sizes.length; k++) {
      parts[k - 1]![name] = { offset: offset + start * per, shape: [sizes[k]!, ...shape.slice(1)], dtype };
      start += sizes[k]!;
    }
    offset += sizeOf(shape);
  }
  return { parts, offsets, entries: offset - base };
}

/**
 * The summaries of the whole batch from those of its parts: L, ḡ, H̄ and the order-3 diagonal are
 * each linear in the loss, and the loss is the mean over examples, so each is Σ_k w_k·(part k's).
 */
export function combineSummaries(parts: readonly Summaries[], weights: readonly number[]): Summaries {
  const mix = (get: (s: Summaries) => number): number => parts.reduce((acc, s, k) => acc + weights[k]! * get(s), 0);
  const first = parts[0]!;
  return {
    loss: mix((s) => s.loss),
    gbar: first.gbar.map((_, i) => mix((s) => s.gbar[i]!)),
    hbar: first.hbar.map((row, i) => row.map((_, j) => mix((s) => s.hbar[i]![j]!))),
    order3Diag: first.order3Diag.map((_, i) => mix((s) => s.order3Diag[i]!)),
  };
}
