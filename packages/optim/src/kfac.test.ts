/**
 * K-FAC against a dense float64 computation of the same Kronecker factors on tiny models (dense and
 * conv, with taps written here from hd ops, as `@hodiff/nn`'s `kfacStats` does), purity, memory over
 * 1,000 steps, training, and the prepared form (reads done beforehand without blocking) against the
 * plain one, bit for bit.
 */
import * as hd from "@hodiff/core";
import { Matrix, solve } from "ml-matrix";
import { describe, expect, it } from "vitest";
import { applyUpdates } from "./update";
import {
  kfac,
  kfacPrepare,
  scaleByKfac,
  scaleByKfacPrepare,
  type KfacDamping,
  type KfacOptions,
  type KfacPrepared,
  type ScaleByKfacOptions,
} from "./kfac";
import type { Extras } from "./base";
import { extractPatches, type KfacStats } from "./kfacFactors";
import { dampedInverse } from "./kfacLinalg";

// A tiny model with taps: dense/conv layers, tanh between them, mean NLL ---------------------

type Layer = { name: string; kind: "dense" } | { name: string; kind: "conv"; k: number; padding: "same" | "valid" };
type P = Record<string, { w: hd.Value; b: hd.Value }>;

const DENSE: Layer[] = [
  { name: "fc1", kind: "dense" },
  { name: "fc2", kind: "dense" },
];
const CONV: Layer[] = [
  { name: "conv", kind: "conv", k: 2, padding: "same" },
  { name: "fc", kind: "dense" },
];

const randn = (seed: number, shape: number[], std = 1) =>
  hd.tidy(() => hd.mul(hd.random.normal(hd.random.key(seed), shape), std));

function denseProblem() {
  const params: P = {
    fc1: { w: randn(1, [3, 4]), b: randn(2, [4], 0.1) },
    fc2: { w: randn(3, [4, 2]), b: randn(4, [2], 0.1) },
  };
  return { layers: DENSE, params, x: randn(5, [6, 3]), y: Int32Array.from([0, 1, 1, 0, 1, 0]) };
}

function convProblem() {
  const params: P = {
    conv: { w: randn(11, [2, 2, 2, 3], 0.7), b: randn(12, [3], 0.1) },
    fc: { w: randn(13, [48, 2], 0.2), b: randn(14, [2], 0.1) },
  };
  return { layers: CONV, params, x: randn(15, [2, 4, 4, 2]), y: Int32Array.from([1, 0]) };
}

function forward(layers: Layer[], p: P, x: hd.Value, taps?: Record<string, hd.Value>) {
  const acts: Record<string, hd.Value> = {};
  let h = x;
  layers.forEach((l, i) => {
    if (l.kind === "dense" && hd.shapeOf(h).length > 2) h = hd.reshape(h, [hd.shapeOf(h)[0]!, -1]);
    acts[l.name] = h;
    const z =
      l.kind === "dense"
        ? hd.add(hd.matmul(h, p[l.name]!.w), p[l.name]!.b)
        : hd.add(hd.conv2d(h, p[l.name]!.w, { padding: l.padding }), p[l.name]!.b);
    h = taps ? hd.add(z, taps[l.name]!) : z;
    if (i < layers.length - 1) h = hd.tanh(h);
  });
  return { logits: h, acts };
}

const nllOf = (logits: hd.Value, y: Int32Array) => {
  const C = hd.shapeOf(logits)[1]!;
  const onehot = hd.array(
    Float32Array.from({ length: y.length * C }, (_, k) => (y[Math.floor(k / C)] === k % C ? 1 : 0)),
    { shape: [y.length, C] },
  );
  return hd.neg(hd.mean(hd.sum(hd.mul(onehot, hd.logSoftmax(logits)), 1)));
};

