/**
 * What every thread of a pool runs: the task (a loss on a batch, built from a module every thread
 * imports) and the work on one part of the batch, returning host arrays.
 */
import * as hd from "@hodiff/core";
import { summaries, type Partition, type Summaries, type SummariesOptions } from "@hodiff/partition";
import { sizeOf, totalSize, type BatchLeaf } from "./shards";

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

/** A host batch's part as the loss sees it; `own` collects the arrays to free afterwards. */
export function toTaskBatch(part: Readonly<Record<string, BatchLeaf>>, own: hd.Value[]): TaskBatch {
  const out: Record<string, hd.Value | Int32Array> = {};
  for (const [name, leaf] of Object.entries(part)) {
    if (leaf.data instanceof Int32Array) out[name] = leaf.data;
    else {
      const t = hd.array(leaf.data, { shape: leaf.shape });
      own.push(t);
      out[name] = t;
    }
  }
  return out;
}

/** `fn` of a host batch's part as the loss sees it; the arrays made for it are freed afterwards. */
export function withTaskBatch<T>(part: Readonly<Record<string, BatchLeaf>>, fn: (batch: TaskBatch) => T): T {
  const own: hd.Value[] = [];
  try {
    return fn(toTaskBatch(part, own));
  } finally {
    hd.dispose(own);
  }
}

/**
 * Parameters rebuilt from one flat float32 array, which the caller may overwrite afterwards: wasm
 * copies an array's data into its heap when it makes it; other backends may keep the array itself,
 * so they get a copy.
 */
export function paramsFrom(def: hd.TreeDef, shapes: readonly (readonly number[])[], flat: Float32Array): Params {
  let offset = 0;
  const copy = hd.getBackend() !== "wasm";
  const leaves = shapes.map((shape) => {
    const n = sizeOf(shape);
    const view = flat.subarray(offset, offset + n);
    const t = hd.array(copy ? view.slice() : view, { shape });
    offset += n;
    return t;
  });
  return hd.treeUnflatten(def, leaves) as Params;
}

/** The leaves of a pytree of arrays written one after another into `out` (from `offset`). */
export function writeFlat(leaves: readonly hd.Value[], out: Float32Array, offset = 0): void {
  for (const leaf of leaves) {
    const data = hd.toFlat(leaf);
    out.set(data, offset);
    offset += data.length;
  }
}

/** L and ∇L on one part: the loss and the gradient's leaves in one flat array. */
export function gradOnPart(loss: BatchLoss, params: Params, batch: TaskBatch): { loss: number; grad: Float32Array } {
  const [value, grads] = hd.valueAndGrad((p: Params) => loss(p, batch))(params);
  const leaves = hd.treeLeaves(grads);
  const grad = new Float32Array(totalSize(leaves.map((l) => hd.shapeOf(l))));
  writeFlat(leaves, grad);
  const l = hd.item(value);
  hd.dispose([value, grads]);
  return { loss: l, grad };
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
