/**
 * `semantics: 'reference-code'` follows the published code's trajectory on issue 13's tiny problem
 * (4-6-3 tanh MLP, batch 16, T = 2, W = 2, one warm-up period, λ = 0.3, μ = 0.9, λ_int = 1, negative
 * rates removed), with and without the cubic term. The expected trajectory is
 * `referenceCode/trajectory.json`, written in float64 by `referenceCode/published_loop.py`, an
 * independent PyTorch reimplementation of the published training loop (run it to regenerate).
 */
import * as hd from "@hodiff/core";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { flatOf } from "./fixtures";
import { applyUpdates, newtonSummary, newtonSummaryInfo } from "./index";

interface Reference {
  readonly x: number[][];
  readonly y: number[];
  readonly params: Record<string, { shape: number[]; data: number[] }>;
  readonly linear: Step[];
  readonly cubic: Step[];
}
interface Step {
  readonly step: number;
  readonly params: Record<string, number[]>;
  readonly lrs: number[] | null;
}

const ref = JSON.parse(readFileSync(new URL("./referenceCode/trajectory.json", import.meta.url), "utf8")) as Reference;
const NAMES = ["fc1.w", "fc1.b", "fc2.w", "fc2.b"] as const;
type Mlp = { fc1: { w: hd.Value; b: hd.Value }; fc2: { w: hd.Value; b: hd.Value } };

function replay(cubic: boolean): { etas: (readonly number[] | null)[]; params: number[][][] } {
  const leaf = (name: string) => hd.array(ref.params[name]!.data, { shape: ref.params[name]!.shape });
  let params: Mlp = { fc1: { w: leaf("fc1.w"), b: leaf("fc1.b") }, fc2: { w: leaf("fc2.w"), b: leaf("fc2.b") } };
  const x = hd.array(ref.x);
  const onehot = hd.array(ref.y.map((c) => [0, 1, 2].map((k) => (k === c ? 1 : 0))));
  const loss = (p: Mlp) => {
    const h = hd.tanh(hd.add(hd.matmul(x, p.fc1.w), p.fc1.b));
    const logits = hd.add(hd.matmul(h, p.fc2.w), p.fc2.b);
    return hd.neg(hd.mean(hd.sum(hd.mul(hd.logSoftmax(logits), onehot), 1)));
  };
  const opt = newtonSummary({
    learningRate: 0.3,
    momentum: 0.9,
    period: 2,
    window: 2,
    warmup: 1,
    lambdaInt: 1,
    cubic,
    semantics: "reference-code",
  });
  let state = opt.init(params);
  const etas: (readonly number[] | null)[] = [];
  const out: number[][][] = [];
  for (let t = 0; t < ref.linear.length; t++) {
    const grads = hd.grad(loss)(params);
    const r = opt.update(state, params, grads, { loss });
    const next = applyUpdates(params, r.updates);
    hd.dispose([grads, r.updates, params, state]);
    params = next;
    state = r.state;
    etas.push(newtonSummaryInfo(state).eta);
    out.push(flatOf(params));
  }
  hd.dispose([params, state, x, onehot]);
  return { etas, params: out };
}

describe("semantics 'reference-code' on issue 13's tiny problem, against the published loop (float64)", () => {
  for (const cubic of [false, true]) {
    it(`${cubic ? "with" : "without"} the cubic term: same rates and parameters over 20 updates`, () => {
      const before = hd.numTensors();
      const want = cubic ? ref.cubic : ref.linear;
      const got = replay(cubic);
      let worstParam = 0;
      let worstEta = 0;
      want.forEach((w, t) => {
        if (w.lrs === null) expect(got.etas[t]).toBeNull();
        else
          w.lrs.forEach((e, s) => {
            worstEta = Math.max(worstEta, Math.abs(got.etas[t]![s]! - e) / (1 + Math.abs(e)));
          });
        NAMES.forEach((name, l) =>
          w.params[name]!.forEach((p, i) => {
            worstParam = Math.max(worstParam, Math.abs(got.params[t]![l]![i]! - p) / (1 + Math.abs(p)));
          }),
        );
      });
      expect(worstEta).toBeLessThan(1e-3);
      expect(worstParam).toBeLessThan(1e-4);
      expect(hd.numTensors()).toBe(before);
    });
  }
});
