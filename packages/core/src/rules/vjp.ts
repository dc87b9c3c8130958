/**
 * The reverse-mode rule table: for each primitive, the cotangent of each input from the output
 * cotangent (the transpose of its linearisation). Rules are written with ops, so the backward
 * pass is traced by any enclosing transform. The interpreter using this table is `trace/reverse.ts`.
 *
 * Factored cotangents. A rule may return, for an input, a `DeferredCotangent` instead of a value:
 * a cotangent kept in factored form until someone needs its entries. The rule that receives it
 * uses its deferred rule when the table has one (which may use the factored form, e.g. through
 * `innerProduct`), and otherwise gets it materialised. matmul's weight cotangent aᵀ·c is one: the
 * perturbation θ + s·u of partitioned derivatives then costs ⟨c, a·u⟩ per direction, not aᵀ·c;
 * conv2d's filter cotangent likewise costs ⟨c, conv(x, u)⟩.
 */
import { avalOf, bind, type AnyPrimitive, type Aval, type Primitive, type Value } from "../trace/core";
import { TraceError } from "../errors";
import {
  addP,
  castP,
  equalP,
  greaterP,
  lessP,
  mul,
  mulP,
  selectP,
  stopGradientP,
  tanhGrad,
  tanhP,
  where,
} from "../primitives/elementwise";
import {
  maxGather,
  maxGatherP,
  maxScatter,
  maxScatterP,
  reduceMaxP,
  reduceSum,
  reduceSumP,
} from "../primitives/reduce";
import {
  broadcastTo,
  broadcastToP,
  concatP,
  pad,
  padP,
  reshape,
  reshapeP,
  reverse,
  reverseP,
  slice,
  sliceP,
  transpose,
  transposeP,
} from "../primitives/shape";
import { conv2dP, convFilterP, matmulP, matmulT, type Conv2DParams } from "../primitives/linalg";
import { isFloat, sameShape, unbroadcast } from "../primitives/rules";
import { binaryPartials, keptShape, unaryDerivatives } from "./derivatives";
import { biasTanhP, conv2dBiasP, maxScatterTanhGradP } from "../primitives/fused";
import { logSoftmaxGrad, logSoftmaxP } from "../primitives/softmax";
import { K, runtime, type Tensor } from "../kernels";

/** A cotangent in factored form, formed only when its entries are needed. */
export interface DeferredCotangent {
  readonly deferred: true;
  readonly aval: Aval;
  /** The entries (computed once). */
  materialize(): Value;
  /** ⟨ct, u⟩ = Σ ct ⊙ u, a scalar, for u of the cotangent's shape; may be cheaper than forming ct. */
  innerProduct(u: Value): Value;
}
/** What VJP rules return for each input: a cotangent, a deferred one, or null (zero / not needed). */
export type Cotangent = Value | DeferredCotangent | null;

export const isDeferred = (x: unknown): x is DeferredCotangent =>
  typeof x === "object" && x !== null && (x as { deferred?: unknown }).deferred === true;

/** (output cotangent, primals, output, params, which inputs need one) ↦ a cotangent per input. */
export type VjpRule<P> = (ct: Value, primals: Value[], out: Value, params: P, needs: boolean[]) => Cotangent[];
/** The same, from a deferred output cotangent. */
export type DeferredVjpRule<P> = (
  ct: DeferredCotangent,
  primals: Value[],
  out: Value,
  params: P,
  needs: boolean[],
) => Cotangent[];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const table = new Map<AnyPrimitive, VjpRule<any>>();
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const deferredTable = new Map<AnyPrimitive, DeferredVjpRule<any>>();

/** Register (or replace) the reverse-mode rule of a primitive, and optionally its deferred rule. */
export function defVjp<P>(prim: Primitive<P>, rule: VjpRule<P>, deferred?: DeferredVjpRule<P>): void {
  table.set(prim, rule);
  if (deferred) deferredTable.set(prim, deferred);
}

/** The reverse-mode rule of `prim`; a TraceError when it has none. */
export function vjpRule<P>(prim: Primitive<P>): VjpRule<P> {
  const rule = table.get(prim);
  if (!rule) throw new TraceError(`vjp: primitive '${prim.name}' has no reverse-mode rule`);
  return rule;
}

