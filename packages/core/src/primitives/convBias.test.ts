/**
 * conv2d's `bias` option (the composite primitive conv2dBias: FusedConv2D where the backend has
 * it) against the composition conv2d + add, on cpu and wasm: values, gradients, and derivatives
 * of orders 1 and 2 against finite differences.
 */
import { afterAll, describe, expect, it } from "vitest";
import * as hd from "../index";
import type { Value } from "../index";
import { setBackend } from "../backend";
import { checkGrads } from "../testing";

const close = (a: Value, b: Value, tol = 1e-4) =>
  expect(hd.testing.allClose(a, b, { atol: tol, rtol: tol })).toBeNull();

describe.each(["cpu", "wasm"] as const)("conv2d with a bias on %s", (backend) => {
  afterAll(() => setBackend("cpu"));
  const setup = async () => {
    await setBackend(backend);
    const [k1, k2, k3] = hd.random.split(hd.random.key(11), 3);
    return {
      x: hd.random.normal(k1!, [2, 6, 5, 3]),
      w: hd.random.normal(k2!, [3, 2, 3, 4]),
      b: hd.random.normal(k3!, [4]),
    };
  };
  const fused = (x: Value, w: Value, b: Value) => hd.conv2d(x, w, { padding: "same", bias: b });
  const composed = (x: Value, w: Value, b: Value) => hd.add(hd.conv2d(x, w, { padding: "same" }), b);

  it("equals conv2d + add, value and gradients of every argument, with no tensor left behind", async () => {
    const { x, w, b } = await setup();
    const before = hd.numTensors();
    const loss = (f: typeof fused) => (x: Value, w: Value, b: Value) => hd.sum(hd.tanh(f(x, w, b)));
    hd.tidy(() => {
      close(fused(x, w, b), composed(x, w, b));
      const g1 = hd.grad(loss(fused), { argnums: [0, 1, 2] })(x, w, b) as readonly Value[];
      const g2 = hd.grad(loss(composed), { argnums: [0, 1, 2] })(x, w, b) as readonly Value[];
      g1.forEach((g, i) => close(g, g2[i]!));
      return [];
    });
    expect(hd.numTensors()).toBe(before);
    hd.dispose([x, w, b]);
  });

  it("matches finite differences at orders 1 and 2, forward and reverse", async () => {
    const { x, w, b } = await setup();
    const f = (w: Value, b: Value) => hd.sum(hd.tanh(fused(x, w, b)));
    expect(() => checkGrads(f, [w, b], { order: 2, eps: 1e-2, atol: 5e-3, rtol: 5e-3 })).not.toThrow();
    hd.dispose([x, w, b]);
  });

  it("a bias of another shape broadcasts as add would", async () => {
    const { x, w, b } = await setup();
    const full = hd.ones([1, 6, 5, 1]);
    hd.tidy(() => {
      close(hd.conv2d(x, w, { padding: "same", bias: full }), composed(x, w, full));
      return [];
    });
    hd.dispose([x, w, b, full]);
  });
});
