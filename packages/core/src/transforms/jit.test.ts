/** makeJaxpr, jit and linearize by partial evaluation, against hand-written jaxprs and eager f. */
import { afterAll, describe, expect, it, vi } from "vitest";
import * as hd from "../index";
import type { Value } from "../index";
import { GRAD_OPS } from "../primitives/opTable";
import { tinyCnn, tinyMlp } from "./fixtures";
import { Literal, Var, type Jaxpr } from "../staging/jaxpr";

const close = (a: unknown, b: unknown, tol = 1e-5) =>
  expect(hd.testing.allClose(a, b, { atol: tol, rtol: tol })).toBeNull();

describe("makeJaxpr prints what JAX would", () => {
  const x = hd.array([1, 2, 3]);
  it("one primitive", () => {
    expect(String(hd.makeJaxpr((a: Value) => hd.tanh(a))(x))).toBe(
      "{ lambda ; a:f32[3]. let b:f32[3] = tanh a in (b) }",
    );
  });
  it("literals, params and several outputs", () => {
    const j = hd.makeJaxpr((a: Value, b: Value) => [hd.sum(hd.mul(a, 2), 0), hd.sub(a, b)])(x, x);
    expect(String(j)).toBe(
      [
        "{ lambda ; a:f32[3] b:f32[3]. let",
        "    c:f32[3] = mul a 2.0",
        "    d:f32[] = sum[axes=[0]] c",
        "    e:f32[3] = sub a b",
        "  in (d, e) }",
      ].join("\n"),
    );
  });
  it("closed-over arrays become constants; ops on constants alone are folded at trace time", () => {
    const c = hd.array([[1, 2]]);
    const j = hd.makeJaxpr((a: Value) => hd.matmul(a, hd.exp(c)))(hd.zeros([4, 1]));
    expect(String(j)).toBe("{ lambda a:f32[1,2]; b:f32[4,1]. let c:f32[4,2] = matmul b a in (c) }");
    close(j.consts[0], hd.exp(c));
    hd.dispose([c, j]);
  });
  it("jvp's output: the primal and tangent equations", () => {
    const j = hd.makeJaxpr((a: Value, t: Value) => hd.jvp((b: Value) => hd.sin(b), [a], [t]))(x, x);
    expect(String(j)).toBe(
      [
        "{ lambda ; a:f32[3] b:f32[3]. let",
        "    c:f32[3] = sin a",
        "    d:f32[3] = cos a",
        "    e:f32[3] = mul b d",
        "  in (c, e) }",
      ].join("\n"),
    );
  });
  it("grad's output: forward pass, then the backward pass seeded by a constant", () => {
    const j = hd.makeJaxpr(hd.grad((a: Value) => hd.sum(hd.exp(a))))(x);
    // d/da Σ exp(a) = 1 · exp(a): the seed is broadcast to [3] at trace time (a constant).
    expect(String(j)).toBe(
      [
        "{ lambda a:f32[3]; b:f32[3]. let",
        "    c:f32[3] = exp b",
        "    d:f32[] = sum[axes=[0]] c",
        "    e:f32[3] = mul a c",
        "  in (e) }",
      ].join("\n"),
    );
    close(j.consts[0], hd.ones([3]));
    j.dispose();
  });
  it("vmap's and jit's outputs", () => {
    const m = hd.array([
      [1, 2],
      [3, 4],
    ]);
    expect(String(hd.makeJaxpr(hd.vmap((r: Value) => hd.sum(hd.exp(r))))(m))).toBe(
      ["{ lambda ; a:f32[2,2]. let", "    b:f32[2,2] = exp a", "    c:f32[2] = sum[axes=[1]] b", "  in (c) }"].join(
        "\n",
      ),
    );
    const inner = hd.jit(function sq(a: Value) {
      return hd.mul(hd.sin(a), hd.sin(a));
    });
    // jit under a trace is one call equation carrying its optimised jaxpr: the repeated sin appears once.
    expect(String(hd.makeJaxpr((a: Value) => hd.neg(inner(a)))(x))).toBe(
      [
        "{ lambda ; a:f32[3]. let",
        "    b:f32[3] = jit[",
        "      name=sq",
        "      jaxpr={ lambda ; c:f32[3]. let",
        "          d:f32[3] = sin c",
        "          e:f32[3] = mul d d",
        "        in (e) }",
        "    ] a",
        "    f:f32[3] = neg b",
        "  in (f) }",
      ].join("\n"),
    );
    inner.dispose();
    hd.dispose(m);
  });

  it("traces on avals: no kernel runs on the inputs, no tensor is left", () => {
    const big = hd.zeros([500, 500]);
    const before = hd.numTensors();
    const j = hd.makeJaxpr((a: Value) => hd.matmul(hd.tanh(a), a))(big);
    expect(j.jaxpr.eqns.map((e) => e.prim.name)).toEqual(["tanh", "matmul"]);
    expect(hd.numTensors()).toBe(before);
    hd.dispose(big);
  });
  it("evalJaxpr equals f, also under grad", () => {
    const f = (a: Value) => hd.sum(hd.mul(hd.tanh(a), hd.sin(a)));
    const j = hd.makeJaxpr(f)(x);
    const run = (a: Value) => hd.evalJaxpr(j.jaxpr, j.consts, [a])[0]!;
    close(run(x), f(x));
    close(hd.grad(run)(x), hd.grad(f)(x));
  });
});

