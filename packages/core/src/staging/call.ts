/**
 * The jit call primitive (JAX's `pjit`): `jit(f)` applied to tracers binds one `jit` equation
 * whose params carry f's optimised jaxpr, instead of inlining it. Its constants are hoisted into
 * explicit leading arguments, so the jaxpr in the params holds no tensor (it can be cached, printed
 * and shared freely) and the values it closes over flow through the transforms like any input.
 *
 * One call rule per interpreter (registered with `defCallRule`, keyed by the trace class):
 * - staging (`makeJaxpr`, an enclosing `jit`): one equation with a nested jaxpr;
 * - forward mode: the jvp of the inner jaxpr, staged, is itself one call `jvp(f)`;
 * - reverse mode: by partial evaluation of that jvp jaxpr into a known part (the primal and the
 *   residuals the tangent part needs: one call) and a linear part, whose transpose is staged as a
 *   second call `transpose(jvp(f))` run on the backward pass;
 * - batching: the batched inner jaxpr (batch axes moved to the front), one call `vmap(f)`;
 * - any other interpreter (Taylor mode) inlines the inner jaxpr, primitive by primitive.
 * On concrete arrays a call runs the inner jaxpr as a plan (cached per jaxpr).
 */
import { bindCall, defCallRule, isCallPrimitive, withMain, type CallPrimitive, type Value } from "../trace/core";
import { evalJaxpr, Jaxpr, Literal, Var, type Atom, type ClosedJaxpr, type Eqn } from "./jaxpr";
import { JaxprTrace, JaxprTracer, traceToJaxpr } from "./trace";
import { cse, dce } from "./optimize";
import { Plan } from "./plan";
import { JVPTrace, JVPTracer } from "../trace/jvp";
import { BatchTrace, BatchTracer } from "../trace/vmap";
import { ReverseTrace, ReverseTracer, backward, materialize, type TapeNode } from "../trace/reverse";
import type { Cotangent } from "../rules/vjp";
import { add } from "../primitives/elementwise";
import { isFloat, moveaxis, zerosOf } from "../primitives/rules";
import { runtime } from "../kernels";
import { canReadSync } from "../backend";

/** Params of a `jit` equation: a name for printing, and the jaxpr (no constvars) it applies. */
export interface CallParams {
  readonly name: string;
  readonly jaxpr: Jaxpr;
}

// Plans hold no tensors here (the jaxprs have no constants), so a WeakMap can cache them.
const plans = new WeakMap<Jaxpr, Plan>();

/** The `jit` call primitive. */
export const jitP: CallPrimitive<CallParams> = {
  name: "jit",
  call: true,
  impl(args, { jaxpr }) {
    let plan = plans.get(jaxpr);
    if (!plan) {
      plan = new Plan(jaxpr, []);
      plans.set(jaxpr, plan);
    }
    return plan.run(args);
  },
  abstractEval: (_avals, { jaxpr }) => jaxpr.outs.map((a) => a.aval),
  inline: (args, { jaxpr }) => evalJaxpr(jaxpr, [], args),
};

/** `{ lambda c ; x . … }` → `{ lambda ; c x . … }`: constants become leading inputs. */
export function hoistConsts(j: Jaxpr): Jaxpr {
  return new Jaxpr([], [...j.constvars, ...j.invars], j.eqns, j.outs);
}

/**
 * Stage `fn` on abstract values shaped like `examples` into a jaxpr (CSE and DCE applied) and
 * return it with the values of its constants, which the call takes as leading arguments, and the
 * `info` `fn` gave about its outputs while tracing.
 */
function stage<I>(
  fn: (xs: Value[]) => { outs: Value[]; info: I },
  examples: readonly Value[],
): { jaxpr: Jaxpr; consts: Value[]; info: I } {
  let info: I | undefined;
  const traced = traceToJaxpr(
    "jit",
    (...xs: unknown[]) => {
      const r = fn(xs as Value[]);
      info = r.info;
      return r.outs;
    },
    [...examples],
  );
  const [jaxpr, consts] = dce(cse(scalarsAsLiterals(traced.closed)), traced.closed.consts);
  return { jaxpr: hoistConsts(jaxpr), consts, info: info! };
}

