/** Shape arithmetic, free of tensors and traces (the kernel layer and the primitive rules both use it). */
import { ShapeError } from "./errors";

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** A convolution's output length along one axis: input n, filter k, padding lo and hi, stride s, dilation d. */
export const convOutSize = (n: number, k: number, lo: number, hi: number, s: number, d: number): number =>
  Math.floor((n + lo + hi - d * (k - 1) - 1) / s) + 1;

/** Numpy broadcasting of several shapes; throws a ShapeError naming `op`. */
export function broadcastShapes(op: string, shapes: ReadonlyArray<readonly number[]>): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = new Array(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else
        throw new ShapeError(
          `${op}: shapes ${shapes.map((x) => `[${x.join(",")}]`).join(" and ")} cannot be broadcast together (axis ${i - s.length})`,
        );
    }
  }
  return out;
}

/**
 * x of `shape` reduced over `axes` as the view [a, r1, b, r2, c, r3, d] (kept and reduced sizes
 * alternating, adjacent axes merged, size-1 axes dropped): the layout of the max-scatter kernel.
 * null when the axes form more than three runs of reduced axes.
 */
export function maxScatterView(shape: readonly number[], axes: readonly number[]): number[] | null {
  const runs: Array<[number, boolean]> = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const reduced = axes.includes(i);
    const last = runs[runs.length - 1];
    if (last && last[1] === reduced) last[0] *= d;
    else runs.push([d, reduced]);
  });
  // Seven slots from the end: d (kept), r3, c, r2, b, r1, a; a missing run is size 1.
  const view = [1, 1, 1, 1, 1, 1, 1];
  let slot = 6;
  for (let k = runs.length - 1; k >= 0; k--) {
    const [size, reduced] = runs[k]!;
    if (reduced === (slot % 2 === 0)) slot--; // reduced runs go to odd slots, kept to even
    if (slot < 0) return null;
    view[slot] = size;
    slot--;
  }
  return view;
}