describe("jit(f) equals f", () => {
  it.each(GRAD_OPS.map((s) => [s.name, s] as const))("%s: value, gradient, and no leak", (_n, spec) => {
    const args = spec.args();
    const argnums = args.map((_, i) => i);
    const f = (...xs: Value[]) => hd.sum(spec.f(...xs));
    const before = hd.numTensors();
    const jf = hd.jit(spec.f);
    const jsum = hd.jit(f);
    const jgrad = hd.jit(hd.grad(f, { argnums }));
    const jkernels = hd.jit(spec.f, { hostKernels: false });
    hd.tidy(() => {
      close(jf(...args), spec.f(...args)); // small arrays: host kernels against tfjs's
      close(jkernels(...args), spec.f(...args));
      close(hd.grad(jsum, { argnums })(...args), hd.grad(f, { argnums })(...args));
      close(jgrad(...args), hd.grad(f, { argnums })(...args));
      jf(...args); // cached: no second trace
    });
    expect(jf.cacheSize).toBe(1);
    for (const j of [jf, jsum, jgrad, jkernels]) j.dispose();
    expect(hd.numTensors()).toBe(before);
    hd.dispose(args);
  });

  it("int32 and bool arrays (host kernels against tfjs's)", () => {
    const a = hd.array([7, -3, 4, 0], { dtype: "int32" });
    const b = hd.array([2, 2, -3, 5], { dtype: "int32" });
    const f = (p: Value, q: Value) => [
      hd.add(p, q),
      hd.mul(p, q),
      hd.div(p, q),
      hd.sum(p),
      hd.matmul(hd.reshape(p, [2, 2]), hd.reshape(q, [2, 2])),
      hd.where(hd.greater(p, q), p, q),
      hd.cast(hd.less(p, q), "int32"),
    ];
    hd.tidy(() => {
      const got = hd.jit(f)(a, b) as Value[];
      const want = f(a, b);
      got.forEach((g, i) => {
        expect(hd.dtypeOf(g)).toBe(hd.dtypeOf(want[i]!));
        expect(hd.toNested(g)).toEqual(hd.toNested(want[i]!));
      });
      return [];
    });
    hd.dispose([a, b]);
  });

  it("broadcasting, reductions and layouts of rank 0–4 (host kernels against tfjs's, NaN and ±Inf included)", () => {
    const before = hd.numTensors();
    const u = (seed: number, shape: number[]) => hd.random.uniform(hd.random.key(seed), shape, -2, 2);
    const a = u(11, [3, 1, 5, 2]);
    const b = u(12, [4, 1, 1]);
    const special = hd.array([[NaN, Infinity, -Infinity, 0, -0, 1.5, -2]]);
    const c = u(13, [7]);
    const f = (p: Value, q: Value, s: Value, v: Value) => [
      hd.sub(p, q), // [3,4,5,2] from two broadcasts
      hd.mul(p, p), // same shape
      hd.add(s, hd.reshape(v, [7, 1])), // [7,7]: row against column
      hd.where(hd.greater(p, 0), p, hd.reshape(q, [1, 4, 1, 1])), // three operands broadcast
      hd.maximum(s, hd.reshape(v, [1, 7])),
      hd.sum(p, [0, 2]),
      hd.sum(hd.sub(p, q), [1, 3]),
      hd.max(s, 1),
      hd.max(hd.add(s, hd.reshape(v, [7, 1])), 0),
      hd.transpose(hd.sub(p, q), [3, 0, 2, 1]),
      hd.slice(hd.sub(p, q), [1, 0, 2, 1], [2, 3, 3, 1]),
      hd.pad(p, [
        [0, 1],
        [2, 0],
        [1, 1],
        [0, 0],
      ]),
      hd.broadcastTo(q, [2, 4, 3, 5]),
      hd.sum(hd.mul(v, v)), // rank 0
    ];
    const args = [a, b, special, c] as const;
    hd.tidy(() => {
      const got = hd.jit(f)(...args) as Value[];
      const want = hd.jit(f, { hostKernels: false })(...args) as Value[];
      const eager = f(...args);
      // NaN where tfjs has NaN, ±Inf where it has them, else equal up to the sums' order of rounding
      const same = (x: Value, y: Value) => {
        expect(hd.shapeOf(x)).toEqual(hd.shapeOf(y));
        const [xs, ys] = [hd.toFlat(x), hd.toFlat(y)];
        xs.forEach((v, j) => {
          const w = ys[j]!;
          if (Number.isNaN(w) || !Number.isFinite(w)) expect(v).toBe(w);
          else expect(Math.abs(v - w)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(w)));
        });
      };
      got.forEach((g, i) => {
        same(g, want[i]!);
        same(g, eager[i]!);
      });
      return [];
    });
    hd.dispose(args);
    expect(hd.numTensors()).toBe(before);
  });

  it("comparisons, cast and where", () => {
    const a = hd.array([1, -2, 3, 0]);
    const b = hd.array([1, 2, -3, 0]);
    const f = (p: Value, q: Value) => [
      hd.cast(hd.equal(p, q), "float32"),
      hd.where(hd.less(p, q), p, q),
      hd.cast(p, "int32"),
    ];
    close(hd.jit(f)(a, b), f(a, b));
  });

  for (const [name, make] of [
    ["tiny MLP", tinyMlp],
    ["tiny CNN", tinyCnn],
  ] as const) {
    it(`${name}: loss, gradient, hvp, vmap and every nesting`, () => {
      const model = make();
      const theta = model.theta();
      const v = hd.random.normal(hd.random.key(9), [model.size]);
      const jl = hd.jit(model.loss);
      close(jl(theta), model.loss(theta));
      const g = hd.grad(model.loss)(theta);
      close(hd.grad(jl)(theta), g);
      close(hd.jit(hd.grad(model.loss))(theta), g);
      close(hd.jit(hd.jit(hd.grad(jl)))(theta), g);
      const hv = hd.hvp(model.loss, [theta], [v]);
      close(hd.hvp(jl, [theta], [v]), hv, 1e-4);
      close(hd.jit((t: Value, u: Value) => hd.hvp(model.loss, [t], [u]))(theta, v), hv, 1e-4);
      const thetas = hd.tidy(() => hd.stack([theta, hd.mul(theta, 0.5)]));
      close(hd.vmap(jl)(thetas), hd.vmap(model.loss)(thetas));
      close(hd.jit(hd.vmap(hd.grad(model.loss)))(thetas), hd.vmap(hd.grad(model.loss))(thetas));
      close(hd.jvp(jl, [theta], [v]), hd.jvp(model.loss, [theta], [v]));
    });
  }
});

