/** jit on the paper's models (@hodiff/nn): jit(f) equals f for values, gradients, hvps and summaries. */
import { describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import { lenet5, nll, paperMlp, type Model, type Params } from "@hodiff/nn";
import { canonical, summaries } from "@hodiff/partition";

const close = (a: unknown, b: unknown, tol = 1e-4) =>
  expect(hd.testing.allClose(a, b, { atol: tol, rtol: tol })).toBeNull();

function problem(model: Model, batch: number) {
  const params = model.init(hd.random.key(0)) as Params;
  const x = hd.random.normal(hd.random.key(1), [batch, ...model.inputShape]);
  const y = Int32Array.from({ length: batch }, (_, i) => i % 10);
  const loss = (p: Params) => nll(model.apply(p, x), y);
  return { params, x, loss };
}

describe("jit on the paper's models", () => {
  it.each([
    ["mlp", () => paperMlp(), 4],
    ["lenet5", () => lenet5(), 2],
  ] as const)("%s: loss, grad, jit(grad), hvp, summaries; nothing leaks", (_name, make, batch) => {
    const before = hd.numTensors();
    const { params, x, loss } = problem(make(), batch);
    const jl = hd.jit(loss);
    const jg = hd.jit(hd.grad(loss));
    hd.tidy(() => {
      close(jl(params), loss(params));
      const g = hd.grad(loss)(params);
      close(jg(params), g);
      close(hd.grad(jl)(params), g);
      close(hd.hvp(jl, [params], [g]), hd.hvp(loss, [params], [g]), 1e-3);
      const partition = canonical(params);
      const want = summaries(loss as never, partition)(params, g);
      const got = summaries(jl as never, partition)(params, g);
      close(got.gbar, want.gbar);
      close(got.hbar, want.hbar, 1e-3);
      close(got.order3Diag, want.order3Diag, 1e-3);
      return [];
    });
    jl.dispose();
    jg.dispose();
    hd.dispose([params, x]);
    expect(hd.numTensors()).toBe(before);
  });
  // VGG-11' is left out: the same check on it (batch 1, 9.2M parameters) took 18 s of the suite's budget.
});
