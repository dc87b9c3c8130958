/**
 * fast-check arbitraries for parameter pytrees, as plain data (shapes and float32-exact numbers), so
 * that a property never holds a tensor between runs: {@link materialize} makes the tensors inside
 * the property, which disposes them.
 */
import * as hd from "@hodiff/core";
import fc from "fast-check";

// model ---------------------------------------------------------------------------------------

/** One leaf: its shape and its values in row-major order (float32-exact). @category model */
export interface LeafSpec {
  readonly shape: readonly number[];
  readonly data: readonly number[];
}

/** A pytree of leaves, as nested records (the shape of a model's parameters). @category model */
export type TreeSpec = { readonly [key: string]: LeafSpec | TreeSpec };

/** Options of {@link arbShape}. @category arbitraries */
export interface ShapeOptions {
  /** Largest rank (default 2). */
  readonly maxRank?: number;
  /** Largest size of an axis (default 4). */
  readonly maxDim?: number;
}

/** Options of {@link arbLeaf} and {@link arbParams}. @category arbitraries */
export interface ValueOptions extends ShapeOptions {
  /** Values lie in [−maxAbs, maxAbs] (default 10). */
  readonly maxAbs?: number;
  /** Smallest |value| other than 0 (default 1e-3): avoids subnormal float32 numbers. */
  readonly minAbs?: number;
}

/** Options of {@link arbParams}. @category arbitraries */
export interface ParamsOptions extends ValueOptions {
  /** Number of leaves, at least 1 (default 1 to 3). */
  readonly minLeaves?: number;
  readonly maxLeaves?: number;
  /** Put the leaves under `{ layer: { w, b } }`-like nesting (default true). */
  readonly nested?: boolean;
}

// constructors --------------------------------------------------------------------------------

/**
 * arbShape: shapes of rank 0 to maxRank with axes of size 1 to maxDim.
 * @example fc.sample(arbShape({ maxRank: 2 }), 3) // e.g. [[], [3, 1], [2]]
 * @category arbitraries
 */
export function arbShape({ maxRank = 2, maxDim = 4 }: ShapeOptions = {}): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: 0, maxLength: maxRank });
}

/** A float32 number in [−maxAbs, maxAbs], 0 or with |x| ≥ minAbs. @category arbitraries */
export function arbValue({ maxAbs = 10, minAbs = 1e-3 }: ValueOptions = {}): fc.Arbitrary<number> {
  const magnitude = fc.float({ min: Math.fround(minAbs), max: Math.fround(maxAbs), noNaN: true });
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(0) },
    { weight: 9, arbitrary: fc.tuple(magnitude, fc.boolean()).map(([m, neg]) => (neg ? -m : m)) },
  );
}

/**
 * arbLeaf: a leaf of the given shape (or of an arbitrary one) with arbitrary float32 values.
 * @category arbitraries
 */
export function arbLeaf(shape?: readonly number[], options: ValueOptions = {}): fc.Arbitrary<LeafSpec> {
  const shapes = shape === undefined ? arbShape(options) : fc.constant([...shape]);
  return shapes.chain((s) => {
    const n = s.reduce((a, b) => a * b, 1);
    return fc.array(arbValue(options), { minLength: n, maxLength: n }).map((data) => ({ shape: s, data }));
  });
}

/**
 * arbParams: parameter pytrees of 1 to 3 leaves (`{ l0: { w, b }, … }` when nested), shapes and values
 * arbitrary.
 * @example fc.assert(fc.property(arbParams(), (spec) => { … materialize(spec) … }))
 * @category arbitraries
 */
export function arbParams(options: ParamsOptions = {}): fc.Arbitrary<TreeSpec> {
  const { minLeaves = 1, maxLeaves = 3, nested = true } = options;
  return fc.array(arbLeaf(undefined, options), { minLength: minLeaves, maxLength: maxLeaves }).map((leaves) => {
    if (!nested) return Object.fromEntries(leaves.map((l, i) => [`p${i}`, l]));
    const tree: Record<string, Record<string, LeafSpec>> = {};
    leaves.forEach((l, i) => {
      const layer = `l${Math.floor(i / 2)}`;
      (tree[layer] ??= {})[i % 2 === 0 ? "w" : "b"] = l;
    });
    return tree;
  });
}

/**
 * arbLike: a pytree with the structure and shapes of `spec` and arbitrary values (gradients, say).
 * @category arbitraries
 */
export function arbLike(spec: TreeSpec, options: ValueOptions = {}): fc.Arbitrary<TreeSpec> {
  const entries = Object.entries(spec).map(([k, v]) =>
    (isLeafSpec(v) ? arbLeaf(v.shape, options) : arbLike(v, options)).map((x) => [k, x] as const),
  );
  return fc.tuple(...entries).map((kv) => Object.fromEntries(kv));
}

/**
 * arbParamsAndGrads: parameters and `steps` gradients of the same structure.
 * @category arbitraries
 */
export function arbParamsAndGrads(
  steps: number,
  options: ParamsOptions = {},
): fc.Arbitrary<{ params: TreeSpec; grads: TreeSpec[] }> {
  return arbParams(options).chain((params) =>
    fc.array(arbLike(params, options), { minLength: steps, maxLength: steps }).map((grads) => ({ params, grads })),
  );
}

// utils ---------------------------------------------------------------------------------------

/** Whether a spec node is a leaf. @category utils */
export const isLeafSpec = (x: LeafSpec | TreeSpec): x is LeafSpec =>
  Array.isArray((x as LeafSpec).shape) && Array.isArray((x as LeafSpec).data);

/**
 * materialize: the tensors of a spec (float32), in a pytree of the same structure. The caller
 * disposes them.
 * @category utils
 */
export function materialize(spec: TreeSpec): hd.Tree<hd.Value> {
  return Object.fromEntries(
    Object.entries(spec).map(([k, v]) => [
      k,
      isLeafSpec(v) ? hd.array(Float32Array.from(v.data), { shape: [...v.shape] }) : materialize(v),
    ]),
  ) as hd.Tree<hd.Value>;
}

/** The leaves of a pytree of tensors as float64 arrays, in flatten order. @category utils */
export const leavesOf = (tree: unknown): number[][] =>
  hd.treeLeaves(tree as hd.Tree<hd.Value>).map((l) => Array.from(hd.toFlat(l as hd.Value)));
