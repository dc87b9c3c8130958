/** Taps: applyWithTaps is apply plus activations, kfacStats' gradients and statistics, sampled Fisher, memory. */
import * as hd from "@hodiff/core";
import { describe, expect, it } from "vitest";
import {
  act,
  applyWithTaps,
  conv,
  dense,
  flatten,
  kfacStats,
  maxPool,
  mlp,
  nll,
  sampleClasses,
  sequential,
  tapShapes,
  zeroTaps,
  type Model,
  type Params,
} from "./index";

const tinyMlp = () => mlp([5, 4, 3], "tanh", 1, { name: "tiny" });
const tinyConv = () =>
  sequential(
    [
      conv("c1", 3, 2, 3, "same"),
      act("tanh"),
      maxPool(2),
      flatten(),
      dense("fc1", 27, 4),
      act("tanh"),
      dense("fc2", 4, 3),
    ],
    { name: "tinyconv", inputShape: [6, 6, 2], numClasses: 3, sigmaW: 1 },
  );
const CASES: [string, () => Model, number[]][] = [
  ["mlp", tinyMlp, [5]],
  ["conv", tinyConv, [6, 6, 2]],
];
const LABELS = [0, 2, 1, 2];
const flat = (v: hd.Value) => Array.from(hd.toFlat(v));
const expectClose = (got: number[], want: number[], tol = 1e-5) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i]!))));
};

describe.each(CASES)("%s", (_name, make, inShape) => {
  const setup = () => {
    const model = make();
    const params = model.init(hd.random.key(3));
    const x = hd.random.normal(hd.random.key(4), [4, ...inShape]);
    return { model, params, x };
  };

  it("applyWithTaps with zero taps is apply, and returns each dense/conv layer's input", () => {
    const { model, params, x } = setup();
    const taps = zeroTaps(model, 4);
    const { logits, activations } = applyWithTaps(model, params, x, taps);
    const want = model.apply(params, x);
    expect(flat(logits)).toEqual(flat(want));
    const names = model.layers!.filter((l) => l.tap).map((l) => l.name!);
    expect(Object.keys(activations)).toEqual(names);
    expect(Object.keys(tapShapes(model, 4))).toEqual(names);
    const first = model.layers![0]!;
    if (first.tap) expect(activations[first.name!]).toBe(x);
    // The last layer's input is tanh of the one before: apply the last dense layer by hand.
    const last = names.at(-1)!;
    const p = params[last]!;
    expectClose(flat(hd.add(hd.matmul(activations[last]!, p.w), p.b)), flat(want));
    hd.dispose([params, x, taps, logits, activations, want]);
  });

  it("kfacStats: loss and gradients of nll ∘ apply, a = layer inputs, g = ∂L/∂z (checked through ∇w = aᵀg, ∇b = Σg)", () => {
    const { model, params, x } = setup();
    const before = hd.numTensors();
    hd.dispose(kfacStats(model, params, x, LABELS, { fisher: { key: hd.random.key(0) } }));
    expect(hd.numTensors()).toBe(before); // nothing left behind but the result
    const r = kfacStats(model, params, x, LABELS);
    const [loss, grads] = hd.valueAndGrad((p: Params) => nll(model.apply(p, x), LABELS))(params) as [hd.Value, Params];
    expect(hd.item(r.loss)).toBeCloseTo(hd.item(loss), 6);
    const direct = model.apply(params, x);
    expect(flat(r.logits)).toEqual(flat(direct));
    hd.dispose(direct);
    for (const k of Object.keys(grads)) {
      expectClose(flat(r.grads[k]!.w), flat(grads[k]!.w));
      expectClose(flat(r.grads[k]!.b), flat(grads[k]!.b));
    }
    for (const [k, s] of Object.entries(r.stats)) {
      expect(s.kind).toBe(k.startsWith("c") ? "conv" : "dense");
      const axes = s.kind === "conv" ? [0, 1, 2] : [0];
      expectClose(flat(hd.sum(s.g, axes)), flat(grads[k]!.b));
      if (s.kind === "dense") expectClose(flat(hd.matmul(hd.transpose(s.a), s.g)), flat(grads[k]!.w));
      else expect(s.padding).toBe("same");
      expect(s.a).not.toBe(x); // a copy: disposing the statistics spares x
    }
    // Last layer: g = (softmax(z) − onehot(y)) / B.
    const logits = model.apply(params, x);
    const sm = hd.toNested(hd.softmax(logits)) as number[][];
    const want = sm.flatMap((row, b) => row.map((p, c) => (p - (c === LABELS[b] ? 1 : 0)) / 4));
    expectClose(flat(r.stats.fc2!.g), want);
    hd.dispose(r);
    expect(flat(x).length).toBeGreaterThan(0); // x is alive
    hd.dispose([loss, grads, logits]);
    hd.dispose([params, x]);
  });

  it("kfacStats with a Fisher key: same gradients, tap gradients of sampled targets, deterministic in the key", () => {
    const { model, params, x } = setup();
    const emp = kfacStats(model, params, x, LABELS);
    const key = hd.random.key(9);
    const a = kfacStats(model, params, x, LABELS, { fisher: { key } });
    const b = kfacStats(model, params, x, LABELS, { fisher: { key } });
    const names = Object.keys(a.stats);
    for (const k of Object.keys(emp.grads)) expect(flat(a.grads[k]!.w)).toEqual(flat(emp.grads[k]!.w));
    for (const k of names) expect(flat(a.stats[k]!.g)).toEqual(flat(b.stats[k]!.g));
    // The last layer's g is (softmax − sampled one-hot)/B: each row sums to 0 and has one entry < 0.
    const last = hd.toNested(a.stats[names.at(-1)!]!.g) as number[][];
    for (const row of last) {
      expect(Math.abs(row.reduce((s, v) => s + v, 0))).toBeLessThan(1e-6);
      expect(row.filter((v) => v < 0).length).toBe(1);
    }
    hd.dispose([params, x, emp, a, b]);
  });
});

describe("sampleClasses", () => {
  it("draws one-hot rows with the softmax frequencies", () => {
    const p = [0.1, 0.6, 0.3];
    const logits = hd.array(Array.from({ length: 4000 }, () => p.map(Math.log)));
    const y = sampleClasses(hd.random.key(1), logits);
    const rows = hd.toNested(y) as number[][];
    expect(rows.every((r) => r.reduce((s, v) => s + v, 0) === 1)).toBe(true);
    const freq = p.map((_, c) => rows.reduce((s, r) => s + r[c]!, 0) / rows.length);
    freq.forEach((f, c) => expect(Math.abs(f - p[c]!)).toBeLessThan(0.03));
    hd.dispose([logits, y]);
  });
});

describe("errors", () => {
  it("names the missing tap, a wrong tap shape, and models without layers", () => {
    const model = tinyMlp();
    const params = model.init(hd.random.key(0));
    const x = hd.zeros([2, 5]);
    const taps = zeroTaps(model, 2);
    expect(() => applyWithTaps(model, params, x, { fc1: taps.fc1! })).toThrow(/tiny.applyWithTaps: taps has no 'fc2'/);
    expect(() => applyWithTaps(model, params, x, { ...taps, fc2: hd.zeros([3, 3]) })).toThrow(
      /taps.fc2 must be \[2,3\], got \[3,3\]/,
    );
    const { layers: _ignored, ...bare } = model;
    expect(() => kfacStats(bare, params, x, [0, 1])).toThrow(/does not list its layers/);
    hd.dispose([params, x, taps]);
  });
});
