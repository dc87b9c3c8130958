/**
 * matmulP's transposeA/transposeB (op(a)·op(b)) against a float64 brute-force product: forward,
 * gradients (closed forms from brute-force products), grad of grad, vmap over each operand at each
 * axis, jit (host kernels for small arrays, tfjs kernels for large ones) against eager, broadcast
 * hd.matmul gradients (whose rules now emit the flags), on the cpu and wasm backends (whose
 * `K.matmul` runs the flags differently); every transform leaves the tensor count unchanged.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "../index";
import type { Value } from "../index";
import { setBackend } from "../backend";
import { matmulT } from "./linalg";
import { randomFloats } from "../testing/randomFloats";

const FLAGS = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

const randomData = (n: number, seed: number): Float32Array => randomFloats([n], seed);
const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** A dense float64 array with its shape. */
interface F64 {
  data: Float64Array;
  shape: number[];
}
const f64 = (v: Value): F64 => ({ data: Float64Array.from(hd.toFlat(v)), shape: [...hd.shapeOf(v)] });

/** swap of the last two axes, in float64. */
function swapLast(x: F64): F64 {
  const [r, c] = x.shape.slice(-2) as [number, number];
  const out = new Float64Array(x.data.length);
  for (let t = 0; t < x.data.length; t += r * c)
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[t + j * r + i] = x.data[t + i * c + j]!;
  return { data: out, shape: [...x.shape.slice(0, -2), c, r] };
}
const op = (x: F64, t: boolean) => (t ? swapLast(x) : x);

/** a·b over equal batch dims, in float64 (the truth). */
function product(a: F64, b: F64): F64 {
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape.at(-1)!;
  const batch = size(a.shape.slice(0, -2));
  const out = new Float64Array(batch * m * n);
  for (let t = 0; t < batch; t++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a.data[t * m * k + i * k + p]! * b.data[t * k * n + p * n + j]!;
        out[t * m * n + i * n + j] = s;
      }
  return { data: out, shape: [...a.shape.slice(0, -2), m, n] };
}

/** Stored shapes of a and b for op(a): [..., m, k], op(b): [..., k, n]. */
const stored = (batch: number[], m: number, k: number, n: number, ta: boolean, tb: boolean) =>
  [
    [...batch, ...(ta ? [k, m] : [m, k])],
    [...batch, ...(tb ? [n, k] : [k, n])],
  ] as const;

function expectClose(got: Value, want: F64, tol = 1e-4): void {
  expect([...hd.shapeOf(got)]).toEqual(want.shape);
  const g = hd.toFlat(got);
  let worst = 0;
  want.data.forEach((w, i) => (worst = Math.max(worst, Math.abs(g[i]! - w) / (1 + Math.abs(w)))));
  expect(worst).toBeLessThan(tol);
}

