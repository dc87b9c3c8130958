/**
 * Plan-time fusion of add(conv2d(x, w), b) into one FusedConv2D step (fuse.ts, K.conv2dBias): the
 * rewrite on jaxprs (fires on the pattern, not where the conv's output has another use or the bias
 * is not an [O] array), the jitted values against a float64 brute-force conv + bias on the cpu and
 * wasm backends through each of K.conv2d's routes (tfjs's conv, strides with dilations, the col2im
 * scatter, im2col + matmul, a heap GEMM), fused against unfused plans, the kernels a profiled call
 * runs, and LeNet-5's jitted gradient against its eager one.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as hd from "../index";
import { setBackend } from "../backend";
import { runtime } from "../kernels";
import { installSimdKernels, setHeapGemm } from "../simd/install";
import { jsGemm } from "../simd/fixtures";
import { fuse, setFusion } from "./fuse";
import { maxScatter } from "../primitives/reduce";
import { tanhGrad } from "../primitives/elementwise";
import { bruteFilterGradient } from "../testing/convFilterCases";

/** A linear congruential generator: floats in [0, n). */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * n;
}
const EDGE = [NaN, Infinity, -Infinity, -0, 0];
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
/** Values in ±1; where `edges`, about one in 3 an edge value (NaN, ±Inf, ±0). */
function values(n: number, seed: number, edges = false): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (edges && r(3) < 1 ? EDGE[Math.floor(r(EDGE.length))]! : r(2) - 1));
}

interface Case {
  label: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  strides: [number, number];
  padding: [[number, number], [number, number]];
  dilations: [number, number];
}
const CASES: Case[] = [
  { label: "LeNet's conv1, valid", x: [2, 9, 9, 3], w: [5, 5, 3, 6], strides: [1, 1], padding: [[0, 0], [0, 0]], dilations: [1, 1] }, // prettier-ignore
  { label: "same 3×3, stride 2", x: [2, 7, 6, 4], w: [3, 3, 4, 5], strides: [2, 2], padding: [[1, 1], [0, 1]], dilations: [1, 1] }, // prettier-ignore
  { label: "stride 2 with dilation 2", x: [1, 9, 9, 2], w: [2, 2, 2, 3], strides: [2, 2], padding: [[0, 0], [0, 0]], dilations: [2, 2] }, // prettier-ignore
  // Four times as many output pixels as input ones: the col2im scatter on wasm.
  { label: "padded by 2 (col2im)", x: [2, 3, 3, 4], w: [3, 3, 4, 5], strides: [1, 1], padding: [[2, 2], [2, 2]], dilations: [1, 1] }, // prettier-ignore
  { label: "16 output channels", x: [2, 6, 6, 3], w: [3, 3, 3, 16], strides: [1, 1], padding: [[1, 1], [1, 1]], dilations: [1, 1] }, // prettier-ignore
];

/** A case's output height and width: ⌊(n + lo + hi − (k − 1)·d − 1)/s⌋ + 1 along each axis. */
function outSize(c: Case): [number, number] {
  const out = (a: 0 | 1) => {
    const span = c.x[a + 1]! + c.padding[a][0] + c.padding[a][1] - (c.w[a]! - 1) * c.dilations[a];
    return Math.floor((span - 1) / c.strides[a]) + 1;
  };
  return [out(0), out(1)];
}

