/**
 * Small deterministic randomness for splits, shuffles and synthetic data. No global state: every
 * function takes its seed explicitly, and the same seed gives the same numbers on every platform
 * (only 32-bit integer arithmetic via `Math.imul` and `>>>`, no `Math.random`).
 *
 * Generator: mulberry32 (Tommy Ettinger, public domain), a 32-bit state generator with period 2³²
 * that passes gjrand/PractRand to a few GB. That is plenty for shuffling ≤ 60k items; it is not
 * cryptographic. Seeds are combined with the murmur3 finaliser (`mixSeeds`), so (seed, epoch)
 * pairs that differ by one give unrelated streams.
 */

/** A stream of uniform numbers in [0, 1). @category model */
export type Rng = () => number;

/** murmur3's 32-bit finaliser: a bijective avalanche mix of a 32-bit integer. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Combine integer seeds (any safe integers, negative allowed) into one 32-bit seed. Order matters:
 * `mixSeeds(1, 2) !== mixSeeds(2, 1)`. Throws RangeError on a non-integer (a programming error).
 * @category seeds
 */
export function mixSeeds(...parts: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    if (!Number.isSafeInteger(p)) throw new RangeError(`seed must be a safe integer, got ${p}`);
    const lo = p >>> 0;
    const hi = Math.floor(p / 0x100000000) >>> 0;
    h = fmix32(h ^ fmix32(lo + 0x6d2b79f5));
    h = fmix32(h ^ fmix32(hi + 0x27d4eb2f));
  }
  return h;
}

/**
 * mulberry32 seeded with `mixSeeds(...seeds)`: u ∈ [0,1) with 32 random bits.
 * @example const r = mulberry32(42); r() === mulberry32(42)()
 * @category generators
 */
export function mulberry32(...seeds: readonly number[]): Rng {
  let a = mixSeeds(...seeds);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform integer in [0, n) (bias < n/2³², negligible for data-set sizes). @category generators */
export function randInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** Standard normal N(0,1) by Box–Muller (one draw per call, two uniforms). @category generators */
export function randNormal(rng: Rng): number {
  const u = 1 - rng(); // (0, 1]: log is finite
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * In-place Fisher–Yates shuffle of `a` with `rng`; returns `a`.
 * @category shuffling
 */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(a: T, rng: Rng): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randInt(rng, i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/**
 * A uniformly random permutation of 0..n-1, determined by the seeds.
 * @example permutation(5, 0)  // e.g. Int32Array [3, 0, 4, 1, 2], the same every run
 * @category shuffling
 */
export function permutation(n: number, ...seeds: readonly number[]): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return shuffleInPlace(p, mulberry32(...seeds));
}
