/**
 * Elementwise primitives and their ops. Binary ones broadcast like numpy. Derivative and batching
 * rules are in the interpreters' tables (`rules/`); here is only what evaluation needs.
 */
import { K, type DType, type Tensor } from "../kernels";
import { avalOf, bind, shapeError, type ArrayLike, type Aval, type Primitive, type Value } from "../trace/core";
import { broadcastShapes, isFloat } from "./rules";

export type NoParams = Record<string, never>;
const none: NoParams = {};
const def = <P>(p: Primitive<P>): Primitive<P> => p;

function floatOnly(op: string) {
  return ([x]: Aval[]): Aval => {
    if (!isFloat(x!.dtype)) shapeError(op, `argument 'x' must be float32, got ${x!.dtype}[${x!.shape.join(",")}]`);
    return x!;
  };
}

/** A unary float primitive from its kernel. */
const unary = (name: string, kernel: (x: Tensor) => Tensor, flags: { linear?: boolean } = {}): Primitive<NoParams> =>
  def({ name, impl: ([x]) => kernel(x!), abstractEval: floatOnly(name), ...flags });

export const negP = unary("neg", K.neg, { linear: true });
export const expP = unary("exp", K.exp);
export const expm1P = unary("expm1", K.expm1);
export const logP = unary("log", K.log);
export const log1pP = unary("log1p", K.log1p);
export const sinP = unary("sin", K.sin);
export const cosP = unary("cos", K.cos);
export const tanhP = unary("tanh", K.tanh);
export const sqrtP = unary("sqrt", K.sqrt);

/** -x */
export const neg = (x: ArrayLike): Value => bind(negP, [x], none);
/** eˣ */
export const exp = (x: ArrayLike): Value => bind(expP, [x], none);
/** eˣ − 1, accurate near 0 */
export const expm1 = (x: ArrayLike): Value => bind(expm1P, [x], none);
/** ln x */
export const log = (x: ArrayLike): Value => bind(logP, [x], none);
/** ln(1 + x), accurate near 0 */
export const log1p = (x: ArrayLike): Value => bind(log1pP, [x], none);
/** sin x */
export const sin = (x: ArrayLike): Value => bind(sinP, [x], none);
/** cos x */
export const cos = (x: ArrayLike): Value => bind(cosP, [x], none);
/** tanh x */
export const tanh = (x: ArrayLike): Value => bind(tanhP, [x], none);
/** √x */
export const sqrt = (x: ArrayLike): Value => bind(sqrtP, [x], none);

/** Output aval of a broadcasting binary op; both operands must share a dtype. */
function binaryShape(op: string, outDtype?: DType) {
  return ([a, b]: Aval[]): Aval => {
    if (a!.dtype !== b!.dtype) {
      shapeError(
        op,
        `dtypes differ: ${a!.dtype}[${a!.shape.join(",")}] and ${b!.dtype}[${b!.shape.join(",")}] (use cast)`,
      );
    }
    return { shape: broadcastShapes(op, [a!.shape, b!.shape]), dtype: outDtype ?? a!.dtype };
  };
}

/** A broadcasting binary primitive from its kernel. */
const binary = (
  name: string,
  kernel: (a: Tensor, b: Tensor) => Tensor,
  flags: { linear?: boolean; bilinear?: boolean; scalarUnit?: boolean; linearIn?: number } = {},
): Primitive<NoParams> => def({ name, impl: ([a, b]) => kernel(a!, b!), abstractEval: binaryShape(name), ...flags });

export const addP = binary("add", K.add, { linear: true });
export const subP = binary("sub", K.sub, { linear: true });
export const mulP = binary("mul", K.mul, { bilinear: true, scalarUnit: true });
export const divP = binary("div", K.div);
export const powP = binary("pow", K.pow);
export const maximumP = binary("maximum", K.maximum);
export const minimumP = binary("minimum", K.minimum);

/** a + b (broadcasting) */
export const add = (a: ArrayLike, b: ArrayLike): Value => bind(addP, [a, b], none);
/** a − b (broadcasting) */
export const sub = (a: ArrayLike, b: ArrayLike): Value => bind(subP, [a, b], none);
/** a · b elementwise (broadcasting) */
export const mul = (a: ArrayLike, b: ArrayLike): Value => bind(mulP, [a, b], none);
/** a / b elementwise (broadcasting) */
export const div = (a: ArrayLike, b: ArrayLike): Value => bind(divP, [a, b], none);
/** aᵇ elementwise (broadcasting) */
export const pow = (a: ArrayLike, b: ArrayLike): Value => bind(powP, [a, b], none);
/** max(a, b) elementwise (broadcasting) */
export const maximum = (a: ArrayLike, b: ArrayLike): Value => bind(maximumP, [a, b], none);
/** min(a, b) elementwise (broadcasting) */
export const minimum = (a: ArrayLike, b: ArrayLike): Value => bind(minimumP, [a, b], none);

