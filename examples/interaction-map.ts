/**
 * Research code by composing transforms: the interaction map of a small network, i.e. the matrix
 * H̄_ij = u_iᵀ·∇²L·u_j of the loss's curvature between parameter tensors i and j along the
 * gradient u (u_i = u restricted to tensor i). Built here from `grad` and `hvp` (= jvp of grad),
 * then checked against @hodiff/partition's batched `summaries`. Run: npx tsx examples/interaction-map.ts
 */
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import { canonical, interactionMap, summaries } from "@hodiff/partition";

await hd.useDefaultBackend();
const [k1, k2, k3] = hd.random.split(hd.random.key(0), 3) as [hd.Key, hd.Key, hd.Key];
const params = {
  l1: { w: hd.tidy(() => hd.mul(hd.random.normal(k1, [4, 8]), 0.5)), b: hd.zeros([8]) },
  l2: { w: hd.tidy(() => hd.mul(hd.random.normal(k2, [8, 2]), 0.35)), b: hd.zeros([2]) },
};
type Params = typeof params;
const x = hd.random.normal(k3, [16, 4]);
const y = hd.tidy(() => hd.sin(hd.slice(x, [0, 0], [16, 2])));
const loss = (p: Params): Value => {
  const h = hd.tanh(hd.add(hd.matmul(x, p.l1.w), p.l1.b));
  return hd.mean(hd.square(hd.sub(hd.add(hd.matmul(h, p.l2.w), p.l2.b), y)));
};

const before = hd.numTensors();
const { hbar, reference } = hd.scope(() => {
  const u: Params = hd.grad(loss)(params); // the gradient keeps the parameters' type
  const [leaves, def] = hd.treeFlatten(u);
  const only = (i: number) =>
    hd.treeUnflatten(
      def,
      leaves.map((l, j) => (j === i ? l : hd.zerosLike(l))),
    ) as Params;
  const dot = (a: Params, b: Params) =>
    hd.treeLeaves(a).reduce((s, l, i) => s + hd.item(hd.sum(hd.mul(l, hd.treeLeaves(b)[i]!))), 0);
  const Hu = leaves.map((_, j) => hd.hvp(loss, [params], [only(j)])); // ∇²L·u_j, forward-over-reverse
  const hbar = leaves.map((_, i) => Hu.map((Huj) => dot(only(i), Huj)));
  return { hbar, reference: summaries(loss as never, canonical(params))(params, u).hbar };
});

const map = interactionMap(hbar, canonical(params));
const scale = Math.max(...reference.flat().map(Math.abs));
const error = Math.max(...hbar.flatMap((row, i) => row.map((v, j) => Math.abs(v - reference[i]![j]!)))) / scale;
console.log(`groups: ${map.labels.join(", ")}`);
console.log(
  `|H̄_ij| / √|H̄_ii·H̄_jj| =\n${map.normalized.map((r) => r.map((v) => v.toFixed(2).padStart(6)).join("")).join("\n")}`,
);
console.log(`max |H̄ (grad+hvp) − H̄ (summaries)| / max |H̄| = ${error.toExponential(1)}`);
if (!(error < 1e-3)) throw new Error("the two ways of computing H̄ disagree");
if (hd.numTensors() !== before) throw new Error(`leaked ${hd.numTensors() - before} tensors`);
hd.dispose([params, x, y]);
console.log("interaction map: OK");