/** Whether `prim` has a reverse-mode rule (composite primitives without one are decomposed). */
export const hasVjpRule = (prim: AnyPrimitive): boolean => table.has(prim);

/** The deferred-cotangent rule of `prim`, if it has one. */
export const deferredVjpRule = <P>(prim: Primitive<P>): DeferredVjpRule<P> | undefined => deferredTable.get(prim);

const shapeOf = (x: Value) => avalOf(x).shape;

for (const [prim, deriv] of unaryDerivatives) defVjp(prim, (ct, [x], y) => [deriv(x!, y, ct)]);

for (const [prim, [pa, pb]] of binaryPartials) {
  defVjp(prim, (ct, [a, b], y, _p, needs) => [
    needs[0] ? unbroadcast(pa(a!, b!, y, ct), shapeOf(a!)) : null,
    needs[1] ? unbroadcast(pb(a!, b!, y, ct), shapeOf(b!)) : null,
  ]);
}

/** add passes a deferred cotangent on to a same-shape input; otherwise it is formed and summed down. */
const passDeferred = (ct: DeferredCotangent, shape: readonly number[]): Cotangent =>
  sameShape(ct.aval.shape, shape) ? ct : unbroadcast(ct.materialize(), shape);
defVjp(addP, vjpRule(addP), (ct, [a, b], _y, _p, needs) => [
  needs[0] ? passDeferred(ct, shapeOf(a!)) : null,
  needs[1] ? passDeferred(ct, shapeOf(b!)) : null,
]);

/** mul by a scalar s: ∂⟨ct, s·u⟩/∂s = ⟨ct, u⟩, taken from the factored form. */
defVjp(mulP, vjpRule(mulP), (ct, [a, b], _y, _p, needs) =>
  [0, 1].map((i) => {
    if (!needs[i]) return null;
    const mine = shapeOf([a, b][i]!);
    const other = [a, b][1 - i]!;
    if (mine.every((d) => d === 1) && sameShape(shapeOf(other), ct.aval.shape)) {
      return reshape(ct.innerProduct(other), mine);
    }
    // A broadcast cotangent multiplies in its small form when `other` spans the output.
    const small = ct instanceof DeferredBroadcast ? ct.timesSpanning(other) : null;
    return unbroadcast(small ?? mul(ct.materialize(), other), mine);
  }),
);

/**
 * Primitives through which no cotangent flows at any order: their rules give null for every
 * input. The reverse trace records no node for them, so their outputs are constants of its level
 * and the rules downstream form no cotangent for them (logsumexp's stopGradient(max(x)) would
 * otherwise get one, summed down and added up, 4–5 kernels per NLL, then dropped).
 */
const noCotangent = new Set<AnyPrimitive>([greaterP, lessP, equalP, stopGradientP]);
for (const prim of noCotangent) defVjp(prim, (_ct, xs) => xs.map(() => null));
/** Whether no cotangent flows through `prim` (see `noCotangent`). */
export const passesNoCotangent = (prim: AnyPrimitive): boolean => noCotangent.has(prim);

defVjp(selectP, (ct, [c, a, b], _y, _p, needs) => [
  null,
  needs[1] ? unbroadcast(where(c!, ct, 0), shapeOf(a!)) : null,
  needs[2] ? unbroadcast(where(c!, 0, ct), shapeOf(b!)) : null,
]);

defVjp(castP, (ct, [x]) => [isFloat(avalOf(x!).dtype) ? ct : null]);

defVjp(reduceSumP, (ct, [x], _o, { axes }) => [
  // ct spread over the summed axes; not formed until a rule needs its entries (see DeferredBroadcast).
  new DeferredBroadcast(shapeOf(ct).length === 0 ? ct : reshape(ct, keptShape(x!, axes)), avalOf(x!)),
]);
/** A deferred cotangent whose entries `form()` computes on first need, once; ⟨ct, u⟩ = Σ ct ⊙ u. */
abstract class CachedDeferred implements DeferredCotangent {
  readonly deferred = true;
  abstract readonly aval: Aval;
  private value: Value | null = null;
  protected abstract form(): Value;
  materialize(): Value {
    this.value ??= this.form();
    return this.value;
  }
  abstract innerProduct(u: Value): Value;
}
/** Σ a ⊙ b over every axis, a scalar. */
const dot = (a: Value, b: Value): Value => {
  const v = mul(a, b);
  return reduceSum(v, [...shapeOf(v).keys()]);
};