/** b[o] + Σ x[n, i·s + u·d − p, j·s + v·d − q, c]·w[u, v, c, o] over taps inside x, in float64. */
function bruteForce(x: Float32Array, w: Float32Array, b: Float32Array, c: Case): Float64Array {
  const [B, H, W, C] = c.x;
  const [kh, kw, , O] = c.w;
  const [Ho, Wo] = outSize(c);
  const y = new Float64Array(B * Ho * Wo * O);
  for (let n = 0; n < B; n++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++)
        for (let o = 0; o < O; o++) {
          let s = b[o]!;
          for (let u = 0; u < kh; u++)
            for (let v = 0; v < kw; v++) {
              const r = i * c.strides[0] + u * c.dilations[0] - c.padding[0][0];
              const q = j * c.strides[1] + v * c.dilations[1] - c.padding[1][0];
              if (r < 0 || r >= H || q < 0 || q >= W) continue;
              for (let ch = 0; ch < C; ch++)
                s += x[((n * H + r) * W + q) * C + ch]! * w[((u * kw + v) * C + ch) * O + o]!;
            }
          y[((n * Ho + i) * Wo + j) * O + o] = s;
        }
  return y;
}

/** Each finite value within 1e-6·(k + 1) of the float64 truth (k products and a bias in ±1), non-finite ones equal. */
function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, k: number, label: string): void {
  expect(got.length, label).toBe(want.length);
  for (let j = 0; j < want.length; j++) {
    if (Number.isFinite(want[j])) expect(Math.abs(got[j]! - want[j]!), `${label} at ${j}`).toBeLessThan(1e-6 * (k + 1));
    else expect(got[j], `${label} at ${j}`).toBe(want[j]);
  }
}

const convBias = (c: Case) => (x: hd.Value, w: hd.Value, b: hd.Value) =>
  hd.add(hd.conv2d(x, w, { strides: c.strides, padding: c.padding, dilations: c.dilations }), b);

/** jit(f) on the inputs, with plans fused or not; the values and the kernels the call ran. */
async function runJit(f: (...a: hd.Value[]) => hd.Value, args: Float32Array[], shapes: number[][], fused: boolean) {
  const previous = setFusion(fused);
  try {
    const ts = args.map((a, i) => tf.tensor(a, shapes[i]));
    const g = hd.jit(f);
    hd.dispose(g(...ts)); // compile (the plan is built with the setting above)
    let out: Float32Array = new Float32Array();
    const prof = await tf.profile(() => {
      const y = g(...ts) as tf.Tensor;
      out = y.dataSync() as Float32Array;
      y.dispose();
    });
    tf.dispose(ts);
    g.dispose();
    return { out, kernels: prof.kernels.map((k) => k.name) };
  } finally {
    setFusion(previous);
  }
}

/** The primitives of f's jaxpr on these arguments after fusion, in order. */
function names(f: (...a: hd.Value[]) => unknown, ...args: tf.Tensor[]): string[] {
  const closed = hd.makeJaxpr(f)(...args);
  const fused = fuse(closed.jaxpr).eqns.map((e) => e.prim.name);
  closed.dispose();
  return fused;
}

