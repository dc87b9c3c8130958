/**
 * The broadcast / layout SIMD kernels on wasm (Add and Multiply with an operand repeated along
 * leading axes, Reverse, Transpose by any permutation) against tfjs's cpu backend, value for value
 * (by Object.is, so NaN, ±Inf and −0 included), on random shapes of rank 1–6 with odd sizes; the
 * layout kernels also on int32 indices against a brute-force index map; conv2d's matmul + col2im
 * path against the cpu backend's conv.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setBackend } from "../backend";
import { K } from "../kernels";
import { COL2IM, asRows, installSimdKernels, setSimdKernels, transposePlan } from "./install";
import { expectConvClose } from "./fixtures";

/** A linear congruential generator: integers in [0, n). */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * n;
}

const EDGE = [0, -0, NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e30, -1e-40, 1.4e-45, 1, -1];

/** Random floats (wide magnitudes) with every few an edge value, so edges land in vectors and tails. */
function values(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, (_, i) =>
    i % 3 === 1 ? EDGE[Math.floor(r(EDGE.length))]! : (r(2) - 1) * 10 ** Math.floor(r(12) - 4),
  );
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Positions where a and b differ (by Object.is), at most 5. */
function diff(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const bad: number[] = [];
  if (a.length !== b.length) return [-1];
  for (let i = 0; i < a.length && bad.length < 5; i++) if (!Object.is(a[i], b[i])) bad.push(i);
  return bad;
}

/** Random shape of the given rank, sizes 1–7 (odd sizes and size-1 axes common), at most `max` elements. */
function randomShape(r: (n: number) => number, rank: number, max = 4000): number[] {
  for (;;) {
    const s = Array.from({ length: rank }, () => 1 + Math.floor(r(7)));
    if (size(s) <= max) return s;
  }
}

/** Runs `cases` on the cpu backend (reference), then on wasm with the SIMD kernels. */
function onBoth<C>(
  cases: C[],
  f: (c: C) => tf.Tensor,
): { reference: () => Float32Array[]; wasm: () => Float32Array[] } {
  let ref: Float32Array[] = [];
  beforeAll(async () => {
    await setBackend("cpu");
    ref = cases.map((c) => tf.tidy(() => f(c).dataSync() as Float32Array));
    await setBackend("wasm");
    expect(await installSimdKernels()).toBe(true);
  });
  return { reference: () => ref, wasm: () => cases.map((c) => tf.tidy(() => f(c).dataSync() as Float32Array)) };
}

