/**
 * Taylor mode (JAX's `jax.experimental.jet`): a tracer carries a primal and the first K Taylor
 * coefficients of a path x(t) through it, and each primitive maps input series to output series.
 *
 * Inside this interpreter coefficients are the *normalised* ones, x(t) = Σₖ xₖ tᵏ, because then
 * products are plain Cauchy products and the recurrences for exp, log, tanh, … need no factorials.
 * The public `jet` (transforms/jet.ts) converts from and to JAX's derivative convention
 * (x(t) = Σₖ x⁽ᵏ⁾ tᵏ/k!) at its boundary. A term `null` is the symbolic zero, never materialised.
 *
 * A level may carry several independent paths ("channels") through one primal: the primal of each
 * primitive is computed once and each rule maps only the terms of the channels that move there —
 * vmap over paths with symbolic zeros per path (what the order-d diagonal over groups needs).
 *
 * The rules live in one table keyed by the primitive objects; they are written with hodiff ops,
 * so jet composes with every other transform (vmap of jet, grad of jet, jet of grad).
 */
import { TraceError } from "../errors";
import { Trace, Tracer, avalOf, bind, withMain, type Aval, type Primitive, type Value } from "./core";
import {
  add,
  addP,
  cast,
  castP,
  cosP,
  div,
  divP,
  eluGradP,
  eluP,
  equal,
  equalP,
  exp,
  expm1P,
  expP,
  greater,
  greaterP,
  lessP,
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
  powP,
  selectP,
  sinP,
  sqrtP,
  stopGradientP,
  sub,
  subP,
  tanhGradP,
  tanhP,
  where,
} from "../primitives/elementwise";
import { maxGather, maxGatherP, maxScatter, maxScatterP, reduceMaxP, reduceSumP } from "../primitives/reduce";
import { broadcastToP, concatP, padP, reshapeP, reverseP, sliceP, transposeP } from "../primitives/shape";
import { conv2dP, convFilterP, matmulP } from "../primitives/linalg";
import { broadcastTangent, isFloat, zerosOf } from "../primitives/rules";

/** One Taylor term (normalised coefficient); `null` is the symbolic zero. */
export type Term = Value | null;

/**
 * A Taylor rule: the K terms of the output from the primals, the K terms of each input on one path
 * and the primal output `out` (computed once by the interpreter); all normalised coefficients.
 */
export type JetRule<P> = (primals: Value[], series: Term[][], params: P, order: number, out: Value) => Term[];

// Keyed by the primitive objects themselves (never by name), so another module can add rules.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const jetRules = new Map<Primitive<any>, JetRule<any>>();

/** Register the Taylor rule of a primitive (replaces an earlier one). */
export function defJet<P>(prim: Primitive<P>, rule: JetRule<P>): void {
  jetRules.set(prim, rule);
}

/** Whether `prim` has a Taylor rule. */
export function hasJetRule(prim: Primitive<unknown>): boolean {
  return jetRules.has(prim);
}

interface JetData {
  readonly order: number;
  readonly channels: number;
}

const zeroRow = (order: number): Term[] => new Array<Term>(order).fill(null);
const isZeroRow = (row: readonly Term[]): boolean => row.every((t) => t === null);

export class JetTracer extends Tracer {
  constructor(
    readonly trace: JetTrace,
    readonly primal: Value,
    /** series[c][k]: term k + 1 of channel c. */
    readonly series: Term[][],
  ) {
    super();
  }
  get aval(): Aval {
    return avalOf(this.primal);
  }
}

