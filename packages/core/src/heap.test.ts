import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "./index";

describe.each(["wasm", "cpu"] as const)("copyInto on %s", (backend) => {
  beforeAll(() => hd.setBackend(backend));
  afterAll(() => hd.setBackend("wasm"));

  it("writes the values toFlat reads, at the offset, and nothing else", () => {
    const x = hd.random.normal(hd.random.key(3), [3, 5]);
    const before = hd.numTensors();
    const out = new Float32Array(new SharedArrayBuffer(4 * 20)).fill(7);
    hd.copyInto(x, out, 2);
    expect(Array.from(out.subarray(2, 17))).toEqual(Array.from(hd.toFlat(x)));
    expect([...out.subarray(0, 2), ...out.subarray(17)]).toEqual([7, 7, 7, 7, 7]);
    expect(hd.numTensors()).toBe(before);
    hd.dispose(x);
  });

  it("copies int32 arrays into an Int32Array", () => {
    const x = hd.array(Int32Array.from([4, -1, 9]), { shape: [3] });
    const out = new Int32Array(3);
    hd.copyInto(x, out);
    expect(Array.from(out)).toEqual([4, -1, 9]);
    hd.dispose(x);
  });

  it("refuses a dtype mismatch, an overflow, and a traced array", () => {
    const x = hd.ones([4]);
    expect(() => hd.copyInto(x, new Int32Array(4))).toThrow(/float32\[4\].*int32/);
    expect(() => hd.copyInto(x, new Float32Array(5), 2)).toThrow(/4 values from offset 2 do not fit in 5/);
    expect(() => hd.grad((y: hd.Value) => (hd.copyInto(y, new Float32Array(4)), hd.sum(y)))(x)).toThrow(/traced/);
    hd.dispose(x);
  });
});
