/**
 * The jit call primitive: nested printing against hand-written jaxprs, and every composition
 * (grad∘jit, jit∘grad, vmap∘jit, jit∘jit, jvp∘jit, jet∘jit) against eager f and finite differences.
 */
import { describe, expect, it } from "vitest";
import * as hd from "../index";
import type { Value } from "../index";
import { tinyMlp } from "../transforms/fixtures";
import { isCallPrimitive } from "../trace/core";
import type { Jaxpr } from "./jaxpr";
import { derivedCacheHits, type CallParams } from "./call";

const close = (a: unknown, b: unknown, tol = 1e-5) =>
  expect(hd.testing.allClose(a, b, { atol: tol, rtol: tol })).toBeNull();

/** The call equations of a jaxpr: [name, primitive names of its sub-jaxpr]. */
const calls = (j: Jaxpr): [string, string[]][] =>
  j.eqns
    .filter((e) => isCallPrimitive(e.prim))
    .map((e) => {
      const p = e.params as CallParams;
      return [p.name, p.jaxpr.eqns.map((q) => q.prim.name)];
    });

describe("makeJaxpr(jit(f)) prints nested, like JAX's pjit", () => {
  const x = hd.array([1, 2, 3]);
  it("one equation carrying f's jaxpr", () => {
    const jf = hd.jit(function f(a: Value) {
      return hd.tanh(a);
    });
    expect(String(hd.makeJaxpr(jf)(x))).toBe(
      [
        "{ lambda ; a:f32[3]. let",
        "    b:f32[3] = jit[name=f jaxpr={ lambda ; c:f32[3]. let d:f32[3] = tanh c in (d) }] a",
        "  in (b) }",
      ].join("\n"),
    );
    jf.dispose();
  });

  it("jit(jit(f)) nests, constants become leading arguments, several outputs", () => {
    const w = hd.array([2, 2, 2]);
    const g = hd.jit(function pair(a: Value) {
      return [hd.exp(a), hd.mul(a, w)];
    });
    const h = hd.jit(function outer(a: Value) {
      const [e, m] = g(a) as [Value, Value];
      return hd.add(e, m);
    });
    expect(String(hd.makeJaxpr(h)(x))).toBe(
      [
        "{ lambda a:f32[3]; b:f32[3]. let",
        "    c:f32[3] = jit[",
        "      name=outer",
        "      jaxpr={ lambda ; d:f32[3] e:f32[3]. let",
        "          f:f32[3] g:f32[3] = jit[",
        "            name=pair",
        "            jaxpr={ lambda ; h:f32[3] i:f32[3]. let",
        "                j:f32[3] = exp i",
        "                k:f32[3] = mul i h",
        "              in (j, k) }",
        "          ] d e",
        "          l:f32[3] = add f g",
        "        in (l) }",
        "    ] a b",
        "  in (c) }",
      ].join("\n"),
    );
    close(h(x), hd.add(hd.exp(x), hd.mul(x, w)));
    hd.dispose(w);
    g.dispose();
    h.dispose();
  });

  it("jvp, grad and vmap of jit(f) are calls of the jvp, the partial evaluation and the batching of f's jaxpr", () => {
    const f = hd.jit(function sinSq(a: Value) {
      return hd.sum(hd.sin(hd.mul(a, a)));
    });
    const jv = hd.makeJaxpr((a: Value, t: Value) => hd.jvp(f, [a], [t]))(x, x);
    const [[jName, jPrims]] = calls(jv.jaxpr) as [[string, string[]]];
    expect(jName).toBe("jvp(sinSq)");
    expect([...jPrims].sort()).toEqual(["add", "cos", "mul", "mul", "mul", "mul", "sin", "sum", "sum"]);
    // Reverse mode: the known call computes the primal and the residuals (no tangent work); the
    // transposed linear call runs on the backward pass and has no primal-only equation (no sin).
    const gr = hd.makeJaxpr(hd.grad(f))(x);
    const [[kName, kPrims], [tName, tPrims]] = calls(gr.jaxpr) as [[string, string[]], [string, string[]]];
    expect(kName).toBe("sinSq");
    expect([...kPrims].sort()).toEqual(["cos", "mul", "sin", "sum"]);
    expect(tName).toBe("transpose(jvp(sinSq))");
    expect(tPrims).not.toContain("sin");
    expect(tPrims).not.toContain("cos");
    gr.dispose();
    const m = hd.makeJaxpr(hd.vmap(f))(hd.zeros([4, 3]));
    expect(calls(m.jaxpr)).toEqual([["vmap(sinSq)", ["mul", "sin", "sum"]]]);
    expect(m.jaxpr.eqns[0]!.outs[0]!.aval.shape).toEqual([4]);
    f.dispose();
  });
});

describe("derived jaxprs are cached per sub-jaxpr and input pattern", () => {
  it("a second grad, jvp or vmap of the same jit(f) traces nothing new, and gives the same numbers", () => {
    const f = hd.jit((a: Value) => hd.sum(hd.tanh(hd.mul(a, a))));
    const x = hd.array([0.2, -0.4, 0.9]);
    const xs = hd.stack([x, hd.neg(x)]);
    const before = hd.numTensors();
    const runs = [() => hd.grad(f)(x), () => hd.jvp(f, [x], [x]), () => hd.vmap(f)(xs)];
    for (const run of runs) {
      const first = run();
      const hits = derivedCacheHits();
      const second = run();
      expect(derivedCacheHits()).toBeGreaterThan(hits);
      close(second, first);
      hd.dispose([first, second]);
    }
    expect(hd.numTensors()).toBe(before);
    f.dispose();
    hd.dispose([x, xs]);
  });
});

