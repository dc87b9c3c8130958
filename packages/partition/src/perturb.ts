/** θ + V·α: the parameters moved along each group's slice of the direction u. */
import * as hd from "@hodiff/core";
import type { Tree, Value } from "@hodiff/core";
import { PartitionError } from "./errors";
import type { Partition } from "./partition";

/** Check that params and direction fit the partition; return their leaves and structure. */
export function alignLeaves(op: string, partition: Partition, params: Tree<Value>, direction: Tree<Value>) {
  const [leaves, def] = hd.treeFlatten(params);
  const paths = hd.treePaths(def);
  const same = paths.length === partition.leafPaths.length && paths.every((p, i) => p === partition.leafPaths[i]);
  if (!same) {
    throw new PartitionError(
      `${op}: the partition was built for leaves [${partition.leafPaths.join(", ")}], but params has [${paths.join(", ")}]`,
    );
  }
  const dirs = hd.flattenAs<Value>(def, direction, `${op}: direction`, "direction");
  leaves.forEach((l, i) => {
    const a = hd.shapeOf(l as Value);
    const b = hd.shapeOf(dirs[i]!);
    const expected = partition.leafShapes[i]!;
    if (a.join() !== expected.join()) {
      throw new PartitionError(`${op}: params.${paths[i]} has shape [${a}], the partition expects [${expected}]`);
    }
    if (a.join() !== b.join()) {
      throw new hd.ShapeError(`${op}: params and direction differ at ${paths[i]}: float32[${a}] vs float32[${b}]`);
    }
  });
  return { leaves: leaves as Value[], dirs, def };
}

/** α ↦ θ + V·α for a partition: leaf ℓ in group s moves by α_s·u_ℓ (per scalar for discrete groups). */
export function perturbation(partition: Partition, leaves: Value[], dirs: Value[], def: hd.TreeDef) {
  const S = partition.size;
  // One-hot maps of per-scalar assignments, built once: [S, size] with a 1 at (group, element).
  const oneHots = partition.assignment.map((a) => {
    if (typeof a === "number") return null;
    const m = new Float32Array(S * a.length);
    a.forEach((s, j) => (m[s * a.length + j] = 1));
    return hd.array(m, { shape: [S, a.length] });
  });
  return (alpha: Value): Tree<Value> =>
    hd.treeUnflatten(
      def,
      leaves.map((theta, i) => {
        const a = partition.assignment[i]!;
        const u = dirs[i]!;
        // One primitive: at α = 0 (made by zeros) its value is θ itself, no kernel.
        if (typeof a === "number") return hd.axpy(theta, alpha, u, a);
        const coeff = hd.reshape(hd.matmul(alpha, oneHots[i]!), hd.shapeOf(u));
        return hd.add(theta, hd.mul(coeff, u));
      }),
    );
}

/**
 * v_s leaf by leaf: u on the leaves of group s (masked to its scalars for discrete groups), null
 * (zero, never formed) on the others.
 */
export function groupDirection(partition: Partition, dirs: Value[], s: number): (Value | null)[] {
  return partition.assignment.map((a, i) => {
    if (typeof a === "number") return a === s ? dirs[i]! : null;
    if (!a.includes(s)) return null;
    const m = new Float32Array(a.length);
    a.forEach((g, j) => (m[j] = g === s ? 1 : 0));
    return hd.mul(hd.array(m, { shape: hd.shapeOf(dirs[i]!) }), dirs[i]!);
  });
}
