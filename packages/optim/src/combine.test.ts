/** chain against the manual composition of its transformations; applyUpdates. */
import * as hd from "@hodiff/core";
import { describe, expect, it } from "vitest";
import { identity } from "./base";
import { chain } from "./combine";
import { scale, scaleByAdam, scaleByLearningRate, traceMomentum } from "./transform";
import { applyUpdates } from "./update";
import { expectClose, flatOf, gradFlat, makeParams, PARAMS_FLAT } from "./fixtures";

describe("chain", () => {
  it("equals the manual composition, step by step, with the tuple of sub-states", () => {
    const blocks = () => [traceMomentum({ decay: 0.7 }), scaleByAdam({ b1: 0.8 }), scale(-0.05)] as const;
    const [a, b, c] = blocks();
    const chained = chain(...blocks());
    const params = makeParams();
    let sa = a.init(params);
    let sb = b.init(params);
    let sc = c.init(params);
    let s = chained.init(params);
    expect(s).toHaveLength(3);
    for (let t = 1; t <= 5; t++) {
      const grads = makeParams(gradFlat(t));
      const ra = a.update(sa, params, grads);
      const rb = b.update(sb, params, ra.updates);
      const rc = c.update(sc, params, rb.updates);
      const r = chained.update(s, params, grads);
      expect(flatOf(r.updates)).toEqual(flatOf(rc.updates)); // same kernels, same order: bitwise equal
      expect(flatOf(r.state[0].trace)).toEqual(flatOf(ra.state.trace));
      expect(r.state[1].count).toBe(rb.state.count);
      expect(flatOf(r.state[1].nu)).toEqual(flatOf(rb.state.nu));
      hd.dispose([grads, rb.updates, rc.updates, r.updates, sa, sb, s]);
      [sa, sb, sc, s] = [ra.state, rb.state, rc.state, r.state];
    }
    hd.dispose([params, sa, sb, sc, s]);
  });

  it("frees the intermediate updates, keeps its state frozen, and passes extras to every transformation", () => {
    const seen: unknown[] = [];
    const spy = {
      init: () => ({}),
      update: <P>(state: object, _p: P, grads: P, extras?: unknown) => (seen.push(extras), { state, updates: grads }),
    };
    const opt = chain(spy, scale(2), spy, scale(3), identity());
    const params = makeParams();
    const state = opt.init(params);
    expect(Object.isFrozen(state)).toBe(true);
    const before = hd.numTensors();
    const r = opt.update(state, params, params, { value: 1 });
    expect(hd.numTensors()).toBe(before + 2); // only the final w and b
    expectClose(
      flatOf(r.updates),
      PARAMS_FLAT.map((l) => l.map((x) => 6 * x)),
    );
    expect(seen).toEqual([{ value: 1 }, { value: 1 }]);
    expect(Object.isFrozen(r.state)).toBe(true);
    hd.dispose([params, r.updates]);
  });

  it("an empty chain is the identity; a state of the wrong length is an error", () => {
    const params = makeParams();
    const empty = chain();
    expect(empty.update(empty.init(params), params, params).updates).toBe(params);
    const opt = chain(scaleByLearningRate(0.1), identity());
    expect(() => opt.update([{}] as never, params, params)).toThrow(
      "chain: the state must be the array of 2 sub-states returned by this chain's init, got an array of 1.",
    );
    hd.dispose(params);
  });
});

describe("applyUpdates", () => {
  it("adds leafwise into a new tree, leaving its inputs alone", () => {
    const params = makeParams();
    const updates = makeParams(gradFlat(1));
    const next = applyUpdates(params, updates);
    expectClose(
      flatOf(next),
      PARAMS_FLAT.map((l, i) => l.map((x, j) => x + gradFlat(1)[i]![j]!)),
    );
    expect(flatOf(params)).toEqual(PARAMS_FLAT.map((l) => l.map(Math.fround)));
    expect(next).not.toBe(params);
    const wrong = { w: updates.w, b: hd.zeros([1, 3]) };
    expect(() => applyUpdates(params, wrong)).toThrow("applyUpdates: shapes differ at b: params [3] vs updates [1,3]");
    hd.dispose([params, updates, next, wrong]);
  });
});
