/** Input validation (messages naming what was expected and what came) and the debug-NaNs mode. */
import { afterEach, describe, expect, it } from "vitest";
import * as hd from "./index";
import type { Value } from "./index";

describe("input validation", () => {
  it("a ragged array names the ragged path and both shapes", () => {
    expect(() => hd.array([[1, 2], [3]])).toThrow(
      /array: ragged nested data: data\[1\] has shape \[1\], but data\[0\] has shape \[2\]/,
    );
    expect(() =>
      hd.array([
        [[1, 2]],
        [
          [3, 4],
          [5, 6],
        ],
      ]),
    ).toThrow(/data\[1\] has shape \[2,2\], but data\[0\] has shape \[1,2\]/);
    expect(() => hd.array([[1, 2], 3] as never)).toThrow(/data\[1\] has shape \[\], but data\[0\] has shape \[2\]/);
    expect(() => hd.array([1, "2"] as never)).toThrow(
      /array: data\[1\] must be a number, a boolean or an array, got a string \("2"\)/,
    );
    expect(() => hd.array([1, 2], { shape: [2, 1] })).not.toThrow();
  });

  it("jvp and hvp without the argument-list wrapper say what they expected and what came", () => {
    const p = { w: hd.array([1, 2]) };
    const f = (q: typeof p) => hd.sum(hd.square(q.w));
    expect(() => hd.jvp(f, p as never, [p])).toThrow(
      /jvp: primals must be an array of f's arguments \(e\.g\. \[params\] for f\(params\)\), got an object with keys \{w\}/,
    );
    expect(() => hd.jvp(f, [p], p as never)).toThrow(
      /jvp: tangents must be an array of f's arguments.*got an object with keys \{w\}/,
    );
    expect(() => hd.hvp(f, p as never, [p])).toThrow(/hvp: primals must be an array/);
    expect(() => hd.jvp((x: Value) => x, hd.array(1) as never, [1])).toThrow(
      /jvp: primals must be an array.*got float32\[\]/,
    );
  });
});

describe("debug NaNs", () => {
  afterEach(() => {
    hd.setDebugNans(false);
  });

  it("is off by default: NaN passes through silently", () => {
    expect(hd.debugNansEnabled()).toBe(false);
    const v = hd.tidy(() => hd.item(hd.log(hd.array(-1))));
    expect(Number.isNaN(v)).toBe(true);
  });

  it("stops at the first primitive producing a non-finite value and names it", () => {
    const x = hd.array([1, 0, 2]);
    const before = hd.numTensors();
    // log(0) = -Inf is the first bad value; the later mul would give NaN (−Inf·0).
    const f = (v: Value) => hd.sum(hd.mul(hd.log(v), 0));
    expect(() => hd.withDebugNans(() => hd.tidy(() => f(x)))).toThrow(
      /debugNans: log produced 1 Inf \(of 3 values\) in float32\[3\] from \(float32\[3\]\); its inputs were finite; outside any transform/,
    );
    expect(hd.debugNansEnabled()).toBe(false);
    expect(hd.numTensors()).toBe(before);
    x.dispose();
  });

  it("names the transforms it ran under, and inputs that were already bad", () => {
    const x = hd.array([4, -1]);
    try {
      hd.setDebugNans(true);
      expect(() => hd.grad((v: Value) => hd.sum(hd.sqrt(v)))(x)).toThrow(
        /debugNans: sqrt produced 1 NaN \(of 2 values\) in float32\[2\].*inside grad\/vjp \(outermost first\)/,
      );
      expect(() => hd.jvp((v: Value) => hd.vmap((u: Value) => hd.log(u))(v), [x], [x])).toThrow(
        /debugNans: log produced 1 NaN.*inside jvp > vmap/,
      );
      const bad = hd.array([1, NaN]);
      expect(() => hd.exp(bad)).toThrow(/exp produced 1 NaN.*input 0 was already non-finite/);
      bad.dispose();
      // Finite computations run unchanged, with the same numbers.
      const g = hd.grad((v: Value) => hd.sum(hd.square(v)))(x);
      expect(Array.from(hd.toFlat(g))).toEqual([8, -2]);
      hd.dispose(g);
      expect(hd.NonFiniteError.name).toBe("NonFiniteError");
      expect(() => hd.log(hd.array(0))).toThrow(hd.NonFiniteError);
    } finally {
      hd.setDebugNans(false);
      x.dispose();
    }
  });
});
