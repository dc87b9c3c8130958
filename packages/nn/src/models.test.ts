/** The paper's models: parameter counts from the architectures, paths, shapes, initialisation, memory. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import {
  MODELS,
  leafCount,
  mlp,
  paramCount,
  paramPaths,
  sequential,
  dense,
  nll,
  type Model,
  type Params,
} from "./index";

// Hand counts from the architectures: a dense layer has in·out + out parameters, a k×k conv k²·cin·cout + cout.
const fc = (nIn: number, nOut: number) => nIn * nOut + nOut;
const cv = (k: number, cIn: number, cOut: number) => k * k * cIn * cOut + cOut;
const EXPECTED = {
  // 784·1024+1024 + 1024·200+200 + 200·100+100 + 100·10+10
  mlp: { P: 1_029_950, S: 8, check: fc(784, 1024) + fc(1024, 200) + fc(200, 100) + fc(100, 10) },
  // conv5 3→6, conv5 6→16, fc 400-120-84-10
  lenet: { P: 62_006, S: 10, check: cv(5, 3, 6) + cv(5, 6, 16) + fc(400, 120) + fc(120, 84) + fc(84, 10) },
  // 64,M,128,M,256,256,M,512,512,M,512,512,M, fc 512→10
  vgg11: {
    P: 9_225_610,
    S: 18,
    check:
      cv(3, 3, 64) +
      cv(3, 64, 128) +
      cv(3, 128, 256) +
      cv(3, 256, 256) +
      cv(3, 256, 512) +
      3 * cv(3, 512, 512) +
      fc(512, 10),
  },
  // 3072, 20×1024, 10
  bigmlp: { P: 23_099_402, S: 42, check: fc(3072, 1024) + 19 * fc(1024, 1024) + fc(1024, 10) },
  // 3072, 100×1024, 10
  vbigmlp: { P: 107_067_402, S: 202, check: fc(3072, 1024) + 99 * fc(1024, 1024) + fc(1024, 10) },
} as const;

const PATHS = {
  mlp: ["fc1.w", "fc1.b", "fc2.w", "fc2.b", "fc3.w", "fc3.b", "fc4.w", "fc4.b"],
  lenet: ["conv1.w", "conv1.b", "conv2.w", "conv2.b", "fc1.w", "fc1.b", "fc2.w", "fc2.b", "fc3.w", "fc3.b"],
  vgg11: [...Array.from({ length: 8 }, (_, i) => [`conv${i + 1}.w`, `conv${i + 1}.b`]).flat(), "fc1.w", "fc1.b"],
  bigmlp: Array.from({ length: 21 }, (_, i) => [`fc${i + 1}.w`, `fc${i + 1}.b`]).flat(),
  vbigmlp: Array.from({ length: 101 }, (_, i) => [`fc${i + 1}.w`, `fc${i + 1}.b`]).flat(),
};

const SIGMA_W = { mlp: 1, lenet: 1, vgg11: Math.SQRT2, bigmlp: Math.SQRT2, vbigmlp: Math.SQRT2 };
const INPUT = { mlp: [28, 28, 1], lenet: [32, 32, 3], vgg11: [32, 32, 3], bigmlp: [32, 32, 3], vbigmlp: [32, 32, 3] };

// Instantiated once per file; VBigMLP (107M floats, 428 MB) is checked from its spec only.
const INSTANTIATED = ["mlp", "lenet", "vgg11", "bigmlp"] as const;
const models = {} as Record<(typeof INSTANTIATED)[number], { model: Model; params: Params }>;

beforeAll(async () => {
  await hd.useDefaultBackend(() => {});
  for (const name of INSTANTIATED) {
    const model = MODELS[name]();
    models[name] = { model, params: model.init(hd.random.key(42)) };
  }
});
afterAll(() => hd.dispose(Object.values(models).map((m) => m.params)));

const std = (v: ArrayLike<number>): [number, number] => {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < v.length; i++) {
    s += v[i]!;
    s2 += v[i]! * v[i]!;
  }
  const m = s / v.length;
  return [m, Math.sqrt(s2 / v.length - m * m)];
};

describe.each(Object.keys(EXPECTED) as (keyof typeof EXPECTED)[])("%s (from its spec, nothing allocated)", (name) => {
  const model = MODELS[name]();
  it("has the hand-computed parameter count and canonical leaf count S", () => {
    expect(EXPECTED[name].check).toBe(EXPECTED[name].P);
    expect(paramCount(model)).toBe(EXPECTED[name].P);
    expect(leafCount(model)).toBe(EXPECTED[name].S);
  });
  it("names its tensors layer by layer (w before b) and records σ_w/√fanIn", () => {
    expect(paramPaths(model)).toEqual(PATHS[name]);
    for (const p of model.spec) {
      expect(p.std).toBeCloseTo(p.path.endsWith(".w") ? SIGMA_W[name] / Math.sqrt(p.fanIn) : 0, 12);
      // fan-in = size of w / output width (dense [in, out], conv HWIO [k, k, cin, cout])
      if (p.path.endsWith(".w")) expect(p.fanIn).toBe(p.shape.slice(0, -1).reduce((a, b) => a * b, 1));
    }
  });
  it("declares its input shape and 10 classes", () => {
    expect(model.inputShape).toEqual(INPUT[name]);
    expect(model.numClasses).toBe(10);
    expect(model.name).toBe(name);
  });
});

describe.each(INSTANTIATED)("%s (instantiated)", (name) => {
  it("init builds the tree its spec describes: same paths, shapes; biases zero", () => {
    const { model, params } = models[name];
    const [leaves, def] = hd.treeFlatten<hd.Value>(params);
    expect(hd.treePaths(def)).toEqual(paramPaths(model));
    expect(leaves.map((l) => hd.shapeOf(l))).toEqual(model.spec.map((p) => p.shape));
    for (const [i, p] of model.spec.entries()) {
      if (p.path.endsWith(".b")) expect(Array.from(hd.toFlat(leaves[i]!)).every((v) => v === 0)).toBe(true);
    }
  });

  it("weights have empirical std σ_w/√fanIn within 10% (layers of ≥ 10⁴ weights) and mean ≈ 0", () => {
    const { model, params } = models[name];
    const leaves = hd.treeLeaves<hd.Value>(params);
    let checked = 0;
    for (const [i, p] of model.spec.entries()) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      if (!p.path.endsWith(".w") || n < 10_000) continue;
      const [m, s] = std(hd.toFlat(leaves[i]!));
      expect(Math.abs(s / p.std - 1), p.path).toBeLessThan(0.1);
      expect(Math.abs(m), p.path).toBeLessThan((5 * p.std) / Math.sqrt(n));
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it("maps a batch of 2 to finite logits [2, 10] without leaking tensors", () => {
    const { model, params } = models[name];
    const x = hd.random.normal(hd.random.key(7), [2, ...model.inputShape]);
    const before = hd.numTensors();
    const logits = model.apply(params, x);
    expect(hd.numTensors()).toBe(before + 1);
    expect(hd.shapeOf(logits)).toEqual([2, 10]);
    expect(Array.from(hd.toFlat(logits)).every(Number.isFinite)).toBe(true);
    const loss = hd.tidy(() => nll(model.apply(params, x), [3, 4]));
    expect(hd.numTensors()).toBe(before + 2);
    hd.dispose([x, logits, loss]);
    expect(hd.numTensors()).toBe(before - 1);
  });
});

describe("init", () => {
  it("is deterministic in the key: same key, identical params; another key, other params", () => {
    for (const name of ["mlp", "lenet"] as const) {
      const model = MODELS[name]();
      const a = model.init(hd.random.key(42));
      const b = model.init(hd.random.key(43));
      expect(hd.testing.allClose(a, models[name].params, { atol: 0, rtol: 0 })).toBeNull();
      expect(hd.testing.allClose(b, models[name].params, { atol: 0, rtol: 0 })).not.toBeNull();
      hd.dispose([a, b]);
    }
  });
});

describe("apply", () => {
  it("MLPs flatten image input in row-major (h, w, c) order, and accept it pre-flattened", () => {
    const { model, params } = models.mlp;
    const x = hd.random.normal(hd.random.key(3), [2, 28, 28, 1]);
    const flat = hd.reshape(x, [2, 784]);
    expect(hd.testing.allClose(model.apply(params, flat), model.apply(params, x))).toBeNull();
  });

  it("rejects inputs of the wrong shape, naming the model and the expected shape", () => {
    const x = hd.zeros([2, 28, 28, 3]);
    expect(() => models.mlp.model.apply(models.mlp.params, x)).toThrow(/mlp\.apply: x must be \[batch, 28,28,1\]/);
    expect(() => models.lenet.model.apply(models.lenet.params, x)).toThrow(
      /lenet\.apply: x must be \[batch, 32,32,3\]/,
    );
    hd.dispose(x);
  });

  it("is differentiable: grad of nll ∘ apply has the params' structure (LeNet-5)", () => {
    const { model, params } = models.lenet;
    const x = hd.random.normal(hd.random.key(5), [2, 32, 32, 3]);
    const before = hd.numTensors();
    const g = hd.grad((p: Params) => nll(model.apply(p, x), [0, 9]))(params);
    expect(hd.treePaths(hd.treeFlatten(g)[1])).toEqual(paramPaths(model));
    expect(hd.numTensors()).toBe(before + leafCount(model));
    hd.dispose([g, x]);
  });

  it("a generic mlp computes x·w + b then the activation, by hand on a tiny case", () => {
    const m = mlp([2, 2, 1], "tanh", 1, { name: "tiny" });
    const params = {
      fc1: {
        w: hd.array([
          [1, 2],
          [3, 4],
        ]),
        b: hd.array([0.5, -0.5]),
      },
      fc2: { w: hd.array([[1], [-1]]), b: hd.array([0.25]) },
    };
    const y = m.apply(params, hd.array([[1, -1]]));
    // h = tanh([1−3+0.5, 2−4−0.5]) = tanh([−1.5, −2.5]); y = h₁ − h₂ + 0.25
    expect(hd.toFlat(y)[0]).toBeCloseTo(Math.tanh(-1.5) - Math.tanh(-2.5) + 0.25, 6);
    hd.dispose([params, y]);
  });
});

describe("sequential", () => {
  it("checks the architecture when it is built", () => {
    const opts = { name: "bad", inputShape: [3], numClasses: 2, sigmaW: 1 };
    expect(() => sequential([dense("fc1", 4, 2)], opts)).toThrow(/fc1: expects \[4\] per example, got \[3\]/);
    expect(() => sequential([dense("fc1", 3, 5)], opts)).toThrow(/bad: outputs \[5\] per example, not \[2\]/);
    expect(() => sequential([dense("fc", 3, 3), dense("fc", 3, 2)], opts)).toThrow(
      /layer name 'fc' missing or repeated/,
    );
  });
});

/**
 * An independent float64 forward pass in plain JS, written from the architectures as the paper
 * states them (not from ./layers): images are HWC row-major, weights dense [in, out] and conv HWIO.
 */
