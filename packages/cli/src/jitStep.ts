/**
 * The plain (loss, gradient) step of `hodiff train --jit on`: `valueAndGrad` of the mean NLL,
 * staged by `hd.jit` with the parameters, the batch and its one-hot labels as arguments, so one
 * compiled plan serves every step (a new trace only for a new shape, e.g. a smaller batch). The
 * eager step closes over each batch and so re-traces the model at every update; the plan runs its
 * kernels only (bench/models.ts's `grad_jit_ms`).
 */
import * as hd from "@hodiff/core";
import { nll, oneHot, type Model, type Params } from "@hodiff/nn";

/** A jitted (loss, gradient) of a model's mean NLL; `dispose` frees its plans' constants. @category training */
export interface JitStep {
  /** (L, ∇_θ L) of L(θ) = nll(model(θ, x), labels); the caller owns both. */
  (params: Params, x: hd.Value, labels: Int32Array): [hd.Value, Params];
  /** Number of compiled plans (one per batch shape seen). */
  readonly plans: number;
  /** Free every plan and the tensors it holds (idempotent). */
  dispose(): void;
}

/**
 * jitStep(model)(θ, x, y) = valueAndGrad(θ ↦ nll(model.apply(θ, x), onehot(y)))(θ), as one jit
 * plan per (θ, x, y) shape (host kernels where reads are synchronous: jit's default).
 * @category training
 */
export function jitStep(model: Model): JitStep {
  const compiled = hd.jit((p: Params, x: hd.Value, y: hd.Value) =>
    hd.valueAndGrad((q: Params) => nll(model.apply(q, x), y))(p),
  );
  const step = ((params: Params, x: hd.Value, labels: Int32Array): [hd.Value, Params] => {
    // one-hot rows made on the host and uploaded once, as nll does with class ids
    const y = oneHot(labels, model.numClasses);
    try {
      return compiled(params, x, y);
    } finally {
      hd.dispose(y);
    }
  }) as JitStep;
  Object.defineProperty(step, "plans", { get: () => compiled.cacheSize });
  Object.defineProperty(step, "dispose", { value: () => compiled.dispose() });
  return step;
}