/**
 * A cotangent constant along some axes, broadcastTo(small, aval.shape), not yet formed (sum's
 * cotangent; helper "eager"). mul takes it in its small form: broadcast(s)·u = s·u when u spans the
 * output, saving the broadcast kernel (and a reshape when s is a scalar).
 */
class DeferredBroadcast extends CachedDeferred {
  constructor(
    readonly small: Value,
    readonly aval: Aval,
  ) {
    super();
  }
  protected form(): Value {
    return broadcastTo(this.small, this.aval.shape);
  }
  /** ⟨broadcast(s), u⟩ = Σ s ⊙ u (mul broadcasts s). */
  innerProduct(u: Value): Value {
    return dot(this.small, u);
  }
  /** broadcast(s) ⊙ u computed as s ⊙ u when u has the output's shape; else null. */
  timesSpanning(u: Value): Value | null {
    return sameShape(shapeOf(u), this.aval.shape) ? mul(this.small, u) : null;
  }
}

/**
 * max's cotangent spread over its windows, maxScatter(x, m, t, axes), not yet formed and viewed at
 * `aval`'s shape (reshapes pass it on). tanh's deferred rule takes it with tanh's own derivative in
 * one kernel where x holds tanh's output (max pooling after tanh: LeNet-5's layers), as jit plans
 * do (`staging/fuse.ts`); every other rule gets maxScatter's value, as before.
 */
class DeferredScatter extends CachedDeferred {
  constructor(
    readonly x: Value,
    readonly m: Value,
    readonly t: Value,
    readonly axes: readonly number[],
    readonly aval: Aval,
  ) {
    super();
  }
  protected form(): Value {
    const s = maxScatter(this.x, this.m, this.t, this.axes);
    return sameShape(shapeOf(s), this.aval.shape) ? s : reshape(s, this.aval.shape);
  }
  innerProduct(u: Value): Value {
    return dot(this.materialize(), u);
  }
  /** The same cotangent viewed at another shape of as many elements. */
  reshaped(shape: readonly number[]): DeferredScatter {
    return new DeferredScatter(this.x, this.m, this.t, this.axes, { shape: [...shape], dtype: this.aval.dtype });
  }
  /**
   * tanhGrad(y, this) in one kernel: only on concrete tensors (where no enclosing transform would
   * need the fused step's rules, which it has none of) with x a reshape of y; else null.
   */
  throughTanh(y: Value): Value | null {
    const { x, m, t } = this;
    const concrete = [x, m, t, y].every((v) => runtime.isTensor(v));
    if (!concrete || !runtime.sameData(x as Tensor, y as Tensor) || !sameShape(shapeOf(y), this.aval.shape))
      return null;
    return reshape(bind(maxScatterTanhGradP, [x, m, t], { axes: this.axes }), this.aval.shape);
  }
}

defVjp(reduceMaxP, (ct, [x], out, { axes }) => [new DeferredScatter(x!, out, ct, axes, avalOf(x!))]);
const tanhRule = vjpRule(tanhP);
defVjp(tanhP, tanhRule, (ct, xs, y, p, needs) => {
  const fused = ct instanceof DeferredScatter ? ct.throughTanh(y) : null;
  return fused !== null ? [fused] : tanhRule(ct.materialize(), xs, y, p, needs);
});
// Linear in t (the transpose spreads, this sums back); nothing flows to x and m (piecewise constant).
defVjp(maxScatterP, (ct, [x, m], _o, { axes }, needs) => [null, null, needs[2] ? maxGather(x!, m!, ct, axes) : null]);
defVjp(maxGatherP, (ct, [x, m], _o, { axes }, needs) => [null, null, needs[2] ? maxScatter(x!, m!, ct, axes) : null]);