interface RefImage {
  h: number;
  w: number;
  c: number;
  v: Float64Array;
}
type Get = (path: string) => Float64Array;

function refConv(x: RefImage, wt: Float64Array, b: Float64Array, k: number, cOut: number, pad: number): RefImage {
  const h = x.h + 2 * pad - k + 1;
  const w = x.w + 2 * pad - k + 1;
  const out = new Float64Array(h * w * cOut);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++) {
      const o = (i * w + j) * cOut;
      for (let co = 0; co < cOut; co++) out[o + co] = b[co]!;
      for (let di = 0; di < k; di++) {
        const si = i + di - pad;
        if (si < 0 || si >= x.h) continue;
        for (let dj = 0; dj < k; dj++) {
          const sj = j + dj - pad;
          if (sj < 0 || sj >= x.w) continue;
          for (let ci = 0; ci < x.c; ci++) {
            const xv = x.v[(si * x.w + sj) * x.c + ci]!;
            const wo = ((di * k + dj) * x.c + ci) * cOut;
            for (let co = 0; co < cOut; co++) out[o + co] = out[o + co]! + xv * wt[wo + co]!;
          }
        }
      }
    }
  return { h, w, c: cOut, v: out };
}

function refMaxPool2(x: RefImage): RefImage {
  const h = Math.floor(x.h / 2);
  const w = Math.floor(x.w / 2);
  const out = new Float64Array(h * w * x.c).fill(-Infinity);
  for (let i = 0; i < 2 * h; i++)
    for (let j = 0; j < 2 * w; j++)
      for (let c = 0; c < x.c; c++) {
        const o = (Math.floor(i / 2) * w + Math.floor(j / 2)) * x.c + c;
        out[o] = Math.max(out[o]!, x.v[(i * x.w + j) * x.c + c]!);
      }
  return { h, w, c: x.c, v: out };
}

