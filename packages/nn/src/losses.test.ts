/** Losses against hand-computed values and closed-form gradients. */
import { describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import { accuracy, accuracyAsync, nll, oneHot, squaredError } from "./index";

const LOGITS = [
  [1, 2, 3],
  [1, 0, -1],
];
const LABELS = [2, 1];
// Row 0: logsumexp(1,2,3) − 3 = log(1 + e⁻¹ + e⁻²); row 1: logsumexp(1,0,−1) − 0 = 1 + log(1 + e⁻¹ + e⁻²).
// Mean = 1/2 + log(1 + e⁻¹ + e⁻²) = 0.9076059644443804.
const NLL = 0.9076059644443804;

describe("nll", () => {
  it("equals the hand-computed mean NLL of a 2×3 example, whatever the label format", () => {
    const z = hd.array(LOGITS);
    const formats = [
      LABELS,
      Int32Array.from(LABELS),
      hd.array(LABELS, { dtype: "int32" }),
      hd.array([
        [0, 0, 1],
        [0, 1, 0],
      ]),
    ];
    for (const y of formats) expect(hd.item(nll(z, y))).toBeCloseTo(NLL, 6);
  });

  it("has gradient (softmax(z) − onehot(y))/B with respect to the logits", () => {
    const z = hd.array(LOGITS);
    const g = hd.toNested(hd.grad((l: hd.Value) => nll(l, LABELS))(z)) as number[][];
    LOGITS.forEach((row, b) => {
      const total = row.reduce((s, v) => s + Math.exp(v), 0);
      row.forEach((v, c) => expect(g[b]![c]).toBeCloseTo((Math.exp(v) / total - (c === LABELS[b] ? 1 : 0)) / 2, 6));
    });
  });

  it("leaves no tensors behind: one result outside tidy, nothing inside", () => {
    const z = hd.array(LOGITS);
    const before = hd.numTensors();
    const loss = nll(z, LABELS);
    expect(hd.numTensors()).toBe(before + 1);
    hd.dispose(loss);
    hd.tidy(() => {
      nll(z, LABELS);
      squaredError(z, LABELS);
      return null;
    });
    expect(hd.numTensors()).toBe(before);
    hd.dispose(z);
  });

  it("rejects labels that do not match the logits", () => {
    const z = hd.array(LOGITS);
    expect(() => nll(z, [0, 1, 2])).toThrow(/nll: 2 rows of logits but labels of shape \[3,3\]/);
    expect(() => nll(z, hd.zeros([2, 4]))).toThrow(/nll: one-hot labels must be \[B, 3\], got float32\[2,4\]/);
    expect(() => nll(hd.zeros([3]), [0])).toThrow(/nll: logits must be \[B, C\], got \[3\]/);
  });
});

describe("oneHot", () => {
  it("builds rows of the identity from class ids", () => {
    expect(hd.toNested(oneHot([2, 0], 3))).toEqual([
      [0, 0, 1],
      [1, 0, 0],
    ]);
  });

  it("encodes ids in JS memory as the op path does ids in an array: zero rows outside [0, C)", () => {
    const ids = [2, 0, 3, -1, 1];
    const viaOps = hd.toNested(oneHot(hd.array(Int32Array.from(ids)), 3));
    expect(viaOps).toEqual([
      [0, 0, 1],
      [1, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
      [0, 1, 0],
    ]);
    expect(hd.toNested(oneHot(ids, 3))).toEqual(viaOps);
    expect(hd.toNested(oneHot(Int32Array.from(ids), 3))).toEqual(viaOps);
    const before = hd.numTensors();
    hd.dispose(oneHot(ids, 3));
    expect(hd.numTensors()).toBe(before);
  });
});

describe("squaredError", () => {
  it("is the batch mean of ½‖o − t‖² (summed over outputs)", () => {
    const o = hd.array([
      [1, 2],
      [0, -1],
    ]);
    const t = hd.array([
      [0, 0],
      [1, 1],
    ]);
    // ½(1 + 4) = 2.5 and ½(1 + 4) = 2.5: mean 2.5
    expect(hd.item(squaredError(o, t))).toBeCloseTo(2.5, 6);
    // class ids mean one-hot targets: rows ½((1−0)² + (2−1)²) = 1 and ½((0−1)² + 1²) = 1
    expect(hd.item(squaredError(o, [1, 0]))).toBeCloseTo(1, 6);
  });

  it("has gradient (o − t)/B", () => {
    const o = hd.array([[1, 2, 3]]);
    const t = hd.array([[0, 1, 1]]);
    const g = hd.grad((x: hd.Value) => squaredError(x, t))(o);
    expect(hd.toNested(g)).toEqual([[1, 1, 2]]);
  });
});

describe("accuracy", () => {
  const z = hd.array([
    [0.1, 0.9],
    [0.8, 0.2],
    [0.3, 0.7],
  ]);
  it("counts the rows whose argmax is the label", () => {
    expect(accuracy(z, [1, 1, 1])).toBeCloseTo(2 / 3, 12);
    expect(accuracy(z, hd.array([1, 0, 1], { dtype: "int32" }))).toBe(1);
    expect(
      accuracy(
        z,
        hd.array([
          [1, 0],
          [1, 0],
          [1, 0],
        ]),
      ),
    ).toBeCloseTo(1 / 3, 12);
  });
  it("breaks ties towards the first class", () => {
    expect(accuracy(hd.array([[0.5, 0.5]]), [0])).toBe(1);
  });
  it("accuracyAsync reads without blocking and counts the same rows", async () => {
    expect(await accuracyAsync(z, [1, 1, 1])).toBeCloseTo(2 / 3, 12);
    expect(await accuracyAsync(z, hd.array([1, 0, 1], { dtype: "int32" }))).toBe(1);
    expect(
      await accuracyAsync(
        z,
        hd.array([
          [1, 0],
          [1, 0],
          [1, 0],
        ]),
      ),
    ).toBeCloseTo(1 / 3, 12);
    expect(await accuracyAsync(hd.array([[0.5, 0.5]]), [0])).toBe(1);
    await expect(accuracyAsync(z, [1, 1])).rejects.toThrow(/3 rows of logits but 2 labels/);
  });
});