describe("jit: caching, static arguments, optimisation, memory", () => {
  it("one plan per input structure, shapes and dtypes; static arguments are part of the key", () => {
    let traces = 0;
    const f = hd.jit(
      (x: Value, n: number) => {
        traces++;
        return hd.mul(x, n);
      },
      { staticArgnums: 1 },
    );
    const a = hd.array([1, 2]);
    close(f(a, 3), hd.array([3, 6]));
    close(f(hd.array([5, 6]), 3), hd.array([15, 18]));
    expect(traces).toBe(1);
    close(f(a, 4), hd.array([4, 8]));
    close(f(hd.array([1, 2, 3]), 4), hd.array([4, 8, 12]));
    expect(traces).toBe(3);
    expect(f.cacheSize).toBe(3);
    f.dispose();
  });

  it("a jitted function closing over a tracer of an enclosing transform (not cached), numbers as arguments", () => {
    const xs = hd.array([
      [1, 2],
      [3, 4],
    ]);
    const c = hd.array([0.5, 2]);
    const before = hd.numTensors();
    hd.tidy(() => {
      const r = hd.vmap((x: Value) => hd.jit((y: Value) => hd.add(y, x))(c))(xs);
      close(
        r,
        hd.array([
          [1.5, 4],
          [3.5, 6],
        ]),
      );
      // d/dx Σ sin(x)·x = cos(x)·x + sin(x), through a jit whose jaxpr closes over the grad tracer x.
      const g = hd.grad((x: Value) => hd.sum(hd.jit((y: Value) => hd.mul(hd.sin(y), x))(x)))(c);
      close(g, hd.add(hd.mul(hd.cos(c), c), hd.sin(c)));
      const j = hd.jit((a: Value, s: Value | number) => hd.mul(a, s));
      close(j(c, 3), hd.array([1.5, 6]));
      j.dispose();
      return [];
    });
    expect(hd.numTensors()).toBe(before);
    hd.dispose([xs, c]);
  });

  it("CSE, DCE and constant folding shape the plan's jaxpr", () => {
    const c = hd.array([1, 2, 3]);
    const f = hd.jit((x: Value) => {
      void hd.exp(x); // dead
      const a = hd.tanh(x);
      const b = hd.tanh(x); // common subexpression
      return hd.add(hd.mul(a, b), hd.log(c)); // log(c): folded
    });
    const j = f.jaxpr(c);
    expect(String(j)).toBe(
      [
        "{ lambda a:f32[3]; b:f32[3]. let",
        "    c:f32[3] = tanh b",
        "    d:f32[3] = mul c c",
        "    e:f32[3] = add d a",
        "  in (e) }",
      ].join("\n"),
    );
    f.dispose();
    hd.dispose(c);
  });

  it("axpy at a closed-over α made by zeros is θ itself: CSE then merges x·θ with x·axpy(θ, 0, u)", () => {
    const x = hd.random.normal(hd.random.key(3), [2, 3]);
    const t0 = hd.random.normal(hd.random.key(4), [3, 4]);
    const u0 = hd.random.normal(hd.random.key(5), [3, 4]);
    const z = hd.zeros([2]);
    const z2 = hd.tidy(() => hd.mul(hd.array([1, 1]), 0));
    const before = hd.numTensors();
    const f = hd.jit((t: Value, u: Value) => hd.add(hd.matmul(x, t), hd.matmul(x, hd.axpy(t, z, u, 1))));
    const text = String(f.jaxpr(t0, u0));
    expect(text.match(/= matmul /g)).toHaveLength(1);
    expect(text).not.toContain("axpy");
    const y = f(t0, u0);
    hd.tidy(() => {
      expect(hd.testing.allClose(y, hd.mul(hd.matmul(x, t0), 2), { atol: 1e-6, rtol: 1e-6 })).toBeNull();
    });
    // Returned as an output, the alias is the input itself; a zero α not made by zeros stays an axpy.
    const g = hd.jit((t: Value, u: Value) => hd.axpy(t, z, u, 0));
    const out = g(t0, u0);
    expect(Array.from(hd.toFlat(out))).toEqual(Array.from(hd.toFlat(t0)));
    const h = hd.jit((t: Value, u: Value) => hd.axpy(t, z2, u, 0));
    expect(String(h.jaxpr(t0, u0))).toContain("axpy");
    hd.dispose([y, out]);
    expect(Array.from(hd.toFlat(t0))).toHaveLength(12); // the output was a handle of its own
    [f, g, h].forEach((j) => j.dispose());
    expect(hd.numTensors()).toBe(before);
    hd.dispose([x, t0, u0, z, z2]);
  });

  it("frees each intermediate at its last use, and leaks nothing", () => {
    const x = hd.random.normal(hd.random.key(1), [64]);
    const chain = (a: Value) => {
      let h = a;
      for (let i = 0; i < 50; i++) h = hd.tanh(hd.add(h, 0.1));
      return h;
    };
    const f = hd.jit(chain);
    hd.dispose(f(x)); // compile
    const before = hd.numTensors();
    const y = f(x);
    expect(hd.numTensors()).toBe(before + 1); // the output only: no intermediate survives
    close(y, chain(x));
    hd.dispose(y);
    f.dispose();
    const base = hd.numTensors();
    for (let i = 0; i < 20; i++) {
      const g = hd.jit(hd.grad((a: Value) => hd.sum(chain(a))));
      hd.dispose([g(x), hd.grad(g)]);
      g.dispose();
      hd.dispose(hd.grad(hd.jit((a: Value) => hd.sum(chain(a))))(x));
    }
    expect(hd.numTensors()).toBe(base);
    hd.dispose(x);
  });
});

