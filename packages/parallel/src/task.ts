/**
 * What every thread of a pool runs: the task (a loss on a batch, built from a module every thread
 * imports) and the work on one part of the batch, returning host arrays.
 */
import * as hd from "@hodiff/core";
import { summaries, type Partition, type Summaries, type SummariesOptions } from "@hodiff/partition";
import type { ArenaLeaf } from "./protocol";
import { sizeOf } from "./shards";

/** Parameters: a pytree of float32 arrays. */
export type Params = hd.Tree<hd.Value>;

/**
 * The batch as a task's loss sees it: each float32 input as an array on the backend (examples
 * along axis 0), each int32 input (labels) as an Int32Array.
 */
export type TaskBatch = Readonly<Record<string, hd.Value | Int32Array>>;

/** A loss on a batch: must be the **mean** over the batch's examples (the parts are weighted by size). */
export type BatchLoss = (params: Params, batch: TaskBatch) => hd.Value;

/** Builds the loss in each thread from `init` (plain data: it is copied to every worker). */
export type Task<I = unknown> = (init: I) => BatchLoss | Promise<BatchLoss>;

/**
 * defineTask(f) = f: types the default export of a task module, the module that every thread of a
 * pool imports to build its loss (functions cannot be sent to a worker, a module URL can).
 * @example export default defineTask((init: { hidden: number }) => (p, b) => nll(mlp(...).apply(p, b.x), b.labels as Int32Array));
 */
export const defineTask = <I>(task: Task<I>): Task<I> => task;

/**
 * A worker's part of the batch as the loss sees it, from the shared arena: float32 inputs become
 * arrays on the backend (collected in `own`, to free afterwards), labels an Int32Array copy.
 */
export function arenaBatch(
  arena: SharedArrayBuffer,
  part: Readonly<Record<string, ArenaLeaf>>,
  own: hd.Value[],
): TaskBatch {
  const out: Record<string, hd.Value | Int32Array> = {};
  for (const [name, leaf] of Object.entries(part)) {
    const n = sizeOf(leaf.shape);
    if (leaf.dtype === "int32") out[name] = new Int32Array(arena, 4 * leaf.offset, n).slice();
    else {
      const t = fromShared(new Float32Array(arena, 4 * leaf.offset, n), leaf.shape);
      own.push(t);
      out[name] = t;
    }
  }
  return out;
}

/**
 * An array on the backend from (a view of) shared memory the caller may overwrite afterwards:
 * wasm copies the data into its heap when it makes the array; other backends may keep the array
 * itself, so they get a copy.
 */
export function fromShared(view: Float32Array, shape: readonly number[]): hd.Value {
  return hd.array(hd.getBackend() === "wasm" ? view : view.slice(), { shape });
}

/** The loss times w (the part's weight B_k / B), so that the parts' gradients add up unweighted. */
export const scaledLoss =
  (loss: BatchLoss, weight: number): BatchLoss =>
  (params, batch) =>
    weight === 1 ? loss(params, batch) : hd.mul(loss(params, batch), weight);

/**
 * (w·L, w·∇L) of a part: how a thread differentiates its part of the batch. The caller owns both
 * results; the part's own arrays stay the caller's.
 */
export type PartGradient = (params: Params, batch: TaskBatch, weight: number) => [hd.Value, Params];

/** The part's (w·L, w·∇L), traced at every call (the pool's default). */
export const eagerPartGradient =
  (loss: BatchLoss): PartGradient =>
  (params, batch, weight) =>
    hd.valueAndGrad((p: Params) => scaledLoss(loss, weight)(p, batch))(params);

/**
 * jitPartGradient(L)(θ, b, w) = valueAndGrad(θ ↦ w·L(θ, b))(θ), as one `hd.jit` plan per part
 * shape (θ, b and w its arguments: a new weight is no new trace, a new part size is). The loss
 * then sees its int32 inputs as int32 arrays (uploaded once per call), not Int32Arrays: it must
 * not read them on the host. `dispose` frees the plans.
 */
export function jitPartGradient(loss: BatchLoss): PartGradient & { readonly plans: number; dispose(): void } {
  const compiled = hd.jit((p: Params, batch: Record<string, hd.Value>, w: hd.Value | number) =>
    hd.valueAndGrad((q: Params) => hd.mul(loss(q, batch), w))(p),
  );
  const f = (params: Params, batch: TaskBatch, weight: number): [hd.Value, Params] => {
    const made: hd.Value[] = [];
    const staged: Record<string, hd.Value> = {};
    for (const [name, x] of Object.entries(batch)) {
      if (x instanceof Int32Array) {
        const t = hd.array(x, { shape: [x.length] });
        made.push(t);
        staged[name] = t;
      } else staged[name] = x;
    }
    try {
      return compiled(params, staged, weight) as [hd.Value, Params];
    } finally {
      hd.dispose(made);
    }
  };
  Object.defineProperty(f, "plans", { get: () => compiled.cacheSize });
  Object.defineProperty(f, "dispose", { value: () => compiled.dispose() });
  return f as PartGradient & { readonly plans: number; dispose(): void };
}

/** Parameters rebuilt from one flat float32 array (shared memory the caller may overwrite afterwards). */
export function paramsFrom(def: hd.TreeDef, shapes: readonly (readonly number[])[], flat: Float32Array): Params {
  let offset = 0;
  const leaves = shapes.map((shape) => {
    const n = sizeOf(shape);
    const t = fromShared(flat.subarray(offset, offset + n), shape);
    offset += n;
    return t;
  });
  return hd.treeUnflatten(def, leaves) as Params;
}

/** The leaves of a pytree of arrays written one after another into `out` (from `offset`), with no host copy in between. */
export function writeFlat(leaves: readonly hd.Value[], out: Float32Array, offset = 0): void {
  for (const leaf of leaves) {
    hd.copyInto(leaf, out, offset);
    offset += sizeOf(hd.shapeOf(leaf));
  }
}

/**
 * w·L_k and w·∇L_k on one part (by `gradient`), the gradient's leaves written one after another into `out` from
 * `offset` (no array allocated on the host); returns w·L_k. `mark` (for a trace) is told when
 * the gradient is computed, before it is written.
 */
export function gradInto(
  gradient: PartGradient,
  weight: number,
  params: Params,
  batch: TaskBatch,
  out: Float32Array,
  offset: number,
  mark?: (phase: string) => void,
): number {
  const [value, grads] = gradient(params, batch, weight);
  mark?.("gradient computed");
  try {
    writeFlat(hd.treeLeaves(grads), out, offset);
    return hd.item(value);
  } finally {
    hd.dispose([value, grads]);
  }
}

/** L, ḡ, H̄ and the order-3 diagonal along `direction`, on one part. */
export function summariesOnPart(
  loss: BatchLoss,
  params: Params,
  direction: Params,
  batch: TaskBatch,
  partition: Partition,
  options: SummariesOptions,
): Summaries {
  return summaries((p: never) => loss(p as Params, batch), partition, options)(params, direction);
}
