/** Composing transformations (optax's `transforms/_combining.py`). */
import * as hd from "@hodiff/core";
import { freezeState, type GradientTransformation } from "./base";

/** The state of `chain(t₁, …, tₙ)`: the tuple of the sub-states, in order. @category combine */
export type ChainState<T extends readonly GradientTransformation<unknown>[]> = {
  readonly [K in keyof T]: T[K] extends GradientTransformation<infer S> ? S : never;
};

/**
 * chain: u = tₙ(…t₂(t₁(g))…), each tᵢ with its own state; the chained state is the tuple of them.
 * Every transformation receives the same `params` and `extras`.
 * @example chain(scaleByAdam(), scaleByLearningRate(1e-3)) // adam(1e-3)
 * @category combine
 */
export function chain<const T extends readonly GradientTransformation<unknown>[]>(
  ...transforms: T
): GradientTransformation<ChainState<T>> {
  return {
    init: (params) => freezeState(transforms.map((t) => t.init(params))) as unknown as ChainState<T>,
    update: (state, params, grads, extras) => {
      const states = state as readonly unknown[];
      if (!Array.isArray(states) || states.length !== transforms.length)
        throw new hd.ArgumentError(
          `chain: the state must be the array of ${transforms.length} sub-states returned by this chain's init, got ${
            Array.isArray(states) ? `an array of ${states.length}` : typeof states
          }.`,
        );
      return hd.tidy(() => {
        let updates = grads;
        const next = transforms.map((t, i) => {
          const r = t.update(states[i], params, updates, extras);
          updates = r.updates;
          return r.state;
        });
        return { state: freezeState(next) as unknown as ChainState<T>, updates };
      });
    },
  };
}
