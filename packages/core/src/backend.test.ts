/** cpu and wasm give the same values and derivatives within float32 tolerance. */
import { afterAll, describe, expect, it } from "vitest";
import * as hd from "./index";
import type { Value } from "./index";
import { tinyCnn, tinyMlp } from "./transforms/fixtures";

/** Computations whose results are compared across backends, returned as plain numbers. */
function suite(): Record<string, number[]> {
  const mlp = tinyMlp();
  const cnn = tinyCnn();
  const read = (x: unknown) => hd.treeLeaves(x as hd.Tree<Value>).flatMap((l) => Array.from(hd.toFlat(l)));
  return hd.tidy(() => {
    const tm = mlp.theta();
    const tc = cnn.theta();
    const v = hd.random.normal(hd.random.key(5), [cnn.size]);
    const x = hd.random.normal(hd.random.key(6), [2, 7, 7, 3]);
    const w = hd.random.normal(hd.random.key(7), [3, 3, 3, 4]);
    return {
      "mlp loss": read(mlp.loss(tm)),
      "mlp grad": read(hd.grad(mlp.loss)(tm)),
      "mlp hessian": read(hd.hessian(mlp.loss)(tm)),
      "cnn grad": read(hd.grad(cnn.loss)(tc)),
      "cnn hvp": read(hd.hvp(cnn.loss, [tc], [v])),
      "conv same strided + pool": read(
        hd.maxPool(hd.conv2d(x, w, { padding: "same", strides: 2 }), { window: 2, strides: 1 }),
      ),
      "conv filter grad": read(hd.grad((f: Value) => hd.sum(hd.tanh(hd.conv2d(x, f, { padding: "valid" }))))(w)),
      "elu, sigmoid, logsumexp": read([hd.elu(x), hd.sigmoid(x), hd.logsumexp(x, [1, 2])]),
      "normal samples": read(hd.random.normal(hd.random.key(1), [100])),
      // Rank 7 (nested vmap/jvp of a pooling layer makes such arrays): XNNPACK's limit is 6.
      "rank-7 broadcasting and pad": read(
        (() => {
          const a = hd.random.normal(hd.random.key(8), [2, 3, 2, 2, 2, 2, 3]);
          const b = hd.random.normal(hd.random.key(9), [3, 1, 2, 1, 2, 3]);
          const pads = [
            [0, 0],
            [0, 0],
            [1, 0],
            [0, 0],
            [0, 1],
            [0, 0],
            [0, 0],
          ] as const;
          return [hd.add(a, b), hd.mul(a, b), hd.sub(b, a), hd.div(a, hd.add(hd.abs(b), 1)), hd.pad(a, pads)];
        })(),
      ),
    };
  }) as unknown as Record<string, number[]>;
}

describe("backends agree", () => {
  afterAll(() => hd.setBackend("cpu"));

  it("cpu and wasm within float32 tolerance", async () => {
    await hd.setBackend("cpu");
    const onCpu = suite();
    await hd.setBackend("wasm");
    expect(hd.getBackend()).toBe("wasm");
    const onWasm = suite();
    for (const [name, values] of Object.entries(onCpu)) {
      const other = onWasm[name]!;
      expect(other.length, name).toBe(values.length);
      const scale = Math.max(1e-3, ...values.map(Math.abs));
      const worst = Math.max(...values.map((v, i) => Math.abs(v - other[i]!)));
      expect(worst / scale, `${name}: max |cpu − wasm| / max |cpu| = ${worst / scale}`).toBeLessThan(1e-4);
    }
    // The PRNG runs in JS: identical bits on every backend.
    expect(onWasm["normal samples"]).toEqual(onCpu["normal samples"]);
  });

  it("unknown backends are refused with the list of valid ones", async () => {
    await expect(hd.setBackend("webgl" as never)).rejects.toThrow(
      /unknown backend 'webgl' \(use webgpu or wasm or cpu\)/,
    );
  });
});
