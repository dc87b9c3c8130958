/** Purity (same inputs, same outputs; inputs untouched; frozen states) and memory over 1,000 steps. */
import * as hd from "@hodiff/core";
import { describe, expect, it } from "vitest";
import { momentum } from "./alias";
import { chain } from "./combine";
import { scaleByPlateau } from "./plateau";
import { applyUpdates } from "./update";
import { flatOf, gradFlat, makeParams, OPTIMIZERS_UNDER_TEST } from "./fixtures";

/** Every plain object and array reachable from `x` (not entering tensors). */
function containers(x: unknown, into: object[] = []): object[] {
  if (Array.isArray(x) || (typeof x === "object" && x !== null && Object.getPrototypeOf(x) === Object.prototype)) {
    into.push(x);
    Object.values(x).forEach((v) => containers(v, into));
  }
  return into;
}

const withPlateau: ReadonlyArray<readonly [string, () => ReturnType<(typeof OPTIMIZERS_UNDER_TEST)[number][1]>]> = [
  ...OPTIMIZERS_UNDER_TEST,
  ["momentum + scaleByPlateau", () => chain(momentum(0.1), scaleByPlateau({ patience: 1 }))],
];

describe.each(withPlateau)("%s", (_name, make) => {
  it("is pure: equal outputs for equal inputs, inputs unchanged, frozen states", () => {
    const opt = make();
    const params = makeParams();
    // A state reached from literal values: three updates.
    let state = opt.init(params);
    for (let t = 1; t <= 3; t++) {
      const g = makeParams(gradFlat(t));
      const r = opt.update(state, params, g, { value: 4 - t });
      hd.dispose([g, r.updates, state]);
      state = r.state;
    }
    const grads = makeParams(gradFlat(4));
    const inputs = flatOf([params, grads, state]);
    const a = opt.update(state, params, grads, { value: 2 });
    const b = opt.update(state, params, grads, { value: 2 });
    expect(flatOf([a.state, a.updates])).toEqual(flatOf([b.state, b.updates])); // bitwise, counts included
    expect(flatOf([params, grads, state])).toEqual(inputs);
    for (const s of [state, a.state]) {
      const cs = containers(s);
      expect(cs.length).toBeGreaterThan(0);
      cs.forEach((c) => expect(Object.isFrozen(c)).toBe(true));
      expect(() => {
        (s as unknown as unknown[])[0] = 1; // ES modules are strict: writing a frozen object throws
      }).toThrow(TypeError);
      // Tensors are left alone (never frozen, never written).
      hd.treeLeaves(s as hd.Tree<hd.Value>).forEach(
        (l) => typeof l === "object" && expect(Object.isFrozen(l)).toBe(false),
      );
    }
    expect(Object.isFrozen(params)).toBe(false); // the caller's params are not frozen for them
    hd.dispose([params, grads, state, a, b]);
  });

  it("leaks no tensor over 1,000 steps (the caller disposes old states and updates)", () => {
    const before = hd.numTensors();
    const opt = make();
    let params = makeParams();
    const grads = makeParams(gradFlat(1));
    let state = opt.init(params);
    for (let step = 0; step < 1000; step++) {
      const r = opt.update(state, params, grads, step % 100 === 0 ? { value: 1 } : undefined);
      const next = applyUpdates(params, r.updates);
      hd.dispose([params, r.updates, state]);
      params = next;
      state = r.state;
    }
    hd.dispose([params, grads, state]);
    expect(hd.numTensors()).toBe(before);
  });
});