defVjp(
  reshapeP,
  (ct, [x]) => [reshape(ct, shapeOf(x!))],
  (ct, [x]) => [ct instanceof DeferredScatter ? ct.reshaped(shapeOf(x!)) : reshape(ct.materialize(), shapeOf(x!))],
);
defVjp(broadcastToP, (ct, [x]) => [unbroadcast(ct, shapeOf(x!))]);
defVjp(transposeP, (ct, _x, _o, { perm }) => {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return [transpose(ct, inv)];
});
defVjp(sliceP, (ct, [x], _o, { begin, size }) => [
  pad(
    ct,
    shapeOf(x!).map((d, i) => [begin[i]!, d - begin[i]! - size[i]!] as [number, number]),
  ),
]);
defVjp(padP, (ct, [x], _o, { paddings }) => [
  slice(
    ct,
    paddings.map(([a]) => a),
    shapeOf(x!),
  ),
]);
defVjp(concatP, (ct, xs, _o, { axis }) => {
  let offset = 0;
  const ctShape = shapeOf(ct);
  return xs.map((x) => {
    const n = shapeOf(x)[axis]!;
    const begin = ctShape.map((_, i) => (i === axis ? offset : 0));
    const size = ctShape.map((d, i) => (i === axis ? n : d));
    offset += n;
    return slice(ct, begin, size);
  });
});
defVjp(reverseP, (ct, _x, _o, p) => [bind(reverseP, [ct], p)]);

/**
 * The cotangent of a bilinear op's second operand w, not yet formed: with f(u) the op at its first
 * operand and u in w's place, ⟨f*(c), u⟩ = ⟨c, f(u)⟩ (a matmul's aᵀ·c, a conv's filter cotangent).
 */
class DeferredBilinear extends CachedDeferred {
  constructor(
    readonly c: Value,
    readonly aval: Aval,
    private readonly forward: (u: Value) => Value,
    private readonly compute: () => Value,
  ) {
    super();
  }
  protected form(): Value {
    return this.compute();
  }
  innerProduct(u: Value): Value {
    return dot(this.c, this.forward(u));
  }
}

/**
 * y = op(a)·op(b) (`MatmulParams`): ∂a = op(ct·op(b)ᵀ), ∂b = op(op(a)ᵀ·ct), each one matmul with
 * flags (no transpose primitive), e.g. ∂a = ct·bᵀ = matmul(ct, b; transposeB) without flags.
 */
defVjp(matmulP, (ct, [a, b], _y, { transposeA: ta = false, transposeB: tb = false }, needs) => [
  needs[0] ? (ta ? matmulT(b!, ct, tb, true) : matmulT(ct, b!, false, !tb)) : null,
  needs[1]
    ? new DeferredBilinear(
        ct,
        { shape: shapeOf(b!), dtype: avalOf(ct).dtype },
        (u) => matmulT(a!, u, ta, tb),
        () => (tb ? matmulT(ct, a!, true, ta) : matmulT(a!, ct, !ta, false)),
      )
    : null,
]);

defVjp(conv2dP, (ct, [x, w], _y, p, needs) => [
  needs[0] ? convInputTranspose(ct, x!, w!, p) : null,
  needs[1]
    ? new DeferredBilinear(
        ct,
        avalOf(w!),
        (u) => bind(conv2dP, [x!, u], p),
        () => convFilterTranspose(ct, x!, w!, p),
      )
    : null,
]);

/** Insert s−1 zeros between elements along `axis` (the "input dilation" of a strided conv). */
function dilateAxis(x: Value, axis: number, s: number): Value {
  if (s === 1) return x;
  const shape = shapeOf(x);
  const L = shape[axis]!;
  const expanded = reshape(x, [...shape.slice(0, axis + 1), 1, ...shape.slice(axis + 1)]);
  const padded = pad(expanded, [
    ...shape.slice(0, axis + 1).map(() => [0, 0] as [number, number]),
    [0, s - 1],
    ...shape.slice(axis + 1).map(() => [0, 0] as [number, number]),
  ]);
  const flat = reshape(padded, [...shape.slice(0, axis), L * s, ...shape.slice(axis + 1)]);
  return slice(
    flat,
    shape.map(() => 0),
    shape.map((d, i) => (i === axis ? (L - 1) * s + 1 : d)),
  );
}

