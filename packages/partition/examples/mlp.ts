/**
 * Worked example: H̄ and the interaction map of a 3-layer tanh MLP along its gradient.
 * Run with `npx tsx packages/partition/examples/mlp.ts`.
 */
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import { canonical, interactionMap, summaries } from "@hodiff/partition";

await hd.useDefaultBackend();
const sizes = [8, 16, 16, 3];
const keys = hd.random.split(hd.random.key(0), 6);
const params = {
  fc1: { w: hd.tidy(() => hd.div(hd.random.normal(keys[0]!, [8, 16]), Math.sqrt(8))), b: hd.zeros([16]) },
  fc2: { w: hd.tidy(() => hd.div(hd.random.normal(keys[1]!, [16, 16]), 4)), b: hd.zeros([16]) },
  fc3: { w: hd.tidy(() => hd.div(hd.random.normal(keys[2]!, [16, 3]), 4)), b: hd.zeros([3]) },
};
const x = hd.random.normal(keys[3]!, [32, sizes[0]!]);
const labels = hd.tidy(() =>
  hd.cast(
    hd.equal(hd.reshape(hd.array(Array.from({ length: 32 }, (_, i) => i % 3)), [32, 1]), hd.array([[0, 1, 2]])),
    "float32",
  ),
);

const loss = (p: typeof params): Value => {
  const h1 = hd.tanh(hd.add(hd.matmul(x, p.fc1.w), p.fc1.b));
  const h2 = hd.tanh(hd.add(hd.matmul(h1, p.fc2.w), p.fc2.b));
  const logits = hd.add(hd.matmul(h2, p.fc3.w), p.fc3.b);
  return hd.neg(hd.mean(hd.sum(hd.mul(hd.logSoftmax(logits), labels), 1)));
};

const partition = canonical(params); // S = 6: fc1.w, fc1.b, fc2.w, fc2.b, fc3.w, fc3.b
const u = hd.grad(loss)(params); // direction: the gradient
const s = summaries(loss as never, partition)(params, u);
const map = interactionMap(s.hbar, partition);

const fmt = (m: number[][]) => m.map((r) => r.map((v) => v.toExponential(2).padStart(10)).join("")).join("\n");
console.log(`L = ${s.loss.toFixed(5)}`);
console.log(`groups: ${map.labels.join(", ")}`);
console.log(`ḡ = [${s.gbar.map((v) => v.toExponential(3)).join(", ")}]`);
console.log(`H̄ =\n${fmt(map.hbar)}`);
console.log(
  `|H̄_ij| / √|H̄_ii H̄_jj| =\n${map.normalized.map((r) => r.map((v) => v.toFixed(2).padStart(6)).join("")).join("\n")}`,
);
console.log(`diag D̄(3) = [${s.order3Diag.map((v) => v.toExponential(3)).join(", ")}]`);
hd.dispose([params, x, labels, u]);
