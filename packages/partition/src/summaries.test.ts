/** summaries with {jit: true} (both passes one jit plan) against the eager passes, and no leak. */
import { describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import { canonical, summaries } from "./index";
import { tinyMlp, type Params } from "./fixtures";

/** All numbers of a summaries record, in a fixed order. */
const numbers = (s: { loss: number; gbar: number[]; hbar: number[][]; order3Diag: number[] }): number[] => [
  s.loss,
  ...s.gbar,
  ...s.hbar.flat(),
  ...s.order3Diag,
];

describe("summaries under jit", () => {
  it("equal the eager summaries on the tiny MLP, also with checkpointed layers, leaving no tensor", () => {
    const model = tinyMlp();
    const params = model.params();
    const u = hd.grad(model.loss)(params) as Params;
    const part = canonical(params);
    const before = hd.numTensors();
    const remat = hd.checkpoint(model.loss);
    // chunkSize 1: several H̄ chunks in the plan; order3 false: a zeros output beside the others.
    const cases = [
      [model.loss, {}],
      [remat, {}],
      [model.loss, { chunkSize: 1, order3: false }],
    ] as const;
    for (const [loss, options] of cases) {
      const eager = summaries(loss as (p: never) => Value, part, options)(params, u);
      const jitted = summaries(loss as (p: never) => Value, part, { ...options, jit: true })(params, u);
      const [a, b] = [numbers(jitted), numbers(eager)];
      expect(a).toHaveLength(b.length);
      const scale = Math.max(...b.map(Math.abs));
      a.forEach((x, i) => expect(Math.abs(x - b[i]!)).toBeLessThanOrEqual(1e-4 * scale + 1e-6));
    }
    expect(hd.numTensors()).toBe(before);
    hd.dispose([params, u]);
  });
});
