/** Transforms compose: identities between routes, brute-force Hessians, pytrees, errors, memory. */
import { describe, expect, it } from "vitest";
import * as hd from "../index";
import type { Value } from "../index";
import { tinyCnn, tinyMlp, type TinyModel } from "./fixtures";

const close = (a: unknown, b: unknown, atol = 1e-4, rtol = 1e-3) =>
  expect(hd.testing.allClose(a, b, { atol, rtol })).toBeNull();

/** Hessian by central differences of the gradient (column j from ±ε·e_j). */
function finiteDifferenceHessian(loss: (t: Value) => Value, theta: Value, eps = 1e-2): number[][] {
  const n = hd.shapeOf(theta)[0]!;
  const g = hd.grad(loss);
  const cols: number[][] = [];
  for (let j = 0; j < n; j++) {
    const col = hd.tidy(() => {
      const e = hd.mul(hd.slice(hd.concat([hd.zeros([j]), hd.ones([1]), hd.zeros([n - j - 1])]), [0], [n]), eps);
      return hd.div(hd.sub(g(hd.add(theta, e)), g(hd.sub(theta, e))), 2 * eps);
    });
    cols.push(Array.from(hd.toFlat(col)));
    hd.dispose(col);
  }
  return cols[0]!.map((_, i) => cols.map((c) => c[i]!));
}

const models: Array<[string, () => TinyModel]> = [
  ["tiny MLP", tinyMlp],
  ["tiny CNN", tinyCnn],
];

describe.each(models)("%s: every route to second derivatives agrees", (_name, make) => {
  const model = make();
  const theta = model.theta();
  const v = hd.random.normal(hd.random.key(9), [model.size]);

  it("hessian = jacfwd(jacrev) = jacrev(jacfwd) = jacrev(jacrev) = finite differences; symmetric", () => {
    const H = hd.hessian(model.loss)(theta) as Value;
    expect(hd.shapeOf(H)).toEqual([model.size, model.size]);
    close(hd.jacrev(hd.jacfwd(model.loss))(theta), H);
    close(hd.jacrev(hd.jacrev(model.loss))(theta), H);
    close(hd.jacfwd(hd.jacfwd(model.loss))(theta), H);
    close(hd.transpose(H), H, 1e-5, 1e-4);
    close(hd.array(finiteDifferenceHessian(model.loss, theta)), H, 2e-3, 2e-2);
  });

  it("jvp(grad f) = hvp = grad(x ↦ jvp(f)(x)·v) = H·v", () => {
    const H = hd.hessian(model.loss)(theta) as Value;
    const Hv = hd.matmul(H, v);
    const forwardOverReverse = hd.jvp(hd.grad(model.loss), [theta], [v])[1];
    const reverseOverForward = hd.grad((t: Value) => hd.jvp(model.loss, [t], [v])[1] as Value)(theta);
    close(forwardOverReverse, Hv);
    close(hd.hvp(model.loss, [theta], [v]), Hv);
    close(reverseOverForward, Hv);
  });

  it("vmap(grad f) equals a loop of grad f; vmap(hvp) equals a loop of hvp", () => {
    const thetas = hd.stack([theta, hd.mul(theta, 0.5), hd.add(theta, 0.1)]);
    const batched = hd.vmap(hd.grad(model.loss))(thetas);
    const loop = hd.stack(
      [0, 1, 2].map((i) => hd.grad(model.loss)(hd.reshape(hd.slice(thetas, [i, 0], [1, -1]), [model.size]))),
    );
    close(batched, loop, 1e-5, 1e-4);
    const vs = hd.random.normal(hd.random.key(10), [4, model.size]);
    const hvps = hd.vmap((u: Value) => hd.hvp(model.loss, [theta], [u]), 0)(vs);
    const H = hd.hessian(model.loss)(theta) as Value;
    close(hvps, hd.transpose(hd.matmul(H, hd.transpose(vs))));
  });

  it("third derivative tensor: jacfwd(hessian) is symmetric under index permutations", () => {
    const T = hd.jacfwd(hd.hessian(model.loss))(theta) as Value;
    close(hd.transpose(T, [1, 0, 2]), T, 1e-4, 1e-3);
    close(hd.transpose(T, [2, 1, 0]), T, 1e-4, 1e-3);
    // contraction with v three times equals the nested directional derivative
    const d3 = hd.jvp(
      (t: Value) => hd.jvp((s: Value) => hd.jvp(model.loss, [s], [v])[1], [t], [v])[1],
      [theta],
      [v],
    )[1] as Value;
    const contracted = hd.matmul(hd.matmul(hd.matmul(T, v), v), v);
    close(d3, contracted, 1e-3, 1e-3);
  });
});

