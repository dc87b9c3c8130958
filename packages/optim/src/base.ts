/**
 * The optimizer interface (optax's `base.py`): a transformation is a pair of pure functions,
 * `init(params) → state` and `update(state, params, grads, extras?) → { state, updates }`.
 * Every value a transformation keeps travels in its returned state; nothing is mutated.
 */
import * as hd from "@hodiff/core";
import { freeze } from "immer";

// model ---------------------------------------------------------------------------------------

/** A pytree of float32 arrays (the parameters of a model). @category model */
export type Params = hd.Tree<hd.Value>;

/** A pytree of the same structure as the parameters: gradients, or steps to add to them. @category model */
export type Updates = Params;

/** A function of the number of updates done so far (0 on the first update). @category model */
export type Schedule = (count: number) => number;

/** A constant or a {@link Schedule}. @category model */
export type ScalarOrSchedule = number | Schedule;

/**
 * Extra inputs of an update, passed unchanged to every transformation of a {@link chain}.
 * `value` is read by `scaleByPlateau` (a metric, e.g. the validation loss of an epoch); other keys
 * are for transformations that need more than the gradient (e.g. a loss closure).
 * @category model
 */
export interface Extras {
  readonly value?: number;
  readonly [key: string]: unknown;
}

/** What `update` returns: the new state and the updates (same structure as the gradients). @category model */
export interface UpdateResult<S, P = Updates> {
  readonly state: S;
  readonly updates: P;
}

/**
 * A gradient transformation, i.e. an optimizer or one of its building blocks.
 *
 * - `init(params)` returns the initial state;
 * - `update(state, params, grads, extras?)` returns `{ state, updates }`. In a {@link chain}, `grads`
 *   is the previous transformation's `updates` (the gradient for the first one).
 *
 * Both are pure: the same inputs give the same outputs, inputs are never modified, and returned
 * states are frozen (immer `freeze`: containers only, tensors are never written in place; counts
 * are plain numbers). `update` frees every tensor it made except those of its result. The caller
 * owns the result: dispose the old state and the updates when done with them (`hd.dispose(state)`
 * frees every tensor of a state). Updates may share tensors with `grads` (e.g. {@link identity}),
 * so dispose the gradients and the updates after `applyUpdates`.
 * @category model
 */
export interface GradientTransformation<S> {
  init<P>(params: P): S;
  update<P>(state: S, params: P, grads: P, extras?: Extras): UpdateResult<S, P>;
}

/** The user-facing name of a {@link GradientTransformation} (the design card's `Optimizer<S>`). @category model */
export type Optimizer<S> = GradientTransformation<S>;

/** The state of a transformation that keeps nothing. @category model */
export type EmptyState = Readonly<Record<string, never>>;

// constructors --------------------------------------------------------------------------------

/** The frozen empty state. @category constructors */
export const EMPTY_STATE: EmptyState = freeze({});

/**
 * identity: u = g (no state; the updates are the incoming tensors themselves).
 * @example chain(identity(), sgd(0.1)) // same as sgd(0.1), one more (empty) sub-state
 * @category constructors
 */
export function identity(): GradientTransformation<EmptyState> {
  return {
    init: () => EMPTY_STATE,
    update: (state, _params, grads) => ({ state, updates: grads }),
  };
}

// utils ---------------------------------------------------------------------------------------

/**
 * Freeze the containers of a state (plain objects and arrays, recursively); tensors are class
 * instances, which immer leaves alone.
 * @internal
 */
export const freezeState = <S>(state: S): S => freeze(state, true);
