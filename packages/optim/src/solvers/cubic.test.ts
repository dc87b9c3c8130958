import { describe, expect, it } from "vitest";
import { cubicRates } from "./cubic";
import type { CubicRatesResult } from "./cubic";
import { SolverInputError } from "./errors";
import { cubicModel } from "./model";
import { gaussSolve } from "./testkit";

const EPS = Number.EPSILON;

function ok(res: CubicRatesResult): Extract<CubicRatesResult, { kind: "ok" }> {
  if (res.kind !== "ok") throw new Error(`expected an ok result, got ${JSON.stringify(res)}`);
  return res;
}

function expectClose(actual: readonly number[], expected: readonly number[], rtol = 1e-13): void {
  expect(actual).toHaveLength(expected.length);
  const scale = Math.max(...expected.map(Math.abs), Number.MIN_VALUE);
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(rtol * scale));
}

describe("cubicRates: exact special cases", () => {
  it("pins docs/math.md's instance H̄ = diag(−1, 2, 3), d = 1, ḡ = (0, 20, 20), λ_int = 1: r = 5.474860754766346", () => {
    const res = ok(
      cubicRates(
        [
          [-1, 0, 0],
          [0, 2, 0],
          [0, 0, 3],
        ],
        [0, 20, 20],
        [1, 1, 1],
        1,
      ),
    );
    const pinned = 5.474860754766346;
    expect(Math.abs(res.r - pinned)).toBeLessThanOrEqual(2 * EPS * pinned);
    // b ⊥ the κ₁ eigenvector, but ‖b_⊥/(κ_⊥ + 1)‖ = 25/3 > x0 = 2: the root is interior.
    expect(res.case).toBe("indefinite");
    expect(res.eta[0]).toBe(0);
    expectClose(res.eta, [0, 20 / (2 + res.r / 2), 20 / (3 + res.r / 2)]);
  });

  it("solves a true hard case: H̄ = diag(−1, 2, 3), ḡ = (0, 1, 1) gives r = −κ₁/c = 2", () => {
    const res = ok(
      cubicRates(
        [
          [-1, 0, 0],
          [0, 2, 0],
          [0, 0, 3],
        ],
        [0, 1, 1],
        [1, 1, 1],
        1,
      ),
    );
    expect(res.case).toBe("hard");
    expect(res.r).toBe(2);
    // (H̄ + ½·2·I) η = ḡ on the complement, |η₁| = √(4 − 1/9 − 1/16) along the κ₁ eigenvector.
    expectClose(res.eta.map(Math.abs), [Math.sqrt(4 - 1 / 9 - 1 / 16), 1 / 3, 1 / 4]);
    // Both signs of η₁ are global minimisers.
    const t = (eta: number[]) =>
      cubicModel(
        [
          [-1, 0, 0],
          [0, 2, 0],
          [0, 0, 3],
        ],
        [0, 1, 1],
        [1, 1, 1],
        1,
        eta,
      );
    const flipped = [-res.eta[0]!, res.eta[1]!, res.eta[2]!];
    expect(Math.abs(t(res.eta) - t(flipped))).toBeLessThanOrEqual(1e-15);
  });

  it("handles a hard case with a repeated κ₁ and anisotropic d (η = D⁻¹ y)", () => {
    const d = [2, 0.5, 1];
    const h = [
      [-4, 0, 0],
      [0, -0.25, 0],
      [0, 0, 5],
    ]; // K = D⁻¹HD⁻¹ = diag(−1, −1, 5)
    const res = ok(
      cubicRates(
        h,
        [0, 0, 3],
        d.map((x) => x ** 3),
        2,
      ),
    );
    expect(res.case).toBe("hard");
    expect(res.r).toBe(1); // x0 = −κ₁/c = 1/1
    const y = res.eta.map((v, i) => v * d[i]!);
    expect(Math.abs(Math.hypot(...y) - 1)).toBeLessThanOrEqual(4 * EPS);
    expectClose([y[2]!], [3 / 6]); // y₃ = b₃/(κ₃ + μ) = 3/(5 + 1)
  });

  it("S = 1 without a cubic term is η = ḡ/H̄ exactly (trivial partition)", () => {
    for (const [h, g] of [
      [2, 3],
      [0.1, -7],
      [3e7, 1e-3],
      [1e-9, 5],
    ] as const) {
      const res = ok(cubicRates([[h]], [g], [0], 1));
      expect(res).toEqual({ kind: "ok", eta: [g / h], r: 0, case: "quadratic" });
    }
  });

  it("S = 1 with a cubic term solves c d³ η|η| + hη = g in closed form", () => {
    for (const [h, g, o3, lambda] of [
      [2, 3, 8, 1],
      [-2, 3, -8, 1],
      [5, -1e-3, 1e3, 0.1],
      [-1e3, 2, 1e-2, 3],
    ] as const) {
      const res = ok(cubicRates([[h]], [g], [o3], lambda));
      const k = (lambda / 2) * Math.abs(o3); // c d³
      // |η| is the positive root of k x² + h x − |ḡ| = 0, in its cancellation-free form.
      const disc = Math.sqrt(h * h + 4 * k * Math.abs(g));
      const x = h >= 0 ? (2 * Math.abs(g)) / (h + disc) : (disc - h) / (2 * k);
      const expected = Math.sign(g) * x;
      expectClose(res.eta, [expected], 1e-14);
      expect(res.case).toBe(h > 0 ? "positive-definite" : "indefinite");
    }
  });

  it("all d = 0 with H̄ positive definite gives H̄⁻¹ḡ", () => {
    const h = [
      [4, 1, 0.5],
      [1, 3, -0.2],
      [0.5, -0.2, 2],
    ];
    const g = [1, -2, 0.5];
    const res = ok(cubicRates(h, g, [0, 0, 0], 1));
    expect(res.case).toBe("quadratic");
    expect(res.r).toBe(0);
    expectClose(res.eta, gaussSolve(h, g)!);
  });

  it("ḡ = 0: η = 0 when H̄ ⪰ 0, and a negative-curvature step of length −κ₁/c otherwise", () => {
    expect(
      cubicRates(
        [
          [2, 1],
          [1, 3],
        ],
        [0, 0],
        [1, 1],
        1,
      ),
    ).toEqual({
      kind: "ok",
      eta: [0, 0],
      r: 0,
      case: "positive-definite",
    });
    const res = ok(
      cubicRates(
        [
          [1, 0],
          [0, -3],
        ],
        [0, 0],
        [1, 1],
        2,
      ),
    );
    expect(res.case).toBe("hard");
    expect(res.r).toBe(3);
    expect(res.eta[0]).toBe(0);
    expect(Math.abs(res.eta[1]!)).toBe(3);
  });

  it("eliminates a d = 0 group by a Schur complement", () => {
    // Group 1 is quadratic; η₁ = (ḡ₁ − H₁₀η₀)/H₁₁ and η₀ solves the reduced scalar cubic.
    const h = [
      [1, 1],
      [1, 2],
    ];
    const g = [1, 1];
    const res = ok(cubicRates(h, g, [1, 0], 1));
    // Schur: h' = 1 − 1/2 = 1/2, g' = 1 − 1/2 = 1/2, c d³ = 1/2: ½η² + ½η − ½ = 0.
    const eta0 = (-1 + Math.sqrt(5)) / 2;
    expectClose(res.eta, [eta0, (1 - eta0) / 2]);
    expectClose([res.r], [eta0]);
  });

  it("reports unbounded models, with a direction of non-positive curvature supported on d = 0", () => {
    const neg = cubicRates(
      [
        [1, 0],
        [0, -1],
      ],
      [1, 1],
      [1, 0],
      1,
    );
    expect(neg).toMatchObject({ kind: "unbounded", direction: [0, 1] });
    // H̄_ZZ = 0 with ḡ_Z ≠ 0: linear decrease along e₁ (direction signed so that ḡᵀdirection ≥ 0).
    const flat = cubicRates(
      [
        [1, 0],
        [0, 0],
      ],
      [1, -2],
      [1, 0],
      1,
    );
    expect(flat).toMatchObject({ kind: "unbounded", direction: [0, -1] });
    // H̄_ZZ = 0, ḡ_Z = 0 but coupled to a cubic group: T(η₀, t) = … + t·η₀·H₀₁ is unbounded.
    const coupled = cubicRates(
      [
        [1, 1],
        [1, 0],
      ],
      [1, 0],
      [1, 0],
      1,
    );
    expect(coupled.kind).toBe("unbounded");
    // Indefinite H̄_ZZ block with a positive diagonal.
    const block = cubicRates(
      [
        [1, 0, 0],
        [0, 1, 2],
        [0, 2, 1],
      ],
      [1, 1, 1],
      [1, 0, 0],
      1,
    );
    expect(block.kind).toBe("unbounded");
    if (block.kind === "unbounded") {
      const v = block.direction;
      expect(v[0]).toBe(0);
      expect(v[1]! * v[1]! + 4 * v[1]! * v[2]! + v[2]! * v[2]!).toBeLessThan(0);
      expect(block.reason).toMatch(/indices 1, 2/);
    }
  });

  it("gives η_s = 0 to inert groups (u_s = 0: zero row of H̄, ḡ_s = 0, d_s = 0)", () => {
    const res = ok(
      cubicRates(
        [
          [2, 0, 1],
          [0, 0, 0],
          [1, 0, 3],
        ],
        [1, 0, 2],
        [1, 0, 1],
        1,
      ),
    );
    expect(res.eta[1]).toBe(0);
    const without = ok(
      cubicRates(
        [
          [2, 1],
          [1, 3],
        ],
        [1, 2],
        [1, 1],
        1,
      ),
    );
    expectClose([res.eta[0]!, res.eta[2]!], without.eta, 1e-15);
    expect(cubicRates([[0]], [0], [0], 1)).toEqual({ kind: "ok", eta: [0], r: 0, case: "quadratic" });
  });

  it("accepts typed arrays and symmetrises H̄ within the tolerance", () => {
    const res = ok(cubicRates([Float64Array.of(2, 1), Float64Array.of(1 + 1e-6, 3)], Float64Array.of(1, 1), [1, 1], 1));
    const ref = ok(
      cubicRates(
        [
          [2, 1 + 5e-7],
          [1 + 5e-7, 3],
        ],
        [1, 1],
        [1, 1],
        1,
      ),
    );
    expect(res.eta).toEqual(ref.eta);
  });
});

