/**
 * The `'reference-code'` semantics of newtonSummary, point by point against hand-computed
 * expectations from the published code (p-wol/GroupedNewton, master e5a6cf8): the averaging weights
 * of its aliased running average, its momentum during the warm-up, its linear solve of an
 * indefinite H̄, its η pipeline after a failed solve, its warm-up by steps, and its plateau
 * scheduler's reset; plus unknown option names.
 */
import * as hd from "@hodiff/core";
import { discrete } from "@hodiff/partition";
import { describe, expect, it } from "vitest";
import { quadraticMinimiser } from "@hodiff/testing";
import { flatOf } from "./fixtures";
import {
  adam,
  applyUpdates,
  kfac,
  momentum,
  newtonSummary,
  newtonSummaryInfo,
  reduceOnPlateau,
  scaleByAdam,
  scaleByKfac,
  scaleByLearningRate,
  scaleByPlateau,
  scaleBySummaries,
  traceMomentum,
  traceSummaryMomentum,
  type NewtonSummaryOptions,
} from "./index";
import { referenceAverage, type SummaryRecord } from "./summaryAveraging";

// averaging -------------------------------------------------------------------------------------

/** Summary k carries x_k = e_k (in ḡ), so an average's ḡ is its vector of weights. */
const basisRecord = (k: number, size: number): SummaryRecord => ({
  step: k,
  loss: 0,
  gbar: Array.from({ length: size }, (_, i) => (i === k ? 1 : 0)),
  hbar: Array.from({ length: size }, () => new Array<number>(size).fill(0)),
  order3Diag: new Array<number>(size).fill(0),
});

function referenceWeights(window: number, n: number): number[][] {
  let state = null;
  const out: number[][] = [];
  for (let k = 0; k < n; k++) {
    const r = referenceAverage(state, k, window, basisRecord(k, n));
    state = r.averages;
    out.push(r.averaged.gbar as number[]);
  }
  return out;
}

describe("averaging: 'reference-code' (the published running average, buffers aliased)", () => {
  it("W = 2: 0, ¾x₁, ½x₁ + ⅓x₂ (∝ 3x₁ + 2x₂), ⅜x₁ + ¼(x₂ + x₃) (∝ 1.5x₁ + x₂ + x₃), then ⅓ of the last 2, ¼ of the last 3", () => {
    // Hand-computed from the published update_uniform_avg: at k = 0 `use`, `up` and x₀ are one
    // tensor, zeroed by mul_(0) before add_(x₀) reads it; through the first period that buffer gets
    // both updates (n = t + 1 twice); each later period starts with `up` = x_k zeroed the same way.
    const want = [
      [0, 0, 0, 0, 0, 0, 0, 0],
      [0, 3 / 4, 0, 0, 0, 0, 0, 0],
      [0, 1 / 2, 1 / 3, 0, 0, 0, 0, 0],
      [0, 3 / 8, 1 / 4, 1 / 4, 0, 0, 0, 0],
      [0, 0, 0, 1 / 3, 1 / 3, 0, 0, 0],
      [0, 0, 0, 1 / 4, 1 / 4, 1 / 4, 0, 0],
      [0, 0, 0, 0, 0, 1 / 3, 1 / 3, 0],
      [0, 0, 0, 0, 0, 1 / 4, 1 / 4, 1 / 4],
    ];
    referenceWeights(2, 8).forEach((w, k) => w.forEach((x, i) => expect(x).toBeCloseTo(want[k]![i]!, 14)));
  });

  it("W = 1: exactly 0 at the first summary, then x_k / 2", () => {
    const got = referenceWeights(1, 5);
    expect(got[0]).toEqual([0, 0, 0, 0, 0]);
    for (let k = 1; k < 5; k++) got[k]!.forEach((x, i) => expect(x).toBeCloseTo(i === k ? 0.5 : 0, 15));
  });

  it("is what the optimizer solves with (H̄ and D̄(3) weighted alike)", () => {
    // Quadratic ½‖θ‖² with u = g = θ: ḡ = H̄ = ‖θ_s‖² per group; with W = 2 and no warm-up the second
    // summary's average is ¾ of it.
    const loss = (p: { a: hd.Value }) => hd.mul(0.5, hd.sum(hd.square(p.a)));
    const opt = newtonSummary({
      learningRate: 0.1,
      momentum: 0,
      period: 1,
      window: 2,
      warmup: 0,
      averaging: "reference-code",
      cubic: false,
    });
    let params: { a: hd.Value } = { a: hd.array([1, 2]) };
    let state = opt.init(params);
    const seen: { gbar: readonly number[]; avg: readonly number[] }[] = [];
    for (let t = 0; t < 2; t++) {
      const g = hd.grad(loss)(params);
      const r = opt.update(state, params, g, { loss });
      const next = applyUpdates(params, r.updates);
      const info = newtonSummaryInfo(r.state);
      seen.push({ gbar: info.recent.at(-1)!.gbar, avg: info.averaged!.gbar });
      hd.dispose([g, r.updates, params, state]);
      params = next;
      state = r.state;
    }
    expect(seen[0]!.avg).toEqual([0]);
    expect(seen[1]!.avg[0]).toBeCloseTo(0.75 * seen[1]!.gbar[0]!, 12);
    hd.dispose([params, state]);
  });
});