/** Loss, gradient and K-FAC statistics in one valueAndGrad over (params, zero taps). */
function statsOf(layers: Layer[], params: P, x: hd.Value, y: Int32Array) {
  return hd.tidy(() => {
    const taps: Record<string, hd.Value> = {};
    let h = x;
    for (const l of layers) {
      if (l.kind === "dense" && hd.shapeOf(h).length > 2) h = hd.reshape(h, [hd.shapeOf(h)[0]!, -1]);
      const z =
        l.kind === "dense" ? hd.matmul(h, params[l.name]!.w) : hd.conv2d(h, params[l.name]!.w, { padding: l.padding });
      taps[l.name] = hd.zerosLike(z);
      h = z;
    }
    const f = (p: P, t: Record<string, hd.Value>) => {
      const r = forward(layers, p, x, t);
      return [nllOf(r.logits, y), r.acts] as const;
    };
    const [[loss, acts], [grads, tapGrads]] = hd.valueAndGrad(f, { argnums: [0, 1], hasAux: true })(params, taps) as [
      [hd.Value, Record<string, hd.Value>],
      [P, Record<string, hd.Value>],
    ];
    const stats: Record<string, KfacStats[string]> = {};
    for (const l of layers) {
      const a = acts[l.name] === x ? hd.mul(x, 1) : acts[l.name]!;
      stats[l.name] =
        l.kind === "dense"
          ? { kind: "dense", a, g: tapGrads[l.name]! }
          : { kind: "conv", a, g: tapGrads[l.name]!, padding: l.padding };
    }
    return { loss, grads, stats: stats as KfacStats };
  });
}

// float64 references ---------------------------------------------------------------------------

type M64 = number[][];
const nested = (v: hd.Value) => hd.toNested(v) as unknown;
const flat = (v: hd.Value) => Array.from(hd.toFlat(v));
const zerosM = (r: number, c: number): M64 => Array.from({ length: r }, () => new Array<number>(c).fill(0));
const eyeM = (n: number): M64 => zerosM(n, n).map((row, i) => row.map((_, j) => (i === j ? 1 : 0)));
const addM = (a: M64, b: M64, s = 1, t = 1): M64 => a.map((r, i) => r.map((x, j) => s * x + t * b[i]![j]!));
const trace = (a: M64) => a.reduce((s, r, i) => s + r[i]!, 0);
function outerSum(rows: number[][], scale: number): M64 {
  const n = rows[0]!.length;
  const m = zerosM(n, n);
  for (const r of rows) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i]![j]! += r[i]! * r[j]! * scale;
  return m;
}
const kron = (a: M64, b: M64): M64 => {
  const [p, q] = [a.length, b.length];
  const out = zerosM(p * q, p * q);
  for (let i = 0; i < p; i++)
    for (let j = 0; j < p; j++)
      for (let k = 0; k < q; k++) for (let l = 0; l < q; l++) out[i * q + k]![j * q + l] = a[i]![j]! * b[k]![l]!;
  return out;
};

/** The factors of one layer from its stats, by loops (patches by indexing the padded input). */
function referenceFactors(layer: Layer, stats: KfacStats[string], w: number[]): { A: M64; G: M64 } {
  if (layer.kind === "dense") {
    const a = nested(stats.a) as M64;
    const g = nested(stats.g) as M64;
    const B = a.length;
    return {
      A: outerSum(
        a.map((r) => [...r, 1]),
        1 / B,
      ),
      G: outerSum(g, B),
    };
  }
  const x = nested(stats.a) as number[][][][];
  const g = nested(stats.g) as number[][][][];
  const [B, H, W, C] = [x.length, x[0]!.length, x[0]![0]!.length, x[0]![0]![0]!.length];
  const k = w[0]!;
  const before = layer.padding === "same" ? Math.floor((k - 1) / 2) : 0;
  const [Ho, Wo] = [g[0]!.length, g[0]![0]!.length];
  const T = Ho * Wo;
  const patches: number[][] = [];
  const grads: number[][] = [];
  for (let b = 0; b < B; b++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++) {
        const row: number[] = [];
        for (let p = 0; p < k; p++)
          for (let q = 0; q < k; q++)
            for (let c = 0; c < C; c++) {
              const [r, s] = [i + p - before, j + q - before];
              row.push(r >= 0 && r < H && s >= 0 && s < W ? x[b]![r]![s]![c]! : 0);
            }
        patches.push([...row, 1].map((v) => v / T));
        grads.push(g[b]![i]![j]!.map((v) => v * B * T));
      }
  return { A: outerSum(patches, 1 / B), G: outerSum(grads, 1 / (B * T)) };
}

