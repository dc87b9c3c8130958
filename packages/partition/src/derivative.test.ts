/**
 * partitionedDerivative and taylorTerms: orders 1–4 against closed forms of polynomial losses, and
 * the structural properties of D̄(d) (symmetry, homogeneity, block sums of finer partitions, the
 * trivial partition, the Taylor series), chunking, and argument checks.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import {
  PartitionError,
  canonical,
  fromGroups,
  partitionedDerivative,
  summaries,
  taylorTerms,
  trivial,
  weightsBiases,
  type Partition,
} from "./index";
import {
  closeScaled,
  maxAbs,
  nested,
  polynomialDerivative,
  polynomialLoss,
  tinyMlp,
  type Leaves,
  type Params,
  type Polynomial,
  type TinyModel,
} from "./fixtures";

// ——— Closed forms ———

/** L = (Σ c a²)(Σ c b³) + Σ c a⁴ + (Σ a)(Σ c b²)(Σ c c) + (Σ c c³)(Σ c): degree 5, couples all three leaves. */
const POLY: Polynomial = [
  [
    { leaf: "a", coefs: [0.5, -1, 2], k: 2 },
    { leaf: "b", coefs: [1, 0.7], k: 3 },
  ],
  [{ leaf: "a", coefs: [0.3, 0.2, -0.4], k: 4 }],
  [
    { leaf: "a", coefs: [1, 1, 1], k: 1 },
    { leaf: "b", coefs: [0.5, -0.5], k: 2 },
    { leaf: "c", coefs: [1, 2], k: 1 },
  ],
  [
    { leaf: "c", coefs: [0.6, -0.3], k: 3 },
    { leaf: "c", coefs: [1, 1], k: 1 },
  ],
];
const THETA = { a: [0.8, -0.5, 1.2], b: [0.3, -1.1], c: [0.7, 0.4] };
const U = { a: [0.5, 1, -0.3], b: [-0.6, 0.9], c: [1.1, -0.2] };

const tree = (x: Record<string, number[]>): Leaves => ({ a: hd.array(x.a!), b: hd.array(x.b!), c: hd.array(x.c!) });

