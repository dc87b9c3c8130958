/**
 * The `biasTanh` op (composite primitive: one kernel on wasm, one tanhGrad backward) against
 * tanh(x + b) on cpu and wasm: values, gradients, and finite differences at order 2.
 */
import { afterAll, describe, expect, it } from "vitest";
import * as hd from "../index";
import type { Value } from "../index";
import { setBackend } from "../backend";
import { checkGrads } from "../testing";

const close = (a: Value, b: Value, tol = 1e-5) =>
  expect(hd.testing.allClose(a, b, { atol: tol, rtol: tol })).toBeNull();

describe.each(["cpu", "wasm"] as const)("biasTanh on %s", (backend) => {
  afterAll(() => setBackend("cpu"));
  const setup = async () => {
    await setBackend(backend);
    const [k1, k2] = hd.random.split(hd.random.key(3), 2);
    return { x: hd.random.normal(k1!, [5, 7]), b: hd.random.normal(k2!, [7]) };
  };
  const composed = (x: Value, b: Value) => hd.tanh(hd.add(x, b));

  it("equals tanh(x + b), value and gradients of both arguments, with no tensor left behind", async () => {
    const { x, b } = await setup();
    const before = hd.numTensors();
    const w = hd.random.normal(hd.random.key(8), [5, 7]);
    const loss = (f: typeof composed) => (x: Value, b: Value) => hd.sum(hd.mul(w, f(x, b)));
    hd.tidy(() => {
      close(hd.biasTanh(x, b), composed(x, b));
      const g1 = hd.grad(loss(hd.biasTanh), { argnums: [0, 1] })(x, b) as readonly Value[];
      const g2 = hd.grad(loss(composed), { argnums: [0, 1] })(x, b) as readonly Value[];
      g1.forEach((g, i) => close(g, g2[i]!));
      return [];
    });
    hd.dispose(w);
    expect(hd.numTensors()).toBe(before);
    hd.dispose([x, b]);
  });

  it("matches finite differences at orders 1 and 2, forward and reverse; other bias shapes broadcast", async () => {
    const { x, b } = await setup();
    expect(() =>
      checkGrads((x: Value, b: Value) => hd.sum(hd.biasTanh(x, b)), [x, b], {
        order: 2,
        eps: 1e-2,
        atol: 3e-3,
        rtol: 3e-3,
      }),
    ).not.toThrow();
    const col = hd.ones([5, 1]);
    hd.tidy(() => {
      close(hd.biasTanh(x, col), composed(x, col));
      return [];
    });
    hd.dispose([x, b, col]);
  });
});