// momentum during the warm-up ---------------------------------------------------------------------

describe("warmupMomentum", () => {
  const grads = [
    [1, 2],
    [10, 20],
    [100, 200],
  ];
  const traceAfter = (warmupMomentum: "every-step" | "summary-steps") => {
    // T = 2, one warm-up period: update 1 is inside the warm-up and computes no summary.
    const t = traceSummaryMomentum({ decay: 0.5, period: 2, warmup: 1, warmupMomentum });
    const params = { w: hd.array([0, 0]) };
    let state = t.init(params);
    for (const g of grads) {
      const gt = { w: hd.array(g) };
      const r = t.update(state, params, gt);
      hd.dispose([gt, state]);
      state = r.state;
    }
    const out = flatOf(state.trace)[0]!;
    hd.dispose([params, state]);
    return out;
  };
  it("'every-step' (paper): u₂ = μ²g₀ + μg₁ + g₂", () => {
    traceAfter("every-step").forEach((x, i) =>
      expect(x).toBeCloseTo(0.25 * grads[0]![i]! + 0.5 * grads[1]![i]! + grads[2]![i]!, 4),
    );
  });
  it("'summary-steps' (published code): update 1 leaves u alone, u₂ = μg₀ + g₂", () => {
    traceAfter("summary-steps").forEach((x, i) => expect(x).toBeCloseTo(0.5 * grads[0]![i]! + grads[2]![i]!, 4));
  });
  it("after the warm-up both move at every update", () => {
    const t = traceSummaryMomentum({ decay: 0.5, period: 2, warmup: 0, warmupMomentum: "summary-steps" });
    const params = { w: hd.array([0, 0]) };
    let state = t.init(params);
    for (const g of grads.slice(0, 2)) {
      const gt = { w: hd.array(g) };
      const r = t.update(state, params, gt);
      hd.dispose([gt, state]);
      state = r.state;
    }
    expect(flatOf(state.trace)[0]).toEqual([10.5, 21]);
    hd.dispose([params, state]);
  });
});

// the linear solve of an indefinite H̄ --------------------------------------------------------------

