/** Applying updates to parameters (optax's `update.py`). */
import * as hd from "@hodiff/core";
import { zipMap } from "./internal";

/**
 * applyUpdates: θ' = θ + u, leafwise (`updates` already carry the descent sign). Returns a new
 * pytree with the structure of `params`; neither input is modified or freed. Shapes must match
 * (no broadcasting).
 * @example const next = applyUpdates(params, updates); hd.dispose([params, updates]);
 * @category update
 */
export function applyUpdates<P>(params: P, updates: P): P {
  return hd.tidy(() => zipMap<P>("applyUpdates", ["params", "updates"], (p, u) => hd.add(p, u), params, updates));
}
