import { describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import { applyUpdates } from "@hodiff/optim";
import { OPTIMIZERS, OPTIMIZER_NAMES, allHyperFlags, camel, type OptimizerEntry } from "./optimizers";

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
    let params = { w: hd.array([1, -2, 0.5]) };
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
