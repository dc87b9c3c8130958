/**
 * Jaxpr-to-jaxpr passes run by `jit` before planning: constant folding (equations whose inputs
 * are all concrete constants or literals are evaluated once; axpy at a zeros α is θ),
 * common-subexpression elimination (the same primitive with the same params on the same atoms is
 * computed once) and dead-code elimination (equations no output depends on are dropped).
 */
import { Jaxpr, Literal, Var, type Atom, type Eqn } from "./jaxpr";
import { K, runtime, type Tensor } from "../kernels";
import { isCallPrimitive, type Value } from "../trace/core";
import type { CallParams } from "./call";
import { axpyP } from "../axpy";
import { isKnownZero } from "../zeroData";

/** Drop equations that no output depends on, and constants nothing reads. */
export function dce(j: Jaxpr, consts: readonly Value[]): [Jaxpr, Value[]] {
  const live = new Set<Var>();
  for (const o of j.outs) if (o instanceof Var) live.add(o);
  const kept: Eqn[] = [];
  for (let i = j.eqns.length - 1; i >= 0; i--) {
    const e = j.eqns[i]!;
    if (!e.outs.some((o) => live.has(o))) continue;
    kept.push(e);
    for (const a of e.inputs) if (a instanceof Var) live.add(a);
  }
  kept.reverse();
  const constvars: Var[] = [];
  const values: Value[] = [];
  j.constvars.forEach((v, i) => {
    if (live.has(v)) {
      constvars.push(v);
      values.push(consts[i]!);
    }
  });
  return [new Jaxpr(constvars, j.invars, kept, j.outs), values];
}

const atomKey = (a: Atom, ids: Map<Var, number>): string =>
  a instanceof Literal ? `${a.value}:${a.aval.dtype}` : `v${ids.get(a)}`;

/** Compute each distinct (primitive, params, inputs) once; later copies read the first. */
export function cse(j: Jaxpr): Jaxpr {
  const ids = new Map<Var, number>();
  const id = (v: Var) => {
    if (!ids.has(v)) ids.set(v, ids.size);
    return ids.get(v)!;
  };
  for (const v of [...j.constvars, ...j.invars]) id(v);
  const subst = new Map<Var, Var>();
  const rename = (a: Atom): Atom => (a instanceof Var ? (subst.get(a) ?? a) : a);
  const seen = new Map<string, readonly Var[]>();
  const primIds = new Map<unknown, number>();
  // Sub-jaxprs in params are compared by identity.
  const jaxprIds = new Map<Jaxpr, number>();
  const replacer = (_k: string, v: unknown) => {
    if (!(v instanceof Jaxpr)) return v;
    if (!jaxprIds.has(v)) jaxprIds.set(v, jaxprIds.size);
    return `jaxpr#${jaxprIds.get(v)}`;
  };
  const eqns: Eqn[] = [];
  for (const e of j.eqns) {
    const inputs = e.inputs.map(rename);
    if (!primIds.has(e.prim)) primIds.set(e.prim, primIds.size);
    const key = `${primIds.get(e.prim)}|${JSON.stringify(e.params, replacer)}|${inputs.map((a) => atomKey(a, ids)).join(",")}`;
    const prev = seen.get(key);
    if (prev) {
      e.outs.forEach((o, i) => subst.set(o, prev[i]!));
      continue;
    }
    seen.set(key, e.outs);
    e.outs.forEach(id);
    eqns.push({ ...e, inputs });
  }
  return new Jaxpr(j.constvars, j.invars, eqns, j.outs.map(rename));
}

/**
 * Evaluate equations whose inputs are all concrete constants or literals, once; their outputs
 * become new constants (returned as `made`, owned by the caller). axpy(θ, α, u) at a constant α
 * made by `zeros` becomes θ (no equation).
 */
export function foldConstants(j: Jaxpr, consts: readonly Value[]): [Jaxpr, Value[], Tensor[]] {
  const known = new Map<Var, Tensor>();
  j.constvars.forEach((v, i) => {
    const c = consts[i]!;
    if (runtime.isTensor(c)) known.set(v, c);
  });
  const made: Tensor[] = [];
  const constvars = [...j.constvars];
  const values = [...consts];
  const eqns: Eqn[] = [];
  // Outputs that are another atom's value: each later read of the key reads the value instead.
  const alias = new Map<Var, Atom>();
  const read = (a: Atom): Atom => (a instanceof Var ? (alias.get(a) ?? a) : a);
  for (const e0 of j.eqns) {
    const e = alias.size === 0 ? e0 : { ...e0, inputs: e0.inputs.map(read) };
    const alpha = e.prim === axpyP ? e.inputs[1] : undefined;
    if (alpha instanceof Var && known.has(alpha) && isKnownZero(known.get(alpha)!)) {
      // θ + α_i·u at an α made by `zeros` is θ, as eagerly (axpy's impl): products of θ downstream
      // are then the same equations as those of a pass that uses θ directly, and CSE merges them.
      alias.set(e.outs[0]!, e.inputs[0]!);
      continue;
    }
    const foldable = e.inputs.every((a) => a instanceof Literal || known.has(a));
    if (!foldable) {
      eqns.push(e);
      continue;
    }
    const scalars: Tensor[] = [];
    const args = e.inputs.map((a) => {
      if (a instanceof Var) return known.get(a)!;
      const t = K.scalar(a.value, a.aval.dtype);
      scalars.push(t);
      return t;
    });
    const outs = isCallPrimitive(e.prim) ? e.prim.impl(args, e.params) : [e.prim.impl(args, e.params)];
    scalars.forEach((t) => t.dispose());
    outs.forEach((out, i) => {
      made.push(out);
      known.set(e.outs[i]!, out);
      constvars.push(e.outs[i]!);
      values.push(out);
    });
  }
  return [new Jaxpr(constvars, j.invars, eqns, j.outs.map(read)), values, made];
}

/**
 * Replace each call equation by the equations of its sub-jaxpr (recursively, with fresh
 * variables), so a plan sees one flat program: its memory planning and CSE cross call boundaries.
 */
export function inlineCalls(j: Jaxpr): Jaxpr {
  if (!j.eqns.some((e) => isCallPrimitive(e.prim))) return j;
  const eqns: Eqn[] = [];
  // `env`: what each variable of `sub` now reads (absent: itself). Only sub-jaxprs get `fresh`
  // variables; the top level keeps its own.
  const emit = (sub: Jaxpr, env: Map<Var, Atom>, fresh: boolean): Atom[] => {
    const read = (a: Atom): Atom => (a instanceof Var ? (env.get(a) ?? a) : a);
    for (const e of sub.eqns) {
      const inputs = e.inputs.map(read);
      if (isCallPrimitive(e.prim)) {
        const inner = (e.params as CallParams).jaxpr;
        const outs = emit(inner, new Map(inner.invars.map((v, i) => [v, inputs[i]!])), true);
        e.outs.forEach((o, i) => env.set(o, outs[i]!));
      } else if (fresh) {
        const outs = e.outs.map((o) => new Var(o.aval));
        e.outs.forEach((o, i) => env.set(o, outs[i]!));
        eqns.push({ ...e, inputs, outs });
      } else {
        eqns.push({ ...e, inputs });
      }
    }
    return sub.outs.map(read);
  };
  // An output of a call may now be an input, a constant or a literal of the top level.
  const outs = emit(j, new Map(), false);
  return new Jaxpr(j.constvars, j.invars, eqns, outs);
}
