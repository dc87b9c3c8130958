/**
 * Elementwise primitives. Binary ones broadcast like numpy; their VJPs sum cotangents back to
 * each input's shape (`unbroadcast`). Every rule is written with ops, so it is differentiable.
 */
import { K, type DType } from "../kernels";
import {
  avalOf,
  bind,
  shapeError,
  type ArrayLike,
  type Aval,
  type Cotangent,
  type DeferredCotangent,
  type Primitive,
  type Tangent,
  type Value,
} from "../trace/core";
import {
  broadcastShapes,
  broadcastTangent,
  elementwiseVmap,
  isFloat,
  sameShape,
  sizeOf,
  unbroadcast,
  zerosOf,
} from "./rules";
import { DeferredMatmul, matmulRaw } from "./linalg";
import { reduceSum } from "./reduce";
import { reshape } from "./shape";
import type { Tensor } from "../kernels";

type NoParams = Record<string, never>;
const none: NoParams = {};
const def = <P>(p: Primitive<P>): Primitive<P> => p;

function floatOnly(op: string) {
  return ([x]: Aval[]): Aval => {
    if (!isFloat(x!.dtype)) shapeError(op, `argument 'x' must be float32, got ${x!.dtype}[${x!.shape.join(",")}]`);
    return x!;
  };
}

/** A unary float primitive from its kernel, its derivative as a function of (x, y, dx), and no more. */
function unary(
  name: string,
  kernel: (x: Tensor) => Tensor,
  deriv: (x: Value, y: Value, t: Value) => Value,
): Primitive<NoParams> {
  const prim: Primitive<NoParams> = def({
    name,
    impl: ([x]) => kernel(x!),
    shape: floatOnly(name),
    jvp: ([x], [dx]) => {
      const y = bind(prim, [x!], none);
      return [y, deriv(x!, y, dx!)];
    },
    vjp: (ct, [x], y) => [deriv(x!, y, ct)],
    vmap: elementwiseVmap(() => prim),
  });
  return prim;
}

export const negP = unary("neg", K.neg, (_x, _y, t) => neg(t));
export const expP = unary("exp", K.exp, (_x, y, t) => mul(t, y));
export const expm1P = unary("expm1", K.expm1, (_x, y, t) => mul(t, add(y, 1)));
export const logP = unary("log", K.log, (x, _y, t) => div(t, x));
export const log1pP = unary("log1p", K.log1p, (x, _y, t) => div(t, add(x, 1)));
export const sinP = unary("sin", K.sin, (x, _y, t) => mul(t, cos(x)));
export const cosP = unary("cos", K.cos, (x, _y, t) => neg(mul(t, sin(x))));
export const tanhP = unary("tanh", K.tanh, (_x, y, t) => tanhGrad(y, t));
export const sqrtP = unary("sqrt", K.sqrt, (_x, y, t) => div(t, mul(y, 2)));

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

const shapeOf = (x: Value) => avalOf(x).shape;

/** Sum of tangents where either may be the symbolic zero. */
function addTangents(a: Tangent, b: Tangent, outShape: readonly number[]): Tangent {
  if (a === null && b === null) return null;
  if (a === null) return broadcastTangent(b!, outShape);
  if (b === null) return broadcastTangent(a, outShape);
  return add(a, b);
}

/** A binary primitive whose JVP is Σᵢ ∂f/∂xᵢ·dxᵢ and whose VJP is unbroadcast(ct·∂f/∂xᵢ). */
function binary(
  name: string,
  kernel: (a: Tensor, b: Tensor) => Tensor,
  partials: [(a: Value, b: Value, y: Value, t: Value) => Value, (a: Value, b: Value, y: Value, t: Value) => Value],
  vjpDeferred?: Primitive<NoParams>["vjpDeferred"],
): Primitive<NoParams> {
  const prim: Primitive<NoParams> = def({
    name,
    impl: ([a, b]) => kernel(a!, b!),
    shape: binaryShape(name),
    jvp: ([a, b], [da, db]) => {
      const y = bind(prim, [a!, b!], none);
      const ta = da ? partials[0](a!, b!, y, da) : null;
      const tb = db ? partials[1](a!, b!, y, db) : null;
      return [y, addTangents(ta, tb, shapeOf(y))];
    },
    vjp: (ct, [a, b], y, _p, needs) => [
      needs[0] ? unbroadcast(partials[0](a!, b!, y, ct), shapeOf(a!)) : null,
      needs[1] ? unbroadcast(partials[1](a!, b!, y, ct), shapeOf(b!)) : null,
    ],
    vmap: elementwiseVmap(() => prim),
    ...(vjpDeferred ? { vjpDeferred } : {}),
  });
  return prim;
}

