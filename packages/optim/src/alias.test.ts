/** The public optimizers: step-by-step against float64 references, and the optimizer table × problems. */
import * as hd from "@hodiff/core";
import { describe, expect, it } from "vitest";
import { adam, momentum, sgd } from "./alias";
import { applyUpdates } from "./update";
import type { GradientTransformation } from "./base";
import {
  adamReference,
  expectClose,
  flatOf,
  gradFlat,
  makeParams,
  momentumReference,
  OPTIMIZERS_UNDER_TEST,
  parabola,
  rosenbrock,
  sgdReference,
  type P,
  type Reference,
} from "./fixtures";

/** Run `opt` for `steps` steps on the literal gradients and compare each update with `ref`'s. */
function compareWithReference(opt: GradientTransformation<unknown>, ref: Reference, steps = 10): unknown {
  const params = makeParams();
  let state = opt.init(params);
  for (let t = 1; t <= steps; t++) {
    const g = gradFlat(t);
    const grads = makeParams(g);
    const next = opt.update(state, params, grads);
    expectClose(flatOf(next.updates), ref.step(g));
    hd.dispose([grads, next.updates, state]);
    state = next.state;
  }
  hd.dispose(params);
  return state;
}

describe("optimizers against float64 references (PyTorch's update rules), 10 steps", () => {
  it("sgd: u = −η·g", () => {
    const state = compareWithReference(sgd(0.3), sgdReference(0.3));
    expect(state).toEqual([{}]);
  });

  it("sgd with a schedule uses η(t) with t = 0, 1, … and counts the updates", () => {
    const schedule = (t: number) => 0.5 / (t + 1);
    const opt = sgd(schedule);
    const params = makeParams();
    let state = opt.init(params);
    for (let t = 1; t <= 10; t++) {
      const g = gradFlat(t);
      const grads = makeParams(g);
      const next = opt.update(state, params, grads);
      expectClose(flatOf(next.updates), sgdReference(schedule(t - 1)).step(g));
      expect(next.state).toEqual([{ count: t }]);
      hd.dispose([grads, next.updates]);
      state = next.state;
    }
    hd.dispose(params);
  });

  it("momentum: buf = μ·buf + g (buf₁ = g), u = −η·buf", () => {
    compareWithReference(momentum(0.1, { momentum: 0.9 }), momentumReference(0.1, 0.9));
    compareWithReference(momentum(0.1, { momentum: 0 }), momentumReference(0.1, 0));
  });

  it("momentum with Nesterov: u = −η·(g + μ·buf)", () => {
    compareWithReference(momentum(0.1, { momentum: 0.8, nesterov: true }), momentumReference(0.1, 0.8, true));
  });

  it("adam with the default β₁, β₂, ε, and with others", () => {
    const state = compareWithReference(adam(0.01), adamReference(0.01)) as readonly [{ count: number }, unknown];
    expect(state[0].count).toBe(10);
    expect(typeof state[0].count).toBe("number");
    compareWithReference(adam(0.2, { b1: 0.5, b2: 0.9, eps: 1e-3 }), adamReference(0.2, 0.5, 0.9, 1e-3));
  });

  it("adam's first step is −η·sign(g) up to ε (bias correction)", () => {
    const opt = adam(0.1);
    const params = makeParams();
    const grads = makeParams(gradFlat(1));
    const { state, updates } = opt.update(opt.init(params), params, grads);
    flatOf(updates).forEach((leaf, l) =>
      leaf.forEach((u, i) => expect(u).toBeCloseTo(-0.1 * Math.sign(gradFlat(1)[l]![i]!), 4)),
    );
    hd.dispose([params, grads, state, updates]);
  });
});

describe.each([parabola, rosenbrock])("optimizer table on $name (optax's alias_test)", (problem) => {
  it.each(OPTIMIZERS_UNDER_TEST)("%s decreases the loss", (_name, make) => {
    const before = hd.numTensors();
    const opt = make();
    const valueAndGrad = hd.valueAndGrad(problem.loss);
    let params = problem.init();
    let state = opt.init(params);
    const losses: number[] = [];
    for (let step = 0; step < 150; step++) {
      const [loss, grads] = valueAndGrad(params);
      losses.push(hd.item(loss));
      const next = opt.update(state, params, grads);
      const newParams = applyUpdates(params, next.updates);
      hd.dispose([loss, grads, next.updates, params, state]);
      params = newParams;
      state = next.state;
    }
    const last = hd.tidy(() => hd.item(problem.loss(params)));
    expect(last).toBeLessThan(0.8 * losses[0]!);
    expect(Math.min(...losses.slice(-10))).toBeLessThan(Math.min(...losses.slice(0, 10)));
    hd.dispose([params, state]);
    expect(hd.numTensors()).toBe(before);
  });
});

describe("convergence with tuned rates", () => {
  it("momentum and adam reach the parabola's minimum", () => {
    for (const opt of [momentum(0.05, { momentum: 0.9 }), adam(0.3)] as GradientTransformation<unknown>[]) {
      let params: { x: hd.Value } = parabola.init();
      let state = opt.init(params);
      const g = hd.grad(parabola.loss);
      for (let step = 0; step < 300; step++) {
        const grads = g(params) as typeof params;
        const next = opt.update(state, params, grads);
        const newParams = applyUpdates(params, next.updates) as P & { x: hd.Value };
        hd.dispose([grads, next.updates, params, state]);
        params = newParams;
        state = next.state;
      }
      expectClose(flatOf(params), [parabola.optimum], 0, 2e-2);
      hd.dispose([params, state]);
    }
  });
});

describe("learning-rate validation", () => {
  it("rejects rates that are not finite positive numbers or schedules, naming the type that came", () => {
    expect(() => adam(-1)).toThrow("adam: learningRate must be a finite number > 0 or a schedule, got -1.");
    expect(() => sgd(0)).toThrow("sgd: learningRate must be a finite number > 0 or a schedule, got 0.");
    expect(() => sgd("0.1" as never)).toThrow(
      'sgd: learningRate must be a finite number > 0 or a schedule, got the string "0.1".',
    );
    expect(() => momentum(NaN)).toThrow(/momentum: learningRate .* got NaN\./);
    expect(() => adam(1e-3)).not.toThrow();
    expect(() => sgd((t) => 0.1 / (t + 1))).not.toThrow();
  });
});
