import { describe, expect, it } from "vitest";
import { analyseSpd, spdSolve, symmetricEigen } from "./eigen";
import { fromEigen, matvec, randomOrthogonal, Rng, scaleMat } from "./testkit";

describe("symmetricEigen", () => {
  it("returns ascending eigenvalues and orthonormal eigenvectors with A q = λ q", () => {
    const rng = new Rng(3);
    const lambda = [3, -2, 0.5, 7, -2];
    const a = fromEigen(randomOrthogonal(rng, 5), lambda);
    const { values, vectors } = symmetricEigen(a);
    expect(values.map((v) => Math.round(v * 1e10) / 1e10)).toEqual([-2, -2, 0.5, 3, 7]);
    vectors.forEach((q, k) => {
      const aq = matvec(a, q);
      aq.forEach((v, i) => expect(Math.abs(v - values[k]! * q[i]!)).toBeLessThan(1e-13));
      vectors.forEach((p, l) => expect(p.reduce((s, x, i) => s + x * q[i]!, 0)).toBeCloseTo(k === l ? 1 : 0, 13));
    });
  });
});

describe("analyseSpd", () => {
  it("is invariant under diagonal rescaling, even across 24 orders of magnitude", () => {
    const a = [
      [2, 1],
      [1, 2],
    ];
    const s = [1e12, 1e-12];
    const f = analyseSpd(scaleMat(a, s));
    expect(f.kind).toBe("positive-definite");
    if (f.kind === "positive-definite") {
      const x = spdSolve(f.factor, [3e12, 3e-12]); // A (s⁻¹·1) = s·3
      x.forEach((v, i) => expect(v * s[i]!).toBeCloseTo(1, 13));
    }
    expect(
      analyseSpd(
        scaleMat(
          [
            [1, 1],
            [1, 1],
          ],
          s,
        ),
      ).kind,
    ).toBe("singular");
    expect(
      analyseSpd(
        scaleMat(
          [
            [1, 2],
            [2, 1],
          ],
          s,
        ),
      ).kind,
    ).toBe("not-positive-definite");
  });
});
