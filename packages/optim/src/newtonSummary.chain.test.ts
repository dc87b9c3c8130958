/**
 * newtonSummary as a chain (momentum → per-group scaling → λ and its plateau), checked through all
 * three links against a step computed by hand in float64. (When the chain replaced the monolithic
 * implementation, a test, since retired, held it to that implementation's trajectory on a fixed
 * run of a small MLP in several configurations, to 1e-5 in the parameters.)
 */
import * as hd from "@hodiff/core";
import { trivial } from "@hodiff/partition";
import { describe, expect, it } from "vitest";
import { flatOf } from "./fixtures";
import { applyUpdates, newtonSummary, newtonSummaryInfo } from "./index";

describe("newtonSummary as a chain: a hand-computed step through all three links", () => {
  it("θ₂ = θ₁ − λ·scale·η·u₁ with u₁ = μg₀ + g₁, η = g₁ᵀu₁ / u₁ᵀAu₁, scale halved by the plateau", () => {
    // L = ½θᵀAθ − bᵀθ on θ = { w: [3] }, trivial partition (one group), no cubic term, T = 1, no warm-up.
    const A = [
      [3, 0.5, 0],
      [0.5, 2, -0.3],
      [0, -0.3, 1],
    ];
    const b = [1, -1, 0.5];
    const mu = 0.5;
    const lambda = 0.4;
    const mv = (v: readonly number[]) => A.map((row) => row.reduce((s, x, j) => s + x * v[j]!, 0));
    const dot = (x: readonly number[], y: readonly number[]) => x.reduce((s, xi, i) => s + xi * y[i]!, 0);
    const grad = (v: readonly number[]) => mv(v).map((x, i) => x - b[i]!);
    const loss = (p: { w: hd.Value }) => {
      const aw = hd.reshape(hd.matmul(hd.array(A), hd.reshape(p.w, [3, 1])), [3]);
      return hd.sub(hd.mul(0.5, hd.sum(hd.mul(p.w, aw))), hd.sum(hd.mul(hd.array(b), p.w)));
    };
    // float64 by hand: update 0 (scale 1), then update 1 after a plateau step that halves the scale
    const theta0 = [0.3, -0.2, 0.9];
    const g0 = grad(theta0);
    const eta0 = dot(g0, g0) / dot(g0, mv(g0));
    const theta1 = theta0.map((x, i) => x - lambda * eta0 * g0[i]!);
    const g1 = grad(theta1);
    const u1 = g1.map((x, i) => mu * g0[i]! + x);
    const eta1 = dot(g1, u1) / dot(u1, mv(u1));
    const theta2 = theta1.map((x, i) => x - lambda * 0.5 * eta1 * u1[i]!);

    const opt = newtonSummary({
      learningRate: lambda,
      momentum: mu,
      period: 1,
      window: 1,
      warmup: 0,
      cubic: false,
      partition: trivial,
      plateau: { patience: 0, factor: 0.5 },
    });
    let params: { w: hd.Value } = { w: hd.array(theta0) };
    let state = opt.init(params);
    const values = [1, 2]; // the plateau's best is 1 at update 0; 2 is a bad epoch: scale 0.5 from update 1
    for (let t = 0; t < 2; t++) {
      const grads = hd.grad(loss)(params);
      const r = opt.update(state, params, grads, { loss, value: values[t]! });
      const next = applyUpdates(params, r.updates);
      hd.dispose([grads, r.updates, params, state]);
      params = next;
      state = r.state;
    }
    const info = newtonSummaryInfo(state);
    expect(info.learningRateScale).toBe(0.5);
    expect(info.learningRate).toBeCloseTo(0.2, 15);
    expect(info.eta![0]).toBeCloseTo(eta1, 5);
    flatOf(params)[0]!.forEach((x, i) => expect(x).toBeCloseTo(theta2[i]!, 5));
    hd.dispose([params, state]);
  });
});
