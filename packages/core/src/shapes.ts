/** Shape arithmetic, free of tensors and traces (the kernel layer and the primitive rules both use it). */
import { ShapeError } from "./errors";

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

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
