import { describe, expect, it } from "vitest";
import { SECULAR_MAX_ITERATIONS, solveSecular } from "./secular";
import { Rng } from "./testkit";

const phi = (gaps: number[], b: number[], t: number) =>
  Math.hypot(...b.map((bi, i) => (bi === 0 ? 0 : bi / (gaps[i]! + t))));

describe("solveSecular", () => {
  it("finds ‖b/(gaps + t)‖ = (t + shift)/c to rounding, with few iterations", () => {
    const rng = new Rng(7);
    let worstIterations = 0;
    for (let k = 0; k < 300; k++) {
      const n = rng.int(1, 12);
      const shift = rng.bool(0.5) ? 0 : rng.logUniform(-3, 3);
      const gaps = Array.from({ length: n }, (_, i) => (i === 0 && shift > 0 ? 0 : rng.logUniform(-3, 3)));
      const b = gaps.map(() => rng.normal() * rng.logUniform(-3, 3));
      const c = rng.logUniform(-2, 2);
      const sol = solveSecular({ gaps, b, c, shift });
      expect(sol.kind).toBe("interior");
      if (sol.kind !== "interior") continue;
      worstIterations = Math.max(worstIterations, sol.iterations);
      const lhs = phi(gaps, b, sol.t);
      const rhs = (sol.t + shift) / c;
      expect(Math.abs(lhs - rhs)).toBeLessThanOrEqual(1e-13 * rhs);
    }
    expect(worstIterations).toBeLessThan(60);
  });

  it("reaches near-hard roots many orders of magnitude below the initial bracket", () => {
    for (const e of [1e-6, 1e-30, 1e-150, 1e-300]) {
      // gaps (0, 1), b = (e, 1), c = 1, shift = 4: ‖b_⊥/gaps_⊥‖ = 1 < 4, so t ≈ e/√15.
      const sol = solveSecular({ gaps: [0, 1], b: [e, 1], c: 1, shift: 4 });
      expect(sol.kind).toBe("interior");
      if (sol.kind !== "interior") continue;
      expect(sol.iterations).toBeLessThanOrEqual(SECULAR_MAX_ITERATIONS);
      expect(Math.abs(sol.t / (e / Math.sqrt(15)) - 1)).toBeLessThan(1e-6);
    }
  });

  it("detects the boundary (hard) case exactly", () => {
    expect(solveSecular({ gaps: [0, 3, 4], b: [0, 1, 1], c: 0.5, shift: 1 }).kind).toBe("boundary");
    expect(solveSecular({ gaps: [0, 3, 4], b: [0, 20, 20], c: 0.5, shift: 1 }).kind).toBe("interior");
    expect(solveSecular({ gaps: [0, 3], b: [0, 0], c: 1, shift: 1 }).kind).toBe("boundary");
  });
});