/** (F + λI)⁻¹ vec(M) with F = kron(A, G), vec row-major over M [K, out] (or the factored inverse). */
function referencePrecondition(A: M64, G: M64, Mrows: M64, damping: number, mode: "eigen" | "factored"): M64 {
  let F: M64;
  if (mode === "eigen") F = addM(kron(A, G), eyeM(A.length * G.length), 1, damping);
  else {
    const pi = Math.sqrt(trace(A) / A.length / (trace(G) / G.length));
    F = kron(addM(A, eyeM(A.length), 1, pi * Math.sqrt(damping)), addM(G, eyeM(G.length), 1, Math.sqrt(damping) / pi));
  }
  const v = solve(new Matrix(F), Matrix.columnVector(Mrows.flat())).to1DArray();
  const out = G.length;
  return Mrows.map((r, i) => r.map((_, j) => v[i * out + j]!));
}

function expectMatrixClose(got: number[], want: number[], rtol = 2e-3) {
  expect(got.length).toBe(want.length);
  const scale = Math.max(...want.map(Math.abs));
  got.forEach((x, i) => {
    if (!(Math.abs(x - want[i]!) <= rtol * scale)) expect.fail(`entry ${i}: ${x} vs ${want[i]} (scale ${scale})`);
  });
}

/** Expected preconditioned update of every layer after one update from fresh state (count 0). */
function expectedUpdate(
  layers: Layer[],
  params: P,
  grads: P,
  stats: KfacStats,
  damping: number,
  mode: "eigen" | "factored",
  decay = 0.95,
) {
  const out: Record<string, { w: number[]; b: number[]; M: M64 }> = {};
  for (const l of layers) {
    const wShape = [...hd.shapeOf(params[l.name]!.w)];
    const { A, G } = referenceFactors(l, stats[l.name]!, wShape);
    const A1 = addM(eyeM(A.length), A, decay, 1 - decay);
    const G1 = addM(eyeM(G.length), G, decay, 1 - decay);
    const nOut = wShape.at(-1)!;
    const gw = flat(grads[l.name]!.w);
    const rows: M64 = Array.from({ length: gw.length / nOut }, (_, i) => gw.slice(i * nOut, (i + 1) * nOut));
    const M = [...rows, flat(grads[l.name]!.b)];
    const V = referencePrecondition(A1, G1, M, damping, mode);
    out[l.name] = { w: V.slice(0, -1).flat(), b: V.at(-1)!, M };
  }
  return out;
}

const NO_CLIP: ScaleByKfacOptions = { klClip: Infinity, weightDecay: 0 };

// tests ---------------------------------------------------------------------------------------

describe("extractPatches", () => {
  it("matches conv2d: patches · reshape(w) = conv2d(x, w), for 'same' (asymmetric) and 'valid' padding", () => {
    const x = randn(21, [2, 5, 4, 3]);
    for (const [k, padding] of [
      [2, "same"],
      [3, "same"],
      [3, "valid"],
    ] as const) {
      const w = randn(22 + k, [k, k, 3, 4]);
      const [got, want] = hd.tidy(() => {
        const { patches } = extractPatches(x, k, k, padding);
        return [hd.matmul(patches, hd.reshape(w, [k * k * 3, 4])), hd.reshape(hd.conv2d(x, w, { padding }), [-1, 4])];
      });
      expectMatrixClose(flat(got), flat(want), 1e-5);
      hd.dispose([w, got, want]);
    }
    hd.dispose(x);
  });
});

