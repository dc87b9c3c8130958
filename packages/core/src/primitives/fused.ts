/**
 * Fused primitives: two kernels' work as one step. They are never bound while tracing a user's
 * function, so they have no derivative, batching or Taylor rules: jit plans substitute them after
 * differentiation (`staging/fuse.ts`), and reverse mode's tanh rule binds maxScatterTanhGrad only
 * on concrete tensors (`rules/vjp.ts`, DeferredScatter), where no transform is left to see it.
 * conv2dBias is the exception: `conv2d(x, w, { bias })` binds it, as a composite primitive (its
 * `decompose` is conv2d then add, interpreted wherever it has no rule; reverse mode has one).
 */
import { K } from "../kernels";
import { bind, type Primitive } from "../trace/core";
import { add } from "./elementwise";
import { conv2dP, type Conv2DParams } from "./linalg";
import { maxScatterP, type ReduceParams } from "./reduce";

/**
 * conv2d(x, w) + b, b [O] broadcast along the output's last axis: a step of jit plans.
 * Strides and dilations both above 1 take conv2d's own route (dense conv, then subsample), then an add.
 */
export const conv2dBiasP: Primitive<Conv2DParams> = {
  name: "conv2dBias",
  impl: ([x, w, b], p) => {
    const both = (p.strides[0] > 1 || p.strides[1] > 1) && (p.dilations[0] > 1 || p.dilations[1] > 1);
    if (both) {
      const y = conv2dP.impl([x!, w!], p);
      const out = K.add(y, b!);
      y.dispose();
      return out;
    }
    return K.conv2dBias(
      x!,
      w!,
      b!,
      [p.strides[0], p.strides[1]],
      [
        [p.padding[0][0], p.padding[0][1]],
        [p.padding[1][0], p.padding[1][1]],
      ],
      [p.dilations[0], p.dilations[1]],
    );
  },
  abstractEval: ([x, w], p) => conv2dP.abstractEval([x!, w!], p),
  decompose: ([x, w, b], p) => add(bind(conv2dP, [x!, w!], p), b!),
};

/**
 * tanhGrad(x, maxScatter(x, m, t)) with x tanh's output: max pooling's gradient pushed through the
 * tanh before it (a step of jit plans, and reverse mode's on concrete tensors).
 */
export const maxScatterTanhGradP: Primitive<ReduceParams> = {
  name: "maxScatterTanhGrad",
  impl: ([x, m, t], { axes }) => K.maxScatterTanhGrad(x!, m!, t!, [...axes]),
  abstractEval: (avals, p) => maxScatterP.abstractEval(avals, p),
};