describe("closed forms: polynomial losses, orders 1–4", () => {
  const f = polynomialLoss(POLY);
  let params: Leaves;
  let dir: Leaves;
  beforeAll(() => {
    params = tree(THETA);
    dir = tree(U);
  });
  afterAll(() => hd.dispose([params, dir]));

  const cases: [string, (p: Leaves) => Partition, Record<string, number>, number][] = [
    ["canonical (a | b | c)", canonical, { a: 0, b: 1, c: 2 }, 3],
    [
      "fromGroups (a, b | c)",
      (p) =>
        fromGroups(p, [
          { label: "ab", paths: ["a", "b"] },
          { label: "c", paths: ["c"] },
        ]),
      { a: 0, b: 0, c: 1 },
      2,
    ],
    [
      "fromGroups (c | a | b), reordered",
      (p) =>
        fromGroups(p, [
          { label: "c", paths: ["c"] },
          { label: "a", paths: ["a"] },
          { label: "b", paths: ["b"] },
        ]),
      { a: 1, b: 2, c: 0 },
      3,
    ],
    ["trivial", trivial, { a: 0, b: 0, c: 0 }, 1],
  ];

  for (const [name, build, groupOf, S] of cases) {
    it(`${name}: D̄(1…4) and their diagonals match the closed form`, () => {
      const part = build(params);
      expect(part.size).toBe(S);
      for (let d = 1; d <= 4; d++) {
        const want = polynomialDerivative(POLY, THETA, U, groupOf, S, d);
        expect(maxAbs(want)).toBeGreaterThan(0.1);
        const got = partitionedDerivative(d, part)(f)(params, dir);
        expect(hd.shapeOf(got)).toEqual(Array(d).fill(S));
        expect(closeScaled(nested(got), want, 1e-4), `order ${d}`).toBeNull();
        const diag = partitionedDerivative(d, part, { diagonal: true })(f)(params, dir);
        const wantDiag = Array.from({ length: S }, (_, s) => {
          let x: unknown = want;
          for (let j = 0; j < d; j++) x = (x as unknown[])[s];
          return x as number;
        });
        expect(closeScaled(nested(diag), wantDiag, 1e-4, 1e-4), `diagonal order ${d}`).toBeNull();
        // One group per Taylor-mode pass gives the same diagonal.
        const diag1 = partitionedDerivative(d, part, { diagonal: true, chunkSize: 1 })(f)(params, dir);
        expect(closeScaled(nested(diag1), wantDiag, 1e-4, 1e-4), `diagonal order ${d}, chunk 1`).toBeNull();
        hd.dispose([got, diag, diag1]);
      }
    });
  }

  it("order 5 is the constant top coefficient, order 6 vanishes", () => {
    const part = canonical(params);
    const want5 = polynomialDerivative(POLY, THETA, U, { a: 0, b: 1, c: 2 }, 3, 5);
    const d5 = partitionedDerivative(5, part, { diagonal: true })(f)(params, dir);
    expect(
      closeScaled(
        nested(d5),
        [0, 1, 2].map((s) => (want5 as never)[s][s][s][s][s] as number),
        1e-2,
        1e-3,
      ),
    ).toBeNull();
    const d6 = partitionedDerivative(6, part, { diagonal: true })(f)(params, dir);
    expect(maxAbs(nested(d6))).toBeLessThan(1e-3);
    hd.dispose([d5, d6]);
  });

  it("taylorTerms equals the closed-form DᵈL(θ)[u,…,u] (the trivial partition's closed form)", () => {
    const terms = taylorTerms(4)(f)(params, dir);
    expect(hd.shapeOf(terms)).toEqual([4]);
    const want = [1, 2, 3, 4].map((d) => {
      let x: unknown = polynomialDerivative(POLY, THETA, U, { a: 0, b: 0, c: 0 }, 1, d);
      while (Array.isArray(x)) x = x[0];
      return x as number;
    });
    expect(closeScaled(nested(terms), want, 1e-4)).toBeNull();
    hd.dispose(terms);
  });

  it("summaries match the closed form too (loss, ḡ, H̄, order-3 diagonal)", () => {
    const s = summaries(f as (p: never) => Value, canonical(params))(params, dir);
    const g = { a: 0, b: 1, c: 2 };
    const loss = POLY.reduce(
      (acc, term) =>
        acc +
        term.reduce(
          (prod, { leaf, coefs, k }) => prod * coefs.reduce((t, c, i) => t + c * THETA[leaf as "a"][i]! ** k, 0),
          1,
        ),
      0,
    );
    expect(s.loss).toBeCloseTo(loss, 4);
    expect(closeScaled(s.gbar, polynomialDerivative(POLY, THETA, U, g, 3, 1), 1e-4)).toBeNull();
    expect(closeScaled(s.hbar, polynomialDerivative(POLY, THETA, U, g, 3, 2), 1e-4)).toBeNull();
    const t = polynomialDerivative(POLY, THETA, U, g, 3, 3) as number[][][];
    expect(
      closeScaled(
        s.order3Diag,
        [0, 1, 2].map((i) => t[i]![i]![i]!),
        1e-3,
      ),
    ).toBeNull();
  });
});

// ——— Structural properties on a tiny MLP ———

const PERMS3 = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];
const permutations = (n: number): number[][] =>
  n === 1
    ? [[0]]
    : permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));

/** Every index tuple of an S^d tensor. */
const indices = (S: number, d: number): number[][] =>
  d === 0 ? [[]] : indices(S, d - 1).flatMap((idx) => Array.from({ length: S }, (_, s) => [...idx, s]));
const at = (t: unknown, idx: number[]): number => idx.reduce((x: unknown, i) => (x as unknown[])[i], t) as number;

/** Block sums: coarse[I…] = Σ fine[i…] over i_j in the fine groups that make up coarse group I_j. */
function blockSum(fine: unknown, members: number[][], d: number): unknown {
  const S = members.length;
  const build = (prefix: number[]): unknown =>
    prefix.length === d
      ? sumOver(prefix.map((I) => members[I]!))
      : Array.from({ length: S }, (_, s) => build([...prefix, s]));
  const sumOver = (sets: number[][]): number => {
    let total = 0;
    const go = (k: number, idx: number[]) => {
      if (k === sets.length) total += at(fine, idx);
      else for (const i of sets[k]!) go(k + 1, [...idx, i]);
    };
    go(0, []);
    return total;
  };
  return build([]);
}

