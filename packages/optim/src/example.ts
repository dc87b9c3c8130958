import * as hd from "@hodiff/core";
import { applyUpdates, momentum } from "./index";

/** Fit y = w·x + b to four points by full-batch gradient descent with momentum. */
export function fitLine(steps = 300): { w: number; b: number; loss: number } {
  const x = hd.array([0, 1, 2, 3]);
  const y = hd.array([-1, 1, 3, 5]); // y = 2x − 1
  type Params = { w: hd.Value; b: hd.Value };
  const lossFn = (p: Params) => hd.mean(hd.square(hd.sub(hd.add(hd.mul(p.w, x), p.b), y)));

  const opt = momentum(0.05, { momentum: 0.9 });
  let params: Params = { w: hd.array([0]), b: hd.array([0]) };
  let state = opt.init(params);
  for (let step = 0; step < steps; step++) {
    const [loss, grads] = hd.valueAndGrad(lossFn)(params);
    const next = opt.update(state, params, grads); // pure: returns a new state and the updates
    const newParams = applyUpdates(params, next.updates);
    hd.dispose([loss, grads, next.updates, params, state]); // tfjs memory is manual
    params = newParams;
    state = next.state;
  }
  const loss = hd.tidy(() => hd.item(lossFn(params)));
  const fitted = { w: hd.item(params.w), b: hd.item(params.b), loss };
  hd.dispose([x, y, params, state]);
  return fitted;
}
