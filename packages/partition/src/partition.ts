/**
 * Partitions of a parameter pytree into S groups (paper §3): every leaf, or for `discrete` every
 * scalar, belongs to exactly one group. All builders go through `fromAssignment`, which checks
 * that nothing is dropped, duplicated or invented and that no group is empty.
 */
import { shapeOf, treeFlatten, treePaths, type Tree, type Value } from "@hodiff/core";
import { PartitionError } from "./errors";

/** One group: its label and the dotted paths of the leaves it holds (whole or in part). */
export interface Group {
  readonly label: string;
  readonly paths: readonly string[];
}

/** A partition of the leaves (or scalars) of a parameter pytree into `size` groups. */
export interface Partition {
  /** S, the number of groups. */
  readonly size: number;
  /** The groups in order; group s is the s-th entry of ḡ, the s-th row of H̄. */
  readonly groups: readonly Group[];
  /** Leaf paths of the pytree it was built for, in flatten order. */
  readonly leafPaths: readonly string[];
  /** Leaf shapes, in the same order. */
  readonly leafShapes: readonly (readonly number[])[];
  /** Group of each leaf (a number), or of each of its scalars (row-major), in leaf order. */
  readonly assignment: readonly (number | Int32Array)[];
}

type Params = Tree<Value>;

interface Leaves {
  paths: string[];
  shapes: number[][];
}

function leavesOf(params: Params): Leaves {
  const [leaves, def] = treeFlatten(params);
  const paths = treePaths(def);
  if (leaves.length === 0) throw new PartitionError("partition: the parameter pytree has no leaves");
  return { paths, shapes: leaves.map((l) => shapeOf(l)) };
}

const list = (xs: readonly string[], max = 8) =>
  xs.length <= max ? xs.join(", ") : `${xs.slice(0, max).join(", ")}, … (${xs.length} in all)`;

/** Build a partition from one group index per leaf (or per scalar) and the group labels. */
function fromAssignment(leaves: Leaves, labels: readonly string[], assignment: (number | Int32Array)[]): Partition {
  const members: string[][] = labels.map(() => []);
  assignment.forEach((a, i) => {
    const groups = typeof a === "number" ? [a] : [...new Set(a)];
    for (const g of groups) members[g]!.push(leaves.paths[i]!);
  });
  const empty = labels.filter((_, s) => members[s]!.length === 0);
  if (empty.length) throw new PartitionError(`partition: empty group(s): ${list(empty)}`);
  const dup = labels.filter((l, i) => labels.indexOf(l) !== i);
  if (dup.length) throw new PartitionError(`partition: duplicate group label(s): ${list(dup)}`);
  return {
    size: labels.length,
    groups: labels.map((label, s) => ({ label, paths: members[s]! })),
    leafPaths: leaves.paths,
    leafShapes: leaves.shapes,
    assignment,
  };
}

/**
 * fromGroups(params, groups): the partition with exactly the given groups of leaf paths.
 * Throws a PartitionError naming unknown, missing or duplicated paths, and empty groups.
 */
export function fromGroups(params: Params, groups: readonly Group[]): Partition {
  const leaves = leavesOf(params);
  const index = new Map(leaves.paths.map((p, i) => [p, i]));
  const owner = new Map<string, string>();
  const unknown: string[] = [];
  const duplicated: string[] = [];
  const assignment: number[] = new Array(leaves.paths.length).fill(-1);
  groups.forEach((g, s) => {
    if (g.paths.length === 0) throw new PartitionError(`partition: group '${g.label}' is empty`);
    for (const p of g.paths) {
      const i = index.get(p);
      if (i === undefined) unknown.push(p);
      else if (owner.has(p)) duplicated.push(`${p} (in '${owner.get(p)}' and '${g.label}')`);
      else {
        owner.set(p, g.label);
        assignment[i] = s;
      }
    }
  });
  if (unknown.length) {
    throw new PartitionError(
      `partition: unknown parameter path(s): ${list(unknown)}; the pytree has ${list(leaves.paths)}`,
    );
  }
  if (duplicated.length)
    throw new PartitionError(`partition: parameter(s) in more than one group: ${list(duplicated)}`);
  const missing = leaves.paths.filter((_, i) => assignment[i] === -1);
  if (missing.length) throw new PartitionError(`partition: parameter(s) in no group: ${list(missing)}`);
  return fromAssignment(
    leaves,
    groups.map((g) => g.label),
    assignment,
  );
}

/** canonical(params): one group per leaf tensor, in pytree order (the paper's default). */
export function canonical(params: Params): Partition {
  const { paths } = leavesOf(params);
  return fromGroups(
    params,
    paths.map((p) => ({ label: p, paths: [p] })),
  );
}

/** trivial(params): a single group (S = 1): D̄(d) is the Taylor term Dᵈ L(θ)[u,…,u]. */
export function trivial(params: Params): Partition {
  const { paths } = leavesOf(params);
  return fromGroups(params, [{ label: "all", paths }]);
}

const WEIGHT_NAMES = new Set(["w", "weight", "weights", "kernel"]);
const BIAS_NAMES = new Set(["b", "bias", "biases"]);
const lastSegment = (path: string) => path.slice(path.lastIndexOf(".") + 1);
const kindOf = (path: string): "weights" | "biases" | "other" =>
  WEIGHT_NAMES.has(lastSegment(path)) ? "weights" : BIAS_NAMES.has(lastSegment(path)) ? "biases" : "other";

