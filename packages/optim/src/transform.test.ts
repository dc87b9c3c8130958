/** Building blocks: each against a hand-written leafwise map, plus option and shape errors. */
import * as hd from "@hodiff/core";
import { describe, expect, it } from "vitest";
import { identity, type GradientTransformation } from "./base";
import { constantSchedule } from "./schedule";
import { scale, scaleByAdam, scaleByLearningRate, scaleBySchedule, traceMomentum } from "./transform";
import { expectClose, flatOf, gradFlat, makeParams } from "./fixtures";

describe("scale, scaleBySchedule, scaleByLearningRate, identity", () => {
  it("scale(s) is g ↦ s·g leafwise, with an empty frozen state", () => {
    const params = makeParams();
    const grads = makeParams(gradFlat(1));
    const t = scale(-0.25);
    const state = t.init(params);
    const { state: next, updates } = t.update(state, params, grads);
    expectClose(
      flatOf(updates),
      gradFlat(1).map((l) => l.map((x) => -0.25 * x)),
    );
    expect(next).toBe(state);
    expect(Object.isFrozen(state)).toBe(true);
    hd.dispose([params, grads, updates]);
  });

  it("identity returns the incoming updates themselves", () => {
    const grads = makeParams(gradFlat(2));
    const t = identity();
    const { updates } = t.update(t.init(grads), grads, grads);
    expect(updates).toBe(grads);
    hd.dispose(grads);
  });

  it("scaleBySchedule calls the schedule with the count of previous updates", () => {
    const seen: number[] = [];
    const t = scaleBySchedule((c) => {
      seen.push(c);
      return 2 ** c;
    });
    const grads = makeParams(gradFlat(3));
    let state = t.init(grads);
    for (let c = 0; c < 4; c++) {
      const r = t.update(state, grads, grads);
      expectClose(
        flatOf(r.updates),
        gradFlat(3).map((l) => l.map((x) => 2 ** c * x)),
      );
      hd.dispose(r.updates);
      state = r.state;
    }
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(state).toEqual({ count: 4 });
    hd.dispose(grads);
  });

  it("scaleByLearningRate flips the sign (unless flipSign: false); a constant schedule equals the number", () => {
    const grads = makeParams(gradFlat(4));
    const neg = gradFlat(4).map((l) => l.map((x) => -0.1 * x));
    const both: GradientTransformation<unknown>[] = [
      scaleByLearningRate(0.1),
      scaleByLearningRate(constantSchedule(0.1)),
    ];
    for (const t of both) {
      const r = t.update(t.init(grads), grads, grads);
      expectClose(flatOf(r.updates), neg);
      hd.dispose(r.updates);
    }
    const t = scaleByLearningRate(0.1, { flipSign: false });
    const r = t.update(t.init(grads), grads, grads);
    expectClose(
      flatOf(r.updates),
      neg.map((l) => l.map((x) => -x)),
    );
    hd.dispose([r.updates, grads]);
  });

  it("a schedule that returns a non-number is an error naming the count", () => {
    const t = scaleBySchedule((c) => (c < 1 ? 1 : NaN));
    const grads = makeParams();
    const r = t.update(t.init(grads), grads, grads);
    expect(() => t.update(r.state, grads, grads)).toThrow(
      "scaleBySchedule: schedule(1) must be a finite number, got NaN.",
    );
    hd.dispose([r.updates, grads]);
  });
});

describe("traceMomentum and scaleByAdam states", () => {
  it("traceMomentum starts at zeros shaped like the params and holds b = μ·b + g", () => {
    const params = makeParams();
    const t = traceMomentum({ decay: 0.5 });
    const s0 = t.init(params);
    expect(flatOf(s0.trace)).toEqual([
      [0, 0, 0, 0],
      [0, 0, 0],
    ]);
    expect(hd.shapeOf((s0.trace as { w: hd.Value }).w)).toEqual([2, 2]);
    const g1 = makeParams(gradFlat(1));
    const g2 = makeParams(gradFlat(2));
    const r1 = t.update(s0, params, g1);
    const r2 = t.update(r1.state, params, g2);
    expectClose(
      flatOf(r2.state.trace),
      gradFlat(2).map((l, i) => l.map((x, j) => x + 0.5 * gradFlat(1)[i]![j]!)),
    );
    expect(r2.updates).toBe(r2.state.trace); // without Nesterov the update is the buffer
    hd.dispose([params, s0, g1, g2, r1, r2]);
  });

  it("scaleByAdam's state is { count, mu, nu } with a plain-number count", () => {
    const params = makeParams();
    const t = scaleByAdam();
    const s0 = t.init(params);
    expect(s0.count).toBe(0);
    const g = makeParams(gradFlat(1));
    const r = t.update(s0, params, g);
    expect(r.state.count).toBe(1);
    expectClose(
      flatOf(r.state.mu),
      gradFlat(1).map((l) => l.map((x) => 0.1 * x)),
    );
    expectClose(
      flatOf(r.state.nu),
      gradFlat(1).map((l) => l.map((x) => 0.001 * x * x)),
      1e-5,
      1e-12,
    );
    hd.dispose([params, s0, g, r]);
  });
});

describe("errors", () => {
  it("options out of range name the function, the option and the value", () => {
    expect(() => scaleByAdam({ b1: 1 })).toThrow("scaleByAdam: b1 must be in [0, 1), got 1.");
    expect(() => scaleByAdam({ eps: -1 })).toThrow(hd.ArgumentError);
    expect(() => traceMomentum({ decay: 1.5 })).toThrow("traceMomentum: decay must be in [0, 1], got 1.5.");
    expect(() => scaleByLearningRate(NaN)).toThrow(
      "scaleByLearningRate: learningRate must be a finite number or a schedule, got NaN.",
    );
    expect(() => constantSchedule(Infinity)).toThrow(hd.ArgumentError);
  });

  it("gradients whose structure or shapes differ from the state's are errors naming the path", () => {
    const params = makeParams();
    const t = scaleByAdam();
    const s = t.init(params);
    const wrongShape = { w: hd.zeros([2, 2]), b: hd.zeros([1]) };
    expect(() => t.update(s, params, wrongShape)).toThrow(
      "scaleByAdam: shapes differ at b: state.mu [3] vs grads [1] (no broadcasting: gradients and states have the parameters' shapes).",
    );
    // The state is what is expected; the gradient that came is what "got" names.
    const missing = { w: hd.zeros([2, 2]) } as unknown as typeof params;
    expect(() => t.update(s, params, missing)).toThrow(
      /scaleByAdam \(grads against state\.mu\): structure differs at the root: expected an object with keys \{w, b\}, got an object with keys \{w\}/,
    );
    hd.dispose([params, s, wrongShape, missing]);
  });
});