/** Variables of `j` that depend on its inputs. */
function tangentDependent(j: Jaxpr): Set<Var> {
  const dep = new Set<Var>(j.invars);
  for (const e of j.eqns)
    if (e.inputs.some((a) => !(a instanceof Literal) && dep.has(a))) e.outs.forEach((o) => dep.add(o));
  return dep;
}

describe("jit: where plans run small equations", () => {
  // A host step reads its tensor inputs with dataSync; a plan on kernels alone reads nothing.
  const v = hd.random.normal(hd.random.key(2), [10]);
  afterAll(() => hd.dispose(v));
  const reads = (run: () => unknown): number => {
    const proto = Object.getPrototypeOf(v) as { dataSync: () => unknown };
    const spy = vi.spyOn(proto, "dataSync");
    try {
      hd.dispose(run() as Value[]);
      return spy.mock.calls.length;
    } finally {
      spy.mockRestore();
    }
  };
  const f = (a: Value, b: Value) => [hd.sum(hd.tanh(a)), hd.exp(hd.mul(b, 2))];

  it.each([
    ["small arrays only: on the host", [64, 64], true],
    [
      "with a 2¹⁶-element array: on kernels (cold caches make the host's JS and transfers cost more)",
      [256, 256],
      false,
    ],
  ] as const)("%s", (_name, shape, onHost) => {
    const a = hd.random.normal(hd.random.key(1), [...shape]);
    const before = hd.numTensors();
    const jf = hd.jit(f);
    hd.tidy(() => {
      close(jf(a, v), f(a, v));
    });
    expect(reads(() => jf(a, v)) > 0).toBe(onHost);
    jf.dispose();
    expect(hd.numTensors()).toBe(before);
    hd.dispose(a);
  });
});