export class JetTrace extends Trace {
  readonly transformName = "jet";
  get order(): number {
    return (this.main.data as JetData).order;
  }
  get channels(): number {
    return (this.main.data as JetData).channels;
  }
  lift(x: Value): Tracer {
    return new JetTracer(
      this,
      x,
      Array.from({ length: this.channels }, () => zeroRow(this.order)),
    );
  }
  processPrimitive<P>(prim: Primitive<P>, tracers: Tracer[], params: P): Value {
    const ts = tracers as JetTracer[];
    const primals = ts.map((t) => t.primal);
    const active = [...Array(this.channels).keys()].filter((c) => ts.some((t) => !isZeroRow(t.series[c]!)));
    // The primal, once for all paths (at the level below); alone when no input moves on any path.
    const out = bind(prim, primals, params);
    if (active.length === 0) return out;
    const rule = jetRules.get(prim);
    if (!rule) throw new TraceError(`jet: no Taylor rule for primitive '${prim.name}'`);
    const rows = Array.from({ length: this.channels }, (_, c) =>
      active.includes(c)
        ? rule(
            primals,
            ts.map((t) => t.series[c]!),
            params,
            this.order,
            out,
          )
        : zeroRow(this.order),
    );
    return rows.every(isZeroRow) ? out : new JetTracer(this, out, rows);
  }
}

/**
 * Propagate normalised series through `fn` at a new jet level — `series[i][c]` is the K terms of
 * input i on path c — and read every output's primal and terms per path.
 */
export function jetMulti(
  fn: (...xs: Value[]) => Value[],
  primals: Value[],
  series: Term[][][],
  order: number,
  channels = 1,
): [Value, Term[][]][] {
  return withMain(JetTrace, { order, channels } satisfies JetData, (main) => {
    const trace = main.trace as JetTrace;
    const outs = fn(...primals.map((p, i) => new JetTracer(trace, p, series[i]!)));
    return outs.map((out): [Value, Term[][]] =>
      out instanceof JetTracer && out.trace.main === main
        ? [out.primal, out.series]
        : [out, Array.from({ length: channels }, () => zeroRow(order))],
    );
  });
}

/** One path, one output (e.g. pow with a moving exponent as exp(b·log a)). */
export function jetNormalized(
  fn: (...xs: Value[]) => Value,
  primals: Value[],
  series: Term[][],
  order: number,
): [Value, Term[]] {
  const [[out, rows]] = jetMulti(
    (...xs) => [fn(...xs)],
    primals,
    series.map((s) => [s]),
    order,
  ) as [[Value, Term[][]]];
  return [out, rows[0]!];
}

// ---------------------------------------------------------------------------------------------
// Term arithmetic with symbolic zeros.

const tmul = (a: Term, b: Term): Term => (a === null || b === null ? null : mul(a, b));
const tadd = (a: Term, b: Term): Term => (a === null ? b : b === null ? a : add(a, b));
const tscale = (a: Term, c: number): Term => (a === null ? null : c === 1 ? a : mul(a, c));
const neg0 = (t: Term): Term => (t === null ? null : neg(t));
const sumTerms = (ts: Term[]): Term => ts.reduce<Term>((s, t) => tadd(s, t), null);
/** A term broadcast to the output's shape (an input of a broadcasting op may be smaller). */
const fit = (t: Term, shape: readonly number[]): Term => (t === null ? null : broadcastTangent(t, shape));

/** Σ_{j=1..k} j·u_j·w_{k−j} / k: the coefficient k of y where y' = w·u' (u, w with index 0 = primal). */
function chainTerm(u: Term[], w: Term[], k: number): Term {
  const parts: Term[] = [];
  for (let j = 1; j <= k; j++) parts.push(tscale(tmul(u[j]!, w[k - j]!), j / k));
  return sumTerms(parts);
}

/** Σ_{j=lo..hi} a_j·b_{k−j}. */
function cauchy(a: Term[], b: Term[], k: number, lo = 0, hi = k, prod = tmul): Term {
  const parts: Term[] = [];
  for (let j = lo; j <= hi; j++) parts.push(prod(a[j]!, b[k - j]!));
  return sumTerms(parts);
}

// ---------------------------------------------------------------------------------------------
// Rules. Each receives the primal output `y` and returns the K output terms.

