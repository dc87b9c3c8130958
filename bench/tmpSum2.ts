import * as hd from "@hodiff/core";
import { canonical, summaries } from "@hodiff/partition";
import { pairedRatio, round } from "./timing";
import { mlpProblem, type Params } from "./problems";
await hd.useDefaultBackend();
const { params, loss } = mlpProblem([784, 1024, 200, 100, 10], 100);
const partition = canonical(params);
const u = hd.grad(loss)(params) as Params;
const grad = () => hd.grad(loss)(params);
for (let r = 0; r < 3; r++) {
  const j = pairedRatio(grad, () => (summaries(loss as never, partition)(params, u), []), 5);
  const e = pairedRatio(grad, () => (summaries(loss as never, partition, { jit: false })(params, u), []), 5);
  console.log(JSON.stringify({ jit_ratio: round(j.ratio, 2), eager_ratio: round(e.ratio, 2), grad_ms: round(j.baselineMs), jit_ms: round(j.fnMs), eager_ms: round(e.fnMs) }));
}
