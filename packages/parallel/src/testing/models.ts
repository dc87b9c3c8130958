/**
 * A task module for the tests: a model named in `init` (a tiny MLP, a tiny LeNet-style CNN, the
 * paper's MLP) under the mean NLL; `failOn` makes the loss throw on a part of that many examples
 * (to test that a worker's error reaches the caller), `exitOn` ends its thread, `gemm` makes it
 * check which GEMM its thread runs.
 */
import * as hd from "@hodiff/core";
import { lenet5, mlp, nll, paperMlp, type Model } from "@hodiff/nn";
import { defineTask } from "../task";

export type TestModel = "tiny-mlp" | "tiny-cnn" | "mlp";

export interface TestInit {
  readonly model: TestModel;
  readonly failOn?: number;
  /** Ends the thread (process.exit in a worker) on a part of that many examples. */
  readonly exitOn?: number;
  /** The GEMM every thread must run its matmuls on: the loss throws otherwise (to check a pool's `gemm`). */
  readonly gemm?: "native" | "wasm";
}

export function testModel(name: TestModel): Model {
  if (name === "tiny-mlp") return mlp([6, 5, 3], "tanh", 1);
  if (name === "tiny-cnn") return lenet5({ inputShape: [16, 16, 1] });
  return paperMlp();
}

export default defineTask((init: TestInit) => {
  const model = testModel(init.model);
  return (params, batch) => {
    const labels = batch.labels as Int32Array | hd.Value; // an int32 array in a pool with jit
    const n = labels instanceof Int32Array ? labels.length : hd.shapeOf(labels)[0];
    if (n === init.failOn) throw new Error(`test task: refusing a part of ${init.failOn} examples`);
    if (n === init.exitOn) process.exit(3);
    if (init.gemm !== undefined && hd.heapGemmActive() !== (init.gemm === "native"))
      throw new Error(`test task: expected the ${init.gemm} GEMM, heapGemmActive() is ${hd.heapGemmActive()}`);
    return nll(model.apply(params as never, batch.x as never), labels);
  };
});
