// The task module of check.mjs's @hodiff/parallel check, imported by every thread of the pool
// (plain JavaScript: the installed package starts dist/worker.js, with no TypeScript loader).
// L(θ; batch) = mean_i tanh(w·x_i + b), θ = {w, b} scalars.
import * as hd from "@hodiff/core";
import { defineTask } from "@hodiff/parallel";

export default defineTask(() => (p, batch) => hd.mean(hd.tanh(hd.add(hd.mul(p.w, batch.x), p.b))));
