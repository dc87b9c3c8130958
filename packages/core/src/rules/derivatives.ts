/**
 * Derivatives of the elementwise primitives, shared by the jvp and vjp tables: for a unary f,
 * t ↦ f′(x)·t as a function of (x, y = f(x), t); for a binary f, the two partials t ↦ ∂ᵢf·t.
 * Written with ops, so they are differentiable in turn.
 */
import { avalOf, type AnyPrimitive, type Value } from "../trace/core";
import { keptShape as keptShapeOf } from "../shapes";
import {
  add,
  addP,
  cast,
  cos,
  cosP,
  div,
  divP,
  eluGrad,
  eluGradP,
  eluP,
  equal,
  exp,
  expm1P,
  expP,
  greater,
  log,
  log1pP,
  logP,
  maximumP,
  minimum,
  minimumP,
  mul,
  mulP,
  neg,
  negP,
  pow,
  powP,
  sin,
  sinP,
  sqrtP,
  sub,
  subP,
  tanhGrad,
  tanhGradP,
  tanhP,
  where,
} from "../primitives/elementwise";

export type UnaryDerivative = (x: Value, y: Value, t: Value) => Value;
export type Partial = (a: Value, b: Value, y: Value, t: Value) => Value;

export const unaryDerivatives = new Map<AnyPrimitive, UnaryDerivative>([
  [negP, (_x, _y, t) => neg(t)],
  [expP, (_x, y, t) => mul(t, y)],
  [expm1P, (_x, y, t) => mul(t, add(y, 1))],
  [logP, (x, _y, t) => div(t, x)],
  [log1pP, (x, _y, t) => div(t, add(x, 1))],
  [sinP, (x, _y, t) => mul(t, cos(x))],
  [cosP, (x, _y, t) => neg(mul(t, sin(x)))],
  // One fused primitive t·(1 − y²) (one kernel on wasm), differentiable in turn below.
  [tanhP, (_x, y, t) => tanhGrad(y, t)],
  [eluP, (x, _y, t) => eluGrad(x, t)],
  [sqrtP, (_x, y, t) => div(t, mul(y, 2))],
]);

/** Ties split the derivative equally, as JAX does. */
const maxShare = (a: Value, b: Value): Value =>
  add(cast(greater(a, b), "float32"), mul(cast(equal(a, b), "float32"), 0.5));

export const binaryPartials = new Map<AnyPrimitive, [Partial, Partial]>([
  [addP, [(_a, _b, _y, t) => t, (_a, _b, _y, t) => t]],
  [subP, [(_a, _b, _y, t) => t, (_a, _b, _y, t) => neg(t)]],
  [mulP, [(_a, b, _y, t) => mul(t, b), (a, _b, _y, t) => mul(a, t)]],
  [divP, [(_a, b, _y, t) => div(t, b), (_a, b, y, t) => neg(mul(t, div(y, b)))]],
  // d(aᵇ) = b·a^(b−1)·da + ln(a)·aᵇ·db, with b = 0 giving exactly 0 so high orders of xⁿ end in zeros.
  [
    powP,
    [
      (a, b, _y, t) => {
        const isZero = equal(b, 0);
        return mul(t, where(isZero, 0, mul(b, pow(a, where(isZero, 1, sub(b, 1))))));
      },
      (a, _b, y, t) => mul(t, mul(log(where(equal(a, 0), 1, a)), y)),
    ],
  ],
  // tanhGrad(y, t) = t·(1 − y²): ∂/∂y = −2·t·y, linear in t.
  [tanhGradP, [(y, t, _o, dy) => mul(mul(mul(dy, t), y), -2), (y, _t, _o, dt) => tanhGrad(y, dt)]],
  // eluGrad(x, t) = t·(x > 0 ? 1 : eˣ): ∂/∂x = t·(x > 0 ? 0 : eˣ) (eˣ clamped, so never inf), linear in t.
  [
    eluGradP,
    [(x, t, _o, dx) => mul(mul(dx, t), where(greater(x, 0), 0, exp(minimum(x, 0)))), (x, _t, _o, dt) => eluGrad(x, dt)],
  ],
  [maximumP, [(a, b, _y, t) => mul(t, maxShare(a, b)), (a, b, _y, t) => mul(t, maxShare(b, a))]],
  [minimumP, [(a, b, _y, t) => mul(t, maxShare(b, a)), (a, b, _y, t) => mul(t, maxShare(a, b))]],
]);

/** The shape of x with the reduced axes kept as size 1. */
export const keptShape = (x: Value, axes: readonly number[]): number[] => keptShapeOf(avalOf(x).shape, axes);
