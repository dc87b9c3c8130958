/**
 * Partitioned derivatives of a tiny MLP and a tiny CNN against brute force: the full gradient,
 * Hessian and order-3 tensor of the loss of the flat parameter vector (core transforms), contracted
 * with a hand-built V in float64.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import { canonical, discrete, partitionedDerivative, summaries, weightsBiases, type Partition } from "./index";
import {
  closeScaled,
  contract1,
  contract2,
  contract3,
  flatOf,
  groupColumns,
  leafRanges,
  nested,
  tinyCnn,
  tinyMlp,
  type Params,
  type TinyModel,
} from "./fixtures";

interface Truth {
  g: number[];
  H: number[][];
  T: number[][][];
}

const diag2 = (m: number[][]) => m.map((r, i) => r[i]!);
const diag3 = (t: number[][][]) => t.map((m, i) => m[i]![i]!);

for (const [name, make] of [
  ["tiny MLP", tinyMlp],
  ["tiny CNN", tinyCnn],
] as const) {
  describe(`${name}: partitioned derivatives against brute force`, () => {
    let m: TinyModel;
    let params: Params;
    let dir: Params;
    let thetaFlat: Value;
    let gradFlat: Float64Array;
    let hess: Float64Array;
    let third: Float64Array;
    let u: Float64Array;
    const loss = (p: Params) => m.loss(p);

    beforeAll(() => {
      m = make();
      params = m.params();
      // A direction with no relation to the gradient, so that every group contributes differently.
      const uFlat = hd.random.normal(hd.random.key(99), [m.size]);
      dir = m.treeOf(uFlat);
      u = Float64Array.from(hd.toFlat(uFlat));
      thetaFlat = hd.array(Array.from(flatOf(params, m.paths)));
      hd.dispose(uFlat);
      const g = hd.grad(m.lossFlat)(thetaFlat) as Value;
      const H = hd.hessian(m.lossFlat)(thetaFlat) as Value;
      const T = hd.jacfwd(hd.hessian(m.lossFlat))(thetaFlat) as Value;
      expect(hd.shapeOf(H)).toEqual([m.size, m.size]);
      expect(hd.shapeOf(T)).toEqual([m.size, m.size, m.size]);
      gradFlat = Float64Array.from(hd.toFlat(g));
      hess = Float64Array.from(hd.toFlat(H));
      third = Float64Array.from(hd.toFlat(T));
      hd.dispose([g, H, T]);
    });
    afterAll(() => hd.dispose([params, dir, thetaFlat]));

    const truth = (groups: number[][]): Truth => {
      const V = groupColumns(u, leafRanges(m.shapes), groups);
      return { g: contract1(gradFlat, V), H: contract2(hess, V), T: contract3(third, V) };
    };

    // Leaves in flatten order: [layer1.w, layer1.b, layer2.w, layer2.b].
    const partitions: [string, (p: Params) => Partition, number[][]][] = [
      ["canonical", canonical, [[0], [1], [2], [3]]],
      [
        "weightsBiases",
        weightsBiases,
        [
          [0, 2],
          [1, 3],
        ],
      ],
    ];

    it("the brute-force Hessian and order-3 tensor are symmetric (sanity check of the ground truth)", () => {
      const P = m.size;
      let hs = 0;
      let ts = 0;
      for (let i = 0; i < P; i++)
        for (let j = 0; j < P; j++) {
          hs = Math.max(hs, Math.abs(hess[i * P + j]! - hess[j * P + i]!));
          for (let k = 0; k < P; k++)
            ts = Math.max(ts, Math.abs(third[(i * P + j) * P + k]! - third[(k * P + i) * P + j]!));
        }
      expect(hs).toBeLessThan(1e-4);
      expect(ts).toBeLessThan(1e-3);
      expect(third.some((x) => x !== 0)).toBe(true);
    });

    it("discrete partition: ḡ = ∇L ∘ u, H̄ = H ∘ uuᵀ, diagonals H_ii u_i² and T_iii u_i³", () => {
      const part = discrete(params);
      const P = m.size;
      expect(part.size).toBe(P);
      const gbar = partitionedDerivative(1, part)(loss)(params, dir);
      const hbar = partitionedDerivative(2, part)(loss)(params, dir);
      const d2 = partitionedDerivative(2, part, { diagonal: true })(loss)(params, dir);
      const d3 = partitionedDerivative(3, part, { diagonal: true })(loss)(params, dir);
      const s = summaries(loss as (p: never) => Value, part)(params, dir);
      const idx = [...Array(P).keys()];
      const wantG = idx.map((i) => gradFlat[i]! * u[i]!);
      const wantH = idx.map((i) => idx.map((j) => hess[i * P + j]! * u[i]! * u[j]!));
      const wantD3 = idx.map((i) => third[(i * P + i) * P + i]! * u[i]! ** 3);
      expect(closeScaled(nested(gbar), wantG, 1e-4, 1e-6)).toBeNull();
      expect(closeScaled(nested(hbar), wantH, 1e-3)).toBeNull();
      expect(closeScaled(nested(d2), diag2(wantH), 1e-3)).toBeNull();
      expect(closeScaled(nested(d3), wantD3, 1e-2)).toBeNull();
      expect(closeScaled(s.gbar, wantG, 1e-4, 1e-6)).toBeNull();
      expect(closeScaled(s.hbar, wantH, 1e-3)).toBeNull();
      expect(closeScaled(s.order3Diag, wantD3, 1e-2)).toBeNull();
      hd.dispose([gbar, hbar, d2, d3]);
    });

    for (const [pname, build, groups] of partitions) {
      describe(pname, () => {
        let part: Partition;
        let want: Truth;
        beforeAll(() => {
          part = build(params);
          want = truth(groups);
          expect(part.groups.map((g) => g.paths)).toEqual(groups.map((ls) => ls.map((l) => m.paths[l])));
        });

        it("order 1: ḡ_s = ⟨∇_{T_s} L, u_{T_s}⟩", () => {
          const got = partitionedDerivative(1, part)(loss)(params, dir);
          expect(hd.shapeOf(got)).toEqual([part.size]);
          expect(closeScaled(nested(got), want.g, 1e-4, 1e-6)).toBeNull();
          hd.dispose(got);
        });

        it("order 2: H̄ = Vᵀ H V", () => {
          const got = partitionedDerivative(2, part)(loss)(params, dir);
          expect(hd.shapeOf(got)).toEqual([part.size, part.size]);
          expect(closeScaled(nested(got), want.H, 1e-3)).toBeNull();
          hd.dispose(got);
        });

        it("order 3: D̄(3) = T[V, V, V]", () => {
          const got = partitionedDerivative(3, part)(loss)(params, dir);
          expect(hd.shapeOf(got)).toEqual([part.size, part.size, part.size]);
          expect(closeScaled(nested(got), want.T, 1e-2)).toBeNull();
          hd.dispose(got);
        });

        it("diagonal option: the diagonals of H̄ and D̄(3), and ḡ at order 1", () => {
          const d1 = partitionedDerivative(1, part, { diagonal: true })(loss)(params, dir);
          const d2 = partitionedDerivative(2, part, { diagonal: true })(loss)(params, dir);
          const d3 = partitionedDerivative(3, part, { diagonal: true })(loss)(params, dir);
          expect(hd.shapeOf(d2)).toEqual([part.size]);
          expect(hd.shapeOf(d3)).toEqual([part.size]);
          expect(closeScaled(nested(d1), want.g, 1e-4, 1e-6)).toBeNull();
          expect(closeScaled(nested(d2), diag2(want.H), 1e-3)).toBeNull();
          expect(closeScaled(nested(d3), diag3(want.T), 1e-2)).toBeNull();
          hd.dispose([d1, d2, d3]);
        });

        it("summaries: loss, ḡ, H̄ and the order-3 diagonal", () => {
          const s = summaries(loss as (p: never) => Value, part)(params, dir);
          const l = hd.tidy(() => m.lossFlat(thetaFlat));
          expect(s.loss).toBeCloseTo(hd.item(l), 5);
          hd.dispose(l);
          expect(closeScaled(s.gbar, want.g, 1e-4, 1e-6)).toBeNull();
          expect(closeScaled(s.hbar, want.H, 1e-3)).toBeNull();
          expect(closeScaled(s.order3Diag, diag3(want.T), 1e-2)).toBeNull();
          // H̄ from summaries is exactly symmetric.
          s.hbar.forEach((row, i) => row.forEach((x, j) => expect(x).toBe(s.hbar[j]![i]!)));
        });
      });
    }
  });
}