function refDense(x: Float64Array, wt: Float64Array, b: Float64Array): Float64Array {
  const n = b.length;
  const out = Float64Array.from(b);
  for (let i = 0; i < x.length; i++) for (let o = 0; o < n; o++) out[o] = out[o]! + x[i]! * wt[i * n + o]!;
  return out;
}

const refMap = <T extends { v: Float64Array } | Float64Array>(x: T, f: (v: number) => number): T =>
  (x instanceof Float64Array ? x.map(f) : { ...x, v: x.v.map(f) }) as T;
const refElu = (v: number) => (v > 0 ? v : Math.expm1(v));

function refLenet(x: RefImage, p: Get): Float64Array {
  let y = refMaxPool2(refMap(refConv(x, p("conv1.w"), p("conv1.b"), 5, 6, 0), Math.tanh));
  y = refMaxPool2(refMap(refConv(y, p("conv2.w"), p("conv2.b"), 5, 16, 0), Math.tanh));
  let z = refMap(refDense(y.v, p("fc1.w"), p("fc1.b")), Math.tanh);
  z = refMap(refDense(z, p("fc2.w"), p("fc2.b")), Math.tanh);
  return refDense(z, p("fc3.w"), p("fc3.b"));
}

function refVgg11(x: RefImage, p: Get): Float64Array {
  let y = x;
  let n = 0;
  for (const c of [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"] as const) {
    if (c === "M") y = refMaxPool2(y);
    else {
      n++;
      y = refMap(refConv(y, p(`conv${n}.w`), p(`conv${n}.b`), 3, c, 1), refElu);
    }
  }
  const pooled = new Float64Array(y.c);
  for (let i = 0; i < y.h * y.w; i++)
    for (let c = 0; c < y.c; c++) pooled[c] = pooled[c]! + y.v[i * y.c + c]! / (y.h * y.w);
  return refDense(pooled, p("fc1.w"), p("fc1.b"));
}

function refBigmlp(x: RefImage, p: Get): Float64Array {
  let z = x.v;
  for (let l = 1; l <= 21; l++) {
    z = refDense(z, p(`fc${l}.w`), p(`fc${l}.b`));
    if (l < 21) z = refMap(z, refElu);
  }
  return z;
}

const Reference = { lenet: refLenet, vgg11: refVgg11, bigmlp: refBigmlp };

describe("forward values against an independent float64 reference (plain JS)", () => {
  it.each(["lenet", "vgg11", "bigmlp"] as const)("%s: logits of 2 random images agree to 1e-4 relative", (name) => {
    const { model, params } = models[name];
    const [h, w, c] = model.inputShape as [number, number, number];
    const x = hd.random.normal(hd.random.key(11), [2, h, w, c]);
    const logits = Array.from(hd.tidy(() => hd.toFlat(model.apply(params, x))));
    const tree = params as Record<string, Record<string, hd.Value>>;
    const get = (path: string) => {
      const [layer, leaf] = path.split(".") as [string, string];
      return Float64Array.from(hd.toFlat(tree[layer]![leaf]!));
    };
    const xs = Float64Array.from(hd.toFlat(x));
    const reference: number[] = [];
    for (let n = 0; n < 2; n++) {
      const image = { h, w, c, v: xs.subarray(n * h * w * c, (n + 1) * h * w * c) };
      reference.push(...Reference[name](image, get));
    }
    const scale = Math.max(...reference.map(Math.abs));
    expect(scale).toBeGreaterThan(1e-3); // the logits are not all ~0, so the comparison means something
    const error = Math.max(...logits.map((v, i) => Math.abs(v - reference[i]!)));
    expect(error / scale).toBeLessThan(1e-4);
    hd.dispose(x);
  });
});

describe("apply fuses a dense layer and the tanh after it", () => {
  it("equals the layers applied one by one (unfused), value and gradient", () => {
    const model = mlp([6, 5, 4, 3], "tanh", 1);
    const params = model.init(hd.random.key(2));
    const x = hd.random.normal(hd.random.key(3), [4, 6]);
    const byLayer = (p: Params, h: hd.Value): hd.Value =>
      model.layers!.reduce((acc, layer) => layer.forward(acc, layer.params ? p[layer.name!] : undefined), h);
    const labels = [0, 1, 2, 0];
    // count the fused calls, so the test also fails where apply never takes the fused path
    let fused = 0;
    for (const layer of model.layers!) {
      const f = layer.forwardTanh;
      if (f) layer.forwardTanh = (h, p) => (fused++, f(h, p));
    }
    hd.tidy(() => {
      const close = (a: hd.Value, b: hd.Value) =>
        expect(hd.testing.allClose(a, b, { atol: 1e-5, rtol: 1e-5 })).toBeNull();
      close(model.apply(params, x), byLayer(params, x));
      expect(fused).toBe(2); // fc1 and fc2, each before a tanh; not fc3 (no activation after it)
      const g1 = hd.grad((p: Params) => nll(model.apply(p, x), labels))(params);
      const g2 = hd.grad((p: Params) => nll(byLayer(p, x), labels))(params);
      hd.treeLeaves(g1).forEach((g, i) => close(g, hd.treeLeaves(g2)[i]!));
      return [];
    });
    hd.dispose([params, x]);
  });
});
