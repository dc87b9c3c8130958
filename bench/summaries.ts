/**
 * `pnpm bench summaries`: cost of the partitioned derivatives NewtonSummary needs (L, ḡ, H̄, the
 * order-3 diagonal) in gradients of the same loss, measured in the same run.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import { canonical, summaries, type Partition } from "@hodiff/partition";
import { pairedRatio, round } from "./timing";
import { mlpProblem, type Params } from "./problems";
import type { Bench } from "./suites";

const progress = (m: string) => process.stderr.write(`  ${m} (live ${(tf.memory().numBytes / 1e6).toFixed(0)} MB)\n`);

/** The paper's way: H̄ row by row by reverse-over-reverse, the order-3 diagonal by reverse³. */
export function reverseOverReverse(loss: (p: Params) => Value, partition: Partition, params: Params, u: Params) {
  return hd.tidy(() => {
    const S = partition.size;
    const leaves = hd.treeLeaves(params) as Value[];
    const dirs = hd.treeLeaves(u) as Value[];
    const [, def] = hd.treeFlatten(params);
    const g = (alpha: Value) =>
      loss(
        hd.treeUnflatten(
          def,
          leaves.map((t, i) =>
            hd.add(t, hd.mul(hd.reshape(hd.slice(alpha, [partition.assignment[i] as number], [1]), []), dirs[i]!)),
          ),
        ) as Params,
      );
    const a0 = hd.zeros([S]);
    const pick = (v: Value, s: number) => hd.reshape(hd.slice(v, [s], [1]), []);
    const gbar = hd.grad(g)(a0);
    const rows: Value[] = [];
    const diag: Value[] = [];
    for (let s = 0; s < S; s++) {
      const gs = (a: Value) => pick(hd.grad(g)(a), s);
      rows.push(hd.grad(gs)(a0));
      diag.push(pick(hd.grad((a: Value) => pick(hd.grad(gs)(a), s))(a0), s));
    }
    return [gbar, hd.stack(rows), hd.stack(diag)];
  });
}

export const summariesBench: Bench = async ({ backend, repeats }) => {
  const out: Record<string, unknown>[] = [];
  const reps = Math.max(3, Math.floor(repeats / 3));
  // The paper's MLP, canonical partition (S = 8), direction = gradient.
  {
    const { params, loss } = mlpProblem([784, 1024, 200, 100, 10], 100);
    const partition = canonical(params);
    const u = hd.grad(loss)(params) as Params;
    const grad = () => hd.grad(loss)(params);
    const sum = pairedRatio(grad, () => (summaries(loss as never, partition)(params, u), []), reps);
    progress(`summaries-mlp: grad ${round(sum.baselineMs)} ms, summaries ${round(sum.fnMs)} ms`);
    // The same passes as jit plans (traced per call), for comparison in the same sitting.
    const staged = pairedRatio(grad, () => (summaries(loss as never, partition, { jit: true })(params, u), []), reps);
    const ror = pairedRatio(grad, () => reverseOverReverse(loss, partition, params, u), 2);
    out.push({
      name: "summaries-mlp",
      backend,
      model: "784-1024-200-100-10 tanh, NLL, batch 100",
      S: partition.size,
      grad_ms: round(sum.baselineMs),
      summaries_ms: round(sum.fnMs),
      ratio: round(sum.ratio, 2),
      jit_summaries_ms: round(staged.fnMs),
      jit_ratio: round(staged.ratio, 2),
      reverse_over_reverse_ms: round(ror.fnMs),
      reverse_over_reverse_ratio: round(ror.ratio, 2),
    });
    hd.dispose([params, u]);
  }
  // Growth with S: BigMLP-like depth (3072 inputs, n hidden layers, 10 outputs, ELU, σ_w = √2),
  // narrowed to width 256 so that S = 42 fits the benchmark's time.
  for (const hidden of [0, 2, 5, 10, 20]) {
    const sizes = [3072, ...new Array(hidden).fill(256), 10];
    const { params, loss } = mlpProblem(sizes, 100, "elu", Math.SQRT2);
    const partition = canonical(params);
    const u = hd.grad(loss)(params) as Params;
    const r = pairedRatio(
      () => hd.grad(loss)(params),
      () => (summaries(loss as never, partition)(params, u), []),
      3,
    );
    progress(`S = ${partition.size}: grad ${round(r.baselineMs)} ms, summaries ${round(r.fnMs)} ms`);
    out.push({
      name: "summaries-vs-S",
      backend,
      model: `3072-${hidden}×256-10 ELU, batch 100`,
      S: partition.size,
      grad_ms: round(r.baselineMs),
      summaries_ms: round(r.fnMs),
      ratio: round(r.ratio, 2),
      ratio_per_S: round(r.ratio / partition.size, 2),
    });
    hd.dispose([params, u]);
  }
  return out;
};