describe("perturbation confusion", () => {
  it("d/dx [x · d/dy (x + y)] = 1, by grad, by jvp, and mixed", () => {
    const one = hd.array(1);
    const inner = (x: Value) => (y: Value) => hd.add(x, y);
    const viaGrad = hd.grad((x: Value) => hd.mul(x, hd.grad(inner(x))(one)))(one);
    const viaJvp = hd.jvp((x: Value) => hd.mul(x, hd.jvp(inner(x), [one], [1])[1] as Value), [one], [1])[1];
    const mixed = hd.grad((x: Value) => hd.mul(x, hd.jvp(inner(x), [one], [1])[1] as Value))(one);
    const mixed2 = hd.jvp((x: Value) => hd.mul(x, hd.grad(inner(x))(one)), [one], [1])[1];
    for (const r of [viaGrad, viaJvp, mixed, mixed2]) expect(hd.item(r as Value)).toBe(1);
  });

  it("vmap inside vmap keeps its axes apart (outer product)", () => {
    const a = hd.array([1, 2, 3]);
    const b = hd.array([10, 20]);
    const outer = hd.vmap((x: Value) => hd.vmap((y: Value) => hd.mul(x, y))(b))(a);
    expect(hd.toNested(outer)).toEqual([
      [10, 20],
      [20, 40],
      [30, 60],
    ]);
  });

  it("a tracer that escapes its transform is reported", () => {
    let leaked: Value | undefined;
    hd.grad((x: Value) => {
      leaked = x;
      return hd.sum(x);
    })(hd.array([1, 2]));
    expect(() => hd.mul(leaked!, 2)).toThrow(/escaped the transform/);
  });
});