/** weightsBiases(params): weights (w/weight/kernel) vs biases (b/bias); other leaves in a third group. */
export function weightsBiases(params: Params): Partition {
  const { paths } = leavesOf(params);
  const groups = (["weights", "biases", "other"] as const)
    .map((kind) => ({ label: kind, paths: paths.filter((p) => kindOf(p) === kind) }))
    .filter((g) => g.paths.length > 0);
  return fromGroups(params, groups);
}

/** A layer: the leaves that share a parent path (e.g. fc1.w and fc1.b), in pytree order. */
export interface Layer {
  readonly name: string;
  readonly paths: readonly string[];
}

/** The layers of a pytree: leaves grouped by parent path, in order of first appearance. */
export function layersOf(params: Params): Layer[] {
  const { paths } = leavesOf(params);
  const layers = new Map<string, string[]>();
  for (const p of paths) {
    const parent = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : p;
    if (!layers.has(parent)) layers.set(parent, []);
    layers.get(parent)!.push(p);
  }
  return [...layers].map(([name, ps]) => ({ name, paths: ps }));
}

/** Groups of a layer-to-block map: each block split into weights and biases; the last layer's tensors alone. */
function blockGroups(
  params: Params,
  k: number,
  blockOf: (layer: number, count: number) => number,
  op: string,
): Partition {
  if (!Number.isInteger(k) || k < 1) throw new PartitionError(`${op}: k must be a positive integer, got ${k}`);
  const layers = layersOf(params);
  if (layers.length < 2) throw new PartitionError(`${op}: needs at least 2 layers, found ${layers.length}`);
  const body = layers.slice(0, -1);
  if (k > body.length) throw new PartitionError(`${op}: k = ${k} exceeds the ${body.length} layers before the last`);
  const groups: Group[] = [];
  for (let b = 0; b < k; b++) {
    const members = body.filter((_, i) => blockOf(i, body.length) === b).flatMap((l) => l.paths);
    for (const kind of ["weights", "biases", "other"] as const) {
      const ps = members.filter((p) => kindOf(p) === kind);
      if (ps.length) groups.push({ label: `${op}${b}.${kind}`, paths: ps });
    }
  }
  for (const p of layers.at(-1)!.paths) groups.push({ label: p, paths: [p] });
  return fromGroups(params, groups);
}

/** blocks(params, k): layers before the last in k consecutive blocks, each split into weights and biases; the last layer's tensors alone (2k + 2 groups). */
export function blocks(params: Params, k: number): Partition {
  return blockGroups(params, k, (i, n) => Math.floor((i * k) / n), "block");
}

/** alternate(params, k): layer i before the last in block i mod k, split into weights and biases; the last layer's tensors alone. */
export function alternate(params: Params, k: number): Partition {
  return blockGroups(params, k, (i) => i % k, "alternate");
}

export type PathPattern = string | RegExp;

/** Glob over dotted paths: `*` matches within one segment, `**` across segments. */
function toRegExp(p: PathPattern): RegExp {
  // A copy without the stateful g/y flags: RegExp.test with them resumes at lastIndex and would
  // skip a match on the next path.
  if (p instanceof RegExp) return new RegExp(p.source, p.flags.replace(/[gy]/g, ""));
  const segment = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^.]*");
  return new RegExp(`^${p.split("**").map(segment).join(".*")}$`);
}

/**
 * byName(params, {label: patterns}): groups by path patterns (globs or RegExps). Every leaf must
 * match exactly one label; a label that matches nothing is an error.
 */
export function byName(
  params: Params,
  spec: Readonly<Record<string, PathPattern | readonly PathPattern[]>>,
): Partition {
  const { paths } = leavesOf(params);
  const labels = Object.keys(spec);
  const matchers = labels.map((l) => {
    const ps = spec[l]!;
    return (Array.isArray(ps) ? ps : [ps]).map(toRegExp);
  });
  const groups: Group[] = labels.map((label) => ({ label, paths: [] as string[] }));
  const ambiguous: string[] = [];
  for (const p of paths) {
    const hits = labels.filter((_, i) => matchers[i]!.some((re) => re.test(p)));
    if (hits.length > 1) ambiguous.push(`${p} (matches ${hits.join(", ")})`);
    if (hits.length >= 1) (groups[labels.indexOf(hits[0]!)]!.paths as string[]).push(p);
  }
  if (ambiguous.length) throw new PartitionError(`byName: path(s) matched by more than one label: ${list(ambiguous)}`);
  const unmatched = labels.filter((_, i) => groups[i]!.paths.length === 0);
  if (unmatched.length) throw new PartitionError(`byName: label(s) matching no parameter: ${list(unmatched)}`);
  return fromGroups(params, groups);
}

/** Largest number of scalars `discrete` accepts (its H̄ is P×P). */
export const DISCRETE_LIMIT = 4096;

/** discrete(params): one group per scalar parameter (tiny models: H̄ is then the full Hessian). */
export function discrete(params: Params): Partition {
  const leaves = leavesOf(params);
  const sizes = leaves.shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total > DISCRETE_LIMIT) {
    throw new PartitionError(
      `discrete: ${total} scalars exceed the limit of ${DISCRETE_LIMIT} (H̄ would be ${total}×${total})`,
    );
  }
  const labels: string[] = [];
  let next = 0;
  const assignment = sizes.map((n, i) => {
    const ids = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      ids[j] = next++;
      labels.push(`${leaves.paths[i]}[${j}]`);
    }
    return ids;
  });
  return fromAssignment(leaves, labels, assignment);
}
