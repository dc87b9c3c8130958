/** Floats in [−1, 1) from a linear congruential generator (so every backend and package sees the same inputs). */
export function randomFloats(shape: readonly number[], seed: number): Float32Array {
  let s = seed >>> 0;
  const n = shape.reduce((p, d) => p * d, 1);
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}