describe("dampedInverse", () => {
  it("is (A + αI)⁻¹ for a rank-deficient symmetric A (float64), and refuses a non-positive-definite one", () => {
    const n = 30;
    const rows = Array.from({ length: 10 }, (_, i) => Array.from({ length: n }, (_, j) => Math.sin(3 * i + 7 * j + 1)));
    const A = outerSum(rows, 0.5); // rank 10
    const inv = dampedInverse(Float64Array.from(A.flat()), n, 0.1, "A");
    const prod = new Matrix(addM(A, eyeM(n), 1, 0.1)).mmul(
      new Matrix(Array.from({ length: n }, (_, i) => Array.from(inv.subarray(i * n, (i + 1) * n)))),
    );
    prod.to2DArray().forEach((r, i) => r.forEach((x, j) => expect(Math.abs(x - (i === j ? 1 : 0))).toBeLessThan(1e-9)));
    expect(() => dampedInverse(Float64Array.from(A.flat()), n, 0, "A of fc1")).toThrow(
      /A of fc1 is not positive definite/,
    );
  });
});

describe("scaleByKfac", () => {
  it.each([
    ["dense", "eigen", denseProblem],
    ["dense", "factored", denseProblem],
    ["conv + dense", "eigen", convProblem],
    ["conv + dense", "factored", convProblem],
  ] as const)(
    "%s, %s damping: the preconditioner is the dense (A ⊗ G + damping)⁻¹ of the same factors",
    (_n, mode, make) => {
      const { layers, params, x, y } = make();
      const { loss, grads, stats } = statsOf(layers, params, x, y);
      const opt = scaleByKfac({ ...NO_CLIP, damping: 0.03, dampingMode: mode });
      const state = opt.init(params);
      const r = opt.update(state, params, grads, { kfac: stats });
      const want = expectedUpdate(layers, params, grads, stats, 0.03, mode);
      for (const l of layers) {
        const u = (r.updates as P)[l.name]!;
        expectMatrixClose(flat(u.w), want[l.name]!.w);
        expectMatrixClose(flat(u.b), want[l.name]!.b);
        // The running factors are the EMA of I and the batch factors.
        const { A } = referenceFactors(l, stats[l.name]!, [...hd.shapeOf(params[l.name]!.w)]);
        expectMatrixClose(flat(r.state.factors[l.name]!.A), addM(eyeM(A.length), A, 0.95, 0.05).flat(), 1e-5);
      }
      expect(r.state.count).toBe(1);
      expect(r.state.klScale).toBe(1);
      hd.dispose([params, x, loss, grads, stats, state, r]);
    },
  );

  it("clips by KL: u = ν·v with ν = √(κ / (η² Σ⟨v, g⟩)), and adds weight decay ω·θ from weightDecayFrom", () => {
    const { layers, params, x, y } = denseProblem();
    const { loss, grads, stats } = statsOf(layers, params, x, y);
    const want = expectedUpdate(layers, params, grads, stats, 0.03, "eigen");
    const vg = layers.reduce(
      (s, l) => s + want[l.name]!.M.flat().reduce((t, m, i) => t + m * [...want[l.name]!.w, ...want[l.name]!.b][i]!, 0),
      0,
    );
    const [lr, kl, wd] = [0.5, 1e-4, 0.1];
    const nu = Math.sqrt(kl / (lr * lr * vg));
    expect(nu).toBeLessThan(1);
    const opt = scaleByKfac({ learningRate: lr, klClip: kl, weightDecay: wd, weightDecayFrom: 0 });
    const state = opt.init(params);
    const r = opt.update(state, params, grads, { kfac: stats });
    expect(r.state.klScale).toBeCloseTo(nu, 5);
    for (const l of layers) {
      const u = (r.updates as P)[l.name]!;
      const th = params[l.name]!;
      expectMatrixClose(
        flat(u.w),
        want[l.name]!.w.map((v, i) => nu * v + wd * flat(th.w)[i]!),
      );
      expectMatrixClose(
        flat(u.b),
        want[l.name]!.b.map((v, i) => nu * v + wd * flat(th.b)[i]!),
      );
    }
    // Before weightDecayFrom there is no decay.
    const late = scaleByKfac({ ...NO_CLIP, weightDecay: wd, weightDecayFrom: 5 });
    const s2 = late.init(params);
    const r2 = late.update(s2, params, grads, { kfac: stats });
    expectMatrixClose(flat((r2.updates as P).fc2!.w), want.fc2!.w);
    hd.dispose([params, x, loss, grads, stats, state, r, s2, r2]);
  });

  it("folds statistics every covEvery updates (required then, ignored otherwise) and inverts every invEvery", () => {
    const { layers, params, x, y } = denseProblem();
    const { loss, grads, stats } = statsOf(layers, params, x, y);
    const opt = scaleByKfac({ ...NO_CLIP, covEvery: 2, invEvery: 4 });
    let state = opt.init(params);
    const seen: { A: number[]; dA: number[]; u: number[] }[] = [];
    for (let t = 0; t < 6; t++) {
      const r = opt.update(state, params, grads, t % 2 === 0 ? { kfac: stats } : {});
      seen.push({
        A: flat(r.state.factors.fc1!.A),
        dA: flat((r.state.factors.fc1!.inverse as { dA: hd.Value }).dA),
        u: flat((r.updates as P).fc1!.w),
      });
      hd.dispose([r.updates, state]);
      state = r.state;
    }
    expect(() => opt.update(state, params, grads)).toThrow(/update 6 folds new statistics.*extras\.kfac/);
    expect(() => opt.update(state, params, grads, { kfac: { fc2: stats.fc2! } })).toThrow(
      /no statistics for layer 'fc1'/,
    );
    // A after the covariance updates 0, 2, 4 of the same batch: ρ³I + (1 − ρ³)A_batch.
    const { A } = referenceFactors(layers[0]!, stats.fc1!, [3, 4]);
    expectMatrixClose(seen[5]!.A, addM(eyeM(4), A, 0.95 ** 3, 1 - 0.95 ** 3).flat(), 1e-5);
    expect(seen[1]!.A).toEqual(seen[0]!.A); // no statistics folded at update 1
    expect(seen[2]!.A).not.toEqual(seen[1]!.A);
    expect(seen[3]!.dA).toEqual(seen[0]!.dA); // eigendecomposition of update 0 kept until update 4
    expect(seen[3]!.u).toEqual(seen[0]!.u); // hence the same preconditioned gradient
    expect(seen[4]!.dA).not.toEqual(seen[3]!.dA);
    hd.dispose([params, x, loss, grads, stats, state]);
  });

  it("is pure: equal outputs for equal inputs, inputs unchanged, frozen states", () => {
    const { layers, params, x, y } = convProblem();
    const { loss, grads, stats } = statsOf(layers, params, x, y);
    const opt = kfac(0.1, { covEvery: 1, invEvery: 2, weightDecayFrom: 0 });
    let state = opt.init(params);
    for (let t = 0; t < 3; t++) {
      const r = opt.update(state, params, grads, { kfac: stats });
      hd.dispose([r.updates, state]);
      state = r.state;
    }
    const all = (v: unknown) =>
      hd.treeLeaves(v as hd.Tree<hd.Value | number>).map((l) => (typeof l === "object" ? flat(l) : [l]));
    const inputs = all([params, grads, stats, state]);
    const a = opt.update(state, params, grads, { kfac: stats });
    const b = opt.update(state, params, grads, { kfac: stats });
    expect(all([a.state, a.updates])).toEqual(all([b.state, b.updates]));
    expect(all([params, grads, stats, state])).toEqual(inputs);
    for (const s of [state, a.state]) {
      expect(Object.isFrozen(s)).toBe(true);
      expect(Object.isFrozen(s[0].factors)).toBe(true);
      expect(Object.isFrozen(s[0].factors.conv)).toBe(true);
      expect(() => {
        (s[0] as { count: number }).count = 0;
      }).toThrow(TypeError);
    }
    hd.dispose([params, x, loss, grads, stats, state, a, b]);
  });

  it("rejects bad options and mismatched gradients", () => {
    expect(() => scaleByKfac({ statDecay: 1 })).toThrow(/scaleByKfac: statDecay must be in \[0, 1\), got 1/);
    expect(() => scaleByKfac({ covEvery: 0 })).toThrow(/covEvery must be an integer ≥ 1/);
    expect(() => scaleByKfac({ klClip: 0 })).toThrow(/klClip must be > 0/);
    const { params, x } = denseProblem();
    const opt = scaleByKfac({ layers: ["fc1"] });
    const state = opt.init(params);
    expect(Object.keys(state.factors)).toEqual(["fc1"]);
    const bad = { fc1: { w: hd.zeros([4, 4]), b: hd.zeros([4]) }, fc2: params.fc2! };
    expect(() => opt.update(state, bad, bad, { kfac: {} })).toThrow(/shapes differ at fc1/);
    expect(() => scaleByKfac({ layers: ["nope"] }).init(params)).toThrow(/layer 'nope' has no leaf 'nope.w'/);
    expect(() => scaleByKfac({ dampingMode: "factored" }).update(state, params, params, { kfac: {} })).toThrow(
      /holds a 'eigen' inverse, not 'factored'/,
    );
    hd.dispose([params, x, state, bad.fc1]);
  });
});