/**
 * Scalar constants made while tracing (a JS number lifted by a transform above the staging level
 * becomes a scalar tensor) as literals: the derived jaxpr then often closes over nothing and can
 * be cached.
 */
function scalarsAsLiterals(c: ClosedJaxpr): Jaxpr {
  const owned = new Set(c.owned);
  const lit = new Map<Var, Literal>();
  c.jaxpr.constvars.forEach((v, i) => {
    const t = c.consts[i]!;
    if (owned.has(t) && runtime.isTensor(t) && t.shape.length === 0 && t.dtype !== "bool" && canReadSync()) {
      lit.set(v, new Literal(t.dataSync()[0]!, v.aval));
    }
  });
  if (lit.size === 0) return c.jaxpr;
  // Outputs keep their constants (a literal is no output); DCE then drops the unused ones.
  const atom = (a: Atom): Atom => (a instanceof Var ? (lit.get(a) ?? a) : a);
  const eqns = c.jaxpr.eqns.map((e) => ({ ...e, inputs: e.inputs.map(atom) }));
  return new Jaxpr(c.jaxpr.constvars, c.jaxpr.invars, eqns, c.jaxpr.outs);
}

// Staging: one equation with the nested jaxpr. Inputs that are concrete constants are known: the
// part of the call they determine runs now (as the staging trace folds operations on constants),
// and only the rest is staged — what makes `linearize` of a jitted function run no primal work.
defCallRule(JaxprTrace, (trace, prim, tracers, params: CallParams) => {
  const t = trace as JaxprTrace;
  const ts = tracers as JaxprTracer[];
  const values = ts.map((x) => concreteConst(t, x.atom));
  if (values.some((v) => v !== undefined)) {
    const pe = partialEval(
      params.jaxpr,
      values.map((v) => v !== undefined),
    );
    if (pe.known.eqns.length > 0) {
      const known = bindCall(
        prim,
        values.filter((v): v is Value => v !== undefined),
        { ...params, jaxpr: pe.known },
      );
      const nKnownOuts = countTrue(pe.outKnown);
      const residuals = known.slice(nKnownOuts).map((r) => t.lift(r) as JaxprTracer);
      const rest = record(t, prim, [...residuals, ...ts.filter((_, i) => values[i] === undefined)], {
        ...params,
        jaxpr: pe.unknown,
      });
      let k = 0;
      let u = 0;
      return pe.outKnown.map((isKnown) => (isKnown ? known[k++]! : rest[u++]!));
    }
  }
  return record(t, prim, ts, params);
});

/** The value of a staged constant when it is a concrete tensor. */
function concreteConst(t: JaxprTrace, a: Atom): Value | undefined {
  if (!(a instanceof Var)) return undefined;
  const i = t.builder.constvars.indexOf(a);
  const v = i < 0 ? undefined : t.builder.consts[i];
  return v !== undefined && runtime.isTensor(v) ? v : undefined;
}

function record(t: JaxprTrace, prim: CallPrimitive<CallParams>, ts: JaxprTracer[], params: CallParams): Value[] {
  const outs = prim
    .abstractEval(
      ts.map((x) => x.aval),
      params,
    )
    .map((a) => new Var(a));
  t.builder.eqns.push({ prim, params, inputs: ts.map((x) => x.atom), outs });
  return outs.map((v) => new JaxprTracer(t, v));
}

// What is derived from a sub-jaxpr (its jvp, batching, partial evaluation, transpose), per input
// pattern; only when it closes over no tensor, so the cache never holds memory (a WeakMap).
const derivedCache = new WeakMap<Jaxpr, Map<string, unknown>>();
let derivedHits = 0;
/** How many derived jaxprs were taken from the cache (for tests). */
export const derivedCacheHits = (): number => derivedHits;

