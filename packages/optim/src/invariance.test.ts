/**
 * Invariance of newtonSummary under per-group rescaling (MATH.md "Invariance", paper App. E): with
 * θ_s = a_s·θ̃_s and a direction that is a linear combination of gradients (gradient, SGD momentum),
 * training θ̃ gives the same trajectory in θ. A 3-5-2 tanh MLP with NLL; the scaled model multiplies
 * its parameters by a_s internally, the optimizer only sees θ̃. Also (MATH.md, not in the paper)
 * an orthogonal change of variables inside a group.
 */
import * as hd from "@hodiff/core";
import { trivial } from "@hodiff/partition";
import { describe, expect, it } from "vitest";
import { flatOf, type Flat } from "./fixtures";
import { applyUpdates, newtonSummary, newtonSummaryInfo, type NewtonSummaryOptions } from "./index";

type Mlp = { fc1: { w: hd.Value; b: hd.Value }; fc2: { w: hd.Value; b: hd.Value } };
/** a_s per tensor, in flatten order fc1.w, fc1.b, fc2.w, fc2.b (not powers of two: rounding differs). */
const SCALES = [3, 0.2, 0.45, 7];

const mapMlp = (p: Mlp, f: (x: hd.Value, l: number) => hd.Value): Mlp => ({
  fc1: { w: f(p.fc1.w, 0), b: f(p.fc1.b, 1) },
  fc2: { w: f(p.fc2.w, 2), b: f(p.fc2.b, 3) },
});

function problem() {
  const k = hd.random.split(hd.random.key(3), 5);
  const theta0: Mlp = hd.tidy(() => ({
    fc1: { w: hd.mul(hd.random.normal(k[0]!, [3, 5]), 1 / Math.sqrt(3)), b: hd.mul(hd.random.normal(k[1]!, [5]), 0.1) },
    fc2: { w: hd.mul(hd.random.normal(k[2]!, [5, 2]), 1 / Math.sqrt(5)), b: hd.zeros([2]) },
  }));
  const batch = (key: hd.Key) =>
    hd.tidy(() => {
      const x = hd.random.normal(key, [24, 3]);
      const c = hd.cast(hd.greater(hd.sum(hd.mul(x, hd.array([1, -2, 0.5])), 1), 0.3), "float32");
      return { x, y: hd.stack([c, hd.sub(1, c)], 1) };
    });
  const train = batch(k[3]!);
  const held = batch(k[4]!);
  const nll = (p: Mlp, b: { x: hd.Value; y: hd.Value }) => {
    const h = hd.tanh(hd.add(hd.matmul(b.x, p.fc1.w), p.fc1.b));
    const logits = hd.add(hd.matmul(h, p.fc2.w), p.fc2.b);
    return hd.neg(hd.mean(hd.sum(hd.mul(hd.logSoftmax(logits), b.y), 1)));
  };
  return { theta0, train, held, nll, dispose: () => hd.dispose([theta0, train, held]) };
}

/** A change of variables θ = forward(θ̃), leaf by leaf (l: the leaf's index in flatten order). */
interface Reparam {
  forward: (x: hd.Value, l: number) => hd.Value;
  inverse: (x: hd.Value, l: number) => hd.Value;
}
const scaling = (scales: readonly number[]): Reparam => ({
  forward: (x, l) => hd.mul(x, scales[l]!),
  inverse: (x, l) => hd.div(x, scales[l]!),
});

/** 20 steps on the model θ = forward(θ̃) from θ̃₀ = inverse(θ₀); returns the trajectory of θ (not θ̃) and the η's. */
function trajectory(options: NewtonSummaryOptions, reparam: Reparam, steps = 20) {
  const { theta0, train, held, nll, dispose } = problem();
  const model = (p: Mlp) => mapMlp(p, reparam.forward);
  const loss = (b: typeof train) => (p: Mlp) => nll(model(p), b);
  const opt = newtonSummary(options);
  let params = hd.tidy(() => mapMlp(theta0, reparam.inverse));
  let state = opt.init(params);
  const thetas: Flat[] = [];
  const etas: (readonly number[] | null)[] = [];
  for (let t = 0; t < steps; t++) {
    const grads = hd.grad(loss(train))(params);
    const r = opt.update(state, params, grads, { loss: loss(held) });
    const next = applyUpdates(params, r.updates);
    hd.dispose([grads, r.updates, params, state]);
    params = next;
    state = r.state;
    const theta = hd.tidy(() => model(params));
    thetas.push(flatOf(theta));
    const own = new Set(hd.treeLeaves(params));
    hd.dispose(hd.treeLeaves(theta).filter((x) => !own.has(x))); // forward may return a leaf itself
    etas.push(newtonSummaryInfo(state).eta);
  }
  const last = newtonSummaryInfo(state).lastSolve;
  const cases = last?.kind === "ok" ? last.case : last?.kind;
  hd.dispose([params, state]);
  dispose();
  return { thetas, etas, cases };
}

