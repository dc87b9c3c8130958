/** hodiff's debug-NaNs mode stops partitioned derivatives at the primitive that first goes non-finite. */
import { afterEach, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import { canonical, summaries } from "./index";

describe("summaries under setDebugNans", () => {
  afterEach(() => hd.setDebugNans(false));

  it("names the primitive and the transforms instead of returning NaN summaries", () => {
    const params = { w: hd.array([0.5, 2]), b: hd.array([-3]) };
    // log(w·b) is NaN for w·b < 0: every summary would be NaN without the check.
    const loss = (p: typeof params): Value => hd.sum(hd.log(hd.mul(p.w, p.b)));
    const u = { w: hd.array([1, 1]), b: hd.array([1]) };
    const run = () => summaries(loss as never, canonical(params))(params, u);
    const quiet = run();
    expect(Number.isNaN(quiet.loss)).toBe(true);
    const before = hd.numTensors();
    hd.setDebugNans(true);
    expect(run).toThrow(hd.NonFiniteError);
    expect(run).toThrow(/debugNans: log produced 2 NaN \(of 2 values\) in float32\[2\].*inside .*(jvp|jet)/);
    hd.setDebugNans(false);
    expect(hd.numTensors()).toBe(before);
    hd.dispose([params, u]);
  });

  it("hessian stops too, outside any leak", () => {
    const x = hd.array([1, -1]);
    const before = hd.numTensors();
    hd.setDebugNans(true);
    expect(() => hd.hessian((v: Value) => hd.sum(hd.sqrt(v)))(x)).toThrow(/debugNans: sqrt produced 1 NaN/);
    hd.setDebugNans(false);
    expect(hd.numTensors()).toBe(before);
    x.dispose();
  });
});
