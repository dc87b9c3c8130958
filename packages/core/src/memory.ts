/**
 * tfjs tensors are manual memory. Transforms run inside `scoped`, which at the outermost level
 * is a tf.tidy that keeps only the tensors reachable from the result. Inside a transform nothing
 * is freed early: intermediate values may be residuals recorded by an enclosing reverse pass.
 */
import { runtime, type Tensor } from "./kernels";
import { Tracer, transformDepth } from "./trace/core";
import { treeLeaves, type Tree } from "./tree";

/** Something that holds tensors beyond its pytree leaves (a pullback's residuals). */
export interface Disposable {
  dispose(): void;
}

/** Tensors among the leaves of a result (functions may carry residual tensors). */
export function tensorsIn(result: unknown, into: Tensor[] = []): Tensor[] {
  for (const leaf of treeLeaves(result as Tree<unknown>)) {
    if (runtime.isTensor(leaf)) into.push(leaf);
    else if (typeof leaf === "function" && Array.isArray((leaf as { residuals?: unknown }).residuals)) {
      into.push(...(leaf as unknown as { residuals: Tensor[] }).residuals);
    }
  }
  return into;
}

/** Run `fn`; at the outermost level free every tensor it made except those in its result. */
export function scoped<T>(fn: () => T, keep: (result: T) => Tensor[] = (r) => tensorsIn(r)): T {
  if (transformDepth() > 0) return fn();
  let result!: T;
  runtime.tidy(() => {
    result = fn();
    return keep(result);
  });
  return result;
}

/**
 * tidy(fn) runs fn and frees every tensor it created except those in its returned pytree.
 * Inside a transformed function it frees nothing (intermediates may be needed for derivatives).
 * A returned array is the caller's: read numbers inside, `tidy(() => item(loss(p)))`, since
 * `item(tidy(() => loss(p)))` leaves the loss array alive. `scope` also keeps tensors inside
 * optimizer states and class instances; `carry` frees a loop's old state too.
 * @example const loss = tidy(() => item(sum(square(x))))
 */
export function tidy<T>(fn: () => T): T {
  return scoped(fn);
}

/** Free every tensor in a pytree (and the residuals of pullbacks/linear maps in it). */
export function dispose(tree: unknown): void {
  for (const leaf of treeLeaves(tree as Tree<unknown>)) {
    if (runtime.isTensor(leaf)) leaf.dispose();
    else if (leaf instanceof Tracer) continue;
    else if (leaf && typeof (leaf as Partial<Disposable>).dispose === "function") (leaf as Disposable).dispose();
  }
}