describe("cubicRates: malformed input", () => {
  const h = [
    [1, 0],
    [0, 1],
  ];
  it.each([
    [
      "mismatched H̄",
      () =>
        cubicRates(
          [
            [1, 0, 0],
            [0, 1, 0],
            [0, 0, 1],
          ],
          [1, 1],
          [1, 1],
          1,
        ),
      /hbar has 3 rows but gbar has 2 entries/,
    ],
    ["ragged H̄", () => cubicRates([[1, 0], [0]], [1, 1], [1, 1], 1), /hbar\[1\] has 1 entries but hbar must be 2×2/],
    ["short order3Diag", () => cubicRates(h, [1, 1], [1], 1), /order3Diag has 1 entries but gbar has 2/],
    ["NaN in ḡ", () => cubicRates(h, [1, Number.NaN], [1, 1], 1), /gbar\[1\] is NaN/],
    [
      "Infinity in H̄",
      () =>
        cubicRates(
          [
            [1, 0],
            [0, Infinity],
          ],
          [1, 1],
          [1, 1],
          1,
        ),
      /hbar\[1\]\[1\] is Infinity/,
    ],
    [
      "non-symmetric H̄",
      () =>
        cubicRates(
          [
            [1, 2],
            [0, 1],
          ],
          [1, 1],
          [1, 1],
          1,
        ),
      /not symmetric: hbar\[0\]\[1\] = 2 but hbar\[1\]\[0\] = 0/,
    ],
    ["λ_int = 0", () => cubicRates(h, [1, 1], [1, 1], 0), /lambdaInt must be a finite number > 0/],
    ["empty", () => cubicRates([], [], [], 1), /at least one group/],
  ])("%s throws a SolverInputError naming the problem", (_name, call, message) => {
    expect(call).toThrow(SolverInputError);
    expect(call).toThrow(message);
  });
});

describe("cubicModel", () => {
  it("evaluates T(η) = −ḡᵀη + ½ηᵀH̄η + (λ/6)‖Dη‖³", () => {
    // d = (2, 1): ‖Dη‖ = ‖(2, −1)‖ = √5.
    const t = cubicModel(
      [
        [1, 2],
        [2, -1],
      ],
      [3, 1],
      [-8, 1],
      3,
      [1, -1],
    );
    expect(t).toBeCloseTo(-(3 - 1) + 0.5 * (1 - 4 - 1) + 0.5 * 5 ** 1.5, 14);
  });
});
