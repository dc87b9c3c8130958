/**
 * Unit-testing an optimizer you wrote, with @hodiff/testing: a clipped SGD written as a pure
 * `GradientTransformation`, checked against the kit's laws from vitest. Run it with
 * `npx vitest run examples/test-your-optimizer.test.ts`.
 */
import * as hd from "@hodiff/core";
import { type GradientTransformation } from "@hodiff/optim";
import { checkDescent, checkPurity, checkRescalingInvariance, LawViolation } from "@hodiff/testing";
import { describe, expect, it } from "vitest";

/** clippedSgd: u = −η·g·min(1, c/‖g‖), ‖g‖ the norm of the whole gradient; no state. */
function clippedSgd(learningRate: number, maxNorm: number): GradientTransformation<Record<string, never>> {
  return {
    init: () => ({}),
    update: (state, _params, grads) =>
      hd.tidy(() => {
        const leaves = hd.treeLeaves(grads as hd.Tree<hd.Value>) as hd.Value[];
        const norm = Math.sqrt(leaves.reduce((s, g) => s + hd.item(hd.sum(hd.square(g))), 0));
        const factor = -learningRate * Math.min(1, maxNorm / Math.max(norm, 1e-12));
        return {
          state,
          updates: hd.treeMap((g: hd.Value) => hd.mul(g, factor), grads as hd.Tree<hd.Value>) as typeof grads,
        };
      }),
  };
}

const options = { numRuns: 10, seed: 7 }; // a fixed seed: the same cases on every run

describe("clippedSgd", () => {
  it("is pure: inputs unchanged, equal inputs give equal outputs, no tensor leaked", () => {
    checkPurity(() => clippedSgd(0.1, 1), options);
  });

  it("descends on convex quadratics", () => {
    checkDescent(() => clippedSgd(0.1, 1), options);
  });

  it("is not invariant under per-group rescaling (a plain gradient method is not; NewtonSummary is)", () => {
    expect(() => checkRescalingInvariance(() => clippedSgd(0.1, 1), options)).toThrow(LawViolation.name);
  });
});