function memo<T extends { readonly consts: readonly Value[] }>(src: Jaxpr, key: string, make: () => T): T {
  let m = derivedCache.get(src);
  const hit = m?.get(key) as T | undefined;
  if (hit !== undefined) {
    derivedHits++;
    return hit;
  }
  const v = make();
  if (v.consts.length === 0) {
    if (!m) derivedCache.set(src, (m = new Map()));
    m.set(key, v);
  }
  return v;
}

const maskKey = (xs: readonly boolean[]): string => xs.map((x) => (x ? 1 : 0)).join("");

/** The jvp of `jaxpr` staged: (primals, tangents of the inputs in `withTangent`) ↦ (outputs, non-zero output tangents). */
function jvpJaxpr(
  jaxpr: Jaxpr,
  primals: readonly Value[],
  withTangent: readonly boolean[],
): { jaxpr: Jaxpr; consts: Value[]; outHasTangent: boolean[] } {
  const n = primals.length;
  const examples = [...primals, ...primals.filter((_, i) => withTangent[i])];
  const staged = stage(
    (xs) =>
      withMain(JVPTrace, undefined, (main) => {
        const trace = main.trace as JVPTrace;
        let k = n;
        const ins = xs.slice(0, n).map((p, i) => new JVPTracer(trace, p, withTangent[i] ? xs[k++]! : null));
        const outs = evalJaxpr(jaxpr, [], ins);
        const ys: Value[] = [];
        const dys: Value[] = [];
        const outHasTangent = outs.map((o) => {
          if (o instanceof JVPTracer && o.trace.main === main) {
            ys.push(o.primal);
            if (o.tangent !== null) dys.push(o.tangent);
            return o.tangent !== null;
          }
          ys.push(o);
          return false;
        });
        return { outs: [...ys, ...dys], info: outHasTangent };
      }),
    examples,
  );
  return { jaxpr: staged.jaxpr, consts: staged.consts, outHasTangent: staged.info };
}

// Forward mode: the jvp of the inner jaxpr, as one call.
defCallRule(JVPTrace, (trace, prim, tracers, params: CallParams) => {
  const ts = tracers as JVPTracer[];
  const primals = ts.map((t) => t.primal);
  const tangents = ts.map((t) => t.tangent);
  if (tangents.every((t) => t === null)) return bindCall(prim, primals, params);
  const withTangent = tangents.map((t) => t !== null);
  const j = memo(params.jaxpr, `jvp|${maskKey(withTangent)}`, () => jvpJaxpr(params.jaxpr, primals, withTangent));
  const args = [...j.consts, ...primals, ...tangents.filter((t): t is Value => t !== null)];
  const outs = bindCall(prim, args, { name: `jvp(${params.name})`, jaxpr: j.jaxpr });
  const k = params.jaxpr.outs.length;
  let d = k;
  return outs.slice(0, k).map((y, i) => (j.outHasTangent[i] ? new JVPTracer(trace as JVPTrace, y, outs[d++]!) : y));
});

// Batching: the batched inner jaxpr (batch axes in front), as one call.
defCallRule(BatchTrace, (trace, prim, tracers, params: CallParams) => {
  const bt = trace as BatchTrace;
  const ts = tracers as BatchTracer[];
  const size = bt.axisSize;
  if (ts.every((t) => t.bdim === null)) {
    return bindCall(
      prim,
      ts.map((t) => t.val),
      params,
    );
  }
  const batched = ts.map((t) => t.bdim !== null);
  const vals = ts.map((t) => (t.bdim === null ? t.val : moveaxis(t.val, t.bdim, 0)));
  const staged = memo(params.jaxpr, `vmap|${size}|${maskKey(batched)}`, () =>
    stage(
      (xs) =>
        withMain(BatchTrace, size, (main) => {
          const inner = main.trace as BatchTrace;
          const ins = xs.map((x, i) => new BatchTracer(inner, x, batched[i] ? 0 : null));
          const outs = evalJaxpr(params.jaxpr, [], ins);
          const mine = (o: Value): o is BatchTracer => o instanceof BatchTracer && o.trace.main === main;
          return {
            outs: outs.map((o) => (!mine(o) ? o : o.bdim === null ? o.val : moveaxis(o.val, o.bdim, 0))),
            info: outs.map((o) => mine(o) && o.bdim !== null),
          };
        }),
      vals,
    ),
  );
  const outBatched = staged.info;
  const outs = bindCall(prim, [...staged.consts, ...vals], { name: `vmap(${params.name})`, jaxpr: staged.jaxpr });
  return outs.map((o, i) => (outBatched[i] ? new BatchTracer(bt, o, 0) : o));
});

