/**
 * The data of arrays made by `zeros` (a tensor's data never changes; a Variable's assign gives
 * it new data), so that a primitive can skip work that multiplies by them (`axpy` at α = 0).
 */
import type { Tensor } from "./kernels";

const zeroData = new WeakSet<object>();

/** Record that `t`'s data is all zeros; returns `t`. */
export function markZero(t: Tensor): Tensor {
  zeroData.add(t.dataId);
  return t;
}

/** Whether `t`'s data was made by `zeros`. */
export const isKnownZero = (t: Tensor): boolean => zeroData.has(t.dataId);
