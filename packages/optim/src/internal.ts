/**
 * Shared helpers of the optimizers: leafwise maps that check structures and shapes, and option
 * validation. @internal Not exported from the package.
 */
import * as hd from "@hodiff/core";

const fmt = (shape: readonly number[]) => `[${shape.join(",")}]`;

/**
 * f applied leafwise to `trees` (named by `names` in errors), which must have the structure and
 * the leaf shapes of `trees[0]`. Unlike `hd.treeMap` it never broadcasts: a gradient of another
 * shape than its parameter is an error naming the path.
 * @internal
 */
export function zipMap<T>(
  fn: string,
  names: readonly string[],
  f: (...leaves: hd.Value[]) => hd.Value,
  ...trees: unknown[]
): T {
  const [first, def] = hd.treeFlatten(trees[0] as hd.Tree<hd.Value>);
  const paths = hd.treePaths(def);
  const others = trees
    .slice(1)
    .map((t, i) => hd.flattenAs<hd.Value>(def, t, `${fn} (${names[i + 1]} against ${names[0]})`));
  const out = first.map((leaf, j) => {
    const shape = hd.shapeOf(leaf);
    others.forEach((o, i) => {
      const s = hd.shapeOf(o[j]!);
      if (s.length !== shape.length || s.some((d, k) => d !== shape[k]))
        throw new hd.ShapeError(
          `${fn}: shapes differ at ${paths[j] || "the root"}: ${names[0]} ${fmt(shape)} vs ${names[i + 1]} ${fmt(s)} (no broadcasting: gradients and states have the parameters' shapes).`,
        );
    });
    return f(leaf, ...others.map((o) => o[j]!));
  });
  return hd.treeUnflatten(def, out) as T;
}

/** A value as an error message shows it: numbers as they print, other types named (`the string "0.1"`). @internal */
export function describeValue(value: unknown): string {
  if (typeof value === "number" || typeof value === "boolean" || value === null || value === undefined)
    return String(value);
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return `a ${typeof value}`;
}

/** Throw an ArgumentError unless `ok`: `${fn}: ${name} must be ${what}, got ${value}.` @internal */
export function check(ok: boolean, fn: string, name: string, what: string, value: unknown): void {
  if (!ok) throw new hd.ArgumentError(`${fn}: ${name} must be ${what}, got ${describeValue(value)}.`);
}

/** Check an optimizer's learning rate: a finite number > 0 or a schedule (its values are checked when used). @internal */
export function checkLearningRate(fn: string, value: unknown): void {
  check(
    (isFiniteNumber(value) && value > 0) || typeof value === "function",
    fn,
    "learningRate",
    "a finite number > 0 or a schedule",
    value,
  );
}

/** A finite number. @internal */
export const isFiniteNumber = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/** Check a learning rate: a finite number or a function (its values are checked when used). @internal */
export function checkScalarOrSchedule(fn: string, name: string, value: unknown): void {
  check(isFiniteNumber(value) || typeof value === "function", fn, name, "a finite number or a schedule", value);
}

/**
 * Throw an ArgumentError naming the allowed options when `options` has a key not in `allowed`
 * (a misspelt option would otherwise be ignored silently). @internal
 */
export function checkOptionNames(fn: string, options: unknown, allowed: readonly string[]): void {
  if (typeof options !== "object" || options === null) return;
  const unknown = Object.keys(options).filter((k) => !allowed.includes(k));
  if (unknown.length > 0)
    throw new hd.ArgumentError(
      `${fn}: unknown option${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `'${k}'`).join(", ")}; ` +
        `the options are ${allowed.map((k) => `'${k}'`).join(", ")}.`,
    );
}
