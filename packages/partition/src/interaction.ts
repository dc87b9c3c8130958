/** Interaction maps (paper Fig. 1): H̄, its inverse, and their normalised forms, labelled by group. */
import { Matrix, inverse, pseudoInverse } from "ml-matrix";
import type { Partition } from "./partition";
import { PartitionError } from "./errors";

export interface InteractionMap {
  readonly labels: string[];
  readonly hbar: number[][];
  /** H̄⁻¹ (the Moore–Penrose pseudo-inverse when H̄ is singular; see `singular`). */
  readonly hbarInverse: number[][];
  /** |H̄_ij| / √|H̄_ii H̄_jj| (0 where a diagonal entry is 0). */
  readonly normalized: number[][];
  /** The same normalisation of H̄⁻¹. */
  readonly normalizedInverse: number[][];
  readonly singular: boolean;
}

/** |M_ij| / √|M_ii·M_jj|: interactions on a common scale, 1 on the diagonal. */
export function normalize(m: readonly (readonly number[])[]): number[][] {
  return m.map((row, i) =>
    row.map((x, j) => {
      const d = Math.sqrt(Math.abs(m[i]![i]! * m[j]![j]!));
      return d === 0 ? 0 : Math.abs(x) / d;
    }),
  );
}

/**
 * interactionMap(H̄, partition) = {labels, H̄, H̄⁻¹, normalised forms}, ready to plot as heatmaps.
 * Inversion is in float64 (ml-matrix); a singular H̄ gets its pseudo-inverse and `singular: true`.
 */
export function interactionMap(hbar: readonly (readonly number[])[], partition: Partition): InteractionMap {
  const S = partition.size;
  if (hbar.length !== S || hbar.some((r) => r.length !== S)) {
    throw new PartitionError(
      `interactionMap: H̄ must be ${S}×${S} for this partition, got ${hbar.length}×${hbar[0]?.length ?? 0}`,
    );
  }
  const H = new Matrix(hbar.map((r) => [...r]));
  const scale = Math.max(...hbar.flat().map(Math.abs));
  let singular = scale === 0;
  let inv: Matrix;
  try {
    inv = singular ? pseudoInverse(H) : inverse(H);
    const residual = H.mmul(inv).sub(Matrix.eye(S)).norm("frobenius");
    if (!Number.isFinite(residual) || residual > 1e-6 * S) {
      singular = true;
      inv = pseudoInverse(H);
    }
  } catch {
    singular = true;
    inv = pseudoInverse(H);
  }
  const hbarInverse = inv.to2DArray();
  return {
    labels: partition.groups.map((g) => g.label),
    hbar: hbar.map((r) => [...r]),
    hbarInverse,
    normalized: normalize(hbar),
    normalizedInverse: normalize(hbarInverse),
    singular,
  };
}