describe("indefiniteLinearSolve", () => {
  // L = ½θᵀAθ − bᵀθ with A indefinite; discrete partition, u = g: ḡ_s = g_s², H̄_st = g_s A_st g_t.
  const A = [
    [2, 1, 0],
    [1, -1, 0.5],
    [0, 0.5, 1.5],
  ];
  const B = [1, -1, 0.5];
  const theta0 = [0.4, 0.3, -0.2];
  const loss = (p: { w: hd.Value }) => {
    const ath = hd.reshape(hd.matmul(hd.array(A), hd.reshape(p.w, [3, 1])), [3]);
    return hd.sub(hd.mul(0.5, hd.sum(hd.mul(p.w, ath))), hd.sum(hd.mul(hd.array(B), p.w)));
  };
  const g = A.map((row, i) => row.reduce((s, x, j) => s + x * theta0[j]!, 0) - B[i]!);
  const hbar = A.map((row, s) => row.map((x, t) => g[s]! * x * g[t]!));
  const gbar = g.map((x) => x * x);
  const base: NewtonSummaryOptions = {
    learningRate: 1,
    momentum: 0,
    period: 1,
    window: 1,
    warmup: 0,
    cubic: false,
    positivePart: false,
    partition: discrete,
  };
  const step = (options: Partial<NewtonSummaryOptions>) => {
    const opt = newtonSummary({ ...base, ...options });
    const params = { w: hd.array(theta0) };
    const state = opt.init(params);
    const grads = hd.grad(loss)(params);
    const r = opt.update(state, params, grads, { loss });
    const info = newtonSummaryInfo(r.state);
    const updates = flatOf(r.updates)[0]!;
    hd.dispose([params, state, grads, r]);
    return { info, updates };
  };

  it("'solve' (published code): η = H̄⁻¹ḡ for an indefinite H̄, matching a dense float64 solve, and steps", () => {
    // A⁻¹b by @hodiff/testing's float64 Gaussian elimination, independent of the code under test.
    const want = quadraticMinimiser({ a: hbar, b: gbar });
    const { info, updates } = step({ indefiniteLinearSolve: "solve" });
    expect(info.lastSolve).toMatchObject({ kind: "ok", case: "linear" });
    info.eta!.forEach((x, s) => expect(Math.abs(x - want[s]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want[s]!))));
    updates.forEach((x, s) => expect(x).toBeCloseTo(-want[s]! * g[s]!, 3));
  });

  it("'refuse' (paper): not positive definite, no η, no step", () => {
    const { info, updates } = step({});
    expect(info.lastSolve).toMatchObject({ kind: "not-positive-definite" });
    expect(info.eta).toBeNull();
    updates.forEach((x) => expect(Math.abs(x)).toBe(0));
  });

  it("'solve' with a singular H̄ is a failed solve (the published code crashes there)", () => {
    // A loss that is identically 0: ḡ = 0 and H̄ = 0.
    const singular = scaleBySummaries({
      period: 1,
      window: 1,
      warmup: 0,
      cubic: false,
      indefiniteLinearSolve: "solve",
    });
    const params = { a: hd.array([1]), b: hd.array([1]) };
    const s0 = singular.init(params);
    const zero = (p: { a: hd.Value; b: hd.Value }) => hd.mul(0, hd.add(hd.sum(p.a), hd.sum(p.b)));
    const u = { a: hd.array([1]), b: hd.array([1]) };
    const r = singular.update(s0, params, u, { loss: zero });
    expect(r.state.lastSolve).toMatchObject({ kind: "singular" });
    expect(r.state.skipped).toMatch(/^no η yet: H̄ \(2×2\) is singular/);
    hd.dispose([params, s0, u, r]);
  });
});

// solver failure and η smoothing ------------------------------------------------------------------

describe("solverFailure: 'keep-raw' (the published η pipeline)", () => {
  it("smooths the raw η before the positive part, from 0 (first solve after update 0: (1 − β)·raw)", () => {
    const loss = (p: { a: hd.Value }) => hd.mul(0.5, hd.sum(hd.square(p.a)));
    const beta = 0.25;
    const opt = newtonSummary({
      learningRate: 0.1,
      momentum: 0,
      period: 1,
      window: 1,
      warmup: 1,
      cubic: false,
      etaSmoothing: beta,
      solverFailure: "keep-raw",
    });
    let params: { a: hd.Value } = { a: hd.array([1, 2]) };
    let state = opt.init(params);
    const infos = [];
    for (let t = 0; t < 3; t++) {
      const g = hd.grad(loss)(params);
      const r = opt.update(state, params, g, { loss });
      const next = applyUpdates(params, r.updates);
      hd.dispose([g, r.updates, params, state]);
      params = next;
      state = r.state;
      infos.push(newtonSummaryInfo(state));
    }
    // On ½‖θ‖² along u = g = θ, the raw η is H̄⁻¹ḡ = 1 exactly.
    expect(infos[0]!.eta).toBeNull(); // warm-up
    expect(infos[1]!.eta![0]).toBeCloseTo(1 - beta, 6); // (1 − β)·1
    expect(infos[2]!.eta![0]).toBeCloseTo(beta * (1 - beta) + (1 - beta), 6);
    hd.dispose([params, state]);
  });
});

