/** Shared by the SIMD tests: a heap GEMM in plain JS (the native-GEMM routing checked without a native addon), a conv comparison, float32 ulps. */
import { expect } from "vitest";
import type { HeapGemm } from "../kernels";

/** C_i = op(A_i)·op(B_i) in float64, rounded once to float32, straight from the seam's definition. */
export const jsGemm: HeapGemm = (heap, a, b, c, batch, m, n, k, ta, tb) => {
  const f = new Float32Array(heap);
  for (let i = 0; i < batch; i++) {
    const [A, B, C] = [a / 4 + i * m * k, b / 4 + i * k * n, c / 4 + i * m * n];
    for (let r = 0; r < m; r++)
      for (let s = 0; s < n; s++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += f[A + (ta ? p * m + r : r * k + p)]! * f[B + (tb ? s * k + p : p * n + s)]!;
        f[C + r * n + s] = sum;
      }
  }
};

/**
 * A conv's output against the cpu backend's: each finite value within 1e-6·k (sums of k products of
 * values in ±1, added in another order), each NaN or ±Inf the same. Returns how many were finite.
 */
export function expectConvClose(got: ArrayLike<number>, want: ArrayLike<number>, k: number, label: string): number {
  expect(got.length, label).toBe(want.length);
  let finite = 0;
  for (let j = 0; j < want.length; j++) {
    if (Number.isFinite(want[j])) {
      finite++;
      expect(Math.abs(got[j]! - want[j]!), `${label} at ${j}`).toBeLessThan(1e-6 * k);
    } else expect(got[j], `${label} at ${j}`).toBe(want[j]);
  }
  return finite;
}

/** Distance in float32 ulps (0 where both are NaN or equal infinities; Infinity where one is NaN). */
export function ulps(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  if (a === b) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  const i = new Int32Array(new Float32Array([a, b]).buffer);
  // Map the sign-magnitude bit patterns onto a line where adjacent floats differ by 1.
  const line = (k: number) => (k < 0 ? -(k & 0x7fffffff) : k);
  return Math.abs(line(i[0]!) - line(i[1]!));
}
