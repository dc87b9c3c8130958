/** interactionMap and normalize against hand computations, and tensor bookkeeping of every entry point. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import {
  PartitionError,
  canonical,
  discrete,
  interactionMap,
  normalize,
  partitionedDerivative,
  summaries,
  taylorTerms,
  trivial,
  weightsBiases,
} from "./index";
import { tinyCnn, tinyMlp, type Params, type TinyModel } from "./fixtures";

const maxAbsEntry = (m: number[][]) => Math.max(...m.flat().map(Math.abs));
const matmul = (a: number[][], b: number[][]) =>
  a.map((row) => b[0]!.map((_, j) => row.reduce((s, x, k) => s + x * b[k]![j]!, 0)));

describe("interactionMap", () => {
  // Three groups, labels from a canonical partition of three leaves.
  const params = { a: hd.zeros([2]), b: hd.zeros([1]), c: hd.zeros([3]) };
  const part = canonical(params);
  afterAll(() => hd.dispose(params));

  const H = [
    [4, -1, 0.5],
    [-1, 3, 0.2],
    [0.5, 0.2, -2],
  ];

  it("labels, a copy of H̄, normalised |H_ij|/√|H_ii H_jj| with ones on the diagonal", () => {
    const map = interactionMap(H, part);
    expect(map.labels).toEqual(["a", "b", "c"]);
    expect(map.hbar).toEqual(H);
    expect(map.hbar).not.toBe(H);
    const want = [
      [1, 1 / Math.sqrt(12), 0.5 / Math.sqrt(8)],
      [1 / Math.sqrt(12), 1, 0.2 / Math.sqrt(6)],
      [0.5 / Math.sqrt(8), 0.2 / Math.sqrt(6), 1],
    ];
    map.normalized.forEach((row, i) => row.forEach((x, j) => expect(x).toBeCloseTo(want[i]![j]!, 12)));
    expect(normalize(H)).toEqual(map.normalized);
    expect(map.singular).toBe(false);
  });

  it("hbarInverse · hbar = I for an invertible (indefinite) H̄, and normalizedInverse normalises it", () => {
    const map = interactionMap(H, part);
    const I = matmul(map.hbarInverse, H);
    I.forEach((row, i) => row.forEach((x, j) => expect(x).toBeCloseTo(i === j ? 1 : 0, 10)));
    const inv = map.hbarInverse;
    map.normalizedInverse.forEach((row, i) =>
      row.forEach((x, j) =>
        expect(x).toBeCloseTo(Math.abs(inv[i]![j]!) / Math.sqrt(Math.abs(inv[i]![i]! * inv[j]![j]!)), 12),
      ),
    );
    map.normalizedInverse.forEach((row, i) => expect(row[i]).toBeCloseTo(1, 12));
  });

  it("a badly scaled but invertible H̄ (entries ~1e-8) is not flagged singular", () => {
    const tiny = H.map((r) => r.map((x) => x * 1e-8));
    const map = interactionMap(tiny, part);
    expect(map.singular).toBe(false);
    matmul(map.hbarInverse, tiny).forEach((row, i) => row.forEach((x, j) => expect(x).toBeCloseTo(i === j ? 1 : 0, 8)));
  });

  it("a singular H̄ is flagged and gets the pseudo-inverse (H P H = H, P H P = P)", () => {
    const S = [
      [1, 2, 0],
      [2, 4, 0],
      [0, 0, 3],
    ];
    const map = interactionMap(S, part);
    expect(map.singular).toBe(true);
    const P = map.hbarInverse;
    const HPH = matmul(matmul(S, P), S);
    HPH.forEach((row, i) => row.forEach((x, j) => expect(x).toBeCloseTo(S[i]![j]!, 8)));
    const PHP = matmul(matmul(P, S), P);
    PHP.forEach((row, i) => row.forEach((x, j) => expect(x).toBeCloseTo(P[i]![j]!, 8)));
    // The pseudo-inverse of this block matrix is known: [[1,2],[2,4]]⁺ = [[1,2],[2,4]]/25, and 1/3.
    const want = [
      [1 / 25, 2 / 25, 0],
      [2 / 25, 4 / 25, 0],
      [0, 0, 1 / 3],
    ];
    P.forEach((row, i) => row.forEach((x, j) => expect(x).toBeCloseTo(want[i]![j]!, 8)));
    expect(map.normalized[0]![1]).toBeCloseTo(1, 12); // perfectly correlated groups
  });

  it("a singular H̄ whose LU factorisation misses the zero pivot (rounding) is still flagged", () => {
    const S = [
      [0.1, 0.2, 0.3],
      [0.4, 0.5, 0.6],
      [0.7, 0.8, 0.9],
    ];
    const map = interactionMap(S, part);
    expect(map.singular).toBe(true);
    expect(maxAbsEntry(map.hbarInverse)).toBeLessThan(10);
    const HPH = matmul(matmul(S, map.hbarInverse), S);
    HPH.forEach((row, i) => row.forEach((x, j) => expect(x).toBeCloseTo(S[i]![j]!, 8)));
  });

  it("the zero matrix is singular, normalised to zeros (no NaN)", () => {
    const Z = [
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ];
    const map = interactionMap(Z, part);
    expect(map.singular).toBe(true);
    expect(map.hbarInverse.flat().every((x) => x === 0)).toBe(true);
    expect(map.normalized.flat().every((x) => x === 0)).toBe(true);
  });

  it("an H̄ of the wrong size is a PartitionError", () => {
    expect(() => interactionMap([[1]], part)).toThrow(PartitionError);
    expect(() => interactionMap([[1]], part)).toThrow(/must be 3×3 for this partition, got 1×1/);
    expect(() =>
      interactionMap(
        [
          [1, 0, 0],
          [0, 1],
          [0, 0, 1],
        ],
        part,
      ),
    ).toThrow(PartitionError);
  });

  it("on a model: the map of summaries' H̄ for the tiny MLP (canonical) inverts it", () => {
    const m = tinyMlp();
    const p = m.params();
    const g = hd.grad(m.loss)(p) as Params;
    const mpart = canonical(p);
    const s = summaries(m.loss as (p: never) => Value, mpart)(p, g);
    const map = interactionMap(s.hbar, mpart);
    expect(map.labels).toEqual(["fc1.w", "fc1.b", "fc2.w", "fc2.b"]);
    expect(map.singular).toBe(false);
    matmul(map.hbarInverse, s.hbar).forEach((row, i) =>
      row.forEach((x, j) => expect(x).toBeCloseTo(i === j ? 1 : 0, 6)),
    );
    hd.dispose([p, g]);
  });
});

describe("no tensor leaks", () => {
  let m: TinyModel;
  let params: Params;
  let dir: Params;
  const loss = (p: Params) => m.loss(p);
  beforeAll(() => {
    m = tinyCnn();
    params = m.params();
    dir = hd.grad(loss)(params) as Params;
  });
  afterAll(() => hd.dispose([params, dir]));

  /** Run `call` once to warm up, then 3 times: the tensor count must not change. */
  const expectNoLeak = (call: () => void) => {
    call();
    const before = hd.numTensors();
    for (let i = 0; i < 3; i++) call();
    expect(hd.numTensors()).toBe(before);
  };

  it("partition builders allocate nothing", () => {
    const before = hd.numTensors();
    for (const build of [canonical, trivial, weightsBiases, discrete]) build(params);
    expect(hd.numTensors()).toBe(before);
  });

  for (const [name, order, diagonal, chunkSize] of [
    ["order 1", 1, false, undefined],
    ["order 2", 2, false, undefined],
    ["order 3", 3, false, undefined],
    ["order 3, chunks of 3", 3, false, 3],
    ["order 2 diagonal", 2, true, undefined],
    ["order 3 diagonal, chunks of 1", 3, true, 1],
  ] as const) {
    it(`partitionedDerivative ${name}`, () => {
      const part = canonical(params);
      expectNoLeak(() => hd.dispose(partitionedDerivative(order, part, { diagonal, chunkSize })(loss)(params, dir)));
    });
  }

  it("partitionedDerivative on the discrete partition (per-scalar perturbation)", () => {
    const part = discrete(params);
    expectNoLeak(() => hd.dispose(partitionedDerivative(2, part)(loss)(params, dir)));
  });

  it("summaries (whole and chunked) and taylorTerms", () => {
    const part = weightsBiases(params);
    expectNoLeak(() => void summaries(loss as (p: never) => Value, part)(params, dir));
    expectNoLeak(() => void summaries(loss as (p: never) => Value, canonical(params), { chunkSize: 3 })(params, dir));
    expectNoLeak(() => hd.dispose(taylorTerms(3)(loss)(params, dir)));
  });
});
