/** checkpoint: same values and derivatives as f in every mode, intermediates freed, no leaks. */
import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "../index";
import type { Value } from "../index";

const close = (a: unknown, b: unknown, tol = { atol: 1e-5, rtol: 1e-4 }) =>
  expect(hd.testing.allClose(a, b, tol)).toBeNull();

interface Layer {
  w: Value;
  b: Value;
}
/** One ELU layer: the kind of block deep models checkpoint. */
const block = (p: Layer, h: Value): Value => hd.elu(hd.add(hd.matmul(h, p.w), p.b));

function problem() {
  const keys = hd.random.split(hd.random.key(7), 5);
  const layers: Layer[] = [0, 1, 2].map((i) => ({
    w: hd.mul(hd.random.normal(keys[i]!, [4, 4]), 0.6),
    b: hd.mul(hd.random.normal(keys[i + 1]!, [4]), 0.1),
  }));
  const x = hd.random.normal(keys[4]!, [5, 4]);
  return { layers, x };
}

const lossWith =
  (step: (p: Layer, h: Value) => Value, x: Value) =>
  (layers: Layer[]): Value =>
    hd.sum(hd.tanh(layers.reduce((h, p) => step(p, h), x)));

describe("checkpoint", () => {
  it("gives the values and gradients of f, in grad, jvp, vmap, hvp and nested grad", () => {
    const before = tf.memory().numTensors;
    hd.tidy(() => {
      const { layers, x } = problem();
      const plain = lossWith(block, x);
      const remat = lossWith(hd.checkpoint(block), x);
      close(remat(layers), plain(layers));
      close(hd.grad(remat)(layers), hd.grad(plain)(layers));
      const dir = hd.treeMap((l: Value) => hd.onesLike(l), layers as never);
      close(hd.jvp(remat, [layers], [dir]), hd.jvp(plain, [layers], [dir]));
      close(hd.hvp(remat, [layers], [dir]), hd.hvp(plain, [layers], [dir]), { atol: 1e-4, rtol: 1e-3 });
      // Forward-over-reverse batched over directions (what partitioned summaries run): vmap of hvp.
      const dirs = hd.treeMap((l: Value) => hd.stack([l, hd.neg(hd.square(l))]), layers as never);
      const hvps = (loss: typeof plain) => hd.vmap((d: Layer[]) => hd.hvp(loss, [layers], [d]))(dirs);
      close(hvps(remat), hvps(plain), { atol: 1e-4, rtol: 1e-3 });
      // vmap over inputs of grad of checkpoint.
      const xs = hd.random.normal(hd.random.key(9), [3, 5, 4]);
      const gx = (step: typeof block) => hd.vmap((xi: Value) => hd.grad((z: Value) => lossWith(step, z)(layers))(xi));
      close(gx(hd.checkpoint(block))(xs), gx(block)(xs));
      // Nested grad: the second derivative of a checkpointed scalar function against its closed form.
      const f = hd.checkpoint((z: Value) => hd.mul(hd.exp(hd.mul(z, 2)), z));
      const d2 = hd.grad(hd.grad(f))(hd.array(0.3));
      close(d2, hd.array(Math.exp(0.6) * (4 * 0.3 + 4)));
      // grad of a checkpointed block inside a checkpointed block.
      const outer = hd.checkpoint((ls: Layer[], h: Value) => hd.checkpoint(block)(ls[1]!, block(ls[0]!, h)));
      const two = (ls: Layer[]) => hd.sum(hd.tanh(outer(ls, x)));
      const two0 = (ls: Layer[]) => hd.sum(hd.tanh(block(ls[1]!, block(ls[0]!, x))));
      close(hd.grad(two)(layers), hd.grad(two0)(layers));
      // Several outputs, one of them unused.
      const pair = hd.checkpoint((a: Value, b: Value) => ({ s: hd.sin(hd.mul(a, b)), c: hd.cos(a) }));
      const g = hd.grad((a: Value) => hd.sum(pair(a, x).s), {})(hd.onesLike(x));
      close(g, hd.mul(hd.cos(hd.mul(hd.onesLike(x), x)), x));
      return [];
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("keeps only block inputs and outputs alive across a forward pass", () => {
    hd.tidy(() => {
      const { layers, x } = problem();
      const deep = [...layers, ...layers, ...layers];
      const alive = (step: typeof block) => {
        let n = 0;
        hd.grad((ls: Layer[]) => {
          const out = hd.sum(hd.tanh(ls.reduce((h: Value, p: Layer) => step(p, h), x)));
          n = tf.memory().numTensors;
          return out;
        })(deep);
        return n;
      };
      // A block of three ELU layers keeps several intermediates (matmul, add and elu outputs per
      // layer; elu is one primitive); with checkpoint only the block's input and output stay.
      const deepBlock = (p: Layer, h: Value): Value => block(p, block(p, block(p, h)));
      const before = tf.memory().numTensors;
      const plain = alive(deepBlock) - before;
      const remat = alive(hd.checkpoint(deepBlock)) - before;
      expect(remat).toBeLessThan(plain / 2);
      return [];
    });
  });

  it("refuses traced values captured from an enclosing transform, and unknown policies", () => {
    hd.tidy(() => {
      const { layers, x } = problem();
      const captured = (ls: Layer[]) => hd.sum(hd.checkpoint((h: Value) => block(ls[0]!, h))(x));
      expect(() => hd.grad(captured)(layers)).toThrow(/not one of its arguments/);
      expect(() => hd.checkpoint(block, { policy: "dots" as never })).toThrow(/policy/);
      close(hd.checkpoint(block, { policy: "everythingSaveable" })(layers[0]!, x), block(layers[0]!, x));
      return [];
    });
  });
});

describe("checkpoint under jit", () => {
  it("the recomputation is not merged with the forward pass by CSE, and values and gradients still match", () => {
    const { layers, x } = problem();
    const f = lossWith(hd.checkpoint(block), x);
    const plain = lossWith(block, x);
    const jg = hd.jit(hd.grad(f));
    // Each checkpointed block runs its matmul twice: forward, and recomputed on the backward pass.
    const matmuls = jg.jaxpr(layers).jaxpr.eqns.filter((e) => e.prim.name === "matmul").length;
    const jp = hd.jit(hd.grad(plain));
    const plainMatmuls = jp.jaxpr(layers).jaxpr.eqns.filter((e) => e.prim.name === "matmul").length;
    jp.dispose();
    expect(matmuls).toBe(plainMatmuls + layers.length);
    close(jg(layers), hd.grad(plain)(layers));
    jg.dispose();
    hd.dispose([layers, x]);
  });
});
