/**
 * hodiff's own optimizers pass the kit's laws, and each law catches an optimizer that breaks it
 * (so that a passing law means something).
 */
import * as hd from "@hodiff/core";
import {
  adam,
  momentum,
  newtonSummary,
  scale,
  sgd,
  type GradientTransformation,
  type NewtonSummaryOptions,
} from "@hodiff/optim";
import { discrete } from "@hodiff/partition";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  arbParams,
  checkDescent,
  checkNewtonStep,
  checkPurity,
  checkRescalingInvariance,
  leavesOf,
  materialize,
  type LawOptions,
} from "./index";

/** A fixed fast-check seed: CI runs the same cases every time (change it to explore others). */
const SEED = 20261202;
const withLoss: LawOptions["extras"] = (ctx) => ({ loss: ctx.loss });
const NS_FAST: Omit<NewtonSummaryOptions, "learningRate"> = { period: 1, window: 1, warmup: 0, momentum: 0.5 };

describe("arbitraries", () => {
  it("arbParams generates float32-exact trees that materialize to the same numbers", () => {
    fc.assert(
      fc.property(arbParams(), (spec) => {
        const before = hd.numTensors();
        const tree = materialize(spec);
        const got = leavesOf(tree).flat();
        hd.dispose(tree);
        const want = JSON.stringify(spec).match(/"data":\[[^\]]*\]/g)!.length;
        expect(got.every((x) => Math.fround(x) === x)).toBe(true);
        expect(want).toBeGreaterThan(0);
        expect(hd.numTensors()).toBe(before);
      }),
      { numRuns: 30, seed: SEED },
    );
  });
});

describe("hodiff's optimizers pass the laws", () => {
  it.each([
    ["sgd", () => sgd(0.1)],
    ["momentum", () => momentum(0.1, { momentum: 0.9, nesterov: true })],
    ["adam", () => adam(0.01)],
  ] as const)("purity: %s", (_, make) =>
    checkPurity(make as () => GradientTransformation<unknown>, { numRuns: 8, seed: SEED }),
  );

  it("purity: newtonSummary (a summary at every update)", () => {
    checkPurity(() => newtonSummary({ learningRate: 0.1, ...NS_FAST }) as GradientTransformation<unknown>, {
      extras: withLoss,
      numRuns: 8,
      seed: SEED,
    });
  });

  it.each([
    ["sgd", () => sgd(0.2)],
    ["momentum", () => momentum(0.1)],
  ] as const)("descent on convex quadratics: %s", (_, make) =>
    checkDescent(make as () => GradientTransformation<unknown>, { numRuns: 8, seed: SEED }),
  );

  it("descent on convex quadratics: adam, from far enough (its steps stay about its learning rate near the minimum)", () => {
    checkDescent(() => adam(0.01) as GradientTransformation<unknown>, { numRuns: 8, seed: SEED, minGradientNorm: 1 });
    // from anywhere it fails: it oscillates around the minimum with steps of about η
    expect(() =>
      checkDescent(() => adam(0.05) as GradientTransformation<unknown>, { numRuns: 40, seed: SEED }),
    ).toThrow(/the loss went from/);
  });

  it("descent on convex quadratics: newtonSummary", () => {
    checkDescent(
      () => newtonSummary({ learningRate: 0.5, ...NS_FAST, cubic: false }) as GradientTransformation<unknown>,
      {
        extras: withLoss,
        steps: 5,
        numRuns: 8,
        seed: SEED,
      },
    );
  });

  it("invariance under per-group rescaling: newtonSummary (with and without the cubic term)", () => {
    for (const cubic of [false, true])
      checkRescalingInvariance(
        () => newtonSummary({ learningRate: 0.5, ...NS_FAST, cubic }) as GradientTransformation<unknown>,
        {
          extras: withLoss,
          numRuns: 5,
          seed: SEED,
          tolerance: 2e-3,
        },
      );
  });

  it("reduction to Newton: newtonSummary with the discrete partition, no cubic term, u = g, λ = 1", () => {
    const newton = () =>
      newtonSummary({
        learningRate: 1,
        momentum: 0,
        period: 1,
        window: 1,
        warmup: 0,
        cubic: false,
        positivePart: false,
        partition: discrete,
      }) as GradientTransformation<unknown>;
    checkNewtonStep(newton, { extras: withLoss, numRuns: 10, seed: SEED });
  });
});

describe("the laws have teeth", () => {
  it("purity catches an optimizer that keeps a hidden counter", () => {
    let calls = 0;
    const impure = (): GradientTransformation<unknown> => ({
      init: () => ({}),
      update: (state, _params, grads) => ({
        state,
        updates: hd.treeMap((g: hd.Value) => hd.mul(g, -0.1 * ++calls), grads as hd.Tree<hd.Value>) as typeof grads,
      }),
    });
    expect(() => checkPurity(impure, { numRuns: 3, seed: SEED })).toThrow(
      /purity: update \d: equal inputs gave different updates/,
    );
  });

  it("purity catches a leak", () => {
    const leaky = (): GradientTransformation<unknown> => ({
      init: () => ({}),
      update: (state, _params, grads) => {
        hd.zeros([2]); // never freed
        return {
          state,
          updates: hd.treeMap((g: hd.Value) => hd.mul(g, -0.1), grads as hd.Tree<hd.Value>) as typeof grads,
        };
      },
    });
    expect(() => checkPurity(leaky, { numRuns: 3, seed: SEED })).toThrow(/tensors left after/);
  });

  it("descent catches ascent", () => {
    // scale(+0.1) moves along the gradient: gradient ascent (sgd itself refuses a negative rate).
    expect(() => checkDescent(() => scale(0.1), { numRuns: 5, seed: SEED })).toThrow(
      /descent on convex quadratics: the loss went/,
    );
  });

  it("rescaling invariance fails for sgd, and Newton's step for a plain gradient step", () => {
    expect(() => checkRescalingInvariance(() => sgd(0.1), { numRuns: 10, seed: SEED })).toThrow(
      /invariance under per-group rescaling/,
    );
    expect(() => checkNewtonStep(() => sgd(0.5), { numRuns: 10, seed: SEED })).toThrow(
      /reduction to Newton on a quadratic/,
    );
  });
});
