/**
 * newtonSummary: the exact special cases of MATH.md (Cauchy's step, Newton's step), the practical
 * algorithm's bookkeeping (period, warm-up, window / EMA averaging, positive part, smoothing,
 * diagonal H̄, λ and its scale), a solver failure that keeps η, purity, memory, and the README's
 * training loop.
 */
import * as hd from "@hodiff/core";
import { discrete, fromGroups, trivial } from "@hodiff/partition";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { flatOf } from "./fixtures";
import { applyUpdates, newtonSummary, newtonSummaryInfo, reduceOnPlateau, withLearningRateScale } from "./index";
import type {
  Extras,
  GradientTransformation,
  NewtonSummaryInfo,
  NewtonSummaryOptions,
  NewtonSummaryState,
} from "./index";

// A quadratic L(θ) = ½θᵀAθ − bᵀθ on θ = { x: [2], y: [1] } (P = 3), written out in float64 too.
const A = [
  [4, 1, 0.5],
  [1, 3, -0.4],
  [0.5, -0.4, 2],
];
const B = [1, -2, 0.5];
const THETA0 = [0.3, -0.7, 1.1];
type Q = { x: hd.Value; y: hd.Value };
const makeQ = (v: readonly number[] = THETA0): Q => ({ x: hd.array(v.slice(0, 2)), y: hd.array(v.slice(2)) });
const flatQ = (p: Q) => [...hd.toFlat(p.x), ...hd.toFlat(p.y)];
const quadLoss = (p: Q) => {
  const th = hd.concat([p.x, p.y], 0);
  const ath = hd.reshape(hd.matmul(hd.array(A), hd.reshape(th, [3, 1])), [3]);
  return hd.sub(hd.mul(0.5, hd.sum(hd.mul(th, ath))), hd.sum(hd.mul(hd.array(B), th)));
};
const matVec = (m: number[][], v: readonly number[]) => m.map((row) => row.reduce((a, x, j) => a + x * v[j]!, 0));
const dot = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const gradAt = (v: readonly number[]) => matVec(A, v).map((x, i) => x - B[i]!);

/** One update from literal parameters; returns the new flat parameters and the state. */
function oneStep(options: NewtonSummaryOptions, theta = THETA0, loss = quadLoss) {
  const opt = newtonSummary(options);
  const params = makeQ(theta);
  const state = opt.init(params);
  const grads = hd.grad(loss)(params);
  const r = opt.update(state, params, grads, { loss });
  const next = applyUpdates(params, r.updates);
  const out = { theta: flatQ(next), state: newtonSummaryInfo(r.state), updates: flatOf(r.updates) };
  hd.dispose([params, state, grads, r, next]);
  return out;
}

/**
 * `n` updates of `opt` from `params` (consumed): the gradient of `loss`, then `extras(t)`. Returns the
 * final parameters and state (the caller frees them) and the state after each update — tensors
 * freed except the last's, their numbers still readable.
 */
function run<P>(
  opt: GradientTransformation<NewtonSummaryState>,
  n: number,
  extras: (t: number) => Extras | undefined = () => ({ loss: quadLoss }),
  params: P = makeQ() as P,
  loss: (p: P) => hd.Value = quadLoss as (p: P) => hd.Value,
) {
  let state = opt.init(params);
  const states: NewtonSummaryInfo[] = [];
  for (let t = 0; t < n; t++) {
    const grads = hd.grad(loss)(params);
    const r = opt.update(state, params, grads, extras(t));
    const next = applyUpdates(params, r.updates);
    hd.dispose([grads, r.updates, params, state]);
    params = next;
    state = r.state;
    states.push(newtonSummaryInfo(state));
  }
  return { params, state, info: newtonSummaryInfo(state), states };
}

const EXACT: Omit<NewtonSummaryOptions, "learningRate"> = {
  momentum: 0,
  period: 1,
  window: 1,
  warmup: 0,
  positivePart: false,
  cubic: false,
};

