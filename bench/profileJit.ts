/**
 * Kernel time against wall time for the paper MLP (784-1024-200-100-10 tanh, batch 100, wasm):
 * `npx tsx bench/profileJit.ts grad|jit-grad|summaries|summaries-jit`. Prints the unprofiled
 * wall time (median of 5), the kernels of one profiled run (count, total time) and the time by
 * kernel name — how much of a run jit could ever save (everything that is not a kernel).
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { canonical, summaries } from "@hodiff/partition";
import { mlpProblem, type Params } from "./problems";
import { medianMs } from "./timing";

const which = process.argv[2] ?? "grad";
await hd.setBackend("wasm");
const { params, loss } = mlpProblem([784, 1024, 200, 100, 10], 100);
const partition = canonical(params);
const u = hd.grad(loss)(params) as Params;
const jitGrad = hd.jit(hd.grad(loss));
const runs: Record<string, () => unknown> = {
  grad: () => hd.grad(loss)(params),
  "jit-grad": () => jitGrad(params),
  summaries: () => (summaries(loss as never, partition)(params, u), []),
  "summaries-jit": () => (summaries(loss as never, partition, { jit: true })(params, u), []),
};
const run = runs[which];
if (!run) throw new Error(`unknown run '${which}'; available: ${Object.keys(runs).join(", ")}`);
const wall = medianMs(run, 5, 2);
const prof = await tf.profile(() => {
  const out = run();
  for (const leaf of hd.treeLeaves(out as hd.Tree<unknown>)) if (leaf instanceof tf.Tensor) leaf.dataSync();
  hd.dispose(out);
});
const byName = new Map<string, [number, number]>();
let total = 0;
for (const k of prof.kernels) {
  const ms = Number(k.kernelTimeMs);
  const e = byName.get(k.name) ?? [0, 0];
  byName.set(k.name, [e[0] + ms, e[1] + 1]);
  total += ms;
}
console.log(
  `${which}: wall ${wall.toFixed(1)} ms (median of 5), ${prof.kernels.length} kernels, ${total.toFixed(1)} ms in kernels`,
);
console.log(
  [...byName]
    .sort((a, b) => b[1][0] - a[1][0])
    .slice(0, 8)
    .map(([k, [t, n]]) => `${k} ${t.toFixed(1)} ms/${n}`)
    .join("; "),
);
jitGrad.dispose();
