/**
 * Pytrees: nested plain objects and arrays whose leaves are arrays (or numbers). Leaves are
 * visited in insertion order of object keys and index order of arrays; each has a dotted path
 * ("l0.w", "layers.2.b") used in error messages and by partitions.
 */
import { isValue, type Value } from "./trace/core";
import { TreeError } from "./errors";

/** A pytree with leaves of type L. */
export type Tree<L> = L | readonly Tree<L>[] | { readonly [key: string]: Tree<L> } | null | undefined;

/** The structure of a pytree without its leaves. */
export type TreeDef =
  | { readonly kind: "leaf" }
  | { readonly kind: "none"; readonly value: null | undefined }
  | { readonly kind: "array"; readonly children: readonly TreeDef[] }
  | { readonly kind: "object"; readonly keys: readonly string[]; readonly children: readonly TreeDef[] };

const isPlainObject = (x: unknown): x is Record<string, unknown> => {
  if (typeof x !== "object" || x === null) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
};

/** A leaf is anything that is not a plain object, an array, null or undefined. */
export const isLeaf = (x: unknown): boolean =>
  isValue(x) || !(Array.isArray(x) || isPlainObject(x) || x === null || x === undefined);

const joinPath = (prefix: string, key: string | number): string => (prefix === "" ? String(key) : `${prefix}.${key}`);

// The walks below are module-level functions, not closures made per call: transforms flatten and
// unflatten on every call, and under tsx (keepNames) each named closure costs a defineProperty.

function flattenInto(t: unknown, leaves: unknown[]): TreeDef {
  if (t === null || t === undefined) return { kind: "none", value: t };
  if (Array.isArray(t)) {
    const children: TreeDef[] = new Array(t.length);
    for (let i = 0; i < t.length; i++) children[i] = flattenInto(t[i], leaves);
    return { kind: "array", children };
  }
  if (isPlainObject(t) && !isValue(t)) {
    const keys = Object.keys(t);
    const children: TreeDef[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) children[i] = flattenInto(t[keys[i]!], leaves);
    return { kind: "object", keys, children };
  }
  leaves.push(t);
  return { kind: "leaf" };
}

/** Leaves in order, with the structure needed to rebuild the tree (leaves typed as arrays by default). */
export function treeFlatten<L = Value>(tree: unknown): [L[], TreeDef] {
  const leaves: L[] = [];
  const def = flattenInto(tree, leaves);
  return [leaves, def];
}

/** flattenInto's walk, appending the structure's part of treeFlattenKey's key (returned) instead of a TreeDef. */
function keyInto(t: unknown, leaves: unknown[], describe: (leaf: unknown) => string, key: string): string {
  if (t === null) return key + "N";
  if (t === undefined) return key + "U";
  if (Array.isArray(t)) {
    key += "[";
    for (let i = 0; i < t.length; i++) key = keyInto(t[i], leaves, describe, key);
    return key + "]";
  }
  if (isPlainObject(t) && !isValue(t)) {
    key += "{";
    for (const k of Object.keys(t)) key = keyInto(t[k], leaves, describe, key + JSON.stringify(k));
    return key + "}";
  }
  leaves.push(t);
  return `${key}L${describe(t)};`;
}

/**
 * treeFlatten's leaves with a string that identifies the structure and each leaf's `describe`
 * (e.g. a jit cache key): two trees get the same key exactly when they have the same TreeDef
 * and equal descriptions leaf by leaf. One pass and no TreeDef objects: jit calls it per call.
 * `describe` must not return a string containing ";" (it ends each leaf's part).
 */
export function treeFlattenKey<L = Value>(tree: unknown, describe: (leaf: unknown) => string): [L[], string] {
  const leaves: L[] = [];
  const key = keyInto(tree, leaves, describe, "");
  return [leaves, key];
}

/** The tree of structure `d` over leaves[at.i], leaves[at.i + 1], …, advancing at.i. */
function unflattenFrom(d: TreeDef, leaves: readonly unknown[], at: { i: number }): unknown {
  switch (d.kind) {
    case "leaf":
      if (at.i >= leaves.length) throw new TreeError(`treeUnflatten: too few leaves (${leaves.length})`);
      return leaves[at.i++];
    case "none":
      return d.value;
    case "array": {
      const out: unknown[] = new Array(d.children.length);
      for (let j = 0; j < out.length; j++) out[j] = unflattenFrom(d.children[j]!, leaves, at);
      return out;
    }
    case "object": {
      const o: Record<string, unknown> = {};
      for (let j = 0; j < d.keys.length; j++) o[d.keys[j]!] = unflattenFrom(d.children[j]!, leaves, at);
      return o;
    }
  }
}