describe("newtonSummary: the special cases of MATH.md", () => {
  it("trivial partition without the cubic term: η = gᵀg / gᵀAg, Cauchy's step", () => {
    const g = gradAt(THETA0);
    const cauchy = dot(g, g) / dot(g, matVec(A, g)); // hand-computed in float64
    const { theta, state } = oneStep({ learningRate: 1, ...EXACT, partition: trivial });
    expect(state.partition.size).toBe(1);
    expect(state.eta![0]).toBeCloseTo(cauchy, 5);
    expect(state.lastSolve).toMatchObject({ kind: "ok", case: "linear" });
    theta.forEach((x, i) => expect(x).toBeCloseTo(THETA0[i]! - cauchy * g[i]!, 5));
  });

  it("trivial partition with the cubic term: η solves −ḡ + H̄η + (λ_int/2)|d|³η|η| = 0", () => {
    // L = Σ exp(θ) along u = g: ḡ = Σ g², H̄ = Σ e^θ g², D̄(3) = Σ e^θ g³ (hand-computed).
    const loss = (p: Q) => hd.add(hd.sum(hd.exp(p.x)), hd.sum(hd.exp(p.y)));
    const { state } = oneStep(
      { learningRate: 1, ...EXACT, cubic: true, lambdaInt: 2, partition: trivial },
      THETA0,
      loss,
    );
    const g = THETA0.map(Math.exp);
    const gbar = dot(g, g);
    const hbar = THETA0.reduce((a, t, i) => a + Math.exp(t) * g[i]! ** 2, 0);
    const d3 = THETA0.reduce((a, t, i) => a + Math.exp(t) * g[i]! ** 3, 0);
    const eta = state.eta![0]!;
    expect(state.lastSolve).toMatchObject({ kind: "ok", case: "positive-definite" });
    expect(Math.abs(-gbar + hbar * eta + (2 / 2) * Math.abs(d3) * eta * Math.abs(eta))).toBeLessThan(1e-4 * gbar);
  });

  it("discrete partition without the cubic term: one step (λ = 1, u = g) reaches A⁻¹b, Newton's step", () => {
    const { theta, state } = oneStep({ learningRate: 1, ...EXACT, partition: discrete });
    expect(state.partition.size).toBe(3);
    const residual = matVec(A, theta).map((x, i) => x - B[i]!); // A θ⁺ − b
    residual.forEach((r) => expect(Math.abs(r)).toBeLessThan(1e-5));
    expect(state.skipped).toBeNull();
  });
});