/** A jaxpr split by partial evaluation: what known inputs determine, and the rest. */
export interface PartialEval {
  /** known inputs ↦ (known outputs, residuals). */
  readonly known: Jaxpr;
  /** (residuals, unknown inputs) ↦ unknown outputs. */
  readonly unknown: Jaxpr;
  readonly outKnown: boolean[];
  readonly nResiduals: number;
}

/**
 * Partial evaluation (JAX's `partial_eval_jaxpr`): equations whose inputs are all known go to the
 * known jaxpr; the others to the unknown one, which reads the known values it needs (residuals).
 * A call equation with known and unknown inputs is split in two calls, recursively.
 */
export function partialEval(j: Jaxpr, knownIn: readonly boolean[]): PartialEval {
  const known = new Set<Var>(j.constvars);
  j.invars.forEach((v, i) => {
    if (knownIn[i]) known.add(v);
  });
  const isKnown = (a: Atom) => a instanceof Literal || known.has(a);
  const kEqns: Eqn[] = [];
  const uEqns: Eqn[] = [];
  for (const e of j.eqns) {
    if (e.inputs.every(isKnown)) {
      kEqns.push(e);
      e.outs.forEach((o) => known.add(o));
      continue;
    }
    const p = e.params as CallParams;
    const inner =
      isCallPrimitive(e.prim) && e.inputs.some(isKnown) ? partialEval(p.jaxpr, e.inputs.map(isKnown)) : null;
    // Split only when the call has known work to do; otherwise it is unknown as a whole.
    if (inner && inner.known.eqns.length > 0) {
      const res = Array.from(
        { length: inner.nResiduals },
        (_, i) => new Var(inner.known.outs[i + countTrue(inner.outKnown)]!.aval),
      );
      const kOuts = e.outs.filter((_, i) => inner.outKnown[i]);
      kEqns.push({
        prim: e.prim,
        params: { ...p, jaxpr: inner.known },
        inputs: e.inputs.filter(isKnown),
        outs: [...kOuts, ...res],
      });
      kOuts.forEach((o) => known.add(o));
      res.forEach((o) => known.add(o));
      uEqns.push({
        prim: e.prim,
        params: { ...p, jaxpr: inner.unknown },
        inputs: [...res, ...e.inputs.filter((a) => !isKnown(a))],
        outs: e.outs.filter((_, i) => !inner.outKnown[i]),
      });
      continue;
    }
    uEqns.push(e);
  }
  const residuals: Var[] = [];
  const seen = new Set<Var>();
  const needs = (a: Atom) => {
    if (a instanceof Var && known.has(a) && !seen.has(a)) {
      seen.add(a);
      residuals.push(a);
    }
  };
  for (const e of uEqns) e.inputs.forEach(needs);
  const outKnown = j.outs.map(isKnown);
  return {
    known: new Jaxpr(
      [],
      j.invars.filter((_, i) => knownIn[i]),
      kEqns,
      [...j.outs.filter((_, i) => outKnown[i]), ...residuals],
    ),
    // The unknown part's known constvars (if any) arrive as residuals too.
    unknown: new Jaxpr(
      [],
      [...residuals, ...j.invars.filter((_, i) => !knownIn[i])],
      uEqns,
      j.outs.filter((_, i) => !outKnown[i]),
    ),
    outKnown,
    nResiduals: residuals.length,
  };
}

const countTrue = (xs: readonly boolean[]) => xs.filter(Boolean).length;