/** A primitive linear in its single argument: each term maps like the primal. */
function linearUnary<P>(prim: Primitive<P>) {
  defJet(prim, (_x, [s], p) => s!.map((t) => (t === null ? null : bind(prim, [t], p))));
}
for (const p of [negP, reshapeP, broadcastToP, transposeP, sliceP, padP, reverseP, reduceSumP]) {
  linearUnary(p as Primitive<unknown>);
}

defJet(addP, (_x, [sa, sb], _p, _K, y) => sa!.map((t, k) => fit(tadd(t, sb![k]!), avalOf(y).shape)));
defJet(subP, (_x, [sa, sb], _p, _K, y) => sa!.map((t, k) => fit(tadd(t, neg0(sb![k]!)), avalOf(y).shape)));
defJet(concatP, (xs, ss, p) =>
  ss[0]!.map((_, k) =>
    ss.every((s) => s[k] === null)
      ? null
      : bind(
          concatP,
          ss.map((s, i) => s[k] ?? zerosOf(avalOf(xs[i]!))),
          p,
        ),
  ),
);

/** A bilinear primitive (mul, matmul, conv2d, convFilter): Leibniz/Cauchy products of the two series. */
function bilinear<P>(prim: Primitive<P>) {
  defJet(prim, ([a, b], [sa, sb], p, K, y) => {
    const ua = [a!, ...sa!];
    const ub = [b!, ...sb!];
    const prod = (x: Term, z: Term): Term => (x === null || z === null ? null : bind(prim, [x, z], p));
    const terms: Term[] = [];
    for (let k = 1; k <= K; k++) terms.push(fit(cauchy(ua, ub, k, 0, k, prod), avalOf(y).shape));
    return terms;
  });
}
bilinear(mulP);
bilinear(matmulP as Primitive<unknown>);
bilinear(conv2dP as Primitive<unknown>);
bilinear(convFilterP as Primitive<unknown>);

/** y = a / b: b·y = a gives y_k = (a_k − Σ_{j<k} y_j·b_{k−j}) / b₀. */
defJet(divP, ([, b], [sa, sb], _p, K, y) => {
  const v: Term[] = [y];
  const ub: Term[] = [b!, ...sb!];
  for (let k = 1; k <= K; k++) {
    const num = tadd(sa![k - 1]!, neg0(cauchy(v, ub, k, 0, k - 1)));
    v.push(fit(num === null ? null : div(num, b!), avalOf(y).shape));
  }
  return v.slice(1);
});

/** y' = y·x'. */
defJet(expP, ([x], [s], _p, K, y) => {
  const u = [x!, ...s!];
  const v: Term[] = [y];
  for (let k = 1; k <= K; k++) v.push(chainTerm(u, v, k));
  return v.slice(1);
});
/** y = eˣ − 1: y' = (y + 1)·x'. */
defJet(expm1P, ([x], [s], _p, K, y) => {
  const u = [x!, ...s!];
  const v: Term[] = [y];
  const w: Term[] = [add(y, 1)];
  for (let k = 1; k <= K; k++) {
    v.push(chainTerm(u, w, k));
    w.push(v[k]!);
  }
  return v.slice(1);
});

/** y = log w(x) with w₀ = `base`: w·y' = w' gives y_k = (w_k − Σ_{j=1}^{k−1} (j/k)·y_j·w_{k−j}) / w₀. */
function logSeries(y: Value, base: Value, s: Term[], K: number): Term[] {
  const w: Term[] = [base, ...s];
  const v: Term[] = [y];
  for (let k = 1; k <= K; k++) {
    const parts: Term[] = [w[k]!];
    for (let j = 1; j < k; j++) parts.push(neg0(tscale(tmul(v[j]!, w[k - j]!), j / k)));
    const num = sumTerms(parts);
    v.push(num === null ? null : div(num, base));
  }
  return v.slice(1);
}
defJet(logP, ([x], [s], _p, K, y) => logSeries(y, x!, s!, K));
defJet(log1pP, ([x], [s], _p, K, y) => logSeries(y, add(x!, 1), s!, K));

