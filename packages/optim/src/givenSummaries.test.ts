/**
 * scaleBySummaries with `extras.summaries` (summaries the caller computed, e.g. asynchronously on
 * webgpu): the solve uses exactly those numbers and the loss closure is never needed.
 */
import * as hd from "@hodiff/core";
import { fromGroups, type Partition, type SummariesOptions } from "@hodiff/partition";
import { describe, expect, it } from "vitest";
import { applyUpdates, newtonSummary, newtonSummaryInfo } from "./index";
import type { NewtonSummaryState, Params } from "./index";

/** The summaries both tests hand over: η = H̄⁻¹ḡ = [[2, 1], [1, 4]]⁻¹ [3, 5] = [1, 1]. */
const given = () => ({
  loss: 0.7,
  gbar: [3, 5],
  hbar: [
    [2, 1],
    [1, 4],
  ],
  order3Diag: [0, 0],
});

const noLoss = () => {
  throw new Error("the loss closure must not be called");
};

describe("newtonSummary with extras.summaries", () => {
  it("η = H̄⁻¹ḡ of the given numbers and θ ← θ − λ·η_s·g on each group, without calling a loss", () => {
    const params = { x: hd.array([1, 2]), y: hd.array([3]) };
    const grads = { x: hd.array([0.5, -1]), y: hd.array([2]) };
    const partition = fromGroups(params, [
      { label: "x", paths: ["x"] },
      { label: "y", paths: ["y"] },
    ]);
    // momentum 0: u = g; cubic off: η = H̄⁻¹ḡ = [[2, 1], [1, 4]]⁻¹ [3, 5] = [1, 1] (2·1 + 1 = 3, 1 + 4 = 5).
    const opt = newtonSummary({
      learningRate: 0.1,
      momentum: 0,
      cubic: false,
      period: 1,
      window: 1,
      warmup: 0,
      partition,
    });
    const before = hd.numTensors();
    const state = opt.init(params);
    const summaries = given();
    const next = opt.update(state, params, grads, { summaries, loss: noLoss as never });
    const eta = newtonSummaryInfo(next.state as NewtonSummaryState).eta!;
    expect(eta[0]).toBeCloseTo(1, 6);
    expect(eta[1]).toBeCloseTo(1, 6);
    const moved = applyUpdates(params, next.updates);
    // x ← x − 0.1·1·[0.5, −1]; y ← y − 0.1·1·2.
    expect(Array.from(hd.toFlat(moved.x))).toEqual([0.95, 2.1].map((v) => expect.closeTo(v, 6)));
    expect(hd.toFlat(moved.y)[0]).toBeCloseTo(2.8, 6);
    hd.dispose([state, next.state, next.updates, moved] as never);
    expect(hd.numTensors()).toBe(before);
    hd.dispose([params, grads] as never);
  });
});

describe("newtonSummary with extras.summarize", () => {
  it("calls it with θ, the update's direction u, the partition and the summaries options, instead of the loss", () => {
    const params = { x: hd.array([1, 2]), y: hd.array([3]) };
    const grads = { x: hd.array([0.5, -1]), y: hd.array([2]) };
    // momentum 0.5 with a zero buffer: u = g on the first update.
    const opt = newtonSummary({ learningRate: 0.1, momentum: 0.5, cubic: false, period: 1, window: 1, warmup: 0 });
    const before = hd.numTensors();
    const state = opt.init(params);
    const calls: { u: number[]; size: number; order3: boolean | undefined }[] = [];
    const summarize = (p: Params, u: Params, partition: Partition, options: SummariesOptions) => {
      calls.push({
        u: hd.treeLeaves(u).flatMap((l) => Array.from(hd.toFlat(l))),
        size: partition.size,
        order3: options.order3,
      });
      expect(hd.treeLeaves(p).flatMap((l) => Array.from(hd.toFlat(l)))).toEqual([1, 2, 3]);
      // canonical partition of {x, y}: one group per leaf; η = H̄⁻¹ḡ = [1, 1] as above.
      return given();
    };
    const next = opt.update(state, params, grads, { summarize, loss: noLoss as never });
    expect(calls).toEqual([{ u: [0.5, -1, 2], size: 2, order3: false }]);
    const eta = newtonSummaryInfo(next.state as NewtonSummaryState).eta!;
    expect(eta[0]).toBeCloseTo(1, 6);
    expect(eta[1]).toBeCloseTo(1, 6);
    hd.dispose([state, next.state, next.updates] as never);
    expect(hd.numTensors()).toBe(before);
    hd.dispose([params, grads] as never);
  });
});