describe("pytrees", () => {
  const params = () => ({
    l0: {
      w: hd.array([
        [0.5, -0.2],
        [0.1, 0.3],
      ]),
      b: hd.array([0.1, 0]),
    },
    l1: { w: hd.array([0.7, -0.4]) },
  });
  const x = hd.array([
    [1, 2],
    [-1, 0.5],
    [0, 1],
  ]);
  const loss = (p: ReturnType<typeof params>) =>
    hd.sum(hd.square(hd.matmul(hd.tanh(hd.add(hd.matmul(x, p.l0.w), p.l0.b)), p.l1.w)));

  it("grad of a pytree returns the same structure, equal to per-leaf finite differences", () => {
    const p = params();
    const g = hd.grad(loss)(p);
    expect(Object.keys(g)).toEqual(["l0", "l1"]);
    expect(hd.treePaths(hd.treeFlatten(g)[1])).toEqual(["l0.w", "l0.b", "l1.w"]);
    expect(() => hd.testing.checkGrads(loss, [p], { order: 2 })).not.toThrow();
  });

  it("valueAndGrad, hasAux and argnums", () => {
    const p = params();
    const [value, g] = hd.valueAndGrad(loss)(p);
    close(value, loss(p));
    close(g, hd.grad(loss)(p));
    const withAux = (q: ReturnType<typeof params>) => [loss(q), { norm: hd.sum(hd.square(q.l1.w)) }] as const;
    const [[v2, aux], g2] = hd.valueAndGrad(withAux, { hasAux: true })(p);
    close(v2, value);
    close(aux.norm, 0.65, 1e-6);
    close(g2, g);
    const two = (a: Value, b: Value) => hd.sum(hd.mul(a, hd.exp(b)));
    const [ga, gb] = hd.grad(two, { argnums: [0, 1] })(hd.array([1, 2]), hd.array([0, 1]));
    close(ga, hd.exp(hd.array([0, 1])));
    close(gb, hd.mul(hd.array([1, 2]), hd.exp(hd.array([0, 1]))));
  });

  it("vmap with per-argument and per-leaf axes, and outAxes", () => {
    const f = (p: { w: Value; s: Value }, z: Value) => hd.mul(hd.sum(hd.mul(p.w, z)), p.s);
    const out = hd.vmap(
      f,
      [{ w: 1, s: null }, 0],
      0,
    )(
      {
        w: hd.array([
          [1, 2],
          [3, 4],
        ]),
        s: hd.array(2),
      },
      hd.array([
        [1, 1],
        [0, 1],
      ]),
    );
    // columns of w: [1,3]·[1,1] = 4 → 8; [2,4]·[0,1] = 4 → 8
    expect(hd.toNested(out)).toEqual([8, 8]);
    const t = hd.vmap(
      (a: Value) => hd.mul(a, 2),
      0,
      1,
    )(
      hd.array([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    );
    expect(hd.toNested(t)).toEqual([
      [2, 8],
      [4, 10],
      [6, 12],
    ]);
    const unmapped = hd.vmap((_a: Value) => hd.array(7), 0, 0)(hd.array([1, 2]));
    expect(hd.toNested(unmapped)).toEqual([7, 7]);
  });

  it("linearize's map equals jvp; vjp's pullback equals grad and can be freed", () => {
    const p = params();
    const dir = hd.treeMap((l: Value) => hd.onesLike(l), p);
    const [out, lin] = hd.linearize(loss, p);
    close(out, loss(p));
    close(lin(dir), hd.jvp(loss, [p], [dir])[1]);
    const reference = hd.grad(loss)(p);
    const before = hd.numTensors();
    const [y, pullback] = hd.vjp(loss, p);
    const [g] = pullback(1);
    close(g, reference);
    hd.dispose([y, g, pullback]);
    expect(hd.numTensors()).toBe(before);
  });

  it("errors name the transform and the pytree path", () => {
    const p = params();
    const bad = { ...p, l0: { w: hd.zeros([2, 2]), b: hd.zeros([3]) } };
    expect(() => hd.jvp(loss, [p], [bad])).toThrow(
      /jvp: primals and tangents differ at args\[0\]\.l0\.b: float32\[2\] vs float32\[3\]/,
    );
    expect(() => hd.jvp(loss, [p], [{ l0: p.l0 } as never])).toThrow(
      /jvp: tangents: structure differs at tangents\[0\]: expected an object with keys \{l0, l1\}/,
    );
    expect(() => hd.grad((q: ReturnType<typeof params>) => hd.tanh(q.l0.b))(p)).toThrow(
      /grad: f must return a scalar, got float32\[2\]/,
    );
    expect(() => hd.vmap((a: Value, b: Value) => hd.add(a, b))(hd.zeros([3, 2]), hd.zeros([5]))).toThrow(
      /vmap: inconsistent sizes for mapped axes: args\[0\] \(float32\[3,2\], axis 0\) has 3, args\[1\] \(float32\[5\], axis 0\) has 5/,
    );
    expect(() => hd.grad(loss, { argnums: 2 })(p)).toThrow(/argnums 2 is out of range/);
    expect(() => hd.treeMap((a: number, b: number) => a + b, { a: 1, b: 2 }, { a: 1, c: 2 })).toThrow(
      /structure differs at the root/,
    );
  });
});

describe("memory: transforms leave tf.memory().numTensors unchanged", () => {
  const model = tinyMlp();
  const theta = model.theta();
  const v = hd.random.normal(hd.random.key(3), [model.size]);
  const transforms: Array<[string, () => unknown]> = [
    ["grad", () => hd.grad(model.loss)(theta)],
    ["valueAndGrad", () => hd.valueAndGrad(model.loss)(theta)],
    ["jvp", () => hd.jvp(model.loss, [theta], [v])],
    [
      "vjp + pullback",
      () => {
        const [y, pb] = hd.vjp(model.loss, theta);
        const g = pb(1);
        pb.dispose();
        return [y, g];
      },
    ],
    [
      "vmap(grad)",
      () => {
        const thetas = hd.tidy(() => hd.stack([theta, theta]));
        return [thetas, hd.vmap(hd.grad(model.loss))(thetas)];
      },
    ],
    ["hvp", () => hd.hvp(model.loss, [theta], [v])],
    ["jacfwd", () => hd.jacfwd(hd.grad(model.loss))(theta)],
    ["jacrev", () => hd.jacrev(hd.grad(model.loss))(theta)],
    ["hessian", () => hd.hessian(model.loss)(theta)],
    [
      "linearize",
      () => {
        const [y, lin] = hd.linearize(model.loss, theta);
        return [y, lin(v), lin]; // the map holds its residuals until disposed
      },
    ],
    [
      "grad of grad of grad (sum)",
      () => hd.grad((t: Value) => hd.sum(hd.grad((s: Value) => hd.sum(hd.grad(model.loss)(s)))(t)))(theta),
    ],
  ];
  it.each(transforms)("%s", (_name, run) => {
    const before = hd.numTensors();
    const out = run();
    expect(hd.numTensors()).toBeGreaterThan(before);
    hd.dispose(out);
    expect(hd.numTensors()).toBe(before);
  });

  it("1,000 gradient steps of SGD leak nothing", () => {
    const before = hd.numTensors();
    let t: Value = hd.tidy(() => hd.mul(theta, 1));
    const l0 = hd.tidy(() => model.loss(t));
    const first = hd.item(l0);
    hd.dispose(l0);
    for (let i = 0; i < 1000; i++) {
      const g = hd.grad(model.loss)(t);
      const next = hd.tidy(() => hd.sub(t, hd.mul(g, 0.05)));
      hd.dispose([g, t]);
      t = next;
    }
    const last = hd.tidy(() => model.loss(t));
    expect(hd.item(last)).toBeLessThan(first);
    hd.dispose([t, last]);
    expect(hd.numTensors()).toBe(before + 0);
  });
});

describe("factored forms used by partitioned derivatives give the dense answers", () => {
  // g(α) = L(W + α₀·u, b + α₁·v): its gradient contracts a matmul cotangent against u (deferred
  // cotangent), and vmap over α-directions makes rank-one batched tangents (s ⊗ u).
  const x = hd.random.normal(hd.random.key(21), [6, 4]);
  const W = hd.random.normal(hd.random.key(22), [4, 3]);
  const b = hd.random.normal(hd.random.key(23), [3]);
  const u = hd.random.normal(hd.random.key(24), [4, 3]);
  const v = hd.random.normal(hd.random.key(25), [3]);
  const L = (w: Value, c: Value) => hd.sum(hd.tanh(hd.add(hd.matmul(x, w), c)));
  const g = (alpha: Value) =>
    L(
      hd.add(W, hd.mul(hd.reshape(hd.slice(alpha, [0], [1]), []), u)),
      hd.add(b, hd.mul(hd.reshape(hd.slice(alpha, [1], [1]), []), v)),
    );
  const dense = (w: Value, c: Value) => hd.stack([hd.sum(hd.mul(w, u)), hd.sum(hd.mul(c, v))]);

  it("∇g(0) = (⟨∇_W L, u⟩, ⟨∇_b L, v⟩)", () => {
    const [gW, gb] = hd.grad(L, { argnums: [0, 1] })(W, b) as [Value, Value];
    close(hd.grad(g)(hd.zeros([2])), dense(gW, gb), 1e-5, 1e-5);
  });

  it("∇²g(0) by vmap of jvp over the basis equals VᵀHV from the dense Hessian", () => {
    const H = hd.tidy(() => {
      const theta = hd.concat([hd.reshape(W, [12]), b]);
      const Lflat = (t: Value) => L(hd.reshape(hd.slice(t, [0], [12]), [4, 3]), hd.slice(t, [12], [3]));
      const Hf = hd.hessian(Lflat)(theta) as Value;
      const V = hd.transpose(
        hd.stack([hd.concat([hd.reshape(u, [12]), hd.zeros([3])]), hd.concat([hd.zeros([12]), v])]),
      );
      return hd.matmul(hd.transpose(V), hd.matmul(Hf, V));
    });
    const viaVmap = hd.vmap((e: Value) => hd.jvp(hd.grad(g), [hd.zeros([2])], [e])[1] as Value)(
      hd.array([
        [1, 0],
        [0, 1],
      ]),
    );
    close(viaVmap, H, 1e-4, 1e-3);
  });
});

describe("the deferred conv2d filter cotangent gives the dense answers", () => {
  // g(α) = L(K + α₀·u, c + α₁·v) of a conv layer: ⟨∇_K L, u⟩ is taken as ⟨ct, conv(x, u)⟩.
  const x = hd.random.normal(hd.random.key(31), [2, 5, 5, 2]);
  const K = hd.random.normal(hd.random.key(32), [3, 3, 2, 3]);
  const c = hd.random.normal(hd.random.key(33), [3]);
  const u = hd.random.normal(hd.random.key(34), [3, 3, 2, 3]);
  const v = hd.random.normal(hd.random.key(35), [3]);
  const L = (k: Value, b: Value) => hd.sum(hd.tanh(hd.add(hd.conv2d(x, k, { strides: 2, padding: "same" }), b)));
  const g = (alpha: Value) =>
    L(
      hd.add(K, hd.mul(hd.reshape(hd.slice(alpha, [0], [1]), []), u)),
      hd.add(c, hd.mul(hd.reshape(hd.slice(alpha, [1], [1]), []), v)),
    );

  it("∇g(0) = (⟨∇_K L, u⟩, ⟨∇_c L, v⟩)", () => {
    const before = hd.numTensors();
    hd.tidy(() => {
      const [gK, gc] = hd.grad(L, { argnums: [0, 1] })(K, c) as [Value, Value];
      close(hd.grad(g)(hd.zeros([2])), hd.stack([hd.sum(hd.mul(gK, u)), hd.sum(hd.mul(gc, v))]), 1e-5, 1e-5);
      return [];
    });
    expect(hd.numTensors()).toBe(before);
  });

  it("∇²g(0) by vmap of jvp over the basis equals forward-over-forward along u and v", () => {
    const viaVmap = hd.vmap((e: Value) => hd.jvp(hd.grad(g), [hd.zeros([2])], [e])[1] as Value)(
      hd.array([
        [1, 0],
        [0, 1],
      ]),
    );
    // Second directional derivatives d²/ds dt L(K + s·u_i + t·u_j), by nested jvp (no reverse mode).
    const dirs: [Value, Value][] = [
      [u, hd.zerosLike(v)],
      [hd.zerosLike(u), v],
    ];
    const second = (i: number, j: number) =>
      hd.jvp((k: Value, b: Value) => hd.jvp(L, [k, b], dirs[i]!)[1] as Value, [K, c], dirs[j]!)[1] as Value;
    const want = hd.stack([0, 1].map((i) => hd.stack([0, 1].map((j) => second(i, j)))));
    close(viaVmap, want, 1e-4, 1e-3);
  });
});