for (const backend of ["cpu", "wasm"] as const) {
  describe(`matmul transpose flags on ${backend}`, () => {
    let before = 0;
    beforeAll(async () => await setBackend(backend));
    beforeEach(() => void (before = tf.memory().numTensors));
    afterEach(() => expect(tf.memory().numTensors).toBe(before));

    // Rank 2, rank 3 (the kernel's own batch), rank 4 (flattened into rank 3), and sizes of 1.
    const SHAPES: [number[], number, number, number][] = [
      [[], 3, 4, 5],
      [[2], 4, 3, 2],
      [[2, 3], 2, 5, 3],
      [[], 1, 6, 1],
    ];

    for (const [ta, tb] of FLAGS) {
      const tag = `transposeA ${ta}, transposeB ${tb}`;
      it(`${tag}: forward and both gradients equal the float64 products`, () => {
        SHAPES.forEach(([batch, m, k, n], c) => {
          const [sa, sb] = stored(batch, m, k, n, ta, tb);
          const a = hd.array(randomData(size(sa), 10 * c + 1), { shape: sa });
          const b = hd.array(randomData(size(sb), 10 * c + 2), { shape: sb });
          const w = hd.array(randomData(size([...batch, m, n]), 10 * c + 3), { shape: [...batch, m, n] });
          hd.tidy(() => {
            const [A, B, W] = [f64(a), f64(b), f64(w)];
            expectClose(matmulT(a, b, ta, tb), product(op(A, ta), op(B, tb)));
            // L = Σ W ⊙ op(a)·op(b): ∂L/∂op(a) = W·op(b)ᵀ, ∂L/∂op(b) = op(a)ᵀ·W.
            const loss = (x: Value, y: Value) => hd.sum(hd.mul(w, matmulT(x, y, ta, tb)));
            const [ga, gb] = hd.grad(loss, { argnums: [0, 1] })(a, b) as [Value, Value];
            expectClose(ga, op(product(W, swapLast(op(B, tb))), ta));
            expectClose(gb, op(product(swapLast(op(A, ta)), W), tb));
            return [];
          });
          hd.dispose([a, b, w]);
        });
      });

      it(`${tag}: grad of grad equals the closed form, and jit equals eager`, () => {
        const [sa, sb] = stored([2], 3, 4, 5, ta, tb);
        const a = hd.array(randomData(size(sa), 7), { shape: sa });
        const b = hd.array(randomData(size(sb), 8), { shape: sb });
        const w = hd.array(randomData(30, 9), { shape: [2, 3, 5] });
        const v = hd.array(randomData(size(sa), 11), { shape: sa });
        hd.tidy(() => {
          const loss = (x: Value, y: Value) => hd.sum(hd.mul(w, matmulT(x, y, ta, tb)));
          // h(b) = ⟨∂L/∂a, v⟩ = Σ W ⊙ op(v)·op(b): ∂h/∂op(b) = op(v)ᵀ·W.
          const h = (y: Value) => hd.sum(hd.mul(hd.grad((x: Value) => loss(x, y))(a), v));
          const V = f64(v);
          expectClose(hd.grad(h)(b), op(product(swapLast(op(V, ta)), f64(w)), tb));
          // A nonlinear loss through the flagged product: jit (host kernels at this size) = eager.
          const smooth = (x: Value, y: Value) => hd.sum(hd.tanh(matmulT(x, y, ta, tb)));
          const eager = hd.grad(smooth, { argnums: [0, 1] })(a, b);
          const jitGrad = hd.jit(hd.grad(smooth, { argnums: [0, 1] }));
          expect(hd.testing.allClose(jitGrad(a, b), eager, { atol: 1e-6, rtol: 1e-5 })).toBeNull();
          const gg = (y: Value) => hd.sum(hd.mul(hd.grad((x: Value) => smooth(x, y))(a), v));
          const jitGg = hd.jit(hd.grad(gg));
          expect(hd.testing.allClose(jitGg(b), hd.grad(gg)(b), { atol: 1e-6, rtol: 1e-5 })).toBeNull();
          jitGrad.dispose();
          jitGg.dispose();
          return [];
        });
        hd.dispose([a, b, w, v]);
      });

      it(`${tag}: jit of a product too large for the host equals the float64 product`, () => {
        const [sa, sb] = stored([], 70, 80, 90, ta, tb);
        const a = hd.array(randomData(size(sa), 21), { shape: sa });
        const b = hd.array(randomData(size(sb), 22), { shape: sb });
        const f = hd.jit((x: Value, y: Value) => matmulT(x, y, ta, tb));
        hd.tidy(() => {
          expectClose(f(a, b) as Value, product(op(f64(a), ta), op(f64(b), tb)));
          return [];
        });
        f.dispose();
        hd.dispose([a, b]);
      });

      it(`${tag}: vmap over a, over b, over both, at each axis, equals per-slice products`, () => {
        const [B, m, k, n] = [3, 2, 4, 5];
        const [sa, sb] = stored([2], m, k, n, ta, tb);
        for (const [mapA, mapB] of [
          [true, false],
          [false, true],
          [true, true],
        ] as const)
          for (let axis = 0; axis <= 3; axis++) {
            const shapeA = mapA ? [...sa.slice(0, axis), B, ...sa.slice(axis)] : sa;
            const shapeB = mapB ? [...sb.slice(0, axis), B, ...sb.slice(axis)] : sb;
            const a = hd.array(randomData(size(shapeA), axis + 31), { shape: shapeA });
            const b = hd.array(randomData(size(shapeB), axis + 41), { shape: shapeB });
            hd.tidy(() => {
              const f = (x: Value, y: Value) => matmulT(x, y, ta, tb);
              const got = hd.vmap(f, [mapA ? axis : null, mapB ? axis : null])(a, b) as Value;
              // Truth: slice i of each mapped operand (moved to the front), multiplied in float64.
              const front = (x: Value, mapped: boolean, i: number) => {
                if (!mapped) return f64(x);
                const r = hd.shapeOf(x).length;
                const perm = [axis, ...[...Array(r).keys()].filter((d) => d !== axis)];
                const moved = hd.transpose(x, perm);
                const s = hd.shapeOf(moved);
                return f64(hd.reshape(hd.slice(moved, [i, 0, 0, 0], [1, ...s.slice(1)]), s.slice(1)));
              };
              const slices = [...Array(B).keys()].map((i) =>
                product(op(front(a, mapA, i), ta), op(front(b, mapB, i), tb)),
              );
              const want: F64 = {
                data: Float64Array.from(slices.flatMap((s) => Array.from(s.data))),
                shape: [B, ...slices[0]!.shape],
              };
              expectClose(got, want);
              // And the gradient through vmap, against the same loss summed slice by slice.
              const loss = (x: Value, y: Value) =>
                hd.sum(hd.tanh(hd.vmap(f, [mapA ? axis : null, mapB ? axis : null])(x, y) as Value));
              const perSlice = (x: Value, y: Value) => {
                let total: Value = hd.array(0);
                for (let i = 0; i < B; i++) {
                  const pick = (z: Value, mapped: boolean) =>
                    mapped ? hd.reshape(hd.slice(z, sliceBegin(z, axis, i), sliceSize(z, axis)), dropAxis(z, axis)) : z;
                  total = hd.add(total, hd.sum(hd.tanh(f(pick(x, mapA), pick(y, mapB)))));
                }
                return total;
              };
              expect(
                hd.testing.allClose(
                  hd.grad(loss, { argnums: [0, 1] })(a, b),
                  hd.grad(perSlice, { argnums: [0, 1] })(a, b),
                  {
                    atol: 1e-5,
                    rtol: 1e-4,
                  },
                ),
              ).toBeNull();
              return [];
            });
            hd.dispose([a, b]);
          }
      });
    }

    it("hd.matmul with broadcast batches: gradients equal the float64 products", () => {
      // [1,3,4,5]·[2,1,5,2] → [2,3,4,2]; the rules' flagged matmuls on the broadcast operands.
      const a = hd.array(randomData(60, 51), { shape: [1, 3, 4, 5] });
      const b = hd.array(randomData(20, 52), { shape: [2, 1, 5, 2] });
      const w = hd.array(randomData(48, 53), { shape: [2, 3, 4, 2] });
      hd.tidy(() => {
        const [ga, gb] = hd.grad((x: Value, y: Value) => hd.sum(hd.mul(w, hd.matmul(x, y))), { argnums: [0, 1] })(
          a,
          b,
        ) as [Value, Value];
        const A = f64(a);
        const Bm = f64(b);
        const W = f64(w);
        // ∂a[0,j] = Σ_i W[i,j]·b[i,0]ᵀ; ∂b[i,0] = Σ_j a[0,j]ᵀ·W[i,j] (4×5 and 5×2 blocks).
        const block = (x: F64, at: number, r: number, c: number): F64 => ({
          data: x.data.slice(at * r * c, (at + 1) * r * c),
          shape: [r, c],
        });
        const sumInto = (acc: Float64Array, x: F64) => x.data.forEach((v, i) => (acc[i]! += v));
        const wantA = new Float64Array(60);
        const wantB = new Float64Array(20);
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 3; j++) {
            const Wij = block(W, i * 3 + j, 4, 2);
            const dA = product(Wij, swapLast(block(Bm, i, 5, 2)));
            dA.data.forEach((v, e) => (wantA[j * 20 + e]! += v));
            sumInto(wantB.subarray(i * 10, i * 10 + 10), product(swapLast(block(A, j, 4, 5)), Wij));
          }
        expectClose(ga, { data: wantA, shape: [1, 3, 4, 5] });
        expectClose(gb, { data: wantB, shape: [2, 1, 5, 2] });
        return [];
      });
      hd.dispose([a, b, w]);
    });

    it("jit transposes a constant flagged operand once, at compile time: no Transpose kernel per call", async () => {
      // ∂w of Σ tanh(x·w) is xᵀ·c: with x captured (a constant), x is transposed when compiling.
      const x = hd.array(randomData(80 * 60, 71), { shape: [80, 60] });
      const wt = hd.array(randomData(60 * 70, 72), { shape: [60, 70] });
      const g = hd.grad((p: Value) => hd.sum(hd.tanh(hd.matmul(x, p))));
      const jitted = hd.jit(g);
      const eager = g(wt);
      hd.dispose(jitted(wt)); // compiles
      let out: Value | undefined;
      const kernels = (await tf.profile(() => void (out = jitted(wt) as Value))).kernels.map((k) => k.name);
      expect(kernels).toContain("BatchMatMul");
      expect(kernels).not.toContain("Transpose");
      expect(hd.testing.allClose(out, eager, { atol: 1e-5, rtol: 1e-5 })).toBeNull();
      hd.dispose([out!, eager, x, wt]);
      jitted.dispose();
    });

    it("the gradient of an MLP layer issues no transpose primitive (only the kernel seam may transpose)", () => {
      const x = hd.array(randomData(12, 61), { shape: [3, 4] });
      const wt = hd.array(randomData(20, 62), { shape: [4, 5] });
      const closed = hd.makeJaxpr(hd.grad((p: Value) => hd.sum(hd.tanh(hd.matmul(x, p)))))(wt);
      const names = closed.jaxpr.eqns.map((e) => e.prim.name);
      expect(names).toContain("matmul");
      expect(names).not.toContain("transpose");
      closed.dispose();
      hd.dispose([x, wt]);
    });
  });
}

/** begin/size/shape helpers for slice i along `axis`. */
const sliceBegin = (z: Value, axis: number, i: number) => hd.shapeOf(z).map((_, d) => (d === axis ? i : 0));
const sliceSize = (z: Value, axis: number) => hd.shapeOf(z).map((s, d) => (d === axis ? 1 : s));
const dropAxis = (z: Value, axis: number) => hd.shapeOf(z).filter((_, d) => d !== axis);
