/**
 * The task of `pnpm bench models --threads …`: a paper model (by name) under the mean NLL, built
 * in every thread of an `@hodiff/parallel` pool.
 */
import { MODELS, nll, type ModelName } from "@hodiff/nn";
import { defineTask } from "@hodiff/parallel";

export default defineTask((init: { model: ModelName }) => {
  const model = MODELS[init.model]();
  return (params, batch) => nll(model.apply(params as never, batch.x as never), batch.labels as Int32Array);
});
