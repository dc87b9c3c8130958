/** Uniform floats in [0, 1) from a linear congruential generator (randomFloats' stream; tests share it for reproducible inputs). */
export function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Floats in [−1, 1) from a linear congruential generator (so every backend and package sees the same inputs). */
export function randomFloats(shape: readonly number[], seed: number): Float32Array {
  const rand = uniform(seed);
  const n = shape.reduce((p, d) => p * d, 1);
  return Float32Array.from({ length: n }, () => rand() * 2 - 1);
}