describe("kfac", () => {
  /** Full-batch training on a tiny classification problem, statistics every covEvery steps. */
  function train(steps: number, make: typeof denseProblem, lr: number) {
    const { layers, params: p0, x, y } = make();
    const opt = kfac(lr);
    let params = p0;
    let state = opt.init(params);
    const losses: number[] = [];
    for (let t = 0; t < steps; t++) {
      const withStats = t % 10 === 0;
      const { loss, grads, stats } = withStats
        ? statsOf(layers, params, x, y)
        : (() => {
            const [l, g] = hd.valueAndGrad((p: P) => nllOf(forward(layers, p, x).logits, y))(params) as [hd.Value, P];
            return { loss: l, grads: g, stats: undefined };
          })();
      losses.push(hd.item(loss));
      const r = opt.update(state, params, grads, withStats ? { kfac: stats } : undefined);
      const next = applyUpdates(params, r.updates);
      hd.dispose([loss, grads, stats, r.updates, params, state]);
      params = next;
      state = r.state;
    }
    hd.dispose([params, state, x]);
    return losses;
  }

  it("decreases the loss on a tiny problem (dense and conv)", () => {
    const dense = train(60, denseProblem, 0.1);
    expect(dense.at(-1)!).toBeLessThan(0.2 * dense[0]!);
    const conv = train(30, convProblem, 0.1);
    expect(conv.at(-1)!).toBeLessThan(0.2 * conv[0]!);
  });

  it("leaks no tensor over 1,000 steps (10 inversions, 100 covariance updates)", () => {
    const before = hd.numTensors();
    train(1000, denseProblem, 0.05);
    expect(hd.numTensors()).toBe(before);
  });
});