describe("newtonSummary: the practical algorithm", () => {
  it("computes summaries every `period` updates, skips `warmup` computations, reuses η with the new direction", () => {
    const opt = newtonSummary({ learningRate: 0.5, momentum: 0.5, period: 2, window: 2, warmup: 1, cubic: false });
    // extras only where a summary is due: updates 0, 2, 4
    const { params, state, states: log } = run(opt, 6, (t) => (t % 2 === 0 ? { loss: quadLoss } : undefined));
    expect(log.map((s) => s.numSummaries)).toEqual([1, 1, 2, 2, 3, 3]);
    expect(log.map((s) => s.skipped === null)).toEqual([false, false, true, true, true, true]);
    expect(log[0]!.skipped).toMatch(/warm-up: 1 of 1/);
    expect(log[1]!.eta).toBeNull();
    expect(log[2]!.eta).not.toBeNull();
    expect(log[3]!.eta).toBe(log[2]!.eta); // reused between summaries
    expect(log[5]!.recent.map((r) => r.step)).toEqual([2, 4]); // window W = 2
    expect(log[5]!.averaged!.gbar).toEqual(
      log[5]!.recent[0]!.gbar.map((g, i) => (g + log[5]!.recent[1]!.gbar[i]!) / 2),
    );
    expect(log.map((s) => s.count)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(log[5]!.learningRate).toBe(0.5);
    hd.dispose([params, state]);
  });

  it("'ema' averaging is the bias-corrected exponential average of the summaries", () => {
    const beta = 0.6;
    const opt = newtonSummary({
      learningRate: 0.3,
      momentum: 0.9,
      period: 1,
      window: 3,
      averaging: "ema",
      emaDecay: beta,
      warmup: 0,
    });
    const { params, state, info } = run(opt, 3);
    const [r0, r1, r2] = info.recent;
    const w = [beta ** 2, beta, 1].map((x) => x * (1 - beta));
    const want = r0!.gbar.map(
      (_, i) => (w[0]! * r0!.gbar[i]! + w[1]! * r1!.gbar[i]! + w[2]! * r2!.gbar[i]!) / (1 - beta ** 3),
    );
    info.averaged!.gbar.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 10));
    hd.dispose([params, state]);
  });

  it("takes the positive part of η, smooths it across solves, and keeps only diag H̄ on request", () => {
    // Canonical groups x (2 scalars) and y (1); from this start H̄ is coupled and η_y < 0.
    const theta = [-1.5, 0.7, 0.6];
    const raw = oneStep({ learningRate: 1, ...EXACT }, theta);
    expect(raw.state.lastSolve).toMatchObject({ kind: "ok" });
    const rawEta = raw.state.eta!;
    expect(Math.min(...rawEta)).toBeLessThan(0);
    const pos = oneStep({ learningRate: 1, ...EXACT, positivePart: true }, theta);
    expect(pos.state.eta).toEqual(rawEta.map((x) => Math.max(x, 0)));
    expect(pos.updates[1]).toEqual([0]); // the y group does not move

    const diag = oneStep({ learningRate: 1, ...EXACT, diagonal: true }, theta);
    const { gbar, hbar } = diag.state.averaged!;
    diag.state.eta!.forEach((x, s) => expect(x).toBeCloseTo(gbar[s]! / hbar[s]![s]!, 10));

    // Smoothing: η ← β·η_prev + (1 − β)·η_raw from the second solve on.
    const beta = 0.75;
    const opt = newtonSummary({ learningRate: 0.1, ...EXACT, etaSmoothing: beta });
    const { params, state, info, states } = run(opt, 2);
    const etas = states.map((x) => x.eta!);
    const last = info.lastSolve!;
    if (last.kind !== "ok") expect.fail(last.reason);
    etas[1]!.forEach((x, s) => expect(x).toBeCloseTo(beta * etas[0]![s]! + (1 - beta) * last.raw[s]!, 12));
    hd.dispose([params, state]);
  });

  it("scales λ by a schedule and by the state's learningRateScale (set by the loop, e.g. from reduceOnPlateau)", () => {
    const base = oneStep({ learningRate: 0.2, ...EXACT });
    const opt = newtonSummary({ learningRate: (t) => 0.4 / (1 + t), ...EXACT });
    const params = makeQ();
    const plateau = reduceOnPlateau({ factor: 0.5, patience: 0 });
    const ps = plateau.step(plateau.step(plateau.init(), 1), 1); // one bad epoch: scale 0.5
    const state = withLearningRateScale(opt.init(params), ps.scale);
    expect(Object.isFrozen(state)).toBe(true);
    const grads = hd.grad(quadLoss)(params);
    const r = opt.update(state, params, grads, { loss: quadLoss });
    expect(newtonSummaryInfo(r.state).learningRateScale).toBe(0.5);
    expect(newtonSummaryInfo(r.state).learningRate).toBeCloseTo(0.2, 15);
    flatOf(r.updates).forEach((leaf, l) => leaf.forEach((x, i) => expect(x).toBeCloseTo(base.updates[l]![i]!, 6)));
    expect(() => withLearningRateScale(state, -1)).toThrow(/scale must be a finite number ≥ 0/);
    hd.dispose([params, state, grads, r]);
  });

  it("keeps the previous η and records why when the cubic model is unbounded", () => {
    // Summary 1 on a convex quadratic (case 'quadratic'); summary 2 on L = −a² + (b − 1)⁴: along
    // v_a the loss is exactly quadratic (d_a = 0) with negative curvature, so T is unbounded below.
    type AB = { a: hd.Value; b: hd.Value };
    const convex = (p: AB) => hd.add(hd.sum(hd.square(hd.sub(p.a, 1))), hd.sum(hd.square(hd.sub(p.b, 2))));
    const saddle = (p: AB) => hd.add(hd.neg(hd.sum(hd.square(p.a))), hd.sum(hd.square(hd.square(hd.sub(p.b, 1)))));
    for (const cubic of [true, false]) {
      const opt = newtonSummary({ learningRate: 0.1, ...EXACT, cubic, positivePart: true });
      const params = { a: hd.array([0.5]), b: hd.array([0.2]) };
      const s0 = opt.init(params);
      const g0 = hd.grad(convex)(params);
      const r1 = opt.update(s0, params, g0, { loss: convex });
      expect(newtonSummaryInfo(r1.state).lastSolve).toMatchObject({ kind: "ok", case: cubic ? "quadratic" : "linear" });
      const eta1 = newtonSummaryInfo(r1.state).eta!;
      const g1 = hd.grad(saddle)(params);
      const r2 = opt.update(r1.state, params, g1, { loss: saddle });
      const solve = newtonSummaryInfo(r2.state).lastSolve!;
      expect(solve.kind).toBe(cubic ? "unbounded" : "not-positive-definite");
      if (solve.kind === "ok") expect.fail("the solve should fail");
      expect(solve.reason).toMatch(cubic ? /unbounded below.*indices 0/ : /not positive definite/);
      expect(solve.step).toBe(1);
      expect(newtonSummaryInfo(r2.state).eta).toBe(eta1); // kept
      expect(newtonSummaryInfo(r2.state).skipped).toBeNull(); // and used: θ moves by −λ·η·u
      const want = flatOf(g1).map((leaf, s) => leaf.map((u) => -0.1 * eta1[s]! * u));
      flatOf(r2.updates).forEach((leaf, l) => leaf.forEach((x, i) => expect(x).toBeCloseTo(want[l]![i]!, 6)));
      hd.dispose([params, s0, g0, r1, g1, r2]);
    }
  });

  it("leaves non-finite summaries out of the average, keeps η, and recovers", () => {
    const opt = newtonSummary({ learningRate: 0.1, ...EXACT, window: 2, averaging: "ema" });
    const nanLoss = (p: Q) => hd.mul(quadLoss(p), NaN);
    const { params, state, states: log } = run(opt, 3, (t) => ({ loss: t === 1 ? nanLoss : quadLoss }));
    expect(log[1]!.lastSolve).toMatchObject({ kind: "non-finite", step: 1 });
    expect(log[1]!.eta).toBe(log[0]!.eta);
    expect(log[1]!.skipped).toBeNull();
    expect(log.map((s) => s.numSummaries)).toEqual([1, 1, 2]);
    expect(log[2]!.recent.map((r) => r.step)).toEqual([0, 2]);
    expect(log[2]!.lastSolve).toMatchObject({ kind: "ok", step: 2 });
    expect(log[2]!.averaged!.gbar.every(Number.isFinite)).toBe(true);
    hd.dispose([params, state]);
  });

  it("with no η yet, a failed solve skips the update and says why", () => {
    type AB = { a: hd.Value; b: hd.Value };
    const saddle = (p: AB) => hd.add(hd.neg(hd.sum(hd.square(p.a))), hd.sum(hd.square(hd.square(hd.sub(p.b, 1)))));
    const opt = newtonSummary({ learningRate: 0.1, ...EXACT, cubic: true });
    const params = { a: hd.array([0.5]), b: hd.array([0.2]) };
    const s0 = opt.init(params);
    const g = hd.grad(saddle)(params);
    const r = opt.update(s0, params, g, { loss: saddle });
    expect(newtonSummaryInfo(r.state).eta).toBeNull();
    expect(newtonSummaryInfo(r.state).skipped).toMatch(/^no η yet: cubicRates: the model is unbounded below/);
    flatOf(r.updates).forEach((leaf) => leaf.forEach((x) => expect(Math.abs(x)).toBe(0))); // −λ·0 may be −0
    hd.dispose([params, s0, g, r]);
  });

  it("builds the partition at init (canonical by default, or a builder), and checks a given one", () => {
    const params = makeQ();
    expect(
      newtonSummary({ learningRate: 1 })
        .init(params)[1]
        .partition.groups.map((g) => g.label),
    ).toEqual(["x", "y"]);
    const one = fromGroups(params, [{ label: "all", paths: ["x", "y"] }]);
    const s = newtonSummary({ learningRate: 1, partition: one }).init(params);
    expect(newtonSummaryInfo(s).partition).toBe(one);
    const other = trivial({ z: hd.array([1]) });
    expect(() => newtonSummary({ learningRate: 1, partition: other }).init(params)).toThrow(
      /newtonSummary: the partition was built for leaves \[z\].*but params has \[x, y\]/,
    );
    hd.dispose([params, s]);
  });

  it("throws a clear error when a summary is due and extras.loss is missing, and checks its options", () => {
    const opt = newtonSummary({ learningRate: 1, period: 3 });
    const params = makeQ();
    const state = opt.init(params);
    const grads = hd.grad(quadLoss)(params);
    expect(() => opt.update(state, params, grads)).toThrow(
      /newtonSummary: a summary is due at update 0 \(every period = 3 updates from the first\), but extras.loss is missing/,
    );
    expect(() => opt.update(state, params, grads, { loss: 3 })).toThrow(/extras.loss is a number/);
    expect(() => newtonSummary({} as NewtonSummaryOptions)).toThrow(
      /learningRate must be a finite number or a schedule/,
    );
    expect(() => newtonSummary({ learningRate: 0 })).toThrow(/learningRate must be > 0/);
    expect(() => newtonSummary({ learningRate: 1, window: 0 })).toThrow(/window must be an integer ≥ 1/);
    expect(() => newtonSummary({ learningRate: 1, momentum: 1.5 })).toThrow(/momentum must be in \[0, 1\]/);
    expect(() => newtonSummary({ learningRate: 1, lambdaInt: 0 })).toThrow(/lambdaInt must be a finite number > 0/);
    expect(() => newtonSummary({ learningRate: 1, etaSmoothing: 1 })).toThrow(/etaSmoothing must be in \[0, 1\)/);
    hd.dispose([params, state, grads]);
  });
});