describe("fuse: the jaxpr rewrite", () => {
  const x = tf.zeros([1, 6, 6, 2]);
  const w = tf.zeros([3, 3, 2, 4]);
  const b = tf.zeros([4]);
  afterAll(() => tf.dispose([x, w, b]));

  it("replaces add(conv2d(x, w), b) and add(b, conv2d(x, w)) by one conv2dBias equation", () => {
    expect(names((x, w, b) => hd.tanh(hd.add(hd.conv2d(x, w), b)), x, w, b)).toEqual(["conv2dBias", "tanh"]);
    expect(names((x, w, b) => hd.add(b, hd.conv2d(x, w)), x, w, b)).toEqual(["conv2dBias"]);
  });

  it("leaves the conv alone where its output has another use, is an output, or the bias is not an [O] array", () => {
    const twice = (x: hd.Value, w: hd.Value, b: hd.Value) => {
      const y = hd.conv2d(x, w);
      return hd.add(hd.add(y, b), y);
    };
    expect(names(twice, x, w, b)).toEqual(["conv2d", "add", "add"]);
    const both = (x: hd.Value, w: hd.Value, b: hd.Value) => {
      const y = hd.conv2d(x, w);
      return [y, hd.add(y, b)];
    };
    const closed = hd.makeJaxpr(both)(x, w, b);
    expect(fuse(closed.jaxpr).eqns.map((e) => e.prim.name)).toEqual(["conv2d", "add"]);
    closed.dispose();
    expect(names((x, w) => hd.add(hd.conv2d(x, w), 1), x, w)).toEqual(["conv2d", "add"]);
    const full = tf.zeros([1, 4, 4, 4]);
    expect(names((x, w, b) => hd.add(hd.conv2d(x, w), b), x, w, full)).toEqual(["conv2d", "add"]);
    full.dispose();
  });

  it("replaces tanhGrad(y, reshape(maxScatter(reshape(y), m, t))) by maxScatterTanhGrad and a reshape, not where x is not y", () => {
    // y of 6144 floats: above what host kernels take (4096), where the fusion applies.
    const y = tf.zeros([2, 32, 32, 3]);
    const m = tf.zeros([2, 16, 16, 3]);
    const pooled = [2, 16, 2, 16, 2, 3];
    const chain = (y: hd.Value, m: hd.Value, t: hd.Value) => {
      const s = maxScatter(hd.reshape(y, pooled), m, t, [2, 4]);
      return tanhGrad(y, hd.reshape(s, [2, 32, 32, 3]));
    };
    expect(names(chain, y, m, m)).toEqual(["reshape", "maxScatterTanhGrad", "reshape"]);
    const other = (y: hd.Value, z: hd.Value, m: hd.Value) => {
      const s = maxScatter(hd.reshape(z, pooled), m, m, [2, 4]);
      return tanhGrad(y, hd.reshape(s, [2, 32, 32, 3]));
    };
    expect(names(other, y, y, m)).toEqual(["reshape", "maxScatter", "reshape", "tanhGrad"]);
    const used = (y: hd.Value, m: hd.Value) => {
      const s = maxScatter(hd.reshape(y, pooled), m, m, [2, 4]);
      const r = hd.reshape(s, [2, 32, 32, 3]);
      return hd.add(tanhGrad(y, r), r);
    };
    expect(names(used, y, m)).toEqual(["reshape", "maxScatter", "reshape", "tanhGrad", "add"]);
    // Small arrays stay with the host kernels.
    const [ys, ms] = [tf.zeros([2, 4, 4, 3]), tf.zeros([2, 2, 2, 3])];
    const small = (y: hd.Value, m: hd.Value) =>
      tanhGrad(y, hd.reshape(maxScatter(hd.reshape(y, [2, 2, 2, 2, 2, 3]), m, m, [2, 4]), [2, 4, 4, 3]));
    expect(names(small, ys, ms)).toEqual(["reshape", "maxScatter", "reshape", "tanhGrad"]);
    tf.dispose([y, m, ys, ms]);
  });

  it("replaces tanh(add(z, b)) by biasTanh(z, b) for an [O] bias b; not where the sum has another use or b is not [O]", () => {
    // [64, 80]: above what host kernels take (4096 floats), where the fusion applies.
    const [a, m, bias, full] = [tf.zeros([64, 32]), tf.zeros([32, 80]), tf.zeros([80]), tf.zeros([64, 80])];
    const layer = (a: hd.Value, m: hd.Value, b: hd.Value) => hd.tanh(hd.add(hd.matmul(a, m), b));
    expect(names(layer, a, m, bias)).toEqual(["matmul", "biasTanh"]);
    expect(names((a, m, b) => hd.tanh(hd.add(b, hd.matmul(a, m))), a, m, bias)).toEqual(["matmul", "biasTanh"]);
    expect(names(layer, a, m, full)).toEqual(["matmul", "add", "tanh"]);
    const reused = (a: hd.Value, m: hd.Value, b: hd.Value) => {
      const s = hd.add(hd.matmul(a, m), b);
      return hd.add(hd.tanh(s), s);
    };
    expect(names(reused, a, m, bias)).toEqual(["matmul", "add", "tanh", "add"]);
    // Small arrays stay with the host kernels.
    const [a2, m2] = [tf.zeros([4, 32]), tf.zeros([32, 80])];
    expect(names(layer, a2, m2, bias)).toEqual(["matmul", "add", "tanh"]);
    // ...unless the program also holds a large array: plans run only scalars on the host there.
    const big = tf.zeros([256, 256]);
    const withLarge = (a: hd.Value, m: hd.Value, b: hd.Value, big: hd.Value) => [layer(a, m, b), hd.mul(big, 2)];
    expect(names(withLarge, a2, m2, bias, big)).toEqual(["matmul", "biasTanh", "mul"]);
    tf.dispose([a, m, bias, full, a2, m2, big]);
  });

  it("is off with setFusion(false)", () => {
    const previous = setFusion(false);
    expect(names((x, w, b) => hd.add(hd.conv2d(x, w), b), x, w, b)).toEqual(["conv2d", "add"]);
    setFusion(previous);
  });
});

