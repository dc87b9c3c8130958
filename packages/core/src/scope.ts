/**
 * Memory scopes for user code: a functional training loop that frees every intermediate without
 * disposing each one by hand.
 *
 * The rule, in one line: **a tensor made inside `scope(fn)` lives on only if it is reachable from
 * what `fn` returns (or was passed to `keep`); a tensor returned from a scope is the caller's.**
 *
 * - `scope(fn)` is `tidy` that looks through any returned value: pytrees, but also frozen
 *   optimizer states, class instances, Maps and Sets, and pullbacks' residuals. Numbers pass
 *   through, so read losses inside: `scope(() => item(loss(p)))` frees the loss array, while
 *   `item(scope(() => loss(p)))` (or with `tidy`) leaks it, since the returned array is yours.
 * - `carry(state, fn)` runs `fn(state)` in a scope and then frees the tensors of the old `state`
 *   that the new one does not reuse: one training step, old parameters and old optimizer state
 *   included. It takes ownership of `state`: do not use the old state afterwards.
 * - Inside a transform (grad, jvp, …) scopes free nothing: intermediates may be residuals of an
 *   enclosing reverse pass, and the outermost transform frees them.
 */
import * as tf from "@tensorflow/tfjs-core";
import { Tracer, transformDepth } from "./trace/core";
import { scoped } from "./memory";

/** Every concrete tensor reachable from `x` (through arrays, objects, Maps, Sets, pullback residuals). */
export function reachableTensors(x: unknown, into: Set<tf.Tensor> = new Set()): Set<tf.Tensor> {
  const seen = new Set<unknown>();
  const visit = (v: unknown): void => {
    if (v === null || (typeof v !== "object" && typeof v !== "function")) return;
    if (seen.has(v)) return;
    seen.add(v);
    if (v instanceof tf.Tensor) {
      into.add(v);
      return;
    }
    if (v instanceof Tracer || ArrayBuffer.isView(v)) return;
    if (typeof v === "function") {
      const residuals = (v as { residuals?: unknown }).residuals;
      if (Array.isArray(residuals)) residuals.forEach(visit);
      return;
    }
    if (v instanceof Map) {
      for (const [k, e] of v) {
        visit(k);
        visit(e);
      }
      return;
    }
    if (v instanceof Set || Array.isArray(v)) {
      for (const e of v) visit(e);
      return;
    }
    for (const e of Object.values(v)) visit(e);
  };
  visit(x);
  return into;
}

/**
 * scope(fn): run fn and free every tensor it made except those reachable from its result (any
 * object graph, not only pytrees) or passed to {@link keep}. Nests; frees nothing inside a transform.
 * @example const { params, loss } = scope(() => { const [l, g] = valueAndGrad(f)(p); return { params: step(p, g), loss: item(l) }; });
 */
export function scope<T>(fn: () => T): T {
  return scoped(fn, (r) => [...reachableTensors(r)]);
}

/**
 * keep(x): mark the tensors reachable from x to survive every enclosing scope (and tidy); returns x.
 * The caller then owns them and frees them with `dispose`.
 */
export function keep<T>(x: T): T {
  for (const t of reachableTensors(x)) tf.keep(t);
  return x;
}

/**
 * carry(state, fn) = fn(state), run in a {@link scope}; afterwards the tensors of the old `state`
 * not reachable from the result are freed. One step of a functional loop, leak-free:
 * `state = carry(state, (s) => ({ params: applyUpdates(s.params, u), opt: newOptState }))`.
 * Takes ownership of `state`. Inside a transform it frees nothing.
 */
export function carry<S, R>(state: S, fn: (state: S) => R): R {
  const result = scope(() => fn(state));
  if (transformDepth() > 0) return result;
  const live = reachableTensors(result);
  for (const t of reachableTensors(state)) if (!live.has(t) && !t.isDisposed) t.dispose();
  return result;
}