// Reverse mode: known part forward now (one call), transposed linear part backward (one call).
defCallRule(ReverseTrace, (trace, prim, tracers, params: CallParams) => {
  const rt = trace as ReverseTrace;
  const ts = tracers as ReverseTracer[];
  const primals = ts.map((t) => t.primal);
  const diff = ts.map((t) => t.node !== null && isFloat(t.aval.dtype));
  if (!diff.some(Boolean)) return bindCall(prim, primals, params);
  const { j, pe } = memo(params.jaxpr, `rev|${maskKey(diff)}`, () => {
    const j = jvpJaxpr(params.jaxpr, primals, diff);
    const known = new Array<boolean>(j.consts.length + primals.length).fill(true);
    const pe = partialEval(j.jaxpr, [...known, ...new Array<boolean>(countTrue(diff)).fill(false)]);
    return { consts: j.consts, j, pe };
  });
  const k = params.jaxpr.outs.length;
  // The primal outputs never depend on tangents; the tangent outputs that do form the linear part.
  if (!pe.outKnown.slice(0, k).every(Boolean)) throw new Error("internal: jit's primal output depends on a tangent");
  const nKnownOuts = countTrue(pe.outKnown);
  const known = bindCall(prim, [...j.consts, ...primals], { name: params.name, jaxpr: pe.known });
  const ys = known.slice(0, k);
  const residuals = known.slice(nKnownOuts);
  // Which primal outputs have a tangent that depends on the inputs (a row of the linear part).
  let d = k;
  const linearOut = j.outHasTangent.map((has) => has && !pe.outKnown[d++]!);
  const diffTs = ts.filter((_, i) => diff[i]);
  const parents = diffTs.map((t) => t.node);
  const nodes: TapeNode[] = [];
  const transpose = (cts: (Value | null)[]): Cotangent[] => {
    // cts: one per linear output, in order.
    const given = cts.map((c) => c !== null);
    const tangentAvals = diffTs.map((t) => t.aval);
    const staged = memo(pe.unknown, `transpose|${maskKey(given)}`, () =>
      stage(
        (xs) => {
          const res = xs.slice(0, residuals.length);
          const ctv = xs.slice(residuals.length);
          const tape: TapeNode[] = [];
          return withMain(ReverseTrace, tape, (main) => {
            const inner = main.trace as ReverseTrace;
            // The linear part's forward values are never needed by its transpose: zeros stand in.
            const ins = tangentAvals.map((a) => inner.input(zerosOf(a)));
            const outs = evalJaxpr(pe.unknown, [], [...res, ...ins]);
            const seeds: [TapeNode, Value][] = [];
            let c = 0;
            outs.forEach((o, i) => {
              if (!given[i]) return;
              const ct = ctv[c++]!;
              if (o instanceof ReverseTracer && o.trace.main === main && o.node) seeds.push([o.node, ct]);
            });
            const reached = backward(tape, seeds, add);
            const got = ins.map((t) => reached.get(t.node!));
            return {
              outs: got.filter((g) => g !== undefined).map(materialize),
              info: got.map((g) => g !== undefined),
            };
          });
        },
        [...residuals, ...cts.filter((c): c is Value => c !== null)],
      ),
    );
    const inHas = staged.info;
    const back = bindCall(prim, [...staged.consts, ...residuals, ...cts.filter((c): c is Value => c !== null)], {
      name: `transpose(jvp(${params.name}))`,
      jaxpr: staged.jaxpr,
    });
    let b = 0;
    return inHas.map((h) => (h ? back[b++]! : null));
  };
  const group = { nodes, rule: transpose };
  return ys.map((y, i) => {
    if (!linearOut[i]) return y;
    // `inputs`: the residuals, so that a pullback keeps them alive (vjp keeps the tape's inputs).
    const node: TapeNode = { prim: null, params: undefined, inputs: residuals, out: y, parents, group };
    nodes.push(node);
    rt.tape.push(node);
    return new ReverseTracer(rt, y, node);
  });
});