// A small MLP 3-5-2 (tanh, NLL) for purity and memory.
type Mlp = { fc1: { w: hd.Value; b: hd.Value }; fc2: { w: hd.Value; b: hd.Value } };
function mlpProblem() {
  const k = hd.random.split(hd.random.key(7), 4);
  const params: Mlp = hd.tidy(() => ({
    fc1: { w: hd.mul(hd.random.normal(k[0]!, [3, 5]), 1 / Math.sqrt(3)), b: hd.zeros([5]) },
    fc2: { w: hd.mul(hd.random.normal(k[1]!, [5, 2]), 1 / Math.sqrt(5)), b: hd.zeros([2]) },
  }));
  const x = hd.random.normal(k[2]!, [16, 3]);
  const y = hd.tidy(() => {
    const c = hd.cast(hd.greater(hd.sum(x, 1), 0), "float32");
    return hd.stack([c, hd.sub(1, c)], 1);
  });
  const loss = (p: Mlp) => {
    const h = hd.tanh(hd.add(hd.matmul(x, p.fc1.w), p.fc1.b));
    const logits = hd.add(hd.matmul(h, p.fc2.w), p.fc2.b);
    return hd.neg(hd.mean(hd.sum(hd.mul(hd.logSoftmax(logits), y), 1)));
  };
  return { params, loss, dispose: () => hd.dispose([x, y]) };
}

