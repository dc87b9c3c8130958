/**
 * log-softmax as composite primitives (`Primitive.decompose`). Written with max, sub, exp, sum and
 * log it costs nine traced ops forward and nine backward (the equations of `makeJaxpr` of
 * `decompose` and of its `vjp` applied to a cotangent argument, [100, 10] over axis 1), each a
 * kernel call and a tape node; as one primitive it is one kernel call (`K.logSoftmax`) forward
 * and one (`K.logSoftmaxGrad`) backward under grad. logSoftmax has jvp, vjp and vmap rules;
 * logSoftmaxGrad has none. jit staging records both whole (a plan runs each as its kernel); every
 * other interpreter (jet, and any transform of logSoftmaxGrad: reverse mode over these rules)
 * interprets the decomposition, so higher orders stay exact.
 */
import { K } from "../kernels";
import { avalOf, bind, shapeError, type Aval, type Primitive, type Value } from "../trace/core";
import { exp, log, mul, stopGradient, sub } from "./elementwise";
import { reduceMax, reduceSum } from "./reduce";
import { reshape } from "./shape";
import { isFloat, sameShape } from "./rules";
import { keptShape } from "../shapes";

export interface SoftmaxParams {
  /** Distinct axes, sorted, that the softmax normalises over. */
  readonly axes: readonly number[];
}

function checkAxes(op: string, x: Aval, axes: readonly number[]): void {
  const r = x.shape.length;
  if (axes.some((a) => !Number.isInteger(a) || a < 0 || a >= r) || new Set(axes).size !== axes.length) {
    shapeError(op, `axes [${axes.join(",")}] are not distinct axes of ${x.dtype}[${x.shape.join(",")}]`);
  }
  if (!isFloat(x.dtype)) shapeError(op, `argument must be float32, got ${x.dtype}[${x.shape.join(",")}]`);
}

/** A reduction over `axes` viewed with them kept as size 1 (to broadcast against x). */
const kept = (x: Value, r: Value, axes: readonly number[]): Value => reshape(r, keptShape(avalOf(x).shape, axes));

/** logSoftmax(x) = s − log Σ_axes exp(s), s = x − stopGradient(max_axes x) (the max only stabilises). */
export const logSoftmaxP: Primitive<SoftmaxParams> = {
  name: "logSoftmax",
  impl: ([x], { axes }) => K.logSoftmax(x!, [...axes]),
  abstractEval: ([x], { axes }) => {
    checkAxes("logSoftmax", x!, axes);
    return x!;
  },
  decompose: ([x], { axes }) => {
    const v = x as Value;
    const shifted = sub(v, stopGradient(kept(v, reduceMax(v, axes), axes)));
    return sub(shifted, log(kept(v, reduceSum(exp(shifted), axes), axes)));
  },
};

/**
 * logSoftmaxGrad(y, t) = t − exp(y)·Σ_axes t with y = logSoftmax(x): the transpose of logSoftmax's
 * derivative at x applied to a cotangent t (∂y/∂x = I − softmax(x)·1ᵀ along the axes).
 */
export const logSoftmaxGradP: Primitive<SoftmaxParams> = {
  name: "logSoftmaxGrad",
  linearIn: 1,
  impl: ([y, t], { axes }) => K.logSoftmaxGrad(y!, t!, [...axes]),
  abstractEval: ([y, t], { axes }) => {
    checkAxes("logSoftmaxGrad", y!, axes);
    if (!sameShape(y!.shape, t!.shape) || y!.dtype !== t!.dtype) {
      shapeError("logSoftmaxGrad", `y and t differ: [${y!.shape.join(",")}] and [${t!.shape.join(",")}]`);
    }
    return y!;
  },
  decompose: ([y, t], { axes }) => {
    const tv = t as Value;
    return sub(tv, mul(exp(y as Value), kept(tv, reduceSum(tv, axes), axes)));
  },
};

/** x − logsumexp_axes(x): one primitive (see `logSoftmaxP`); `axes` distinct and sorted. */
export const logSoftmaxOp = (x: Value, axes: readonly number[]): Value => bind(logSoftmaxP, [x], { axes });

/** t − exp(y)·Σ_axes t, the cotangent of x for the cotangent t of y = logSoftmax(x). */
export const logSoftmaxGrad = (y: Value, t: Value, axes: readonly number[]): Value =>
  bind(logSoftmaxGradP, [y, t], { axes });
