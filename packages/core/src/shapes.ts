/** Shape arithmetic, free of tensors and traces (the kernel layer and the primitive rules both use it). */
import { ShapeError } from "./errors";

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** x's shape with the reduced `axes` kept as size 1 (a reduction's result viewed to broadcast against x). */
export const keptShape = (shape: readonly number[], axes: readonly number[]): number[] =>
  shape.map((d, i) => (axes.includes(i) ? 1 : d));

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

/** Row-major strides of `shape`, in elements (the last axis 1). */
export const stridesOf = (shape: readonly number[]): number[] => {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
};

/** Strides of x read as an array of shape `out` (numpy broadcasting: 0 along broadcast axes). */
export function broadcastStrides(x: readonly number[], out: readonly number[]): number[] {
  const lead = out.length - x.length;
  const own = stridesOf(x);
  return out.map((d, i) => (i < lead || x[i - lead] === 1 ? 0 : own[i - lead]!));
}

/**
 * `shape` with adjacent axes merged where every array's strides allow it (stride of the outer axis =
 * stride·size of the inner one; broadcast axes, stride 0, merge with each other), size-1 axes dropped:
 * the same walk in row-major order, with fewer and longer loops. `strides` has one array per input.
 */
export function collapseAxes(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === 1) continue;
    const k = outShape.length - 1;
    if (k >= 0 && strides.every((s, j) => outStrides[j]![k] === s[i]! * d)) {
      outShape[k]! *= d;
      for (let j = 0; j < strides.length; j++) outStrides[j]![k] = strides[j]![i]!;
    } else {
      outShape.push(d);
      for (let j = 0; j < strides.length; j++) outStrides[j]!.push(strides[j]![i]!);
    }
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * For each row of an array of `shape` (every axis but the last), in row-major order, call `row`
 * with each input's offset of the row's first element, the row's length, and each input's stride
 * along the row. The kernels loop along rows themselves: no call per element. `offs` is reused:
 * read it, do not keep it.
 */
export function forEachRow(
  shape: readonly number[],
  strides: number[][],
  row: (offs: readonly number[], n: number, steps: readonly number[]) => void,
): void {
  const r = shape.length;
  if (r === 0) {
    row(
      strides.map(() => 0),
      1,
      strides.map(() => 0),
    );
    return;
  }
  const n = shape[r - 1]!;
  const total = sizeOf(shape);
  if (total === 0) return;
  const steps = strides.map((s) => s[r - 1]!);
  const idx = new Array<number>(r - 1).fill(0);
  const offs = strides.map(() => 0);
  for (let q = total / n; q > 0; q--) {
    row(offs, n, steps);
    for (let a = r - 2; a >= 0; a--) {
      idx[a]!++;
      for (let j = 0; j < strides.length; j++) offs[j]! += strides[j]![a]!;
      if (idx[a]! < shape[a]!) break;
      for (let j = 0; j < strides.length; j++) offs[j]! -= strides[j]![a]! * shape[a]!;
      idx[a] = 0;
    }
  }
}

/** For each element of an array of `shape`, in row-major order, call visit with per-input offsets. */
export function forEachIndex(shape: readonly number[], strides: number[][], visit: (offsets: number[]) => void): void {
  const offs = strides.map(() => 0);
  forEachRow(shape, strides, (start, n, steps) => {
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < offs.length; k++) offs[k] = start[k]! + j * steps[k]!;
      visit(offs);
    }
  });
}
