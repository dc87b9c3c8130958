/**
 * newtonSummary as a chain (momentum → per-group scaling → λ and its plateau) follows the trajectory
 * of the monolithic implementation it replaced (kept, for this comparison only, as the fixture
 * `newtonSummary.v0.fixture.ts`) on a fixed run of a small MLP, in several configurations; the
 * plateau inside the chain does what the CLI used to wire by hand.
 */
import * as hd from "@hodiff/core";
import { trivial } from "@hodiff/partition";
import { describe, expect, it } from "vitest";
import { flatOf, type Flat } from "./fixtures";
import { applyUpdates, newtonSummary, newtonSummaryInfo, reduceOnPlateau, type NewtonSummaryOptions } from "./index";
import * as v0 from "./newtonSummary.v0.fixture";
import type { Extras, GradientTransformation } from "./base";

type Mlp = { fc1: { w: hd.Value; b: hd.Value }; fc2: { w: hd.Value; b: hd.Value } };

/** A 3-5-2 tanh MLP, its gradient batch and a separate summary batch (fixed keys). */
function problem() {
  const k = hd.random.split(hd.random.key(11), 5);
  const params: Mlp = hd.tidy(() => ({
    fc1: { w: hd.mul(hd.random.normal(k[0]!, [3, 5]), 1 / Math.sqrt(3)), b: hd.zeros([5]) },
    fc2: { w: hd.mul(hd.random.normal(k[1]!, [5, 2]), 1 / Math.sqrt(5)), b: hd.zeros([2]) },
  }));
  const data = [k[2]!, k[3]!].map((key) => {
    const x = hd.random.normal(key, [16, 3]);
    const y = hd.tidy(() => {
      const c = hd.cast(hd.greater(hd.sum(x, 1), 0), "float32");
      return hd.stack([c, hd.sub(1, c)], 1);
    });
    return { x, y };
  });
  const lossOn =
    ({ x, y }: { x: hd.Value; y: hd.Value }) =>
    (p: Mlp) => {
      const h = hd.tanh(hd.add(hd.matmul(x, p.fc1.w), p.fc1.b));
      const logits = hd.add(hd.matmul(h, p.fc2.w), p.fc2.b);
      return hd.neg(hd.mean(hd.sum(hd.mul(hd.logSoftmax(logits), y), 1)));
    };
  return {
    params,
    train: lossOn(data[0]!),
    held: lossOn(data[1]!),
    dispose: () => hd.dispose(data.map((d) => [d.x, d.y])),
  };
}

/** `n` updates; `value(t)` is passed as extras.value (a plateau metric) when defined. Returns θ and η after each. */
function trajectory<S>(
  opt: GradientTransformation<S>,
  n: number,
  eta: (s: S) => readonly number[] | null,
  value: (t: number) => number | undefined,
): { thetas: Flat[]; etas: (readonly number[] | null)[] } {
  const { params: p0, train, held, dispose } = problem();
  let params = p0;
  let state = opt.init(params);
  const thetas: Flat[] = [];
  const etas: (readonly number[] | null)[] = [];
  for (let t = 0; t < n; t++) {
    const grads = hd.grad(train)(params);
    const v = value(t);
    const extras: Extras = { loss: held, ...(v === undefined ? {} : { value: v }) };
    const r = opt.update(state, params, grads, extras);
    const next = applyUpdates(params, r.updates);
    hd.dispose([grads, r.updates, params, state]);
    params = next;
    state = r.state;
    thetas.push(flatOf(params));
    etas.push(eta(state));
  }
  hd.dispose([params, state]);
  dispose();
  return { thetas, etas };
}

/** The monolithic v0 with the plateau wired as the CLI used to: step it on `value`, then set λ's scale. */
function v0WithPlateau(options: v0.NewtonSummaryOptions, plateau: Parameters<typeof reduceOnPlateau>[0]) {
  const inner = v0.newtonSummary(options);
  const machine = reduceOnPlateau(plateau);
  type S = { newton: v0.NewtonSummaryState; plateau: ReturnType<typeof machine.init> };
  const t: GradientTransformation<S> = {
    init: (params) => ({ newton: inner.init(params), plateau: machine.init() }),
    update: (state, params, grads, extras) => {
      let { newton, plateau: p } = state;
      if (extras?.value !== undefined) {
        p = machine.step(p, extras.value);
        newton = v0.withLearningRateScale(newton, p.scale);
      }
      const r = inner.update(newton, params, grads, extras);
      return { state: { newton: r.state, plateau: p }, updates: r.updates };
    },
  };
  return t;
}

const CONFIGS: [string, Omit<NewtonSummaryOptions, "learningRate">][] = [
  ["defaults (cubic, window)", { period: 2, window: 2, warmup: 1 }],
  [
    "linear, trivial partition, no positive part",
    { period: 3, window: 3, warmup: 1, cubic: false, positivePart: false, momentum: 0.5, partition: trivial },
  ],
  [
    "ema, diagonal, smoothing",
    { period: 2, window: 3, warmup: 2, averaging: "ema", diagonal: true, etaSmoothing: 0.5 },
  ],
];

describe("newtonSummary as a chain: the trajectory of the monolithic implementation (v0)", () => {
  const steps = 24;
  const values = [1, 1.1, 1.2, 1.3]; // a plateau metric at updates 6, 12, 18: reductions with patience 0
  const value = (t: number) => (t > 0 && t % 6 === 0 ? values[t / 6 - 1] : undefined);
  const plateau = { factor: 0.5, patience: 0 };
  for (const [name, config] of CONFIGS) {
    it(`${name}, with λ's plateau in the chain`, () => {
      const before = hd.numTensors();
      const options = { learningRate: 0.2, ...config };
      const chained = trajectory(newtonSummary({ ...options, plateau }), steps, (s) => newtonSummaryInfo(s).eta, value);
      const old = trajectory(
        v0WithPlateau(options as v0.NewtonSummaryOptions, plateau),
        steps,
        (s) => s.newton.eta,
        value,
      );
      expect(old.etas.filter((e) => e !== null).length).toBeGreaterThan(steps / 2); // it did step
      chained.etas.forEach((e, t) => {
        const o = old.etas[t]!;
        if (o === null) expect(e).toBeNull();
        else e!.forEach((x, s) => expect(Math.abs(x - o[s]!)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(o[s]!))));
      });
      chained.thetas.forEach((theta, t) =>
        theta.forEach((leaf, l) =>
          leaf.forEach((x, i) => expect(Math.abs(x - old.thetas[t]![l]![i]!)).toBeLessThan(1e-5)),
        ),
      );
      expect(hd.numTensors()).toBe(before);
    });
  }
});