/** Every plain object and array reachable from `x` (not entering tensors or typed arrays). */
function containers(x: unknown, into: object[] = []): object[] {
  if (Array.isArray(x) || (typeof x === "object" && x !== null && Object.getPrototypeOf(x) === Object.prototype)) {
    into.push(x);
    Object.values(x).forEach((v) => containers(v, into));
  }
  return into;
}

describe("newtonSummary: purity and memory", () => {
  it("is pure: equal outputs for equal inputs, inputs unchanged, frozen states", () => {
    const { params, loss, dispose } = mlpProblem();
    const opt = newtonSummary({ learningRate: 0.1, period: 2, window: 2, warmup: 1 });
    let state = opt.init(params);
    for (let t = 0; t < 4; t++) {
      const g = hd.grad(loss)(params);
      const r = opt.update(state, params, g, { loss });
      hd.dispose([g, r.updates, state]);
      state = r.state;
    }
    expect(newtonSummaryInfo(state).eta).not.toBeNull();
    const grads = hd.grad(loss)(params);
    const snapshot = (s: NewtonSummaryState) =>
      JSON.stringify([{ ...s[0], trace: flatOf(s[0].trace) }, { ...s[1], partition: undefined }, s[2]]);
    const inputs = [flatOf(params), flatOf(grads), snapshot(state)];
    const a = opt.update(state, params, grads, { loss }); // update 4: a summary is due
    const b = opt.update(state, params, grads, { loss });
    expect(snapshot(a.state)).toBe(snapshot(b.state)); // bitwise, η and logs included
    expect(flatOf(a.updates)).toEqual(flatOf(b.updates));
    expect([flatOf(params), flatOf(grads), snapshot(state)]).toEqual(inputs);
    for (const s of [state, a.state]) {
      const cs = containers(s);
      expect(cs.length).toBeGreaterThan(10);
      cs.forEach((c) => expect(Object.isFrozen(c)).toBe(true));
      expect(() => {
        (s[1] as { count: number }).count = 0;
      }).toThrow(TypeError);
      hd.treeLeaves(s[0].trace).forEach((l) => expect(Object.isFrozen(l)).toBe(false));
    }
    expect(Object.isFrozen(params)).toBe(false);
    hd.dispose([params, grads, state, a, b]);
    dispose();
  });

  it("leaks no tensor over 1,000 steps (the caller disposes old states and updates)", () => {
    const before = hd.numTensors();
    const { params: p0, loss, dispose } = mlpProblem();
    const opt = newtonSummary({ learningRate: 0.05, period: 10, warmup: 1, averaging: "ema" });
    const { params, state, info } = run(opt, 1000, (t) => (t % 10 === 0 ? { loss } : undefined), p0, loss);
    expect(info.numSummaries).toBe(100);
    hd.dispose([params, state]);
    dispose();
    expect(hd.numTensors()).toBe(before);
  });
});