describe("solverFailure and the cubic solver's hard case", () => {
  // Along u = (1, 1) at a = b = 0, L = −a²/2 + a³/6 + b + b² + b³/6 has ḡ = (0, 1), H̄ = diag(−1, 2) and
  // D̄(3) = (1, 1): with λ_int = 1 the secular equation has no root above r = 2 = −κ₁/(λ_int/2),
  // the hard case (η_b = 1/3, η_a = ±√(4 − 1/9)).
  const loss = (p: { a: hd.Value; b: hd.Value }) => {
    const a = hd.sum(p.a);
    const b = hd.sum(p.b);
    return hd.add(
      hd.add(hd.mul(-0.5, hd.square(a)), hd.mul(1 / 6, hd.mul(a, hd.square(a)))),
      hd.add(hd.add(b, hd.square(b)), hd.mul(1 / 6, hd.mul(b, hd.square(b)))),
    );
  };
  const solveWith = (solverFailure: "keep-eta" | "keep-raw") => {
    const t = scaleBySummaries({ period: 1, window: 1, warmup: 0, positivePart: false, solverFailure });
    const params = { a: hd.array([0]), b: hd.array([0]) };
    const u = { a: hd.array([1]), b: hd.array([1]) };
    const s0 = t.init(params);
    const r = t.update(s0, params, u, { loss });
    const out = { lastSolve: r.state.lastSolve, eta: r.state.eta, skipped: r.state.skipped };
    hd.dispose([params, u, s0, r]);
    return out;
  };
  it("'keep-eta' (hodiff) takes the hard-case solution", () => {
    const { lastSolve, eta } = solveWith("keep-eta");
    expect(lastSolve).toMatchObject({ kind: "ok", case: "hard" });
    expect(eta![1]).toBeCloseTo(1 / 3, 4);
    expect(Math.abs(eta![0]!)).toBeCloseTo(Math.sqrt(4 - 1 / 9), 4);
  });
  it("'keep-raw' (published code) refuses it: no η yet, the update is skipped", () => {
    const { lastSolve, eta, skipped } = solveWith("keep-raw");
    expect(lastSolve).toMatchObject({ kind: "hard-case" });
    expect(eta).toBeNull();
    expect(skipped).toMatch(/^no η yet: .*hard case/);
  });
});

// warm-up counting ----------------------------------------------------------------------------------

describe("warmupCounting", () => {
  it("'steps' ends the warm-up at ⌊t/T⌋ ≥ warmup even when a summary was non-finite; 'summaries' waits for finite ones", () => {
    const loss = (p: { a: hd.Value }) => hd.mul(0.5, hd.sum(hd.square(p.a)));
    const nan = (p: { a: hd.Value }) => hd.mul(loss(p), NaN);
    const skippedAt = (warmupCounting: "steps" | "summaries") => {
      const opt = newtonSummary({
        learningRate: 0.1,
        momentum: 0,
        period: 1,
        window: 1,
        warmup: 1,
        cubic: false,
        warmupCounting,
      });
      let params: { a: hd.Value } = { a: hd.array([1, 2]) };
      let state = opt.init(params);
      const out: boolean[] = [];
      for (let t = 0; t < 3; t++) {
        const g = hd.grad(loss)(params);
        const r = opt.update(state, params, g, { loss: t === 0 ? nan : loss });
        const next = applyUpdates(params, r.updates);
        hd.dispose([g, r.updates, params, state]);
        params = next;
        state = r.state;
        out.push(newtonSummaryInfo(state).skipped !== null);
      }
      hd.dispose([params, state]);
      return out;
    };
    expect(skippedAt("steps")).toEqual([true, false, false]);
    expect(skippedAt("summaries")).toEqual([true, true, false]);
  });
});

// the plateau scheduler -----------------------------------------------------------------------------

describe("reduceOnPlateau: resetBest (the published ReduceDampingOnPlateau)", () => {
  const losses = [1, 1.1, 1.1, 1.1, 1.05, 1.05, 1.05, 1.05, 1.02, 1.02, 1.02, 1.02];
  const reductions = (resetBest: boolean) => {
    const p = reduceOnPlateau({ patience: 2, factor: 0.5, resetBest });
    let s = p.init();
    const at: number[] = [];
    losses.forEach((l, i) => {
      const next = p.step(s, l);
      if (next.scale < s.scale) at.push(i + 1);
      s = next;
    });
    return at;
  };
  it("keeps the best (paper, PyTorch): reductions at epochs 4, 7, 10", () => {
    expect(reductions(false)).toEqual([4, 7, 10]);
  });
  it("resets the best to the current metric after a reduction: epochs 4, 8, 12", () => {
    expect(reductions(true)).toEqual([4, 8, 12]);
  });
  it("baseValue: eps applies to baseValue·scale (the published code's absolute damping)", () => {
    const step = (baseValue: number) => {
      const p = reduceOnPlateau({ patience: 0, factor: 0.5, eps: 0.01, baseValue });
      return p.step(p.step(p.init(), 1), 1).scale;
    };
    expect(step(1)).toBe(0.5); // 1·(1 − 0.5) > 0.01
    expect(step(0.01)).toBe(1); // 0.01·(1 − 0.5) ≤ 0.01: skipped
  });
  it("newtonSummary's 'reference-code' semantics resets the plateau's best; 'paper' does not", () => {
    const scales = (semantics: "paper" | "reference-code") => {
      const loss = (p: { a: hd.Value }) => hd.mul(0.5, hd.sum(hd.square(p.a)));
      const opt = newtonSummary({
        learningRate: 0.01,
        momentum: 0,
        period: 1,
        window: 1,
        warmup: 0,
        cubic: false,
        semantics,
        plateau: { patience: 2, factor: 0.5 },
      });
      let params: { a: hd.Value } = { a: hd.array([1, 2]) };
      let state = opt.init(params);
      const out: number[] = [];
      for (const value of losses) {
        const g = hd.grad(loss)(params);
        const r = opt.update(state, params, g, { loss, value });
        const next = applyUpdates(params, r.updates);
        hd.dispose([g, r.updates, params, state]);
        params = next;
        state = r.state;
        out.push(newtonSummaryInfo(state).learningRateScale);
      }
      hd.dispose([params, state]);
      return out;
    };
    expect(scales("paper")).toEqual([1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125, 0.125]);
    expect(scales("reference-code")).toEqual([1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125]);
  });
});

