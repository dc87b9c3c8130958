/** Shared by the SIMD tests: a heap GEMM in plain JS, so the native-GEMM routing is checked without a native addon. */
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