/**
 * tanh's derivative rule t·(1 − y²) (y = tanh x) as one primitive, so it runs as one kernel
 * (`K.tanhGrad`) instead of three; its own derivatives keep every order available.
 */
export const tanhGradP = binary("tanhGrad", K.tanhGrad, [
  (y, t, _out, dy) => mul(mul(mul(dy, t), y), -2),
  (y, _t, _out, dt) => tanhGrad(y, dt),
]);

/** t·(1 − y²): the tangent or cotangent t through tanh, given y = tanh x. */
export const tanhGrad = (y: ArrayLike, t: ArrayLike): Value => bind(tanhGradP, [y, t], none);

/**
 * ELU's derivative rule t·(x > 0 ? 1 : eˣ) as one primitive (one SIMD kernel on wasm instead of the
 * comparisons, selects and broadcasts of the composed rule); its own derivatives for higher orders.
 */
export const eluGradP = binary("eluGrad", K.eluGrad, [
  (x, t, _out, dx) => mul(mul(dx, t), where(greater(x, 0), 0, exp(minimum(x, 0)))),
  (x, _t, _out, dt) => eluGrad(x, dt),
]);

/** t·(x > 0 ? 1 : eˣ): the tangent or cotangent t through ELU at x. */
export const eluGrad = (x: ArrayLike, t: ArrayLike): Value => bind(eluGradP, [x, t], none);

/** ELU as one primitive: x > 0 ? x : eˣ − 1 (one kernel; the untaken branch never overflows). */
export const eluP = unary("elu", K.elu, (x, _y, t) => eluGrad(x, t));

/** x for x > 0, eˣ − 1 otherwise. */
export const eluOp = (x: ArrayLike): Value => bind(eluP, [x], none);

/** A deferred cotangent passes through a same-shape input of add; otherwise it is formed and summed down. */
const passDeferred = (ct: DeferredCotangent, shape: readonly number[]): Cotangent =>
  sameShape(ct.aval.shape, shape) ? ct : unbroadcast(ct.materialize(), shape);

/**
 * ∂⟨ct, s·u⟩/∂s for a scalar s and a deferred matmul cotangent ct = aᵀ·c: ⟨aᵀc, u⟩ = ⟨c, a·u⟩.
 * This is the perturbation θ + s·u of partitioned derivatives; it avoids forming aᵀc per direction.
 */
function mulDeferred(ct: DeferredCotangent, [a, b]: Value[], _y: Value, _p: NoParams, needs: boolean[]): Cotangent[] {
  return [0, 1].map((i) => {
    if (!needs[i]) return null;
    const mine = avalOf([a, b][i]!).shape;
    const other = [a, b][1 - i]!;
    if (ct instanceof DeferredMatmul && sizeOf(mine) === 1 && sameShape(avalOf(other).shape, ct.aval.shape)) {
      const contracted = mul(ct.c, matmulRaw(ct.a, other));
      const rank = avalOf(contracted).shape.length;
      return reshape(reduceSum(contracted, [...Array(rank).keys()]), mine);
    }
    return unbroadcast(mul(ct.materialize(), other), mine);
  });
}

export const addP = binary("add", K.add, [(_a, _b, _y, t) => t, (_a, _b, _y, t) => t], (ct, [a, b], _y, _p, needs) => [
  needs[0] ? passDeferred(ct, avalOf(a!).shape) : null,
  needs[1] ? passDeferred(ct, avalOf(b!).shape) : null,
]);
export const subP = binary("sub", K.sub, [(_a, _b, _y, t) => t, (_a, _b, _y, t) => neg(t)]);
export const mulP = binary("mul", K.mul, [(_a, b, _y, t) => mul(t, b), (a, _b, _y, t) => mul(a, t)], mulDeferred);
export const divP = binary("div", K.div, [(_a, b, _y, t) => div(t, b), (_a, b, y, t) => neg(mul(t, div(y, b)))]);
/** d(aᵇ) = b·a^(b−1)·da + ln(a)·aᵇ·db, with b = 0 giving exactly 0 so high orders of xⁿ end in zeros. */
export const powP = binary("pow", K.pow, [
  (a, b, _y, t) => {
    const isZero = equal(b, 0);
    return mul(t, where(isZero, 0, mul(b, pow(a, where(isZero, 1, sub(b, 1))))));
  },
  (a, _b, y, t) => mul(t, mul(log(where(equal(a, 0), 1, a)), y)),
]);
/** Ties split the derivative equally, as JAX does. */
const maxShare = (a: Value, b: Value): Value =>
  add(cast(greater(a, b), "float32"), mul(cast(equal(a, b), "float32"), 0.5));
