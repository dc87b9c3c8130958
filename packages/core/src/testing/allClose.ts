/** Elementwise comparison of arrays and pytrees with absolute and relative tolerance. */
import type { Tensor } from "../kernels";
import { treeFlatten, treePaths } from "../tree";

export interface Tolerance {
  atol?: number;
  rtol?: number;
}

function leaves(x: unknown): [number[][], number[][], string[]] {
  const [ls, def] = treeFlatten(x);
  const vals = ls.map((l) => (typeof l === "number" ? [l] : Array.from((l as Tensor).dataSync())));
  const shapes = ls.map((l) => (typeof l === "number" ? [] : (l as Tensor).shape));
  return [vals, shapes, treePaths(def)];
}

/** First mismatch between two pytrees of arrays/numbers, or null when all close. */
export function allClose(a: unknown, b: unknown, { atol = 1e-5, rtol = 1e-4 }: Tolerance = {}): string | null {
  const [av, as, paths] = leaves(a);
  const [bv, bs] = leaves(b);
  if (av.length !== bv.length) return `different numbers of leaves: ${av.length} vs ${bv.length}`;
  for (let i = 0; i < av.length; i++) {
    const x = av[i]!;
    const y = bv[i]!;
    const sa = as[i]!.join(",");
    const sb = bs[i]!.join(",");
    if (sa !== sb) return `shapes differ at ${paths[i] || "root"}: [${sa}] vs [${sb}]`;
    for (let j = 0; j < x.length; j++) {
      const d = Math.abs(x[j]! - y[j]!);
      if (!(d <= atol + rtol * Math.abs(y[j]!)) && !(Number.isNaN(x[j]!) && Number.isNaN(y[j]!))) {
        return `at ${paths[i] || "root"}[${j}]: ${x[j]} vs ${y[j]} (|diff| ${d.toExponential(2)})`;
      }
    }
  }
  return null;
}

/** Throw with the first mismatch unless a and b are close. */
export function assertAllClose(a: unknown, b: unknown, tol: Tolerance = {}): void {
  const msg = allClose(a, b, tol);
  if (msg !== null) throw new Error(`assertAllClose: ${msg}`);
}