for (const backend of ["cpu", "wasm"] as const) {
  describe(`fused conv + bias in jit plans on ${backend}`, () => {
    beforeAll(async () => {
      await setBackend(backend);
      if (backend === "wasm") expect(await installSimdKernels()).toBe(true);
    });
    afterEach(() => {
      runtime.setIm2colMode("auto");
      setHeapGemm(null);
    });

    const routes: Array<[string, () => void]> =
      backend === "cpu"
        ? [["tfjs's conv", () => {}]]
        : [
            ["default routes", () => {}],
            ["im2col forced", () => runtime.setIm2colMode("always")],
            ["heap GEMM installed", () => setHeapGemm(jsGemm)],
          ];
    for (const [route, setup] of routes) {
      for (const c of CASES) {
        it(`${c.label} (${route}): equals a float64 conv + bias, random and edge inputs`, async () => {
          setup();
          const before = tf.memory().numTensors;
          for (const edges of [false, true]) {
            // Edge values (NaN, ±Inf, ±0) in x and b; w finite (0·Inf in a padded tap is NaN in an
            // im2col product and skipped by a direct conv: not a property of the fusion).
            const [x, w, b] = [values(size(c.x), 1, edges), values(size(c.w), 2), values(c.w[3], 3, edges)];
            const want = bruteForce(x, w, b, c);
            const f = convBias(c);
            const fused = await runJit(f, [x, w, b], [c.x, c.w, [c.w[3]]], true);
            expectClose(fused.out, want, c.w[0] * c.w[1] * c.w[2], `${c.label} fused`);
            const unfused = await runJit(f, [x, w, b], [c.x, c.w, [c.w[3]]], false);
            expect(unfused.kernels).not.toContain("FusedConv2D");
            // On cpu FusedConv2D is the conv and then the same add: bit-identical.
            if (backend === "cpu") expect(Array.from(fused.out)).toEqual(Array.from(unfused.out));
          }
          expect(tf.memory().numTensors).toBe(before);
        });
      }
    }

    it("a profiled jitted call runs FusedConv2D and no Add where tfjs's conv runs; Conv2D and Add where the output has another use", async () => {
      const c = CASES[0]!;
      const args = [values(size(c.x), 4), values(size(c.w), 5), values(c.w[3], 6)];
      const shapes = [c.x, c.w, [c.w[3]]];
      const f = (x: hd.Value, w: hd.Value, b: hd.Value) => hd.tanh(hd.add(hd.conv2d(x, w), b));
      const { kernels } = await runJit(f, args, shapes, true);
      expect(kernels.filter((k) => k === "FusedConv2D")).toHaveLength(1);
      expect(kernels).not.toContain("Conv2D");
      expect(kernels).not.toContain("Add");
      const twice = (x: hd.Value, w: hd.Value, b: hd.Value) => {
        const y = hd.conv2d(x, w);
        return hd.add(hd.add(y, b), y);
      };
      const other = await runJit(twice, args, shapes, true);
      expect(other.kernels).not.toContain("FusedConv2D");
      expect(other.kernels).toContain("Conv2D");
    });
  });
}