/** Largest |x − y| over a trajectory, relative to the largest |y| of the same leaf over the trajectory. */
function maxRelDiff(a: Flat[], b: Flat[]): number {
  const scales = b[0]!.map((_, l) => Math.max(...b.flatMap((step) => step[l]!.map(Math.abs)), 1e-30));
  let worst = 0;
  a.forEach((step, t) =>
    step.forEach((leaf, l) =>
      leaf.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - b[t]![l]![i]!) / scales[l]!))),
    ),
  );
  return worst;
}

const IDENTITY = scaling(SCALES.map(() => 1));
// Small period and warm-up, so that η is recomputed 9 times within 20 steps.
const BASE = { learningRate: 0.2, period: 2, window: 2, warmup: 1 } as const;

describe("newtonSummary is invariant under per-tensor rescaling θ_s = a_s·θ̃_s (canonical partition)", () => {
  it.each([
    ["gradient direction (μ = 0), cubic term", { ...BASE, momentum: 0 }],
    ["momentum direction (μ = 0.9), cubic term", { ...BASE, momentum: 0.9 }],
    ["momentum direction (μ = 0.9), no cubic term, EMA", { ...BASE, momentum: 0.9, cubic: false, averaging: "ema" }],
  ] as const)("%s: the same trajectory in θ", (_name, options) => {
    const ref = trajectory(options, IDENTITY);
    const got = trajectory(options, scaling(SCALES));
    expect(ref.etas.filter((e) => e !== null).length).toBe(18); // η in use from the second summary (update 2) on
    expect(got.cases).toBe(ref.cases);
    // The loss moved: the trajectory is not trivially constant.
    expect(maxRelDiff([ref.thetas[0]!], [ref.thetas.at(-1)!])).toBeGreaterThan(0.05);
    expect(maxRelDiff(got.thetas, ref.thetas)).toBeLessThan(5e-5);
    // η̃_s = η_s / a_s².
    got.etas.forEach((e, t) => e?.forEach((x, s) => expect(x * SCALES[s]! ** 2).toBeCloseTo(ref.etas[t]![s]!, 3)));
  });

  it("also under an orthogonal change of variables inside a group (θ_s = Q_s θ̃_s): the same trajectory and η", () => {
    // Q = I − 2vvᵀ/‖v‖² (a Householder reflection) on fc1.b (5 scalars) and on fc2.w (5×2, on its rows' 5-vectors).
    const v = [1, -2, 0.5, 3, -1];
    const nv = v.reduce((a, x) => a + x * x, 0);
    const q = hd.array(v.map((vi, i) => v.map((vj, j) => (i === j ? 1 : 0) - (2 * vi * vj) / nv)));
    const reflect = (x: hd.Value, l: number) =>
      l === 1 ? hd.reshape(hd.matmul(q, hd.reshape(x, [5, 1])), [5]) : l === 2 ? hd.matmul(q, x) : x;
    const rotated: Reparam = { forward: reflect, inverse: reflect }; // Q = Qᵀ = Q⁻¹
    const options = { ...BASE, momentum: 0.9 };
    const ref = trajectory(options, IDENTITY);
    const got = trajectory(options, rotated);
    expect(maxRelDiff(got.thetas, ref.thetas)).toBeLessThan(5e-5);
    got.etas.forEach((e, t) => e?.forEach((x, s) => expect(x).toBeCloseTo(ref.etas[t]![s]!, 3)));
    hd.dispose(q);
  });

  it("the test has teeth: with the trivial partition (one group, tensors scaled differently) the trajectories differ", () => {
    const options = { ...BASE, momentum: 0.9, partition: trivial };
    const ref = trajectory(options, IDENTITY);
    const got = trajectory(options, scaling(SCALES));
    expect(maxRelDiff(got.thetas, ref.thetas)).toBeGreaterThan(1e-2);
  });
});