export const maximumP = binary("maximum", K.maximum, [
  (a, b, _y, t) => mul(t, maxShare(a, b)),
  (a, b, _y, t) => mul(t, maxShare(b, a)),
]);
export const minimumP = binary("minimum", K.minimum, [
  (a, b, _y, t) => mul(t, maxShare(b, a)),
  (a, b, _y, t) => mul(t, maxShare(a, b)),
]);

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

/** A comparison: boolean output, no derivative. */
function compare(name: string, kernel: (a: Tensor, b: Tensor) => Tensor): Primitive<NoParams> {
  const prim: Primitive<NoParams> = def({
    name,
    impl: ([a, b]) => kernel(a!, b!),
    shape: binaryShape(name, "bool"),
    jvp: ([a, b]) => [bind(prim, [a!, b!], none), null],
    vjp: () => [null, null],
    vmap: elementwiseVmap(() => prim),
  });
  return prim;
}
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
  shape: ([c, a, b]) => {
    if (c!.dtype !== "bool") shapeError("where", `condition must be bool, got ${c!.dtype}[${c!.shape.join(",")}]`);
    if (a!.dtype !== b!.dtype) shapeError("where", `branches differ in dtype: ${a!.dtype} and ${b!.dtype}`);
    return { shape: broadcastShapes("where", [c!.shape, a!.shape, b!.shape]), dtype: a!.dtype };
  },
  jvp: ([c, a, b], [, da, db]) => {
    const y = bind(selectP, [c!, a!, b!], none);
    const t = where(c!, da ?? zerosOf(avalOf(a!)), db ?? zerosOf(avalOf(b!)));
    return [y, broadcastTangent(t, shapeOf(y))];
  },
  vjp: (ct, [c, a, b], _y, _p, needs) => [
    null,
    needs[1] ? unbroadcast(where(c!, ct, 0), shapeOf(a!)) : null,
    needs[2] ? unbroadcast(where(c!, 0, ct), shapeOf(b!)) : null,
  ],
  vmap: elementwiseVmap(() => selectP),
});

/** where(c, a, b): a where c is true, else b (broadcasting). */
export const where = (c: ArrayLike, a: ArrayLike, b: ArrayLike): Value => bind(selectP, [c, a, b], none);

export interface CastParams {
  readonly dtype: DType;
}
export const castP: Primitive<CastParams> = def({
  name: "cast",
  impl: ([x], { dtype }) => K.cast(x!, dtype),
  shape: ([x], { dtype }) => ({ shape: x!.shape, dtype }),
  jvp: ([x], [dx], p) => [bind(castP, [x!], p), isFloat(p.dtype) && isFloat(avalOf(x!).dtype) ? (dx ?? null) : null],
  vjp: (ct, [x]) => [isFloat(avalOf(x!).dtype) ? ct : null],
  vmap: ([x], [d], p) => [bind(castP, [x!], p), d!],
});

/** cast(x, dtype): convert to float32, int32 or bool. */
export const cast = (x: ArrayLike, dtype: DType): Value => {
  if (typeof x !== "number" && avalOf(x).dtype === dtype) return x;
  return bind(castP, [x], { dtype });
};

export const stopGradientP: Primitive<NoParams> = def({
  name: "stopGradient",
  impl: ([x]) => K.reshape(x!, x!.shape),
  shape: ([x]) => x!,
  jvp: ([x]) => [stopGradient(x!), null],
  vjp: () => [null],
  vmap: ([x], [d]) => [stopGradient(x!), d!],
});

/** stopGradient(x) = x, with zero derivative at every order and in every mode. */
export const stopGradient = (x: ArrayLike): Value => bind(stopGradientP, [x], none);
