/** The counter-based PRNG: determinism, independence of split keys, and distribution moments. */
import { describe, expect, it } from "vitest";
import * as hd from "./index";

const values = (t: hd.Tensor) => Array.from(hd.toFlat(t));
const moments = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length;
  return [m, v] as const;
};

describe("random", () => {
  it("the same key gives the same numbers; split keys give different ones", () => {
    const k = hd.random.key(123);
    expect(values(hd.random.normal(k, [5]))).toEqual(values(hd.random.normal(k, [5])));
    const [a, b] = hd.random.split(k) as [hd.Key, hd.Key];
    expect(values(hd.random.normal(a, [5]))).not.toEqual(values(hd.random.normal(b, [5])));
    expect(hd.random.split(k)).toEqual(hd.random.split(hd.random.key(123)));
    expect(hd.random.key(1)).not.toEqual(hd.random.key(2));
  });

  it("normal has mean 0 and variance 1; uniform has mean (a+b)/2 and variance (b−a)²/12", () => {
    const n = 20000;
    const [m, v] = moments(values(hd.random.normal(hd.random.key(7), [n])));
    expect(Math.abs(m)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(v - 1)).toBeLessThan(0.05);
    const u = values(hd.random.uniform(hd.random.key(8), [n], -2, 4));
    const [mu, vu] = moments(u);
    expect(Math.abs(mu - 1)).toBeLessThan(0.06);
    expect(Math.abs(vu - 3)).toBeLessThan(0.1);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u)).toBeLessThan(4);
  });

  it("samples of split keys are uncorrelated", () => {
    const [a, b] = hd.random.split(hd.random.key(9)) as [hd.Key, hd.Key];
    const x = values(hd.random.normal(a, [20000]));
    const y = values(hd.random.normal(b, [20000]));
    const c = x.reduce((s, xi, i) => s + xi * y[i]!, 0) / x.length;
    expect(Math.abs(c)).toBeLessThan(0.03);
  });

  it("rejects a non-integer seed", () => {
    expect(() => hd.random.key(1.5)).toThrow(/seed must be a safe integer/);
  });
});

describe("Threefry-2x32-20 known-answer vectors", () => {
  // From the Random123 distribution's kat_vectors (also JAX's prng tests): key, counter → output.
  const KAT: [[number, number], [number, number], [number, number]][] = [
    [
      [0x00000000, 0x00000000],
      [0x00000000, 0x00000000],
      [0x6b200159, 0x99ba4efe],
    ],
    [
      [0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      [0x1cb996fc, 0xbb002be7],
    ],
    [
      [0x13198a2e, 0x03707344],
      [0x243f6a88, 0x85a308d3],
      [0xc4923a9c, 0x483df7a0],
    ],
  ];
  it.each(KAT)("key %j, counter %j", (key, counter, expected) => {
    expect(hd.random.threefry2x32(key[0], key[1], counter[0], counter[1])).toEqual(expected);
  });

  it("keys, splits and uniform bits are Threefry blocks as documented", () => {
    // key(seed) = [high 32 bits, low 32 bits]; split i = threefry(key, (0, i)); foldIn = threefry(key, (1, d)).
    const k = hd.random.key(2 ** 32 + 7);
    expect(k.words).toEqual([1, 7]);
    expect(hd.random.split(k, 3).map((s) => s.words)).toEqual([0, 1, 2].map((i) => hd.random.threefry2x32(1, 7, 0, i)));
    expect(hd.random.foldIn(k, 5).words).toEqual(hd.random.threefry2x32(1, 7, 1, 5));
    // uniform: the top 23 bits of each word of threefry(key, (0, i)), i = 0, 2, 4, … over pairs.
    const [a, b] = hd.random.threefry2x32(1, 7, 0, 0);
    const u = values(hd.random.uniform(k, [2]));
    expect(u).toEqual([(a >>> 9) * 2 ** -23, (b >>> 9) * 2 ** -23]);
  });
});
