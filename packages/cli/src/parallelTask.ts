/**
 * The task of `hodiff train --threads n` (n > 1): the run's model under the mean NLL, built in every
 * thread of the `@hodiff/parallel` pool from the run's model name, example shape and hidden widths.
 */
import type { Labels, ModelName } from "@hodiff/nn";
import { nll } from "@hodiff/nn";
import { defineTask } from "@hodiff/parallel";
import { buildModel } from "./models";

/** What each thread needs to build the model (plain data: it is copied to the workers). */
export interface ParallelTaskInit {
  readonly model: ModelName;
  readonly inputShape: readonly number[];
  readonly hidden: readonly number[] | null;
}

export default defineTask((init: ParallelTaskInit) => {
  const model = buildModel(init.model, { inputShape: init.inputShape, hidden: init.hidden ?? undefined });
  // labels: an Int32Array, or an int32 array in a pool with jit (--jit on): nll takes either
  return (params, batch) => nll(model.apply(params as never, batch.x as never), batch.labels as Labels);
});
