/**
 * Counter-based PRNG keys, as in JAX: a key is two 32-bit words, `split` derives independent
 * keys, and samplers are pure functions of (key, shape). Bits come from Threefry-2x32 computed in
 * JS, so every backend sees exactly the same numbers.
 */
import { K, type Tensor } from "./kernels";
import { ArgumentError } from "./errors";

/** A PRNG key. Immutable; reuse a key only when you want the same numbers again. */
export interface Key {
  readonly words: readonly [number, number];
}

const ROT = [13, 15, 26, 6, 17, 29, 16, 24] as const;
const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;

/**
 * threefry2x32(k0, k1, c0, c1): Threefry-2x32 with 20 rounds (Salmon et al. 2011, Random123), a
 * keyed bijection of 64-bit counters (c0, c1) under the key (k0, k1), as two uint32 words.
 */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const ks = [k0 >>> 0, k1 >>> 0, (k0 ^ k1 ^ 0x1bd11bda) >>> 0];
  let x0 = (c0 + ks[0]!) >>> 0;
  let x1 = (c1 + ks[1]!) >>> 0;
  for (let block = 0; block < 5; block++) {
    for (let r = 0; r < 4; r++) {
      x0 = (x0 + x1) >>> 0;
      x1 = rotl(x1, ROT[(block % 2) * 4 + r]!) ^ x0;
    }
    x0 = (x0 + ks[(block + 1) % 3]!) >>> 0;
    x1 = (x1 + ks[(block + 2) % 3]! + block + 1) >>> 0;
  }
  return [x0, x1];
}

/** key(seed): a key from an integer seed (its low and high 32 bits). */
export function key(seed: number): Key {
  if (!Number.isSafeInteger(seed)) throw new ArgumentError(`random.key: seed must be a safe integer, got ${seed}`);
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  return { words: [hi, seed >>> 0] };
}

/** split(key, n = 2): n new independent keys. */
export function split(k: Key, n = 2): Key[] {
  return Array.from({ length: n }, (_, i) => ({ words: threefry2x32(k.words[0], k.words[1], 0, i) }));
}

/** fold(key, data): a key derived from `key` and an integer (e.g. a step number). */
export function foldIn(k: Key, data: number): Key {
  return { words: threefry2x32(k.words[0], k.words[1], 1, data >>> 0) };
}

/** n uniform floats in [0, 1) from the key, 23 bits each. */
function uniformFloats(k: Key, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const [a, b] = threefry2x32(k.words[0], k.words[1], Math.floor(i / 2 ** 32) >>> 0, i >>> 0);
    out[i] = (a >>> 9) * 2 ** -23;
    if (i + 1 < n) out[i + 1] = (b >>> 9) * 2 ** -23;
  }
  return out;
}

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** uniform(key, shape, min = 0, max = 1): i.i.d. U[min, max). */
export function uniform(k: Key, shape: readonly number[], min = 0, max = 1): Tensor {
  const u = uniformFloats(k, count(shape));
  for (let i = 0; i < u.length; i++) u[i] = min + (max - min) * u[i]!;
  return K.tensor(u, [...shape], "float32");
}

/** normal(key, shape): i.i.d. N(0, 1), by Box–Muller. */
export function normal(k: Key, shape: readonly number[]): Tensor {
  const n = count(shape);
  const u = uniformFloats(k, n + (n % 2));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u[i]!));
    const t = 2 * Math.PI * u[i + 1]!;
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return K.tensor(out, [...shape], "float32");
}