describe("fused bias + tanh in jit plans", () => {
  for (const backend of ["cpu", "wasm"] as const) {
    it(`on ${backend}: tanh(x·w + b) and its gradient equal the unfused plan's bit for bit, random and edge inputs`, async () => {
      await setBackend(backend);
      if (backend === "wasm") expect(await installSimdKernels()).toBe(true);
      const before = tf.memory().numTensors;
      const shapes = [[64, 24], [24, 84], [84]];
      for (const edges of [false, true]) {
        const args = [values(64 * 24, 11, edges), values(24 * 84, 12), values(84, 13, edges)];
        const f = (x: hd.Value, w: hd.Value, b: hd.Value) => hd.tanh(hd.add(hd.matmul(x, w), b));
        const fused = await runJit(f, args, shapes, true);
        const unfused = await runJit(f, args, shapes, false);
        if (backend === "wasm") {
          expect(fused.kernels).toContain("HodiffBiasTanh");
          expect(fused.kernels).not.toContain("Add");
        }
        expect(Array.from(fused.out)).toEqual(Array.from(unfused.out));
        const g = (x: hd.Value, w: hd.Value, b: hd.Value) =>
          hd.grad((q: hd.Value) => hd.sum(hd.square(f(x, w, q))))(b) as hd.Value;
        const [gf, gu] = [await runJit(g, args, shapes, true), await runJit(g, args, shapes, false)];
        expect(Array.from(gf.out)).toEqual(Array.from(gu.out));
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe("LeNet-5's gradient on wasm", () => {
  beforeAll(async () => {
    await setBackend("wasm");
    expect(await installSimdKernels()).toBe(true);
  });

  afterEach(() => setHeapGemm(null));

  it("jit(grad) (fused plan) equals the eager gradient; both run the fused kernels", () => lenet(false));
  it("with a heap GEMM: jit(grad) equals the eager gradient; conv2's patches built once for both of its products", () =>
    lenet(true));

  async function lenet(gemm: boolean): Promise<void> {
    if (gemm) setHeapGemm(jsGemm);
    const before = tf.memory().numTensors;
    const r = rng(9);
    const param = (shape: number[], scale: number) =>
      tf.tensor(
        Float32Array.from({ length: size(shape) }, () => (r(2) - 1) * scale),
        shape,
      );
    const p = {
      c1: { w: param([5, 5, 3, 6], 0.2), b: param([6], 0.1) },
      c2: { w: param([5, 5, 6, 16], 0.1), b: param([16], 0.1) },
      fc: { w: param([400, 10], 0.05), b: param([10], 0.1) },
    };
    const x = param([4, 32, 32, 3], 1);
    const pool = (y: hd.Value) => hd.maxPool(y, { window: 2 });
    const loss = (q: typeof p, xs: hd.Value) => {
      let y = pool(hd.tanh(hd.add(hd.conv2d(xs, q.c1.w), q.c1.b)));
      y = pool(hd.tanh(hd.add(hd.conv2d(y, q.c2.w), q.c2.b)));
      const logits = hd.add(hd.matmul(hd.reshape(y, [4, 400]), q.fc.w), q.fc.b);
      return hd.sum(hd.square(logits));
    };
    let eager: unknown;
    const eagerProfile = await tf.profile(() => void (eager = hd.grad(loss)(p, x)));
    // Eager reverse mode fuses the pooling gradients with tanh's too (rules/vjp.ts, DeferredScatter).
    const eagerCount = (name: string) => eagerProfile.kernels.filter((k) => k.name === name).length;
    expect([
      eagerCount("HodiffMaxScatterTanhGrad"),
      eagerCount("HodiffTanhGrad"),
      eagerCount("HodiffMaxScatter"),
    ]).toEqual([2, 0, 0]);
    const jgrad = hd.jit(hd.grad(loss));
    hd.dispose(jgrad(p, x));
    let jitted: unknown;
    const profile = await tf.profile(() => void (jitted = jgrad(p, x)));
    const count = (name: string) => profile.kernels.filter((k) => k.name === name).length;
    // Both convs with their biases (conv2 as im2col + matmul on a heap GEMM, its patches shared
    // with its filter gradient), both pooling gradients with tanh's derivative; conv1's written in
    // the [h, w, n, c] layout its filter gradient's composite route reads (no Transpose of it).
    expect([
      count("FusedConv2D"),
      count("HodiffMaxScatterTanhGrad"),
      count("HodiffMaxScatterTanhGradHwnc"),
      count("HodiffTanhGrad"),
    ]).toEqual(gemm ? [1, 1, 1, 0] : [2, 1, 1, 0]);
    const transposed = profile.kernels.filter((k) => k.name === "Transpose").map((k) => k.inputShapes[0]);
    expect(transposed).not.toContainEqual([4, 28, 28, 6]);
    if (gemm) expect(count("HodiffIm2Col")).toBe(1);
    const [a, b] = [hd.treeLeaves(eager), hd.treeLeaves(jitted)];
    expect(a).toHaveLength(6);
    a.forEach((leaf, i) => {
      const [u, v] = [hd.toFlat(leaf), hd.toFlat(b[i]!)];
      const scale = Math.max(...Array.from(u, Math.abs));
      for (let k = 0; k < u.length; k++)
        expect(Math.abs(u[k]! - v[k]!), `leaf ${i} at ${k}`).toBeLessThan(1e-5 * scale);
    });
    hd.dispose([eager, jitted]);
    jgrad.dispose();
    tf.dispose([x, p.c1.w, p.c1.b, p.c2.w, p.c2.b, p.fc.w, p.fc.b]);
    expect(tf.memory().numTensors).toBe(before);
  }
});

describe("shared patches: conv2d and its filter gradient from one im2col step (wasm, heap GEMM)", () => {
  beforeAll(async () => {
    await setBackend("wasm");
    expect(await installSimdKernels()).toBe(true);
  });
  afterEach(() => setHeapGemm(null));

  // 16 output channels: K.conv2d's im2col route on a native GEMM (im2colFaster).
  const SHARED: Case[] = [
    CASES[4]!,
    { label: "strided, padded, 16 channels", x: [2, 7, 6, 4], w: [3, 3, 4, 16], strides: [2, 2], padding: [[1, 1], [0, 1]], dilations: [1, 1] }, // prettier-ignore
    { label: "dilated, 20 channels", x: [3, 8, 8, 2], w: [2, 3, 2, 20], strides: [1, 1], padding: [[0, 0], [1, 1]], dilations: [2, 2] }, // prettier-ignore
  ];
  /** (Σ ct·(conv(x, w) + b), ∂/∂(w, b)) as one jitted program: the conv and convFilter(x, ct). */
  const valueAndGrads = (c: Case) => (x: hd.Value, w: hd.Value, b: hd.Value, ct: hd.Value) =>
    hd.valueAndGrad((q: { w: hd.Value; b: hd.Value }) => hd.sum(hd.mul(ct, convBias(c)(x, q.w, q.b))))({ w, b });

  it("the plan's jaxpr has im2col, patchConv and patchFilter with a heap GEMM, not without one", () => {
    const c = SHARED[0]!;
    const ts = [tf.zeros(c.x), tf.zeros(c.w), tf.zeros([c.w[3]]), tf.zeros([c.x[0], c.x[1], c.x[2], c.w[3]])];
    const planned = () => names(valueAndGrads(c), ...ts);
    expect(planned()).toContain("convFilter");
    setHeapGemm(jsGemm);
    const shared = planned();
    expect(shared.filter((n) => ["im2col", "patchConv", "patchFilter"].includes(n))).toEqual([
      "im2col",
      "patchConv",
      "patchFilter",
    ]);
    expect(shared).not.toContain("convFilter");
    expect(shared).not.toContain("conv2dBias");
    tf.dispose(ts);
    // A patch matrix over the plan's budget (2²² floats; this one [65536, 144]) is not kept.
    const big = [tf.zeros([64, 34, 34, 16]), tf.zeros([3, 3, 16, 16]), tf.zeros([16]), tf.zeros([64, 32, 32, 16])];
    const unshared = names(
      valueAndGrads({
        ...c,
        x: [64, 34, 34, 16],
        w: [3, 3, 16, 16],
        padding: [
          [0, 0],
          [0, 0],
        ],
      }),
      ...big,
    );
    expect(unshared).toContain("convFilter");
    expect(unshared).not.toContain("im2col");
    tf.dispose(big);
  });

  for (const c of SHARED) {
    it(`${c.label}: value and filter gradient equal float64 brute force, random and edge inputs, shared and unshared`, async () => {
      setHeapGemm(jsGemm);
      const before = tf.memory().numTensors;
      const B = c.x[0];
      const [Ho, Wo] = outSize(c);
      const ctShape = [B, Ho, Wo, c.w[3]];
      for (const edges of [false, true]) {
        const [x, w, b, ct] = [
          values(size(c.x), 7, edges),
          values(size(c.w), 8),
          values(c.w[3], 9),
          values(size(ctShape), 10),
        ];
        const y = bruteForce(x, w, b, c);
        const wantValue = y.reduce((s, v, i) => s + v * ct[i]!, 0);
        const wantDw = bruteFilterGradient(x, c.x, ct, ctShape, c.w, { ...c, filter: [c.w[0], c.w[1]] });
        for (const fused of [true, false]) {
          const previous = setFusion(fused);
          const ts = [tf.tensor(x, c.x), tf.tensor(w, c.w), tf.tensor(b, [c.w[3]]), tf.tensor(ct, ctShape)];
          const g = hd.jit(valueAndGrads(c));
          const run = () => g(ts[0]!, ts[1]!, ts[2]!, ts[3]!) as [tf.Tensor, { w: tf.Tensor; b: tf.Tensor }];
          hd.dispose(run());
          let got: [tf.Tensor, { w: tf.Tensor; b: tf.Tensor }] | undefined;
          const prof = await tf.profile(() => void (got = run()));
          const kernels = prof.kernels.map((k) => k.name);
          // One patch matrix for both where shared; the composite's transposes only where not.
          expect(
            kernels.filter((k) => k === "HodiffIm2Col"),
            `${c.label} fused ${fused}`,
          ).toHaveLength(fused ? 1 : 2);
          if (fused) expect(kernels).not.toContain("Transpose");
          const label = `${c.label} ${edges ? "edges" : "random"} fused ${fused}`;
          const value = got![0].dataSync()[0]!;
          if (Number.isFinite(wantValue))
            expect(Math.abs(value - wantValue), label).toBeLessThan(1e-5 * (y.length + 1));
          else expect(value, label).toBe(wantValue);
          expectClose(got![1].w.dataSync(), wantDw, B * Ho * Wo, `${label} dW`);
          hd.dispose(got);
          g.dispose();
          tf.dispose(ts);
          setFusion(previous);
        }
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

// ---- pooling gradient as conv's [h, w, n, c] cotangent (helper "sumk") ----
describe("cotangentHwnc: a pooling gradient written as its filter gradient's [h, w, n, c] cotangent (wasm)", () => {
  beforeAll(async () => {
    await setBackend("wasm");
    expect(await installSimdKernels()).toBe(true);
  });
  afterEach(() => {
    setHeapGemm(null);
    runtime.setConvFilterRoute("auto");
  });

  // conv → tanh → 2×2 max pool, y [2, 28, 28, 6]: above what host kernels take, as LeNet-5's conv1.
  const shapes = { x: [2, 32, 32, 3], w: [5, 5, 3, 6], b: [6], c: [2, 14, 14, 6] };
  const make = (seed: number) =>
    Object.values(shapes).map((s, i) => tf.tensor(values(size(s), seed + i), s)) as [
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
      tf.Tensor,
    ];
  const net = (x: hd.Value, w: hd.Value, b: hd.Value, c: hd.Value) =>
    hd.sum(hd.mul(c, hd.maxPool(hd.tanh(hd.add(hd.conv2d(x, w), b)), { window: 2 })));
  /** ∂/∂(w, b), and with `wrtX` ∂/∂x too (then the cotangent also feeds conv's input gradient). */
  const grads = (wrtX: boolean) => (x: hd.Value, w: hd.Value, b: hd.Value, c: hd.Value) =>
    wrtX
      ? hd.grad((q: hd.Value[]) => net(q[0]!, q[1]!, q[2]!, c))([x, w, b])
      : hd.grad((q: hd.Value[]) => net(x, q[0]!, q[1]!, c))([w, b]);
  const planned = (wrtX: boolean, ts: tf.Tensor[]) => names(grads(wrtX), ...ts);

  it("fires where the cotangent feeds only the filter gradient's composite route and the bias sum", () => {
    const ts = make(1);
    const got = planned(false, ts);
    expect(got).toContain("maxScatterTanhGradHwnc");
    expect(got).toContain("convFilterHwnc");
    expect(got).not.toContain("maxScatterTanhGrad");
    expect(got).not.toContain("convFilter");
    // Also conv's input gradient reads the cotangent: left as it was.
    const withX = planned(true, ts);
    expect(withX).toContain("maxScatterTanhGrad");
    expect(withX).not.toContain("maxScatterTanhGradHwnc");
    // convFilter's im2col route reads the cotangent as it is: left as it was.
    setHeapGemm(jsGemm);
    runtime.setConvFilterRoute("im2col");
    expect(planned(false, ts)).not.toContain("maxScatterTanhGradHwnc");
    tf.dispose(ts);
  });

  it("the jitted gradient equals the eager one (unfused kernels), also when convFilter's route changes after planning", async () => {
    const before = tf.memory().numTensors;
    const ts = make(7);
    const f = grads(false);
    const eagerOut = f(...ts);
    const eager = hd.treeLeaves(eagerOut).map((v) => hd.toFlat(v));
    hd.dispose(eagerOut);
    const jitted = hd.jit(f);
    const check = () => {
      const got = jitted(...ts);
      hd.treeLeaves(got).forEach((leaf, i) => {
        const [u, v] = [eager[i]!, hd.toFlat(leaf)];
        const scale = Math.max(...Array.from(u, Math.abs));
        expect(v.length).toBe(u.length);
        // Equal but for the order of the sums (the filter gradient's conv, the bias sum).
        for (let k = 0; k < u.length; k++)
          expect(Math.abs(u[k]! - v[k]!), `leaf ${i} at ${k}`).toBeLessThan(1e-5 * scale);
      });
      hd.dispose(got);
    };
    check(); // planned on the composite route: convFilterHwnc reads the [h, w, n, c] cotangent as it is
    setHeapGemm(jsGemm);
    runtime.setConvFilterRoute("im2col");
    // The same plan on the im2col route: convFilterHwnc transposes the cotangent back.
    const profile = await tf.profile(check);
    const kernels = profile.kernels.map((k) => k.name);
    expect(kernels).toContain("HodiffMaxScatterTanhGradHwnc");
    expect(kernels).toContain("HodiffIm2Col");
    jitted.dispose();
    tf.dispose(ts);
    expect(tf.memory().numTensors).toBe(before);
  });
});
// ---- end pooling gradient as [h, w, n, c] ----