describe("linearize by partial evaluation", () => {
  it("the linear map's jaxpr has only tangent work, and equals jvp", () => {
    const f = (a: Value) => hd.sum(hd.sin(hd.exp(hd.mul(a, a))));
    const x = hd.array([0.1, 0.5, -0.3]);
    const t = hd.array([1, -2, 0.5]);
    const [y, lin] = hd.linearize(f, x);
    const j = lin.jaxpr.jaxpr;
    const dep = tangentDependent(j);
    expect(j.eqns.every((e) => e.outs.every((o) => dep.has(o)))).toBe(true);
    expect(j.eqns.map((e) => e.prim.name)).not.toContain("exp");
    expect(j.eqns.map((e) => e.prim.name)).not.toContain("sin");
    const [y0, t0] = hd.jvp(f, [x], [t]);
    close(y, y0);
    close(lin(t), t0);
    hd.dispose([y, lin]);
  });

  it("on the tiny CNN: no primal-only equation; equals jvp for several tangents", () => {
    const model = tinyCnn();
    const theta = model.theta();
    const [, lin] = hd.linearize(model.loss, theta);
    const j = lin.jaxpr.jaxpr;
    const dep = tangentDependent(j);
    expect(j.eqns.length).toBeGreaterThan(0);
    expect(j.eqns.filter((e) => !e.outs.every((o) => dep.has(o)))).toEqual([]);
    for (const seed of [1, 2]) {
      const v = hd.random.normal(hd.random.key(seed), [model.size]);
      close(lin(v), hd.jvp(model.loss, [theta], [v])[1], 1e-4);
    }
  });
});