/** sin' = cos·x', cos' = −sin·x', advanced together from sin x and cos x. */
function sinCos(x: Value, sin0: Value, cos0: Value, s: Term[], K: number): [Term[], Term[]] {
  const u = [x, ...s];
  const sn: Term[] = [sin0];
  const cs: Term[] = [cos0];
  for (let k = 1; k <= K; k++) {
    const a = chainTerm(u, cs, k);
    const b = neg0(chainTerm(u, sn, k));
    sn.push(a);
    cs.push(b);
  }
  return [sn, cs];
}
defJet(sinP, ([x], [s], _p, K, y) => sinCos(x!, y, bind(cosP, [x!], {}), s!, K)[0].slice(1));
defJet(cosP, ([x], [s], _p, K, y) => sinCos(x!, bind(sinP, [x!], {}), y, s!, K)[1].slice(1));

/** Σ_{j=0..k} v_j·v_{k−j}, using symmetry (half the products). */
function square(v: Term[], k: number): Term {
  const parts: Term[] = [];
  for (let j = 0; 2 * j < k; j++) parts.push(tscale(tmul(v[j]!, v[k - j]!), 2));
  if (k % 2 === 0) parts.push(tmul(v[k / 2]!, v[k / 2]!));
  return sumTerms(parts);
}

/** y = tanh x: y' = (1 − y²)·x'; z = 1 − y² is advanced alongside. */
defJet(tanhP, ([x], [s], _p, K, y) => {
  const u = [x!, ...s!];
  const v: Term[] = [y];
  const z: Term[] = [sub(1, mul(y, y))];
  for (let k = 1; k <= K; k++) {
    v.push(chainTerm(u, z, k));
    if (k < K) z.push(neg0(square(v, k)));
  }
  return v.slice(1);
});

/** y = √x: y² = x gives y_k = (x_k − Σ_{j=1}^{k−1} y_j·y_{k−j}) / (2y₀). */
defJet(sqrtP, (_x, [s], _p, K, y) => {
  const twoY = mul(y, 2);
  const v: Term[] = [y];
  for (let k = 1; k <= K; k++) {
    const inner: Term[] = [];
    for (let j = 1; j < k; j++) inner.push(tmul(v[j]!, v[k - j]!));
    const num = tadd(s![k - 1]!, neg0(sumTerms(inner)));
    v.push(num === null ? null : div(num, twoY));
  }
  return v.slice(1);
});

/**
 * The fused primitives (elu, tanhGrad, eluGrad) through their compositions of primitives that have
 * Taylor rules, at a nested jet level like pow's moving exponent: the same functions, so the same
 * series (the clamp in eˣ keeps the untaken branch finite). Their primals stay one fused kernel.
 */
function composedJet(f: (...xs: Value[]) => Value): JetRule<Record<string, never>> {
  return (primals, series, _p, K, y) => {
    const [, terms] = jetNormalized(f, primals, series, K);
    return terms.map((t) => fit(t, avalOf(y).shape));
  };
}
defJet(
  eluP,
  composedJet((x) => where(greater(x, 0), x, bind(expm1P, [minimum(x, 0)], {}))),
);
defJet(
  tanhGradP,
  composedJet((y, t) => mul(t, sub(1, mul(y, y)))),
);
defJet(
  eluGradP,
  composedJet((x, t) => mul(t, where(greater(x, 0), 1, exp(minimum(x, 0))))),
);

/** A non-negative integer exponent known now (a concrete scalar), or null. */
function smallIntegerExponent(b: Value): number | null {
  if (b instanceof Tracer) return null;
  if (b.size !== 1) return null;
  let e: number;
  try {
    e = b.dataSync()[0]!;
  } catch {
    return null; // unreadable now (webgpu in Node): the general rule, exact away from a = 0
  }
  return Number.isInteger(e) && e >= 0 && e <= 64 ? e : null;
}

/**
 * y = aᵇ. A moving exponent goes through exp(b·log a). A constant non-negative integer exponent
 * uses repeated Cauchy products (exact at a = 0, like the jvp rule). Otherwise a·y' = b·a'·y gives
 * y_k = Σ_{j=1..k} (b·j − (k − j))·a_j·y_{k−j} / (k·a₀).
 */
