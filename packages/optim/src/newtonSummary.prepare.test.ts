/**
 * newtonSummaryPrepare: summaries computed before the update and read without blocking give the
 * update exactly what computing them inside it gives (same direction u_t, same options), so both
 * trajectories agree bit for bit; the update then never calls the loss closure.
 */
import * as hd from "@hodiff/core";
import { canonical, summaries } from "@hodiff/partition";
import { describe, expect, it } from "vitest";
import {
  applyUpdates,
  newtonSummary,
  newtonSummaryInfo,
  newtonSummaryPrepare,
  type NewtonSummaryOptions,
  type NewtonSummaryState,
  type Extras,
} from "./index";

type Net = { a: { w: hd.Value; b: hd.Value }; o: { w: hd.Value; b: hd.Value } };

/** A 3-4-2 tanh network's squared error on 6 fixed points; the k-th batch shifts the inputs. */
const lossOn = (k: number) => (p: Net) => {
  const x = hd.array(
    Array.from({ length: 18 }, (_, i) => Math.sin(1.3 * i + k)),
    { shape: [6, 3] },
  );
  const y = hd.array(
    Array.from({ length: 12 }, (_, i) => Math.cos(0.7 * i)),
    { shape: [6, 2] },
  );
  const h = hd.tanh(hd.add(hd.matmul(x, p.a.w), p.a.b));
  const r = hd.sub(hd.add(hd.matmul(h, p.o.w), p.o.b), y);
  return hd.mul(hd.sum(hd.mul(r, r)), 1 / 6);
};

const init = (): Net => {
  const v = (n: number, s: number) => Array.from({ length: n }, (_, i) => 0.5 * Math.sin(s + 2.1 * i));
  return {
    a: { w: hd.array(v(12, 1), { shape: [3, 4] }), b: hd.array(v(4, 2)) },
    o: { w: hd.array(v(8, 3), { shape: [4, 2] }), b: hd.array(v(2, 4)) },
  };
};

/** Params after each of `steps` updates, and η after each, with the summaries inside or prepared. */
async function run(options: NewtonSummaryOptions, steps: number, prepared: boolean | "summarize") {
  const opt = newtonSummary(options);
  const prepare = newtonSummaryPrepare(options);
  let params = init();
  let state = opt.init(params) as NewtonSummaryState;
  const trajectory: number[][] = [];
  const etas: (readonly number[] | null)[] = [];
  for (let t = 0; t < steps; t++) {
    const train = lossOn(t);
    const grads = hd.grad(train)(params);
    const loss = lossOn(100 + t) as (p: never) => hd.Value; // the summaries' own batch
    // "summarize": the caller's function (as a thread pool gives), here the same summaries, synchronously
    let extras: Extras =
      prepared === "summarize"
        ? { summarize: (p: never, u: never, part: never, o: never) => summaries(loss, part, o)(p, u) }
        : { loss };
    if (prepared) {
      extras = await prepare(state, params, grads, extras);
      const noLoss = () => {
        throw new Error("the update must not compute summaries itself");
      };
      // and not through the caller's summarize either: the prepared summaries are used
      extras = { ...extras, loss: noLoss, summarize: noLoss };
    }
    const r = opt.update(state, params, grads, extras);
    const next = applyUpdates(params, r.updates) as unknown as Net;
    hd.dispose([grads, r.updates, params, state] as never);
    params = next;
    state = r.state;
    trajectory.push(hd.treeLeaves(params as never).flatMap((l: hd.Value) => Array.from(hd.toFlat(l))));
    etas.push(newtonSummaryInfo(state).eta);
  }
  hd.dispose([params, state] as never);
  return { trajectory, etas };
}

describe("newtonSummaryPrepare", () => {
  it.each([
    ["paper, cubic", { semantics: "paper" as const }],
    ["reference-code, linear", { semantics: "reference-code" as const, cubic: false }],
    ["paper, chunk size 1", { semantics: "paper" as const, chunkSize: 1 }],
  ])("%s: the same trajectory bit for bit as summaries computed inside the update; no leak", async (_, extra) => {
    const options: NewtonSummaryOptions = {
      learningRate: 0.2,
      momentum: 0.9,
      period: 2,
      window: 2,
      warmup: 1,
      partition: canonical,
      ...extra,
    };
    const before = hd.numTensors();
    const inside = await run(options, 7, false);
    const outside = await run(options, 7, true);
    expect(hd.numTensors()).toBe(before);
    expect(inside.etas.some((e) => e !== null)).toBe(true); // the run did step
    expect(outside.etas).toEqual(inside.etas);
    expect(outside.trajectory).toEqual(inside.trajectory);
  });

  it("with extras.summarize (a pool's), calls it along u_t: the same trajectory bit for bit", async () => {
    const options: NewtonSummaryOptions = { learningRate: 0.2, period: 2, window: 2, warmup: 1, partition: canonical };
    const inside = await run(options, 5, false);
    const viaSummarize = await run(options, 5, "summarize");
    expect(inside.etas.some((e) => e !== null)).toBe(true);
    expect(viaSummarize.trajectory).toEqual(inside.trajectory);
  });

  it("leaves extras as they are on updates without a summary, or when summaries are given", async () => {
    const options = { learningRate: 0.1, period: 3, partition: canonical };
    const opt = newtonSummary(options);
    const prepare = newtonSummaryPrepare(options);
    const params = init();
    const before = hd.numTensors();
    let state = opt.init(params);
    const grads = hd.grad(lossOn(0))(params);
    const given = { loss: lossOn(1) as never, summaries: { loss: 1, gbar: [], hbar: [], order3Diag: [] } };
    expect(await prepare(state, params, grads, given)).toBe(given);
    const r = opt.update(state, params, grads, { loss: lossOn(1) as never });
    hd.dispose([state] as never);
    state = r.state; // count 1: no summary due
    const extras = { loss: lossOn(1) as never };
    expect(await prepare(state, params, grads, extras)).toBe(extras);
    hd.dispose([grads, r.updates, state] as never);
    expect(hd.numTensors()).toBe(before);
    hd.dispose(params as never);
  });
});