/**
 * tanh's derivative rule t·(1 − y²) (y = tanh x) as one primitive, so it runs as one kernel
 * (`K.tanhGrad`, one SIMD pass on wasm) instead of three; its derivatives are in `rules/derivatives.ts`.
 */
export const tanhGradP = binary("tanhGrad", K.tanhGrad, { linearIn: 1 });
/**
 * ELU's derivative rule t·(x > 0 ? 1 : eˣ) as one primitive (one SIMD kernel on wasm instead of the
 * comparisons, selects and broadcasts of the composed rule).
 */
export const eluGradP = binary("eluGrad", K.eluGrad, { linearIn: 1 });
/** ELU as one primitive: x > 0 ? x : eˣ − 1 (one kernel; the untaken branch never overflows). */
export const eluP = unary("elu", K.elu);

/** t·(1 − y²): the tangent or cotangent t through tanh, given y = tanh x. */
export const tanhGrad = (y: ArrayLike, t: ArrayLike): Value => bind(tanhGradP, [y, t], none);
/** t·(x > 0 ? 1 : eˣ): the tangent or cotangent t through ELU at x. */
export const eluGrad = (x: ArrayLike, t: ArrayLike): Value => bind(eluGradP, [x, t], none);
/** x for x > 0, eˣ − 1 otherwise. */
export const eluOp = (x: ArrayLike): Value => bind(eluP, [x], none);

/** A comparison: boolean output, no derivative. */
const compare = (name: string, kernel: (a: Tensor, b: Tensor) => Tensor): Primitive<NoParams> =>
  def({ name, impl: ([a, b]) => kernel(a!, b!), abstractEval: binaryShape(name, "bool") });

export const greaterP = compare("greater", K.greater);
export const lessP = compare("less", K.less);
export const equalP = compare("equal", K.equal);
/** a > b elementwise, bool */
export const greater = (a: ArrayLike, b: ArrayLike): Value => bind(greaterP, [a, b], none);
/** a < b elementwise, bool */
export const less = (a: ArrayLike, b: ArrayLike): Value => bind(lessP, [a, b], none);
/** a == b elementwise, bool */
export const equal = (a: ArrayLike, b: ArrayLike): Value => bind(equalP, [a, b], none);

export const selectP: Primitive<NoParams> = def({
  name: "where",
  impl: ([c, a, b]) => K.where(c!, a!, b!),
  abstractEval: ([c, a, b]) => {
    if (c!.dtype !== "bool") shapeError("where", `condition must be bool, got ${c!.dtype}[${c!.shape.join(",")}]`);
    if (a!.dtype !== b!.dtype) shapeError("where", `branches differ in dtype: ${a!.dtype} and ${b!.dtype}`);
    return { shape: broadcastShapes("where", [c!.shape, a!.shape, b!.shape]), dtype: a!.dtype };
  },
});

/** where(c, a, b): a where c is true, else b (broadcasting). */
export const where = (c: ArrayLike, a: ArrayLike, b: ArrayLike): Value => bind(selectP, [c, a, b], none);

export interface CastParams {
  readonly dtype: DType;
}
export const castP: Primitive<CastParams> = def({
  name: "cast",
  impl: ([x], { dtype }) => K.cast(x!, dtype),
  abstractEval: ([x], { dtype }) => ({ shape: x!.shape, dtype }),
});

/** cast(x, dtype): convert to float32, int32 or bool. */
export const cast = (x: ArrayLike, dtype: DType): Value => {
  if (typeof x !== "number" && avalOf(x).dtype === dtype) return x;
  return bind(castP, [x], { dtype });
};

export const stopGradientP: Primitive<NoParams> = def({
  name: "stopGradient",
  impl: ([x]) => K.reshape(x!, x!.shape),
  abstractEval: ([x]) => x!,
});

/** stopGradient(x) = x, with zero derivative at every order and in every mode. */
export const stopGradient = (x: ArrayLike): Value => bind(stopGradientP, [x], none);