defJet(powP, ([a, b], [sa, sb], _p, K, y) => {
  const shape = avalOf(y).shape;
  if (sb!.some((t) => t !== null)) {
    const [, terms] = jetNormalized((x, e) => exp(mul(e, log(x))), [a!, b!], [sa!, sb!], K);
    return terms.map((t) => fit(t, shape));
  }
  const ua: Term[] = [a!, ...sa!];
  const n = smallIntegerExponent(b!);
  if (n !== null) {
    // Series of aⁿ by binary powering of the series [a, …].
    let result: Term[] | null = null;
    let base = ua;
    let e = n;
    const times = (x: Term[], z: Term[]): Term[] => x.map((_, k) => (k === 0 ? mul(x[0]!, z[0]!) : cauchy(x, z, k)));
    while (e > 0) {
      if (e & 1) result = result === null ? base : times(result, base);
      e >>= 1;
      if (e > 0) base = times(base, base);
    }
    const terms = result === null ? zeroRow(K) : result.slice(1);
    return terms.map((t) => fit(t, shape));
  }
  const v: Term[] = [y];
  for (let k = 1; k <= K; k++) {
    const parts: Term[] = [];
    for (let j = 1; j <= k; j++) {
      const t = tmul(ua[j]!, v[k - j]!);
      if (t !== null) parts.push(mul(t, sub(mul(b!, j), k - j)));
    }
    const num = sumTerms(parts);
    v.push(fit(num === null ? null : div(num, mul(a!, k)), shape));
  }
  return v.slice(1);
});

/** The share of the derivative that max(a, b) takes from a: 1 where a > b, ½ at ties (as jvp). */
const maxShare = (a: Value, b: Value): Value =>
  add(cast(greater(a, b), "float32"), mul(cast(equal(a, b), "float32"), 0.5));

/** By the primal's branch: each term is the same mix of the input terms as the first derivative. */
function choose(prim: Primitive<Record<string, never>>, first: (a: Value, b: Value) => [Value, Value]) {
  defJet(prim, ([a, b], [sa, sb], _p, _K, y) => {
    const [wa, wb] = first(a!, b!);
    return sa!.map((t, k) => fit(tadd(tmul(t, wa), tmul(sb![k]!, wb)), avalOf(y).shape));
  });
}
choose(maximumP, (a, b) => [maxShare(a, b), maxShare(b, a)]);
choose(minimumP, (a, b) => [maxShare(b, a), maxShare(a, b)]);

defJet(selectP, ([c, a, b], [, sa, sb], _p, _K, y) =>
  sa!.map((t, k) => {
    const tb = sb![k]!;
    if (t === null && tb === null) return null;
    return fit(where(c!, t ?? zerosOf(avalOf(a!)), tb ?? zerosOf(avalOf(b!))), avalOf(y).shape);
  }),
);

/** max over axes: the terms of the maximising entries (ties share equally, as jvp). */
defJet(reduceMaxP, ([x], [s], p, _K, out) => s!.map((t) => (t === null ? null : maxGather(x!, out, t, p.axes))));

/** Linear in t, piecewise constant in x and m: each term of t goes through with the primal weights. */
defJet(maxScatterP, ([x, m], [, , st], p) => st!.map((t) => (t === null ? null : maxScatter(x!, m!, t, p.axes))));
defJet(maxGatherP, ([x, m], [, , ss], p) => ss!.map((t) => (t === null ? null : maxGather(x!, m!, t, p.axes))));

defJet(castP, ([x], [s], p) => {
  const moves = isFloat(p.dtype) && isFloat(avalOf(x!).dtype);
  return s!.map((t) => (moves && t !== null ? t : null));
});

/** No series flows through comparisons and stopGradient. */
for (const prim of [greaterP, lessP, equalP, stopGradientP]) {
  defJet(prim as Primitive<unknown>, (_xs, ss) => ss[0]!.map(() => null));
}