/** Crop x along `axis` where a requested padding is negative; return the non-negative rest. */
function cropNegative(x: Value, axis: number, lo: number, hi: number): [Value, number, number] {
  if (lo >= 0 && hi >= 0) return [x, lo, hi];
  const shape = shapeOf(x);
  const b = Math.max(0, -lo);
  const e = Math.max(0, -hi);
  const begin = shape.map((_, i) => (i === axis ? b : 0));
  const size = shape.map((d, i) => (i === axis ? d - b - e : d));
  return [slice(x, begin, size), Math.max(0, lo), Math.max(0, hi)];
}

/** ∂⟨ct, conv(x, w)⟩/∂x: a stride-1 forward conv of the dilated ct with the flipped filter. */
function convInputTranspose(ct: Value, x: Value, w: Value, p: Conv2DParams): Value {
  const [, H, W] = shapeOf(x) as [number, number, number];
  const [kh, kw] = shapeOf(w) as [number, number];
  const [, Ho, Wo] = shapeOf(ct) as [number, number, number];
  const { strides: s, padding: pd, dilations: d } = p;
  const dilated = dilateAxis(dilateAxis(ct, 1, s[0]), 2, s[1]);
  const lo = [d[0] * (kh - 1) - pd[0][0], d[1] * (kw - 1) - pd[1][0]];
  const hi = [H - (Ho - 1) * s[0] - 1 + pd[0][0], W - (Wo - 1) * s[1] - 1 + pd[1][0]];
  const [rows, t, b] = cropNegative(dilated, 1, lo[0]!, hi[0]!);
  const [c, l, r] = cropNegative(rows, 2, lo[1]!, hi[1]!);
  const padding: [[number, number], [number, number]] = [
    [t, b],
    [l, r],
  ];
  // Concrete tensors (helper "eagerconv"): no enclosing transform sees this conv, so where it runs on
  // the col2im scatter it may take w itself (`K.convInputScatter`) rather than the flipped filter.
  if (runtime.isTensor(c) && runtime.isTensor(w)) {
    const direct = K.convInputScatter(c, w, padding, [d[0], d[1]]);
    if (direct !== null) return direct;
  }
  const flipped = transpose(reverse(w, [0, 1]), [0, 1, 3, 2]);
  return bind(conv2dP, [c, flipped], { strides: [1, 1], padding, dilations: d });
}

/** ∂⟨ct, conv(x, w)⟩/∂w = convFilter(x, ct): one primitive, so the kernel seam picks its route. */
function convFilterTranspose(ct: Value, x: Value, w: Value, p: Conv2DParams): Value {
  const [kh, kw] = shapeOf(w) as [number, number];
  return bind(convFilterP, [x, ct], { ...p, filter: [kh, kw] });
}

/**
 * g ↦ the cotangents of convFilter(x, ct): ⟨g, convFilter(x, ct)⟩ = ⟨ct, conv2d(x, g)⟩, so
 * ∂ct = conv2d(x, g) and ∂x = conv2d's input transpose of ct with g as the filter.
 */
defVjp(convFilterP, (g, [x, ct], _y, { filter: _f, ...p }, needs) => [
  needs[0] ? convInputTranspose(ct!, x!, g, p) : null,
  needs[1] ? bind(conv2dP, [x!, g], p) : null,
]);

// ---- log-softmax (helper "eager") ----
/** x̄ = ȳ − softmax(x)·Σ_axes ȳ, one primitive (decomposed wherever it has no rule). */
defVjp(logSoftmaxP, (ct, _x, y, { axes }) => [logSoftmaxGrad(y, ct, axes)]);

// ---- conv2d with bias (helper "eager") ----
/** conv2d(x, w) + b, b [O]: conv2d's cotangents of x and w, and ct summed over all but the last axis for b. */
defVjp(conv2dBiasP, (ct, [x, w, b], y, p, needs) => [
  ...vjpRule(conv2dP)(ct, [x!, w!], y, p, needs.slice(0, 2)),
  needs[2] ? unbroadcast(ct, shapeOf(b!)) : null,
]);

/** y = tanh(x + b), b [c]: x̄ = ȳ·(1 − y²) (one tanhGrad kernel), b̄ = x̄ summed over the leading axes. */
defVjp(biasTanhP, (ct, [, b], y, _p, needs) => {
  const z = tanhGrad(y, ct);
  return [needs[0] ? z : null, needs[1] ? unbroadcast(z, shapeOf(b!)) : null]; // z has x's shape
});