// semantics and option names -----------------------------------------------------------------------

describe("semantics", () => {
  it("'reference-code' sets the five optimizer options; an explicit option wins", () => {
    const stateOf = (o: Partial<NewtonSummaryOptions>) => {
      const opt = newtonSummary({ learningRate: 0.1, period: 1, window: 2, warmup: 0, cubic: false, ...o });
      const params = { a: hd.array([1, 2]) };
      const s = opt.init(params);
      const loss = (p: { a: hd.Value }) => hd.mul(0.5, hd.sum(hd.square(p.a)));
      const g = hd.grad(loss)(params);
      const r = opt.update(s, params, g, { loss });
      const info = newtonSummaryInfo(r.state);
      const reference = r.state[1].reference;
      hd.dispose([params, s, g, r]);
      return { info, reference };
    };
    expect(stateOf({ semantics: "reference-code" }).reference).not.toBeNull(); // reference averaging
    expect(stateOf({ semantics: "reference-code" }).info.averaged!.gbar).toEqual([0]); // its first average
    expect(stateOf({ semantics: "reference-code", averaging: "window" }).reference).toBeNull();
    expect(stateOf({}).reference).toBeNull();
    expect(() => newtonSummary({ learningRate: 1, semantics: "code" as never })).toThrow(
      /semantics must be 'paper' or 'reference-code', got the string "code"/,
    );
  });
});

describe("unknown option names are an error naming the allowed ones, in every optimizer", () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      "newtonSummary",
      () => newtonSummary({ learningRate: 1, semantic: "paper" } as never),
      /newtonSummary: unknown option 'semantic'; the options are 'learningRate', .*'semantics'/,
    ],
    [
      "scaleBySummaries",
      () => scaleBySummaries({ windw: 2 } as never),
      /scaleBySummaries: unknown option 'windw'; the options are 'period', 'window'/,
    ],
    [
      "traceSummaryMomentum",
      () => traceSummaryMomentum({ mu: 0.9 } as never),
      /traceSummaryMomentum: unknown option 'mu'/,
    ],
    [
      "reduceOnPlateau",
      () => reduceOnPlateau({ patients: 2 } as never),
      /reduceOnPlateau: unknown option 'patients'; the options are 'mode', 'factor', 'patience'/,
    ],
    ["scaleByPlateau", () => scaleByPlateau({ patients: 2 } as never), /unknown option 'patients'/],
    [
      "momentum",
      () => momentum(0.1, { decay: 0.9 } as never),
      /momentum: unknown option 'decay'; the options are 'momentum', 'nesterov'/,
    ],
    [
      "adam",
      () => adam(0.1, { beta1: 0.9 } as never),
      /adam: unknown option 'beta1'; the options are 'b1', 'b2', 'eps', 'epsRoot'/,
    ],
    ["scaleByAdam", () => scaleByAdam({ beta1: 0.9 } as never), /scaleByAdam: unknown option 'beta1'/],
    [
      "traceMomentum",
      () => traceMomentum({ momentum: 0.9 } as never),
      /traceMomentum: unknown option 'momentum'; the options are 'decay', 'nesterov'/,
    ],
    [
      "scaleByLearningRate",
      () => scaleByLearningRate(0.1, { flip: true } as never),
      /scaleByLearningRate: unknown option 'flip'; the options are 'flipSign'/,
    ],
    [
      "kfac",
      () => kfac(0.1, { dampening: 0.1 } as never),
      /kfac: unknown option 'dampening'; the options are .*'damping'/,
    ],
    [
      "scaleByKfac",
      () => scaleByKfac({ learningRate: 0.1, dampening: 0.1 } as never),
      /scaleByKfac: unknown option 'dampening'/,
    ],
  ];
  it.each(cases)("%s", (_, make, message) => {
    expect(make).toThrow(message);
  });
});