describe("structural properties on a tiny MLP", () => {
  let m: TinyModel;
  let params: Params;
  let dir: Params;
  const loss = (p: Params) => m.loss(p);
  beforeAll(() => {
    m = tinyMlp();
    params = m.params();
    const uFlat = hd.random.normal(hd.random.key(21), [m.size]);
    dir = m.treeOf(uFlat);
    hd.dispose(uFlat);
  });
  afterAll(() => hd.dispose([params, dir]));

  it("D̄(3) and D̄(4) are symmetric under every permutation of their indices", () => {
    const part = canonical(params);
    const t3 = partitionedDerivative(3, part)(loss)(params, dir);
    const t4 = partitionedDerivative(4, part)(loss)(params, dir);
    const n3 = nested(t3);
    const n4 = nested(t4);
    const tol3 = 1e-3 * maxAbs(n3);
    const tol4 = 1e-3 * maxAbs(n4);
    for (const idx of indices(4, 3)) {
      for (const p of PERMS3)
        expect(
          Math.abs(
            at(
              n3,
              p.map((j) => idx[j]!),
            ) - at(n3, idx),
          ),
        ).toBeLessThanOrEqual(tol3);
    }
    const perms4 = permutations(4);
    expect(perms4).toHaveLength(24);
    for (const idx of indices(4, 4)) {
      for (const p of perms4)
        expect(
          Math.abs(
            at(
              n4,
              p.map((j) => idx[j]!),
            ) - at(n4, idx),
          ),
        ).toBeLessThanOrEqual(tol4);
    }
    // Not symmetric by accident of being zero: off-diagonal interactions are present.
    const distinct = (t: unknown, d: number) =>
      Math.max(
        ...indices(4, d)
          .filter((idx) => new Set(idx).size === d)
          .map((idx) => Math.abs(at(t, idx))),
      );
    expect(distinct(n3, 3)).toBeGreaterThan(1e-2 * maxAbs(n3));
    expect(distinct(n4, 4)).toBeGreaterThan(1e-2 * maxAbs(n4));
    hd.dispose([t3, t4]);
  });

  it("homogeneity: scaling the direction by c scales order d by c^d", () => {
    const part = canonical(params);
    for (const c of [2, -0.5]) {
      const scaled = hd.treeMap((x: Value) => hd.mul(x, c), dir) as Params;
      for (let d = 1; d <= 3; d++) {
        const base = partitionedDerivative(d, part)(loss)(params, dir);
        const got = partitionedDerivative(d, part)(loss)(params, scaled);
        const want = hd.mul(base, c ** d);
        expect(hd.testing.allClose(got, want, { atol: 1e-4 * maxAbs(nested(want)), rtol: 1e-3 })).toBeNull();
        hd.dispose([base, got, want]);
      }
      hd.dispose(scaled);
    }
  });

  it("a coarser partition's tensor is the block sum of a finer one's: canonical → weightsBiases → trivial (orders 2, 3)", () => {
    const fine = canonical(params);
    const mid = weightsBiases(params);
    const coarse = trivial(params);
    expect(mid.groups.map((g) => g.paths)).toEqual([
      ["fc1.w", "fc2.w"],
      ["fc1.b", "fc2.b"],
    ]);
    for (const d of [2, 3]) {
      const tf = partitionedDerivative(d, fine)(loss)(params, dir);
      const tm = partitionedDerivative(d, mid)(loss)(params, dir);
      const tc = partitionedDerivative(d, coarse)(loss)(params, dir);
      const rtol = d === 2 ? 1e-3 : 1e-2;
      const fromFine = blockSum(
        nested(tf),
        [
          [0, 2],
          [1, 3],
        ],
        d,
      );
      expect(closeScaled(nested(tm), fromFine, rtol)).toBeNull();
      expect(closeScaled(nested(tc), blockSum(nested(tm), [[0, 1]], d), rtol)).toBeNull();
      expect(closeScaled(nested(tc), blockSum(nested(tf), [[0, 1, 2, 3]], d), rtol)).toBeNull();
      hd.dispose([tf, tm, tc]);
    }
  });

  it("trivial partition: D̄(d) is the 1×…×1 tensor DᵈL(θ)[u,…,u] = taylorTerms", () => {
    const terms = Array.from(hd.toFlat(taylorTerms(3)(loss)(params, dir)));
    const part = trivial(params);
    for (let d = 1; d <= 3; d++) {
      const t = partitionedDerivative(d, part)(loss)(params, dir);
      expect(hd.shapeOf(t)).toEqual(Array(d).fill(1));
      const x = hd.toFlat(t)[0]!;
      expect(Math.abs(x - terms[d - 1]!)).toBeLessThanOrEqual(1e-3 * Math.abs(terms[d - 1]!) + 1e-6);
      hd.dispose(t);
    }
  });

  it("L(θ + εu) = L(θ) + Σ_d εᵈ DᵈL[u…u]/d! + O(εⁿ⁺¹): the error shrinks by ≈ 2ⁿ⁺¹ when ε halves", () => {
    const part = canonical(params);
    // A shorter direction, so that at ε = 0.2 the O(εⁿ⁺¹) term dominates the error (D⁴L[u⁴] is large here).
    const short = hd.treeMap((x: Value) => hd.mul(x, 0.35), dir) as Params;
    // Full contractions: DᵈL(θ)[u,…,u] = Σ over all entries of D̄(d).
    const D = [1, 2, 3].map((d) => {
      const t = partitionedDerivative(d, part)(loss)(params, short);
      const s = Array.from(hd.toFlat(t)).reduce((a, b) => a + b, 0);
      hd.dispose(t);
      return s;
    });
    const L = (eps: number) =>
      hd.item(
        hd.tidy(() => loss(hd.treeMap((p: Value, u: Value) => hd.add(p, hd.mul(u, eps)), params, short) as Params)),
      );
    const L0 = L(0);
    const err = (eps: number, n: number) => {
      let series = L0;
      let fact = 1;
      for (let d = 1; d <= n; d++) {
        fact *= d;
        series += (eps ** d * D[d - 1]!) / fact;
      }
      return Math.abs(L(eps) - series);
    };
    for (let n = 1; n <= 3; n++) {
      const ratio = err(0.2, n) / err(0.1, n);
      const expected = 2 ** (n + 1);
      expect(ratio, `order ${n}: errors ${err(0.2, n)} and ${err(0.1, n)}`).toBeGreaterThan(expected / 1.5);
      expect(ratio, `order ${n}: errors ${err(0.2, n)} and ${err(0.1, n)}`).toBeLessThan(expected * 1.5);
    }
    hd.dispose(short);
  });

  it("rescaling groups (θ_s = a_s θ̃_s, u = gradient): ḡ → A ḡ, H̄ → A H̄ A, D̄(3)_sss → a_s⁶ D̄(3)_sss, A = diag(a²)", () => {
    const a = [2, 0.5, 3, 0.7];
    const scaleTree = (t: Params, pow: number) =>
      hd.tidy(() => {
        let s = 0;
        return hd.treeMap((x: Value) => hd.mul(x, a[s++]! ** pow), t) as Params;
      });
    const tilde = (q: Params) => loss(scaleTree(q, 1));
    const pt = scaleTree(params, -1);
    const part = canonical(params);
    const u = hd.grad(loss)(params) as Params;
    const ut = hd.grad(tilde)(pt) as Params;
    const base = summaries(loss as (p: never) => Value, part)(params, u);
    const got = summaries(tilde as (p: never) => Value, part)(pt, ut);
    const A = a.map((x) => x * x);
    expect(got.loss).toBeCloseTo(base.loss, 5);
    expect(
      closeScaled(
        got.gbar,
        base.gbar.map((g, s) => A[s]! * g),
        1e-4,
      ),
    ).toBeNull();
    expect(
      closeScaled(
        got.hbar,
        base.hbar.map((r, i) => r.map((h, j) => A[i]! * h * A[j]!)),
        1e-3,
      ),
    ).toBeNull();
    expect(
      closeScaled(
        got.order3Diag,
        base.order3Diag.map((d, s) => A[s]! ** 3 * d),
        1e-2,
      ),
    ).toBeNull();
    hd.dispose([pt, u, ut]);
  });

  describe("chunkSize gives the same results as no chunking", () => {
    let part: Partition;
    const full: Record<string, unknown> = {};
    beforeAll(() => {
      part = canonical(params);
      for (const [key, d, diagonal] of [
        ["2", 2, false],
        ["3", 3, false],
        ["3d", 3, true],
      ] as const) {
        const t = partitionedDerivative(d, part, { diagonal })(loss)(params, dir);
        full[key] = nested(t);
        hd.dispose(t);
      }
    });

    for (const chunk of [1, 3, 4, 100]) {
      it(`chunkSize ${chunk}`, () => {
        for (const [key, d, diagonal] of [
          ["2", 2, false],
          ["3", 3, false],
          ["3d", 3, true],
        ] as const) {
          const t = partitionedDerivative(d, part, { diagonal, chunkSize: chunk })(loss)(params, dir);
          expect(closeScaled(nested(t), full[key], 1e-5, 1e-7), `order ${d}${diagonal ? " diagonal" : ""}`).toBeNull();
          hd.dispose(t);
        }
        const s = summaries(loss as (p: never) => Value, part, { chunkSize: chunk })(params, dir);
        const s0 = summaries(loss as (p: never) => Value, part)(params, dir);
        expect(closeScaled(s.hbar, s0.hbar, 1e-5, 1e-7)).toBeNull();
        expect(closeScaled(s.order3Diag, s0.order3Diag, 1e-5, 1e-7)).toBeNull();
        expect(closeScaled(s.gbar, s0.gbar, 1e-6, 1e-8)).toBeNull();
        expect(s.loss).toBe(s0.loss);
        expect(closeScaled(s.hbar, full["2"], 1e-4, 1e-7)).toBeNull();
      });
    }
  });

  it("bad chunk sizes and orders throw PartitionError", () => {
    const part = canonical(params);
    for (const chunkSize of [0, -1, 1.5, NaN, Infinity]) {
      expect(() => partitionedDerivative(2, part, { chunkSize }), `chunkSize ${chunkSize}`).toThrow(PartitionError);
      expect(() => partitionedDerivative(2, part, { chunkSize }), `chunkSize ${chunkSize}`).toThrow(
        /chunkSize must be a positive integer/,
      );
      expect(
        () => summaries(loss as (p: never) => Value, part, { chunkSize }),
        `summaries chunkSize ${chunkSize}`,
      ).toThrow(PartitionError);
    }
    for (const order of [0, -1, 1.5, NaN]) {
      expect(() => partitionedDerivative(order, part), `order ${order}`).toThrow(PartitionError);
      expect(() => partitionedDerivative(order, part), `order ${order}`).toThrow(/order must be an integer ≥ 1/);
      expect(() => taylorTerms(order), `taylorTerms order ${order}`).toThrow(PartitionError);
    }
  });
});

describe("summaries without the order-3 diagonal", () => {
  it("order3: false gives the same L, ḡ, H̄ and zeros for the diagonal", () => {
    const p = { a: hd.array([0.3, -0.2]), b: hd.array([0.5]) };
    const loss = (q: typeof p) => hd.sum(hd.exp(hd.mul(hd.sum(q.a), q.b)));
    const part = canonical(p);
    const u = { a: hd.array([1, 0.5]), b: hd.array([-0.4]) };
    const full = summaries(loss as never, part)(p, u);
    const lite = summaries(loss as never, part, { order3: false })(p, u);
    expect(lite.loss).toBe(full.loss);
    expect(lite.gbar).toEqual(full.gbar);
    expect(lite.hbar).toEqual(full.hbar);
    expect(lite.order3Diag).toEqual([0, 0]);
    expect(full.order3Diag.some((x) => x !== 0)).toBe(true);
    hd.dispose([p, u]);
  });
});