describe("linearize of a jitted function", () => {
  it("runs the call's primal part at linearize time: the linear map's call has no primal-only equation", () => {
    const f = hd.jit(function sinExp(a: Value) {
      return hd.sum(hd.sin(hd.exp(a)));
    });
    const x = hd.array([0.1, 0.5, -0.3]);
    const t = hd.array([1, -2, 0.5]);
    const before = hd.numTensors();
    const [y, lin] = hd.linearize(f, x);
    const [[name, prims]] = calls(lin.jaxpr.jaxpr) as [[string, string[]]];
    expect(name).toBe("jvp(sinExp)");
    expect(prims).not.toContain("exp");
    expect(prims).not.toContain("sin");
    expect(prims).not.toContain("cos");
    hd.tidy(() => {
      const [y0, t0] = hd.jvp((a: Value) => hd.sum(hd.sin(hd.exp(a))), [x], [t]);
      close(y, y0);
      close(lin(t), t0);
      return [];
    });
    hd.dispose([y, lin]);
    f.dispose();
    expect(hd.numTensors()).toBe(before);
    hd.dispose([x, t]);
  });
});

/** A few functions of two arrays, with nested jits inside some. */
const inner = hd.jit(function inner(a: Value, b: Value) {
  return [hd.tanh(hd.mul(a, b)), hd.exp(hd.mul(b, 0.3))];
});
const FNS: [string, (a: Value, b: Value) => Value][] = [
  ["sin·x", (a, b) => hd.sum(hd.mul(hd.sin(a), b))],
  ["tanh chain, matmul", (a, b) => hd.sum(hd.tanh(hd.matmul(hd.reshape(a, [2, 3]), hd.reshape(hd.tanh(b), [3, 2]))))],
  [
    "nested jit with two outputs",
    (a, b) => {
      const [t, e] = inner(a, b) as [Value, Value];
      return hd.sum(hd.add(hd.mul(t, e), hd.square(a)));
    },
  ],
  ["logsumexp and max", (a, b) => hd.add(hd.logsumexp(hd.mul(a, b)), hd.max(hd.sub(a, b)))],
];

describe("every composition of jit equals the eager transform and finite differences", () => {
  const a = hd.array([0.3, -0.7, 1.1, 0.2, -0.4, 0.9]);
  const b = hd.array([0.5, 0.8, -0.6, 1.3, -0.2, 0.1]);
  it.each(FNS)("%s", (_name, f) => {
    const before = hd.numTensors();
    const jf = hd.jit(f);
    const jjf = hd.jit(jf);
    const jg = hd.jit(hd.grad(f, { argnums: [0, 1] }));
    hd.tidy(() => {
      close(jf(a, b), f(a, b));
      close(jjf(a, b), f(a, b));
      const g = hd.grad(f, { argnums: [0, 1] })(a, b);
      close(hd.grad(jf, { argnums: [0, 1] })(a, b), g);
      close(hd.grad(jjf, { argnums: [0, 1] })(a, b), g);
      close(jg(a, b), g);
      close(hd.jvp(jf, [a, b], [b, a]), hd.jvp(f, [a, b], [b, a]));
      const as = hd.stack([a, hd.mul(a, 0.5), hd.neg(a)]);
      close(hd.vmap(jf, [0, null])(as, b), hd.vmap(f, [0, null])(as, b));
      close(hd.vmap(hd.grad(jf), [0, null])(as, b), hd.vmap(hd.grad(f), [0, null])(as, b));
      // Second order through the call: hvp = jvp of grad (jvp of the transpose call).
      close(
        hd.hvp((x: Value) => jf(x, b), [a], [b]),
        hd.hvp((x: Value) => f(x, b), [a], [b]),
        1e-4,
      );
      const [, series] = hd.jet((x: Value) => jf(x, b), [a], [[b, a]]);
      close(series, hd.jet((x: Value) => f(x, b), [a], [[b, a]])[1], 1e-4);
      return [];
    });
    // Against central differences, orders 1 and 2 in both modes (independent of the eager rules).
    hd.testing.checkGrads(jf, [a, b], { order: 2 });
    hd.testing.checkGrads(jjf, [a, b], { order: 1 });
    for (const j of [jf, jjf, jg]) j.dispose();
    expect(hd.numTensors()).toBe(before);
  });

  it("the tiny MLP: grad, jit(grad), vmap, jvp and hvp of jit(loss), and no leak", () => {
    const model = tinyMlp();
    const theta = model.theta();
    const v = hd.random.normal(hd.random.key(3), [model.size]);
    const before = hd.numTensors();
    const jl = hd.jit(model.loss);
    const jgl = hd.jit(hd.grad(jl));
    hd.tidy(() => {
      const g = hd.grad(model.loss)(theta);
      close(hd.grad(jl)(theta), g);
      close(jgl(theta), g);
      close(hd.jvp(jl, [theta], [v]), hd.jvp(model.loss, [theta], [v]));
      close(hd.hvp(jl, [theta], [v]), hd.hvp(model.loss, [theta], [v]), 1e-4);
      const thetas = hd.stack([theta, hd.mul(theta, 0.5)]);
      close(hd.vmap(hd.grad(jl))(thetas), hd.vmap(hd.grad(model.loss))(thetas), 1e-4);
      return [];
    });
    hd.testing.checkGrads(jl, [theta], { order: 2 });
    jl.dispose();
    jgl.dispose();
    expect(hd.numTensors()).toBe(before);
  });
});
