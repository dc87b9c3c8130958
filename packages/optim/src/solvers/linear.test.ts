import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SolverInputError } from "./errors";
import { groupLearningRates } from "./linear";
import { fromEigen, gaussSolve, matvec, normv, randomOrthogonal, Rng, scaleMat } from "./testkit";

describe("groupLearningRates", () => {
  it("matches a hand solve on 2×2 (Cramer) and 3×3 matrices", () => {
    // [[4, 1], [1, 3]] η = (1, 2): det = 11, η = ((3 − 2)/11, (8 − 1)/11).
    const r2 = groupLearningRates(
      [1, 2],
      [
        [4, 1],
        [1, 3],
      ],
    );
    expect(r2.kind).toBe("ok");
    if (r2.kind === "ok") {
      expect(r2.eta[0]).toBeCloseTo(1 / 11, 15);
      expect(r2.eta[1]).toBeCloseTo(7 / 11, 15);
    }
    // [[2, −1, 0], [−1, 2, −1], [0, −1, 2]] η = (1, 0, 1) has η = (1, 1, 1).
    const r3 = groupLearningRates(
      [1, 0, 1],
      [
        [2, -1, 0],
        [-1, 2, -1],
        [0, -1, 2],
      ],
    );
    expect(r3.kind).toBe("ok");
    if (r3.kind === "ok") r3.eta.forEach((v) => expect(v).toBeCloseTo(1, 14));
  });

  it("is ḡ/H̄ exactly for one group (trivial partition: Cauchy's step)", () => {
    for (const [g, h] of [
      [3, 2],
      [-7, 0.1],
      [1e-3, 3e7],
      [5, 1e-9],
      [1, 3],
    ] as const) {
      expect(groupLearningRates([g], [[h]])).toEqual({ kind: "ok", eta: [g / h] });
    }
  });

  it("tags singular and indefinite H̄, with a direction of non-positive curvature", () => {
    const singular = groupLearningRates(
      [1, 1],
      [
        [1, 1],
        [1, 1],
      ],
    );
    expect(singular.kind).toBe("singular");
    if (singular.kind === "singular") {
      const [a, b] = singular.direction as [number, number];
      expect(Math.abs(a + b)).toBeLessThan(1e-15);
    }
    expect(
      groupLearningRates(
        [1, 1],
        [
          [0, 0],
          [0, 2],
        ],
      ).kind,
    ).toBe("singular");
    expect(
      groupLearningRates(
        [1, 1],
        [
          [1, 0],
          [0, -1],
        ],
      ).kind,
    ).toBe("not-positive-definite");
    expect(
      groupLearningRates(
        [1, 1],
        [
          [-1, 0],
          [0, 2],
        ],
      ),
    ).toMatchObject({ kind: "not-positive-definite", direction: [1, 0] });
    const zeroDiag = groupLearningRates(
      [1, 1],
      [
        [0, 1],
        [1, 2],
      ],
    );
    expect(zeroDiag.kind).toBe("not-positive-definite");
    if (zeroDiag.kind !== "ok") {
      const [a, b] = zeroDiag.direction as [number, number];
      expect(2 * a * b + 2 * b * b).toBeLessThan(0);
    }
    expect(
      groupLearningRates(
        [1, 1, 1],
        [
          [2, 1, 0],
          [1, 2, 0],
          [0, 0, -1e-300],
        ],
      ).kind,
    ).toBe("not-positive-definite");
  });

  it("property: H̄η = ḡ for random SPD H̄, and η is invariant under per-group rescaling", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.integer(), (n, seed) => {
        const rng = new Rng(seed);
        const h = fromEigen(
          randomOrthogonal(rng, n),
          Array.from({ length: n }, () => rng.logUniform(-3, 3)),
        );
        const g = Array.from({ length: n }, () => (rng.bool(0.2) ? 0 : rng.normal()));
        const res = groupLearningRates(g, h);
        expect(res.kind).toBe("ok");
        if (res.kind !== "ok") return;
        const ref = gaussSolve(h, g)!;
        const err = normv(res.eta.map((v, i) => v - ref[i]!)) / Math.max(normv(ref), 1e-300);
        expect(err).toBeLessThan(1e-9);
        const a2 = Array.from({ length: n }, () => rng.logUniform(-4, 4));
        const scaled = groupLearningRates(
          g.map((v, i) => v * a2[i]!),
          scaleMat(h, a2),
        );
        expect(scaled.kind).toBe("ok");
        if (scaled.kind !== "ok") return;
        const back = scaled.eta.map((v, i) => v * a2[i]!);
        // Compare in the H̄-norm, which is invariant under the rescaling.
        const diff = back.map((v, i) => v - res.eta[i]!);
        const hn = (x: number[]) =>
          Math.sqrt(
            Math.max(
              0,
              x.reduce((s, v, i) => s + v * matvec(h, x)[i]!, 0),
            ),
          );
        expect(hn(diff)).toBeLessThanOrEqual(1e-9 * Math.max(hn(res.eta), 1e-300));
      }),
      { seed: 20240611, numRuns: 200 },
    );
  });

  it("throws a SolverInputError for malformed input", () => {
    expect(() =>
      groupLearningRates(
        [1, 2],
        [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ],
      ),
    ).toThrow(/groupLearningRates: hbar has 3 rows but gbar has 2 entries/);
    expect(() =>
      groupLearningRates(
        [1, 2],
        [
          [1, 0.5],
          [0.4, 1],
        ],
      ),
    ).toThrow(SolverInputError);
    expect(() =>
      groupLearningRates(
        [1, Number.POSITIVE_INFINITY],
        [
          [1, 0],
          [0, 1],
        ],
      ),
    ).toThrow(/gbar\[1\] is Infinity/);
    // A looser tolerance accepts a float32-noisy H̄ (and symmetrises it).
    expect(
      groupLearningRates(
        [1, 2],
        [
          [1, 0.5],
          [0.4, 1],
        ],
        { symmetryRtol: 0.5 },
      ).kind,
    ).toBe("ok");
  });
});
