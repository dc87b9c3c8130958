import { describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import { applyUpdates } from "@hodiff/optim";
import { OPTIMIZERS, OPTIMIZER_NAMES, allHyperFlags, camel, type HyperValue, type OptimizerEntry } from "./optimizers";

describe("the optimizer registry", () => {
  it("offers the issue's optimizers", () => {
    expect(OPTIMIZER_NAMES).toEqual(expect.arrayContaining(["newton-summary", "adam", "sgd", "kfac"]));
  });

  it("declares kebab-case flags whose defaults satisfy their own kind and bounds; a shared flag has one kind", () => {
    const kinds = new Map<string, string>();
    for (const name of OPTIMIZER_NAMES) {
      for (const h of (OPTIMIZERS[name] as OptimizerEntry).hyper) {
        expect(h.flag).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
        expect(kinds.get(h.flag) ?? h.kind).toBe(h.kind);
        kinds.set(h.flag, h.kind);
        if (h.kind === "bool") expect(typeof h.default).toBe("boolean");
        else if (h.kind === "choice") expect(h.choices).toContain(h.default);
        else if (h.kind === "string") expect(h.pattern?.test(h.default as string)).toBe(true);
        else {
          const d = h.default as number;
          expect(Number.isFinite(d)).toBe(true);
          if (h.kind === "positive") expect(d).toBeGreaterThan(0);
          if (h.kind === "non-negative") expect(d).toBeGreaterThanOrEqual(0);
          if (h.max !== undefined) expect(h.maxExclusive ? d < h.max : d <= h.max).toBe(true);
        }
      }
    }
    expect(allHyperFlags().map((f) => f.spec.flag)).toEqual([...kinds.keys()]);
    expect(camel("lambda-int")).toBe("lambdaInt");
    expect(camel("hg-batch-size")).toBe("hgBatchSize");
  });

  /** Optimizers that only need gradients (K-FAC needs a model's layer statistics: train.test.ts runs it). */
  const gradientOnly = OPTIMIZER_NAMES.filter((n) => {
    const entry = OPTIMIZERS[n] as OptimizerEntry;
    const hyper = Object.fromEntries(entry.hyper.map((h) => [camel(h.flag), h.default]));
    return entry.build(hyper, { params: {} }).gradients === undefined;
  });

  it.each(gradientOnly)("%s builds, with its defaults, a transformation that lowers a quadratic", (name) => {
    const entry = OPTIMIZERS[name] as OptimizerEntry;
    // NewtonSummary: a summary every update and no warm-up, so that 5 updates move
    const fast: Record<string, number> = { period: 1, warmup: 0 };
    const hyper = Object.fromEntries(entry.hyper.map((h) => [camel(h.flag), fast[h.flag] ?? h.default]));
    let params: { w: hd.Value } = { w: hd.array([1, -2, 0.5]) };
    const built = entry.build(hyper, { params });
    const loss = (p: { w: hd.Value }) => hd.sum(hd.square(p.w));
    const before = hd.tidy(() => hd.item(loss(params)));
    let state = built.transformation.init(params);
    for (let i = 0; i < 5; i++) {
      const g = hd.grad(loss)(params);
      const ctx = { step: i, epoch: 0, key: hd.random.key(0), loss, lossOnSample: () => loss };
      const next = built.transformation.update(state, params, g, built.extras?.(ctx as never));
      const p = applyUpdates(params, next.updates);
      hd.dispose([g, next.updates, params]);
      hd.dispose(state);
      params = p;
      state = next.state;
    }
    expect(hd.tidy(() => hd.item(loss(params)))).toBeLessThan(before);
    hd.dispose([params, state]);
  });

  /**
   * The exact first update(s) of each gradient-only entry, built from non-default flag values, on
   * f(w) = ½·Σ aᵢwᵢ² (g = a∘w, H = diag(a)), against the update rules computed by hand in float64.
   * A flag wired to the wrong option, or an option dropped, changes these numbers.
   */
  describe("wiring: the exact first update from the flags", () => {
    const A = { v: [1, 4, 0.5], c: [2, 0.25] };
    const W0 = { v: [1, -2, 0.5], c: [3, -1] };
    type P = { v: hd.Value; c: hd.Value };
    const loss = (p: P) =>
      hd.mul(hd.add(hd.sum(hd.mul(hd.array(A.v), hd.square(p.v))), hd.sum(hd.mul(hd.array(A.c), hd.square(p.c)))), 0.5);
    const grad0 = { v: W0.v.map((w, i) => A.v[i]! * w), c: W0.c.map((w, i) => A.c[i]! * w) };

    /** Updates of `steps` updates from W0 with the entry's defaults overridden by `flags`. */
    function updates(name: string, flags: Record<string, HyperValue>, steps = 1): { v: number[]; c: number[] }[] {
      const entry = OPTIMIZERS[name as keyof typeof OPTIMIZERS] as OptimizerEntry;
      for (const k of Object.keys(flags)) expect(entry.hyper.map((h) => camel(h.flag))).toContain(k);
      const hyper = { ...Object.fromEntries(entry.hyper.map((h) => [camel(h.flag), h.default])), ...flags };
      let params: P = { v: hd.array(W0.v), c: hd.array(W0.c) };
      const built = entry.build(hyper, { params });
      let state = built.transformation.init(params);
      const out: { v: number[]; c: number[] }[] = [];
      for (let i = 0; i < steps; i++) {
        const g = hd.grad(loss)(params);
        const ctx = { step: i, epoch: 0, key: hd.random.key(0), loss, lossOnSample: () => loss };
        const next = built.transformation.update(state, params, g, built.extras?.(ctx as never));
        const u = next.updates as P;
        out.push({ v: Array.from(hd.toFlat(u.v)), c: Array.from(hd.toFlat(u.c)) });
        const p = applyUpdates(params, u);
        hd.dispose([g, u, params, state]);
        params = p;
        state = next.state;
      }
      hd.dispose([params, state]);
      return out;
    }
    const close = (got: { v: number[]; c: number[] }, want: { v: number[]; c: number[] }) => {
      for (const k of ["v", "c"] as const) got[k].forEach((x, i) => expect(x).toBeCloseTo(want[k][i]!, 6));
    };
    const map = (f: (g: number, k: "v" | "c", i: number) => number) => ({
      v: grad0.v.map((g, i) => f(g, "v", i)),
      c: grad0.c.map((g, i) => f(g, "c", i)),
    });

    it("adam: u₁ = −η·g/(|g| + ε) (bias-corrected m̂ = g, v̂ = g²), with the given η and ε", () => {
      const [u] = updates("adam", { lr: 0.1, b1: 0.8, b2: 0.9, eps: 0.5 });
      close(
        u!,
        map((g) => (-0.1 * g) / (Math.abs(g) + 0.5)),
      );
    });

    it("adam: β₁ and β₂ reach the second update", () => {
      const [u1, u2] = updates("adam", { lr: 0.1, b1: 0.5, b2: 0.75, eps: 0 }, 2);
      // w₁ = w₀ + u₁ (u₁ = −η·sign(g₀)), g₁ = a∘w₁; m₂ = β₁(1−β₁)g₀ + (1−β₁)g₁, v₂ likewise with g².
      close(
        u2!,
        map((g0, k, i) => {
          const g1 = A[k][i]! * (W0[k][i]! + u1![k][i]!);
          const m = (0.5 * 0.5 * g0 + 0.5 * g1) / (1 - 0.5 ** 2);
          const v = (0.75 * 0.25 * g0 * g0 + 0.25 * g1 * g1) / (1 - 0.75 ** 2);
          return (-0.1 * m) / Math.sqrt(v);
        }),
      );
    });

    it("sgd: u = −η·g; with momentum u₂ = −η·(μ·g₀ + g₁); Nesterov u₁ = −η·(1 + μ)·g₀", () => {
      close(
        updates("sgd", { lr: 0.2 })[0]!,
        map((g) => -0.2 * g),
      );
      const [u1, u2] = updates("sgd", { lr: 0.2, momentum: 0.5 }, 2);
      close(
        u1!,
        map((g) => -0.2 * g),
      );
      close(
        u2!,
        map((g0, k, i) => -0.2 * (0.5 * g0 + A[k][i]! * (W0[k][i]! + u1![k][i]!))),
      );
      close(
        updates("sgd", { lr: 0.2, momentum: 0.5, nesterov: true })[0]!,
        map((g) => -0.2 * 1.5 * g),
      );
    });

    it("newton-summary (linear solver, canonical groups): u = −λ·η_s·g on group s, η_s = ḡ_s / H̄_ss", () => {
      // u = g on the first update; H is diagonal, so H̄ is diagonal: ḡ_s = Σ g², H̄_ss = Σ a·g² over group s.
      const eta = (k: "v" | "c") =>
        grad0[k].reduce((s, g) => s + g * g, 0) / grad0[k].reduce((s, g, i) => s + A[k][i]! * g * g, 0);
      const [u] = updates("newton-summary", {
        lr: 0.7,
        momentum: 0.3,
        period: 1,
        warmup: 0,
        window: 1,
        solver: "linear",
      });
      close(
        u!,
        map((g, k) => -0.7 * eta(k) * g),
      );
      // One group for everything (--partition trivial): one η = Σ g² / Σ a·g² over all tensors.
      const all = [...grad0.v.map((g, i) => [g, A.v[i]!]), ...grad0.c.map((g, i) => [g, A.c[i]!])];
      const etaAll = all.reduce((s, [g]) => s + g! * g!, 0) / all.reduce((s, [g, a]) => s + a! * g! * g!, 0);
      const [t] = updates("newton-summary", {
        lr: 0.7,
        period: 1,
        warmup: 0,
        window: 1,
        solver: "linear",
        partition: "trivial",
      });
      close(
        t!,
        map((g) => -0.7 * etaAll * g),
      );
    });
  });
});

describe("newton-summary's --semantics and --summary-batches", () => {
  const entry = OPTIMIZERS["newton-summary"] as OptimizerEntry;
  const defaults = Object.fromEntries(entry.hyper.map((h) => [camel(h.flag), h.default]));
  /** Which batch source feeds the summaries of updates 0, 1, 2, …, 2T under these flags. */
  const sources = (flags: Record<string, string>) => {
    const built = entry.build({ ...defaults, period: 2, ...flags }, { params: {} });
    const calls: string[] = [];
    const loss = (): never => {
      throw new Error("not evaluated here");
    };
    for (let step = 0; step < 5; step++) {
      const ctx = {
        step,
        lossOnSample: (size: number) => (calls.push(`random ${size}`), loss),
        lossOnSequential: (index: number, size: number) => (calls.push(`sequential ${index} ${size}`), loss),
      };
      built.extras?.(ctx as never);
    }
    return calls;
  };
  it("defaults to the paper's semantics with seeded random summary batches", () => {
    expect(sources({})).toEqual(["random 100", "random 100", "random 100"]);
  });
  it("reference-code feeds the summaries sequentially (the k-th summary gets the k-th minibatch), unless told otherwise", () => {
    expect(sources({ semantics: "reference-code" })).toEqual([
      "sequential 0 100",
      "sequential 1 100",
      "sequential 2 100",
    ]);
    expect(sources({ semantics: "reference-code", summaryBatches: "random" })).toEqual([
      "random 100",
      "random 100",
      "random 100",
    ]);
    expect(sources({ summaryBatches: "sequential" })).toEqual([
      "sequential 0 100",
      "sequential 1 100",
      "sequential 2 100",
    ]);
  });
});
