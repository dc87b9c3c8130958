/**
 * Input checks and copies shared by the solvers: sizes, finiteness, symmetry of H̄.
 * @internal
 */
import { SolverInputError } from "./errors";

/** A dense matrix as rows (plain arrays or typed arrays). */
export type MatrixLike = ArrayLike<ArrayLike<number>>;
/** A vector (plain array or typed array). */
export type VectorLike = ArrayLike<number>;

/** Default relative tolerance of the symmetry check of H̄ (see {@link checkSymmetricMatrix}). */
export const DEFAULT_SYMMETRY_RTOL = 1e-3;

/** Copy `v` into a fresh `number[]`, throwing when an entry is not a finite number. */
export function readVector(fn: string, name: string, v: VectorLike, expected?: number): number[] {
  if (v === null || typeof v !== "object" || typeof v.length !== "number") {
    throw new SolverInputError(`${fn}: ${name} must be an array of numbers, got ${describe(v)}.`);
  }
  if (expected !== undefined && v.length !== expected) {
    throw new SolverInputError(
      `${fn}: ${name} has ${v.length} entries but gbar has ${expected}; pass one entry per group (S = ${expected}).`,
    );
  }
  const out = new Array<number>(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== "number" || !Number.isFinite(x)) {
      throw new SolverInputError(`${fn}: ${name}[${i}] is ${String(x)}; every entry must be a finite number.`);
    }
    out[i] = x;
  }
  return out;
}

/**
 * Read an S×S matrix, check it is finite and symmetric up to `rtol`, and return its symmetric part
 * (H̄ + H̄ᵀ)/2. Symmetry is judged entrywise and invariantly under H̄ → A H̄ A (A diagonal):
 * |H̄_ij − H̄_ji| ≤ rtol · max(|H̄_ij|, |H̄_ji|, √|H̄_ii H̄_jj|).
 */
export function readSymmetricMatrix(fn: string, name: string, m: MatrixLike, size: number, rtol: number): number[][] {
  if (m === null || typeof m !== "object" || typeof m.length !== "number") {
    throw new SolverInputError(`${fn}: ${name} must be an S×S array of rows, got ${describe(m)}.`);
  }
  if (m.length !== size) {
    throw new SolverInputError(
      `${fn}: ${name} has ${m.length} rows but gbar has ${size} entries; pass an S×S ${name} with S = gbar.length = ${size}.`,
    );
  }
  const rows: number[][] = [];
  for (let i = 0; i < size; i++) {
    const row = m[i];
    if (row === undefined || row === null || typeof row !== "object" || typeof row.length !== "number") {
      throw new SolverInputError(`${fn}: ${name}[${i}] must be an array of ${size} numbers, got ${describe(row)}.`);
    }
    if (row.length !== size) {
      throw new SolverInputError(
        `${fn}: ${name}[${i}] has ${row.length} entries but ${name} must be ${size}×${size} (S = gbar.length = ${size}).`,
      );
    }
    rows.push(readVector(fn, `${name}[${i}]`, row));
  }
  const out = rows.map((r) => r.slice());
  for (let i = 0; i < size; i++) {
    const ri = rows[i]!;
    for (let j = i + 1; j < size; j++) {
      const rj = rows[j]!;
      const aij = ri[j]!;
      const aji = rj[i]!;
      const local = Math.max(Math.abs(aij), Math.abs(aji), Math.sqrt(Math.abs(ri[i]! * rj[j]!)));
      const diff = Math.abs(aij - aji);
      if (diff > rtol * local) {
        throw new SolverInputError(
          `${fn}: ${name} (${size}×${size}) is not symmetric: ${name}[${i}][${j}] = ${aij} but ${name}[${j}][${i}] = ${aji} ` +
            `(difference ${diff.toExponential(2)} exceeds symmetryRtol = ${rtol} relative to ${local.toExponential(2)}); ` +
            `pass a symmetric matrix, e.g. (H + Hᵀ)/2, or raise options.symmetryRtol.`,
        );
      }
      const mean = 0.5 * (aij + aji);
      out[i]![j] = mean;
      out[j]![i] = mean;
    }
  }
  return out;
}

/** Check a positive finite scalar option. */
export function readPositive(fn: string, name: string, x: unknown): number {
  if (typeof x !== "number" || !Number.isFinite(x) || x <= 0) {
    throw new SolverInputError(`${fn}: ${name} must be a finite number > 0, got ${describe(x)}.`);
  }
  return x;
}

/** Check that there is at least one group. */
export function requireGroups(fn: string, size: number): void {
  if (size < 1) {
    throw new SolverInputError(`${fn}: gbar is empty; a partition has at least one group (S ≥ 1).`);
  }
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (typeof x === "object") return `an object (${Object.prototype.toString.call(x)})`;
  return `${typeof x} ${String(x)}`;
}
