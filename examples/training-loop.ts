/**
 * A functional training loop that frees every tensor without a single hand-written dispose: each
 * step is `carry(state, step)`, which runs the step in a memory scope, keeps what the new state
 * holds and frees the rest, old parameters and old Adam moments included. The number of live
 * tensors is the same after every step. Run: npx tsx examples/training-loop.ts
 */
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import { adam, applyUpdates } from "@hodiff/optim";

await hd.useDefaultBackend();
const [k1, k2, k3] = hd.random.split(hd.random.key(1), 3) as [hd.Key, hd.Key, hd.Key];
// Regression of y = sin(3x) on [-1, 1] with a 1-16-1 tanh network.
const x = hd.reshape(hd.random.uniform(k3, [64], -1, 1), [64, 1]);
const y = hd.tidy(() => hd.sin(hd.mul(x, 3)));
const init = {
  hidden: { w: hd.random.normal(k1, [1, 16]), b: hd.zeros([16]) },
  out: { w: hd.tidy(() => hd.mul(hd.random.normal(k2, [16, 1]), 0.25)), b: hd.zeros([1]) },
};
type Params = typeof init;
const loss = (p: Params, xs: Value, ys: Value): Value => {
  const h = hd.tanh(hd.add(hd.matmul(xs, p.hidden.w), p.hidden.b));
  return hd.mean(hd.square(hd.sub(hd.add(hd.matmul(h, p.out.w), p.out.b), ys)));
};

const optimizer = adam(0.02);
let state = { params: init, opt: optimizer.init(init) };
const losses: number[] = [];
let live = 0;
for (let step = 0; step < 500; step++) {
  state = hd.carry(state, ({ params, opt }) => {
    const [value, grads] = hd.valueAndGrad(loss)(params, x, y); // grads: Params
    losses.push(hd.item(value)); // read numbers inside the scope
    const next = optimizer.update(opt, params, grads);
    return { params: applyUpdates(params, next.updates), opt: next.state };
  });
  if (step === 0) live = hd.numTensors();
  else if (hd.numTensors() !== live) throw new Error(`step ${step}: ${hd.numTensors() - live} tensors leaked`);
}

console.log(`loss: ${losses[0]!.toFixed(4)} → ${losses.at(-1)!.toFixed(4)} in ${losses.length} Adam steps`);
console.log(`live tensors after every step: ${live}`);
if (!(losses.at(-1)! < losses[0]! / 10)) throw new Error("the loss did not fall tenfold");
hd.dispose([state, x, y]);
console.log("training loop: OK");