describe("broadcasting Add and Multiply on wasm", () => {
  // [big, small] shapes: bias patterns of every inner size mod 4 and 12, leading 1s, both orders.
  const r = rng(11);
  const SHAPES: Array<[number[], number[]]> = [
    [[100, 28, 28, 6], [6]],
    [[5, 6], [6]], // period 12: two periods and one row left
    [[1, 6], [6]],
    [[7, 5], [5]],
    [[9], [1]],
    [[9], []],
    [[11, 2], [2]],
    [[13, 3], [3]],
    [
      [5, 3],
      [1, 3],
    ],
    [
      [2, 3, 5, 7, 3, 2],
      [3, 2],
    ],
    [[3, 17], [17]],
    [
      [4, 4, 16],
      [4, 16],
    ],
    [
      [2, 2, 2, 2, 2, 9],
      [2, 2, 9],
    ],
    [[6], [1, 1, 6]], // same size: tfjs's kernel
    [
      [5, 1, 4],
      [3, 4],
    ], // not a suffix: tfjs's kernel
    ...Array.from({ length: 12 }, (): [number[], number[]] => {
      const big = randomShape(r, 1 + Math.floor(r(6)));
      const k = Math.floor(r(big.length + 1));
      return [big, big.slice(big.length - k)];
    }),
  ];
  const CASES = SHAPES.flatMap(([big, small], i) =>
    (["add", "mul"] as const).flatMap((op) => [
      { op, a: big, b: small, seed: i },
      { op, a: small, b: big, seed: i + 100 },
    ]),
  );
  const run = ({ op, a, b, seed }: (typeof CASES)[number]) =>
    tf[op](tf.tensor(values(size(a), seed), a), tf.tensor(values(size(b), seed + 7), b));
  const { reference, wasm } = onBoth(CASES, run);
  afterAll(() => setSimdKernels(true));

  it("recognises an operand repeated along the other's leading axes", () => {
    expect(asRows([100, 28, 28, 6], [6])).toEqual({ outer: 78400, inner: 6, big: "a" });
    expect(asRows([1, 6], [4, 3, 6])).toEqual({ outer: 12, inner: 6, big: "b" });
    expect(asRows([4, 3], [])).toEqual({ outer: 12, inner: 1, big: "a" });
    expect(asRows([4, 3], [4, 1])).toBeNull();
    expect(asRows([4, 3], [4, 3])).toBeNull();
    expect(asRows([6], [1, 1, 6])).toBeNull();
  });

  it("equals the cpu backend exactly (NaN, ±Inf, −0, overflow), shapes included, without leaking", () => {
    const before = tf.memory().numTensors;
    const got = wasm();
    CASES.forEach((c, i) => expect(diff(got[i]!, reference()[i]!), `${c.op} [${c.a}] [${c.b}]`).toEqual([]));
    for (const c of CASES) {
      const shape = tf.tidy(() => run(c).shape);
      expect(shape).toEqual(tf.backend_util.assertAndGetBroadcastShape(c.a, c.b));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("leaves int32 and the switched-off state to tfjs's kernels", () => {
    const want = [2, 4, 4, 6];
    expect(
      tf.tidy(() =>
        Array.from(tf.add(tf.tensor([1, 2, 3, 4], [2, 2], "int32"), tf.tensor([1, 2], [2], "int32")).dataSync()),
      ),
    ).toEqual(want);
    setSimdKernels(false);
    expect(tf.tidy(() => Array.from(tf.add(tf.tensor([1, 2, 3, 4], [2, 2]), tf.tensor([1, 2])).dataSync()))).toEqual(
      want,
    );
    setSimdKernels(true);
  });
});

describe("Reverse on wasm", () => {
  const r = rng(5);
  const CASES: Array<[number[], number[]]> = [
    [
      [5, 5, 16, 6],
      [0, 1],
    ],
    [[9], [0]],
    [[7, 3], [1]],
    [
      [3, 4, 5],
      [0, 2],
    ],
    [[2, 1, 3], [1]],
    [[4, 2], []],
    ...Array.from({ length: 16 }, (): [number[], number[]] => {
      const shape = randomShape(r, 1 + Math.floor(r(6)));
      return [shape, shape.flatMap((_, a) => (r(2) < 1 ? [a] : []))];
    }),
  ];
  const { reference, wasm } = onBoth(CASES, ([shape, axes]) =>
    tf.reverse(tf.tensor(values(size(shape), shape.length), shape), axes),
  );

  it("equals the cpu backend (float32) and a brute-force index map (int32), without leaking", () => {
    const before = tf.memory().numTensors;
    const got = wasm();
    CASES.forEach(([shape, axes], i) => {
      expect(diff(got[i]!, reference()[i]!), `[${shape}] along ${axes}`).toEqual([]);
      const n = size(shape);
      const idx = tf.tidy(() => tf.reverse(tf.reshape(tf.range(0, n, 1, "int32"), shape), axes).dataSync());
      const strides = shape.map((_, k) => size(shape.slice(k + 1)));
      const want = Array.from({ length: n }, (_, flat) =>
        shape.reduce((src, d, k) => {
          const j = Math.floor(flat / strides[k]!) % d;
          return src + (axes.includes(k) ? d - 1 - j : j) * strides[k]!;
        }, 0),
      );
      expect(diff(idx, want), `int32 [${shape}] along ${axes}`).toEqual([]);
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("Transpose by any permutation on wasm", () => {
  const r = rng(3);
  const shuffle = (n: number) => {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r(i + 1));
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    return p;
  };
  const CASES: Array<[number[], number[]]> = [
    [
      [100, 32, 32, 3],
      [3, 1, 2, 0],
    ], // conv1's filter gradient: strips of 4 × 3 tiles, x's rows 12 KiB apart
    [
      [100, 14, 14, 6],
      [3, 1, 2, 0],
    ],
    [
      [9, 5, 7, 2],
      [3, 1, 2, 0],
    ],
    [
      [16, 8, 8, 16],
      [3, 1, 2, 0],
    ], // rows 4 KiB apart: two passes
    [
      [8, 16, 8, 5],
      [3, 1, 2, 0],
    ], // 5 columns, out's rows 4 KiB apart: strips (overlapping tiles)
    [
      [5, 6, 7],
      [2, 1, 0],
    ],
    // Paths of the one-pass kernel (transposeNd): each is hit by the shapes after it.
    // LeNet-5's filter-gradient transposes: chunks of 6 and 16 (a swap), [B, HW, C] → [C, HW, B].
    [
      [100, 28, 28, 6],
      [1, 2, 0, 3],
    ],
    [
      [100, 10, 10, 16],
      [1, 2, 0, 3],
    ],
    [
      [100, 10, 10, 16],
      [3, 1, 2, 0],
    ], // 16 columns: all rows per block
    [
      [9, 5, 7],
      [2, 1, 0],
    ], // 7 columns, 9 rows: strips of 4 rows, the last overlapping
    [
      [11, 3, 9],
      [2, 1, 0],
    ], // 9 columns: the last column tile overlapping
    [
      [3, 9],
      [1, 0],
    ], // fewer than 4 rows: one element at a time
    [
      [13, 3],
      [1, 0],
    ], // fewer than 4 columns (a swap): 4 × 3 tiles
    [
      [2, 9, 2],
      [0, 2, 1],
    ], // 4 × 2 tiles, batched
    [
      [5, 7, 3],
      [1, 0, 2],
    ], // chunks of 3 (8 + 4 bytes), 5 (16 + 4), 2, 7
    [
      [6, 4, 5],
      [1, 0, 2],
    ],
    [
      [7, 5, 2],
      [1, 0, 2],
    ],
    [
      [3, 5, 7],
      [1, 0, 2],
    ],
    [
      [9, 70, 2],
      [2, 1, 0],
    ], // 2 and 3 columns in strips, past one block of 64 indices
    [
      [6, 130, 3],
      [2, 1, 0],
    ],
    // Chunks of 6 two columns at a time: an odd column count (one left over), 7 rows (3 after a strip).
    [
      [7, 5, 6],
      [1, 0, 2],
    ],
    [
      [5, 4, 3, 6],
      [1, 2, 0, 3],
    ],
    // 6 columns, indices two at a time (an odd count: one left over), rows not a multiple of 4.
    [
      [9, 5, 7, 6],
      [3, 1, 2, 0],
    ],
    [
      [5, 67, 6],
      [2, 1, 0],
    ],
    [
      [1, 7, 1, 6],
      [3, 2, 1, 0],
    ], // size-1 axes
    [
      [5, 1, 6, 3],
      [2, 1, 0, 3],
    ],
    [
      [3, 4, 5, 6, 2],
      [4, 2, 0, 3, 1],
    ],
    [
      [2, 3, 2, 3, 2, 3],
      [5, 4, 3, 2, 1, 0],
    ],
    [
      [6, 5, 4, 3, 2, 2],
      [1, 3, 5, 0, 2, 4],
    ],
    [
      [4, 5, 6, 7],
      [2, 0, 1, 3],
    ], // innermost stays: chunks
    [
      [4, 1, 5],
      [1, 0, 2],
    ], // the identity once size-1 axes go
    [
      [1024, 21],
      [1, 0],
    ], // swaps whose rows are 4 KiB apart (smaller tile blocks)
    [
      [22, 1024],
      [1, 0],
    ],
    [
      [3, 1024, 1024],
      [0, 2, 1],
    ],
    [
      [3, 1, 4, 1, 5],
      [4, 1, 0, 3, 2],
    ],
    ...Array.from({ length: 20 }, (): [number[], number[]] => {
      const rank = 1 + Math.floor(r(6));
      return [randomShape(r, rank, rank === 4 && r(2) < 1 ? 20000 : 4000), shuffle(rank)];
    }),
  ];
  const data = (shape: number[]) => values(size(shape), shape.length + shape[0]!);
  const { reference, wasm } = onBoth(CASES, ([shape, perm]) => tf.transpose(tf.tensor(data(shape), shape), perm));

  it("plans a block transpose of out's and x's innermost axes over the others", () => {
    // [100,1024,3] → [3,1024,100]: rows 100 (x stride 3072), cols 3 (out stride 102400), over 1024.
    expect(transposePlan([100, 32, 32, 3], [3, 1, 2, 0])).toEqual([
      100, 3, 3072, 102400, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1024, 3, 100,
    ]);
    // [4,5,6,7] by [2,0,1,3]: merged [20,6,7] by [1,0,2], chunks of 7.
    expect(transposePlan([4, 5, 6, 7], [2, 0, 1, 3])!.slice(0, 5)).toEqual([20, 6, 42, 140, 7]);
    expect(transposePlan([2, 1, 3], [1, 0, 2])).toBeNull();
  });

  it("equals the cpu backend (float32) and a brute-force index map (int32), without leaking", () => {
    const before = tf.memory().numTensors;
    const got = wasm();
    CASES.forEach(([shape, perm], i) => {
      expect(diff(got[i]!, reference()[i]!), `[${shape}] by ${perm}`).toEqual([]);
      const n = size(shape);
      const idx = tf.tidy(() => tf.transpose(tf.reshape(tf.range(0, n, 1, "int32"), shape), perm).dataSync());
      const strides = shape.map((_, k) => size(shape.slice(k + 1)));
      const outShape = perm.map((a) => shape[a]!);
      const outStrides = outShape.map((_, k) => size(outShape.slice(k + 1)));
      const want = Array.from({ length: n }, (_, flat) =>
        perm.reduce((src, a, k) => src + (Math.floor(flat / outStrides[k]!) % outShape[k]!) * strides[a]!, 0),
      );
      expect(diff(idx, want), `int32 [${shape}] by ${perm}`).toEqual([]);
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("conv2d as matmul + col2im on wasm", () => {
  // [x shape, filter shape, padding, dilations]: convs whose output has ≥ 1.5× the input's pixels.
  const CASES: Array<[number[], number[], [[number, number], [number, number]], [number, number]]> = [
    [
      [100, 10, 10, 16],
      [5, 5, 16, 6],
      [
        [4, 4],
        [4, 4],
      ],
      [1, 1],
    ], // LeNet conv2's input gradient
    [
      [3, 4, 5, 3],
      [3, 2, 3, 5],
      [
        [2, 2],
        [1, 1],
      ],
      [1, 1],
    ],
    [
      [2, 3, 3, 2],
      [3, 3, 2, 1],
      [
        [4, 2],
        [0, 5],
      ],
      [2, 1],
    ], // dilated, asymmetric, a side unpadded
    [
      [2, 2, 5, 4],
      [2, 3, 4, 7],
      [
        [3, 0],
        [2, 4],
      ],
      [1, 3],
    ],
    [
      [1, 1, 1, 3],
      [2, 2, 3, 9],
      [
        [1, 1],
        [1, 1],
      ],
      [1, 1],
    ],
  ];
  const data = (shape: number[], seed: number) => {
    const r = rng(seed);
    return Float32Array.from({ length: size(shape) }, () => r(2) - 1);
  };
  const conv = ([xs, ws, pad, dil]: (typeof CASES)[number], i: number) =>
    K.conv2d(tf.tensor(data(xs, i), xs), tf.tensor(data(ws, i + 50), ws), [1, 1], pad, dil);
  let reference: Float32Array[] = [];
  beforeAll(async () => {
    await setBackend("cpu");
    reference = CASES.map((c, i) => tf.tidy(() => conv(c, i).dataSync() as Float32Array));
    await setBackend("wasm");
    expect(await installSimdKernels()).toBe(true);
  });

  it("equals the cpu backend's conv to float32 rounding, without leaking", () => {
    const before = tf.memory().numTensors;
    for (const [i, c] of CASES.entries()) {
      const got = tf.tidy(() => conv(c, i).dataSync());
      expectConvClose(got, reference[i]!, c[1][0]! * c[1][1]! * c[1][2]!, `${c[0]} ⊛ ${c[1]}`);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it("goes through HodiffCol2Im", async () => {
    // (tf.profile itself keeps a tensor per call, so this test does not count tensors.)
    for (const [i, c] of CASES.entries()) {
      const names = (await tf.profile(() => void tf.tidy(() => conv(c, i)))).kernels.map((k) => k.name);
      expect(names, `${c[0]} ⊛ ${c[1]}`).toContain(COL2IM);
    }
  });

  it("leaves a conv whose output is not larger than its input to tfjs's conv", async () => {
    const names = (
      await tf.profile(
        () =>
          void tf.tidy(() =>
            K.conv2d(
              tf.ones([1, 6, 6, 2]),
              tf.ones([3, 3, 2, 2]),
              [1, 1],
              [
                [1, 1],
                [1, 1],
              ],
              [1, 1],
            ),
          ),
      )
    ).kernels.map((k) => k.name);
    expect(names).not.toContain(COL2IM);
  });
});