/** Rebuild a tree of structure `def` from leaves in order. */
export function treeUnflatten<L>(def: TreeDef, leaves: readonly L[]): Tree<L> {
  const at = { i: 0 };
  const out = unflattenFrom(def, leaves, at);
  if (at.i !== leaves.length) throw new TreeError(`treeUnflatten: ${leaves.length} leaves for a tree of ${at.i}`);
  return out as Tree<L>;
}

/** Dotted path of every leaf, in flatten order. */
export function treePaths(def: TreeDef, prefix = ""): string[] {
  switch (def.kind) {
    case "leaf":
      return [prefix];
    case "none":
      return [];
    case "array":
      return def.children.flatMap((c, i) => treePaths(c, joinPath(prefix, i)));
    case "object":
      return def.children.flatMap((c, i) => treePaths(c, joinPath(prefix, def.keys[i]!)));
  }
}

/** The leaves of a tree, in order. */
export const treeLeaves = <L = Value>(tree: unknown): L[] => treeFlatten<L>(tree)[0];

/** Number of leaves of a structure. */
export function treeSize(def: TreeDef): number {
  return def.kind === "leaf" ? 1 : def.kind === "none" ? 0 : def.children.reduce((n, c) => n + treeSize(c), 0);
}

function describe(t: unknown): string {
  if (t === null || t === undefined) return String(t);
  if (Array.isArray(t)) return `an array of length ${t.length}`;
  if (isPlainObject(t) && !isValue(t)) return `an object with keys {${Object.keys(t).join(", ")}}`;
  return "a leaf";
}

/**
 * The leaves of `tree` in the order of `def` (object keys are matched by name, not position).
 * Throws a TreeError naming the first path where the structures differ.
 */
export function flattenAs<L>(def: TreeDef, tree: unknown, what = "tree", root = ""): L[] {
  const out: L[] = [];
  const fail = (path: string, expected: string, got: unknown): never => {
    throw new TreeError(
      `${what}: structure differs at ${path === "" ? "the root" : path.replace(/^(\w+)\.(\d+)/, "$1[$2]")}: expected ${expected}, got ${describe(got)}`,
    );
  };
  const go = (d: TreeDef, t: unknown, path: string) => {
    switch (d.kind) {
      case "leaf":
        if (!isLeaf(t)) fail(path, "a leaf", t);
        out.push(t as L);
        return;
      case "none":
        if (t !== null && t !== undefined) fail(path, String(d.value), t);
        return;
      case "array":
        if (!Array.isArray(t) || t.length !== d.children.length)
          fail(path, `an array of length ${d.children.length}`, t);
        d.children.forEach((c, i) => go(c, (t as unknown[])[i], joinPath(path, i)));
        return;
      case "object": {
        if (!isPlainObject(t) || isValue(t)) return fail(path, `an object with keys {${d.keys.join(", ")}}`, t);
        const keys = Object.keys(t);
        const missing = d.keys.filter((k) => !(k in t));
        const extra = keys.filter((k) => !d.keys.includes(k));
        if (missing.length || extra.length) {
          fail(path, `an object with keys {${d.keys.join(", ")}}`, t);
        }
        d.children.forEach((c, i) => go(c, t[d.keys[i]!], joinPath(path, d.keys[i]!)));
      }
    }
  };
  go(def, tree, root);
  return out;
}

/**
 * Apply `f` leafwise to one or more trees of the same structure (keys matched by name).
 * The result has the structure of `tree` (typed as `tree`'s type: leaves map to leaves).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function treeMap<T>(f: (...leaves: any[]) => unknown, tree: T, ...rest: unknown[]): T {
  const [leaves, def] = treeFlatten(tree as Tree<unknown>);
  const others = rest.map((t, i) => flattenAs<unknown>(def, t, `treeMap (tree ${i + 1})`));
  return treeUnflatten(
    def,
    leaves.map((l, j) => f(l, ...others.map((o) => o[j]!))),
  ) as T;
}

/** True when two structures are equal (same kinds, same keys in the same order). */
export function treeDefEqual(a: TreeDef, b: TreeDef): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "leaf") return true;
  if (a.kind === "none") return a.value === (b as typeof a).value;
  const bc = (b as typeof a).children;
  if (a.children.length !== bc.length) return false;
  if (a.kind === "object" && a.keys.some((k, i) => k !== (b as typeof a).keys[i])) return false;
  return a.children.every((c, i) => treeDefEqual(c, bc[i]!));
}
