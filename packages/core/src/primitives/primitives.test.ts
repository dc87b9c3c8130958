/** Every primitive (through its op) against central finite differences, orders 1 and 2, fwd and rev. */
import { describe, expect, it } from "vitest";
import * as hd from "../index";
import { checkGrads } from "../testing";
import type { Value } from "../index";
import { GRAD_OPS } from "./opTable";

const k1 = hd.random.key(42);
const u = (key: hd.Key, shape: number[], lo = -1, hi = 1) => hd.random.uniform(key, shape, lo, hi);

describe("primitive derivatives against finite differences", () => {
  it.each(GRAD_OPS.map((s) => [s.name, s] as const))("%s", (_name, spec) => {
    const before = hd.numTensors();
    const args = spec.args();
    expect(() => checkGrads(spec.f, args, { order: spec.order ?? 2, eps: 1e-2, atol: 3e-3, rtol: 3e-3 })).not.toThrow();
    hd.dispose(args);
    expect(hd.numTensors()).toBe(before);
  });

  it("checkGrads can fail: a derivative that disagrees with finite differences is caught", () => {
    // stopGradient(a)·a has derivative a (not 2a): finite differences of the value see 2a.
    const x = u(k1, [3]);
    expect(() => checkGrads((a: Value) => hd.mul(a, a), [x], { order: 1 })).not.toThrow();
    expect(() => checkGrads((a: Value) => hd.mul(hd.stopGradient(a), a), [x], { order: 1, modes: ["fwd"] })).toThrow(
      /jvp mismatch/,
    );
    expect(() => checkGrads((a: Value) => hd.mul(hd.stopGradient(a), a), [x], { order: 1, modes: ["rev"] })).toThrow(
      /vjp .*mismatch/,
    );
    hd.dispose(x);
  });

  it("stopGradient has zero derivative in every mode and order", () => {
    const x = hd.array([0.5, -1, 2]);
    const f = (a: Value) => hd.sum(hd.mul(hd.stopGradient(hd.mul(a, a)), a));
    // d/dx [c·x] with c = x² frozen is c; the second derivative is 0.
    expect(hd.toNested(hd.grad(f)(x))).toEqual([0.25, 1, 4]);
    expect(hd.toNested(hd.jvp(hd.grad(f), [x], [hd.ones([3])])[1] as Value)).toEqual([0, 0, 0]);
    expect(hd.toNested(hd.hessian(f)(x))).toEqual([
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
  });
});

describe("no work where none is needed", () => {
  it("a cotangent reaches no stopGradient: grad of Σ exp(a − stopGradient(max a)) forms none for the max", () => {
    const x = hd.array([[1, 5, 3]]);
    const f = (a: Value) => hd.sum(hd.exp(hd.sub(a, hd.stopGradient(hd.max(a, -1, true)))));
    const g = hd.toNested(hd.grad(f)(x)) as number[][];
    [1, 5, 3].forEach((v, i) => expect(g[0]![i]).toBeCloseTo(Math.exp(v - 5), 6)); // ∂/∂aᵢ Σ e^(aⱼ − c) = e^(aᵢ − c)
    // Before: the max's cotangent −Σ e^(aⱼ − c) was formed (neg, sum), then dropped by stopGradient.
    const staged = String(hd.makeJaxpr(hd.grad(f))(x));
    expect(staged).not.toMatch(/neg/);
    expect(staged.match(/ sum\[/g)).toHaveLength(1); // the forward's Σ only
    hd.dispose(x);
  });

  it("a whole slice and an empty reverse are the array itself", () => {
    const x = hd.array([
      [1, 2],
      [3, 4],
    ]);
    const before = hd.numTensors();
    expect(hd.slice(x, [0, 0], [2, 2])).toBe(x);
    expect(hd.slice(x, [0, 0], [-1, -1])).toBe(x);
    expect(hd.reverse(x, [])).toBe(x);
    expect(hd.numTensors()).toBe(before);
    expect(hd.toNested(hd.slice(x, [1, 0], [1, 2]))).toEqual([[3, 4]]);
    hd.dispose(x);
  });
});

describe("errors name the op and the shapes", () => {
  it("broadcasting", () => {
    expect(() => hd.add(hd.zeros([3]), hd.zeros([4]))).toThrow(/add: shapes \[3\] and \[4\] cannot be broadcast/);
  });
  it("dtype", () => {
    expect(() => hd.tanh(hd.zeros([2, 3], "int32"))).toThrow(/tanh: argument 'x' must be float32, got int32\[2,3\]/);
  });
  it("matmul", () => {
    expect(() => hd.matmul(hd.zeros([2, 3]), hd.zeros([4, 2]))).toThrow(/matmul: inner dimensions differ/);
  });
  it("conv2d", () => {
    expect(() => hd.conv2d(hd.zeros([1, 4, 4, 2]), hd.zeros([3, 3, 3, 1]))).toThrow(/conv2d: .*matching channels/);
  });
  it("reshape", () => {
    expect(() => hd.reshape(hd.zeros([2, 3]), [4])).toThrow(/reshape: cannot reshape float32\[2,3\]/);
  });
  it("non-array arguments", () => {
    expect(() => hd.exp([1, 2] as unknown as Value)).toThrow(/exp: expected arrays or numbers, got a JS array/);
  });
});

describe("batching rules: vmap(op) equals a loop over the mapped axis", () => {
  // For each op, map one argument at a time (on axis 0, then on its last axis) and all together.
  const B = 3;
  const cases = GRAD_OPS.flatMap((s) => {
    const n = s.args().length;
    const modes: Array<{ label: string; mapped: boolean[]; axis: "first" | "last" }> = [
      { label: "all, axis 0", mapped: new Array(n).fill(true), axis: "first" },
      { label: "all, last axis", mapped: new Array(n).fill(true), axis: "last" },
    ];
    if (n > 1)
      for (let i = 0; i < n; i++)
        modes.push({ label: `only arg ${i}`, mapped: [...Array(n).keys()].map((j) => j === i), axis: "first" });
    return modes.map((m) => [`${s.name} (${m.label})`, s, m] as const);
  });

  it.each(cases)("%s", (_name, spec, mode) => {
    const before = hd.numTensors();
    const keys = hd.random.split(hd.random.key(7), B);
    const samples = keys.map(() => spec.args()); // same distribution, different values below
    const perturbed = samples.map((args, b) =>
      args.map((a, i) => (mode.mapped[i] ? hd.add(a, 0.05 * (b + 1) * (i + 1)) : args[i]!)),
    );
    const fixed = perturbed[0]!;
    const batchedArgs = fixed.map((_, i) => {
      if (!mode.mapped[i]) return fixed[i]!;
      const axis = mode.axis === "first" ? 0 : hd.shapeOf(fixed[i]!).length;
      return hd.tidy(() =>
        hd.stack(
          perturbed.map((args) => args[i]!),
          axis,
        ),
      );
    });
    const inAxes = fixed.map((a, i) => (mode.mapped[i] ? (mode.axis === "first" ? 0 : hd.shapeOf(a).length) : null));
    const got = hd.vmap(spec.f, inAxes)(...batchedArgs);
    const want = hd.tidy(() =>
      hd.stack(
        perturbed.map((args) => spec.f(...args.map((a, i) => (mode.mapped[i] ? a : fixed[i]!)))),
        0,
      ),
    );
    expect(hd.testing.allClose(got, want, { atol: 1e-5, rtol: 1e-5 })).toBeNull();
    hd.dispose([samples, perturbed, batchedArgs, got, want]);
    expect(hd.numTensors()).toBe(before);
  });
});
