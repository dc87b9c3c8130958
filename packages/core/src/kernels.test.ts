/** The broadcasting kernels (comparisons, select, broadcastTo) against a plain-JS broadcast, on both backends. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "./index";
import { K } from "./kernels";

/** Row-major index of `out`'s multi-index `idx` in an array of `shape` broadcast against `out`. */
function sourceIndex(idx: number[], shape: readonly number[], out: readonly number[]): number {
  let flat = 0;
  shape.forEach((d, i) => {
    const j = idx[out.length - shape.length + i]!;
    flat = flat * d + (d === 1 ? 0 : j);
  });
  return flat;
}

/** The multi-indices of an array of `shape`, in row-major order. */
function multiIndices(shape: readonly number[]): number[][] {
  return Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, k) => {
    const idx: number[] = [];
    for (let i = shape.length - 1, r = k; i >= 0; r = Math.floor(r / shape[i]!), i--) idx.unshift(r % shape[i]!);
    return idx;
  });
}

/** f applied elementwise after numpy broadcasting, in JS. */
function naive(f: (...xs: number[]) => number, out: number[], ...args: { v: number[]; s: number[] }[]): number[] {
  return multiIndices(out).map((idx) => f(...args.map((a) => a.v[sourceIndex(idx, a.s, out)]!)));
}

const values = (shape: number[], seed: number) =>
  // small integers, so that equality and ties happen
  Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 7 + seed * 13) % 5) - 2);

const CASES: [number[], number[], number[]][] = [
  // [a's shape, b's shape, the broadcast shape]
  [
    [2, 3, 4],
    [3, 1],
    [2, 3, 4],
  ],
  [
    [1, 1, 1, 1],
    [2, 3, 2, 5],
    [2, 3, 2, 5],
  ],
  [
    [4, 2, 3, 2, 2, 3],
    [4, 2, 1, 2, 1, 3],
    [4, 2, 3, 2, 2, 3],
  ],
  [
    [2, 1, 3, 2, 1, 2, 3],
    [3, 1, 2, 2, 1],
    [2, 1, 3, 2, 2, 2, 3],
  ], // rank 7: past XNNPACK's 6
];

describe.each(["cpu", "wasm"] as const)("broadcasting kernels on %s", (backend) => {
  afterAll(() => hd.setBackend("cpu"));

  it.each(CASES)("equal, greater, less, where, broadcastTo: %j with %j", async (sa, sb, out) => {
    await hd.setBackend(backend);
    const a = { v: values(sa, 1), s: sa };
    const b = { v: values(sb, 2), s: sb };
    const before = tf.memory().numTensors;
    const made: tf.Tensor[] = [];
    const own = (t: tf.Tensor) => (made.push(t), t);
    const [ta, tb] = [own(tf.tensor(a.v, sa)), own(tf.tensor(b.v, sb))];
    const read = (t: tf.Tensor) => {
      expect(own(t).shape).toEqual(out);
      return Array.from(t.dataSync());
    };
    const cmp = (f: (x: number, y: number) => boolean) => naive((x, y) => Number(f(x, y)), out, a, b);
    expect(read(K.equal(ta, tb))).toEqual(cmp((x, y) => x === y));
    expect(read(K.greater(ta, tb))).toEqual(cmp((x, y) => x > y));
    expect(read(K.less(tb, ta))).toEqual(cmp((x, y) => y < x));
    const [zero, minus9] = [own(tf.scalar(0)), own(tf.scalar(-9))];
    const c = own(K.greater(tb, zero));
    expect(read(K.where(c, ta, minus9))).toEqual(naive((y, x) => (y > 0 ? x : -9), out, b, a));
    expect(read(K.broadcastTo(ta, out))).toEqual(naive((x) => x, out, a));
    expect(read(K.broadcastTo(own(K.cast(ta, "int32")), out))).toEqual(naive((x) => x, out, a));
    expect(read(K.broadcastTo(own(K.greater(ta, zero)), out))).toEqual(naive((x) => Number(x > 0), out, a));
    tf.dispose(made);
    expect(tf.memory().numTensors).toBe(before); // no kernel leaves an intermediate behind
  });
});

describe.each(["cpu", "wasm"] as const)("zeros on %s", (backend) => {
  afterAll(() => hd.setBackend("cpu"));

  it.each([
    [[1023], "float32"],
    [[32, 32], "float32"], // 1024: the Fill kernel's
    [[2, 2, 2, 2, 2, 2, 16], "float32"], // rank 7, filled flat (webgpu's Fill takes rank ≤ 6)
    [[3, 5, 7, 11], "int32"],
    [[3, 5, 7, 11], "bool"],
  ] as const)("%j %s: +0 everywhere, and broadcasts through them", async (shape, dtype) => {
    await hd.setBackend(backend);
    const before = tf.memory().numTensors;
    const z = K.zeros([...shape], dtype);
    expect(z.shape).toEqual(shape);
    expect(z.dtype).toBe(dtype);
    const v = Array.from(z.dataSync());
    expect(v).toHaveLength(shape.reduce((p, q) => p * q, 1));
    expect(v.every((x) => Object.is(x, 0))).toBe(true);
    const a = tf.tensor([[-2.5]]);
    const wide = K.broadcastTo(a, [40, 40]); // 1600 elements: added onto Fill's zeros
    expect(Array.from(wide.dataSync())).toEqual(new Array<number>(1600).fill(-2.5));
    tf.dispose([z, a, wide]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe.each(["cpu", "wasm"] as const)("reverse on %s", (backend) => {
  afterAll(() => hd.setBackend("cpu"));

  /** x[i0, i1, …] = its row-major index; the flipped array in JS. */
  function flippedJs(shape: number[], axes: number[]): number[] {
    return multiIndices(shape).map((idx) =>
      idx.reduce((acc, j, i) => acc * shape[i]! + (axes.includes(i) ? shape[i]! - 1 - j : j), 0),
    );
  }

  it.each([
    [
      [3, 3, 4, 5],
      [0, 1],
    ], // conv2d's filter flip: the rows of a [9, 20] view
    [
      [3, 3, 4, 5],
      [1, 0],
    ],
    [[4, 6], [0]],
    [[2, 3, 4], [1]], // not leading: tfjs's kernel
    [
      [2, 3, 4],
      [0, 2],
    ],
    [[70, 2], [0]], // too many rows for the concatenation
  ])("%j flipped along %j", async (shape, axes) => {
    await hd.setBackend(backend);
    const before = tf.memory().numTensors;
    const n = shape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(
      Array.from({ length: n }, (_, i) => i),
      shape,
    );
    const y = K.reverse(x, axes);
    expect(y.shape).toEqual(shape);
    expect(Array.from(y.dataSync())).toEqual(flippedJs(shape, axes));
    tf.dispose([x, y]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("the tfjs seam", () => {
  it("kernels.ts is the only module of core that imports tfjs (type-only imports of it included)", () => {
    const src = new URL(".", import.meta.url).pathname;
    const importers = (readdirSync(src, { recursive: true }) as string[])
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
      .filter((f) => /(from\s+|import\s*\(\s*|import\s+)["']@tensorflow\//.test(readFileSync(join(src, f), "utf8")));
    expect(importers).toEqual(["kernels.ts"]);
  });
});
