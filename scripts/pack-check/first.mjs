// first.mjs: fit y = w·x + b to four points with Adam, in plain node.
import * as hd from "@hodiff/core";
import { adam, applyUpdates } from "@hodiff/optim";

await hd.useDefaultBackend(); // wasm (its .wasm files come with the npm package), else cpu
const x = hd.array([0, 1, 2, 3]);
const y = hd.array([-1, 1, 3, 5]); // y = 2x − 1
const loss = (p) => hd.mean(hd.square(hd.sub(hd.add(hd.mul(p.w, x), p.b), y)));

const opt = adam(0.1);
let params = { w: hd.array(0), b: hd.array(0) };
let state = opt.init(params);
for (let step = 0; step < 500; step++) {
  const grads = hd.grad(loss)(params);
  const { state: nextState, updates } = opt.update(state, params, grads);
  const nextParams = applyUpdates(params, updates);
  hd.dispose([grads, updates, params, state]); // tfjs memory is manual
  [params, state] = [nextParams, nextState];
}
const final = hd.tidy(() => hd.item(loss(params))); // tidy frees the loss tensor, keeps the number
console.log(
  `w = ${hd.item(params.w).toFixed(3)}, b = ${hd.item(params.b).toFixed(3)}, loss = ${final.toExponential(1)}`,
);