// README example ---------------------------------------------------------------------------------
// The block between the markers is the README's "Example: training with newtonSummary" (checked below).

// <readme-example>
type Mlp2 = { fc1: { w: hd.Value; b: hd.Value }; fc2: { w: hd.Value; b: hd.Value } };

/** Classify the quadrants of the plane (is x₀·x₁ > 0?) with a 2-16-2 tanh MLP trained by newtonSummary. */
export function trainQuadrants(epochs = 10): { losses: number[]; etas: (readonly number[] | null)[] } {
  const n = 512;
  const batch = 32;
  const [kx, k1, k2] = hd.random.split(hd.random.key(0), 3);
  const x = hd.random.normal(kx!, [n, 2]);
  const y = hd.tidy(() => {
    const c = hd.cast(hd.greater(hd.mul(hd.slice(x, [0, 0], [n, 1]), hd.slice(x, [0, 1], [n, 1])), 0), "float32");
    return hd.concat([c, hd.sub(1, c)], 1);
  });
  const lossOn = (p: Mlp2, xb: hd.Value, yb: hd.Value) => {
    const h = hd.tanh(hd.add(hd.matmul(xb, p.fc1.w), p.fc1.b));
    const logits = hd.add(hd.matmul(h, p.fc2.w), p.fc2.b);
    return hd.neg(hd.mean(hd.sum(hd.mul(hd.logSoftmax(logits), yb), 1))); // mean NLL
  };
  const minibatch = (i: number) => [hd.slice(x, [i * batch, 0], [batch, 2]), hd.slice(y, [i * batch, 0], [batch, 2])];

  // μ 0.9, T 10, W 3, 3 warm-up summaries, λ_int 1; λ halved after 3 epochs without progress (the paper's)
  const opt = newtonSummary({ learningRate: 0.3, plateau: { factor: 0.5, patience: 2 } });
  let params: Mlp2 = hd.tidy(() => ({
    fc1: { w: hd.mul(hd.random.normal(k1!, [2, 16]), 1 / Math.sqrt(2)), b: hd.zeros([16]) },
    fc2: { w: hd.mul(hd.random.normal(k2!, [16, 2]), 1 / Math.sqrt(16)), b: hd.zeros([2]) },
  }));
  let state = opt.init(params);
  const losses: number[] = [];
  const etas: (readonly number[] | null)[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = 0; i < n / batch; i++) {
      const [xb, yb] = minibatch(i); // the gradient's minibatch
      const [xh, yh] = minibatch((i + 1) % (n / batch)); // a separate one for ḡ, H̄, D̄(3)
      const [loss, grads] = hd.valueAndGrad((p: Mlp2) => lossOn(p, xb!, yb!))(params);
      const extras = {
        loss: (p: Mlp2) => lossOn(p, xh!, yh!),
        ...(i === 0 && epoch > 0 ? { value: losses.at(-1)! } : {}), // the plateau steps on the last epoch's loss
      };
      const next = opt.update(state, params, grads, extras);
      const newParams = applyUpdates(params, next.updates);
      hd.dispose([xb, yb, xh, yh, loss, grads, next.updates, params, state]);
      params = newParams;
      state = next.state; // η, the solver's outcome, λ, a skipped update and why: all in the state
    }
    losses.push(hd.tidy(() => hd.item(lossOn(params, x, y))));
    etas.push(newtonSummaryInfo(state).eta);
  }
  hd.dispose([x, y, params, state]);
  return { losses, etas };
}
// </readme-example>

describe("README example (the block above)", () => {
  it("trains, decreases the loss, logs η and frees its tensors", () => {
    const before = hd.numTensors();
    const { losses, etas } = trainQuadrants();
    expect(etas[0]).toBeNull(); // still warming up after the first epoch (16 updates, 2 summaries)
    expect(etas.at(-1)!.every((e) => e >= 0)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    expect(hd.numTensors()).toBe(before);
  });

  it("is the code shown in the README (with the package's imports)", () => {
    const source = readFileSync(new URL("./newtonSummary.test.ts", import.meta.url), "utf8");
    const region = /\/\/ <readme-example>\n([\s\S]*?)\/\/ <\/readme-example>/.exec(source)![1]!;
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const block = /<!-- newtonSummary example -->\s*```ts\n([\s\S]*?)```/.exec(readme);
    expect(block, "README.md needs a ```ts block right after <!-- newtonSummary example -->").not.toBeNull();
    expect(block![1]).toBe(README_IMPORTS + "\n" + region);
  });
});

const README_IMPORTS = `import * as hd from "@hodiff/core";
import { applyUpdates, newtonSummary, newtonSummaryInfo } from "@hodiff/optim";
`;
