/** Memory scopes: what survives a scope, and a 1,000-step functional training loop with no leak. */
import { describe, expect, it } from "vitest";
import * as hd from "./index";
import type { Value } from "./index";

class Box {
  constructor(readonly t: Value) {}
}

describe("scope", () => {
  it("keeps what is reachable from the result (objects, frozen states, class instances, Maps), frees the rest", () => {
    const before = hd.numTensors();
    const out = hd.scope(() => {
      const a = hd.array([1, 2]);
      const b = hd.mul(a, 2); // reachable through a Map
      const c = hd.add(a, 1); // reachable through a class instance
      const d = hd.exp(a); // reachable through a frozen object
      hd.sub(b, c); // unreachable: freed
      return { m: new Map([["b", b]]), box: new Box(c), frozen: Object.freeze({ d }), n: 3 };
    });
    expect(hd.numTensors()).toBe(before + 3);
    expect(hd.toNested(out.m.get("b")!)).toEqual([2, 4]);
    expect(hd.toNested(out.box.t)).toEqual([2, 3]);
    hd.dispose([out.m.get("b"), out.box.t, out.frozen.d]);
    expect(hd.numTensors()).toBe(before);
  });

  it("numbers read inside a scope leave nothing behind; an array returned from a scope is the caller's", () => {
    const x = hd.array([1, 2, 3]);
    const before = hd.numTensors();
    expect(hd.scope(() => hd.item(hd.sum(hd.square(x))))).toBe(14);
    expect(hd.numTensors()).toBe(before);
    // The documented pitfall: item(scope(...)) reads a returned array, which nobody frees.
    expect(hd.item(hd.scope(() => hd.sum(hd.square(x))))).toBe(14);
    expect(hd.numTensors()).toBe(before + 1);
    x.dispose();
  });

  it("keep lets a tensor outlive every enclosing scope", () => {
    const before = hd.numTensors();
    let kept: Value | undefined;
    hd.scope(() =>
      hd.scope(() => {
        kept = hd.keep(hd.array([5]));
        hd.array([6]);
      }),
    );
    expect(hd.numTensors()).toBe(before + 1);
    expect(hd.toNested(kept!)).toEqual([5]);
    hd.dispose(kept);
  });

  it("inside a transform a scope frees nothing, so derivatives through it stay right", () => {
    const f = (x: Value) => hd.scope(() => hd.sum(hd.mul(hd.exp(x), hd.sin(x))));
    const x = hd.array([0.3, -0.7]);
    const g = hd.grad(f)(x);
    const expected = [0.3, -0.7].map((v) => Math.exp(v) * (Math.sin(v) + Math.cos(v)));
    hd.toFlat(g).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    hd.dispose([x, g]);
  });

  it("carry: 1,000 steps of gradient descent with momentum keep numTensors unchanged", () => {
    // Least squares y = X·w + b on fixed data; the loop never disposes by hand.
    const X = hd.array([
      [1, 2],
      [0.5, -1],
      [-1.5, 0.3],
      [2, 1],
    ]);
    const y = hd.array([1, -0.5, 0.2, 2]);
    type Params = { readonly w: Value; readonly b: Value };
    const loss = (p: Params) => hd.mean(hd.square(hd.sub(hd.add(hd.matmul(X, p.w), p.b), y)));
    let state = Object.freeze({
      params: { w: hd.zeros([2]), b: hd.zeros([]) } as Params,
      velocity: { w: hd.zeros([2]), b: hd.zeros([]) } as Params,
    });
    const losses: number[] = [];
    let afterFirst = 0;
    for (let step = 0; step < 1000; step++) {
      state = hd.carry(state, ({ params, velocity }) => {
        const [l, g] = hd.valueAndGrad(loss)(params);
        losses.push(hd.item(l));
        const v = hd.treeMap((vi: Value, gi: Value) => hd.add(hd.mul(vi, 0.9), gi), velocity, g);
        const p = hd.treeMap((pi: Value, vi: Value) => hd.sub(pi, hd.mul(vi, 0.01)), params, v);
        return Object.freeze({ params: p, velocity: v });
      });
      if (step === 0) afterFirst = hd.numTensors();
      else expect(hd.numTensors()).toBe(afterFirst);
    }
    expect(losses[999]!).toBeLessThan(losses[0]!);
    // The loop converged to the least-squares solution: the gradient vanishes there.
    const g = hd.grad(loss)(state.params);
    for (const leaf of [g.w, g.b]) expect(Math.max(...Array.from(hd.toFlat(leaf)).map(Math.abs))).toBeLessThan(1e-3);
    hd.dispose([g, state, X, y]);
  });
});