describe("kfacPrepare", () => {
  /** Every update's leaves and KL scale over `steps` kfac updates, each prepared beforehand or not. */
  async function trajectory(make: typeof denseProblem, mode: KfacDamping, prepared: boolean, steps = 9) {
    const { layers, params: p0, x, y } = make();
    // folds every 2 updates, inverts every 3 (with and without a fold), weight decay from update 4,
    // and a KL clip that is active (ν < 1), so every read of the update is exercised
    const options: KfacOptions = { covEvery: 2, invEvery: 3, weightDecayFrom: 4, dampingMode: mode, klClip: 1e-6 };
    const opt = kfac(0.1, options);
    const prepare = kfacPrepare(options);
    let params = p0;
    let state = opt.init(params);
    const seen: number[][] = [];
    const kl: number[] = [];
    for (let t = 0; t < steps; t++) {
      const { loss, grads, stats } = statsOf(layers, params, x, y);
      let extras: Extras = t % 2 === 0 ? { kfac: stats } : {};
      if (prepared) {
        const before = hd.numTensors();
        extras = await prepare(state, params, grads, extras);
        expect(hd.numTensors()).toBe(before); // it hands over host arrays only
        expect((extras["kfacPrepared"] as KfacPrepared).count).toBe(t);
      }
      const r = opt.update(state, params, grads, extras);
      seen.push(...hd.treeLeaves(r.updates as hd.Tree<hd.Value>).map(flat));
      kl.push(r.state[0].klScale);
      const next = applyUpdates(params, r.updates);
      hd.dispose([loss, grads, stats, r.updates, params, state]);
      params = next;
      state = r.state;
    }
    hd.dispose([params, state, x]);
    return { seen, kl };
  }

  it.each([
    ["dense", "eigen", denseProblem],
    ["dense", "factored", denseProblem],
    ["conv + dense", "eigen", convProblem],
    ["conv + dense", "factored", convProblem],
  ] as const)("%s, %s damping: the prepared trajectory is the plain one, bit for bit", async (_n, mode, make) => {
    const before = hd.numTensors();
    const plain = await trajectory(make, mode, false);
    const prepared = await trajectory(make, mode, true);
    expect(prepared).toEqual(plain);
    expect(plain.kl.every((v) => v < 1)).toBe(true); // the clip (hence Σ⟨v, M⟩) acts on every update
    expect(hd.numTensors()).toBe(before);
  });

  it("the update takes what was prepared (it reads nothing itself), for its own count only", async () => {
    const { layers, params, x, y } = denseProblem();
    const { loss, grads, stats } = statsOf(layers, params, x, y);
    const options: ScaleByKfacOptions = { klClip: 1e-6, covEvery: 1, invEvery: 1 };
    const opt = scaleByKfac(options);
    const state = opt.init(params);
    const extras = await scaleByKfacPrepare(options)(state, params, grads, { kfac: stats });
    const kp = extras["kfacPrepared"] as KfacPrepared;
    expect(Object.keys(kp.inverses!)).toEqual(["fc1", "fc2"]);
    expect(kp.klDot!).toBeGreaterThan(0);
    // altered reads show through: ν from klDot (η = 1), π from the inversion
    const altered: KfacPrepared = {
      ...kp,
      klDot: 4 * kp.klDot!,
      inverses: { ...kp.inverses, fc1: { ...kp.inverses!.fc1!, pi: 7 } },
    };
    const r = opt.update(state, params, grads, { kfac: stats, kfacPrepared: altered });
    expect(r.state.klScale).toBe(Math.min(1, Math.sqrt(1e-6 / (4 * kp.klDot!))));
    expect(r.state.factors.fc1!.pi).toBe(7);
    expect(() => opt.update(r.state, params, grads, { kfac: stats, kfacPrepared: kp })).toThrow(
      /extras\.kfacPrepared was read for update 0, this is update 1/,
    );
    // nothing to read (no clip, no inversion due) or already prepared: extras come back as they are
    const quiet = { ...options, klClip: Infinity };
    const e1 = { kfac: stats };
    expect(await scaleByKfacPrepare({ ...quiet, invEvery: 5 })(r.state, params, grads, e1)).toBe(e1);
    expect(await scaleByKfacPrepare(options)(state, params, grads, extras)).toBe(extras);
    expect(() => kfacPrepare({ nope: 1 } as unknown as KfacOptions)).toThrow(/kfacPrepare: unknown option 'nope'/);
    hd.dispose([params, x, loss, grads, stats, state, r]);
  });
});
