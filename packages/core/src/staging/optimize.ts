/**
 * Jaxpr-to-jaxpr passes run by `jit` before planning: constant folding (equations whose inputs
 * are all concrete constants or literals are evaluated once), common-subexpression elimination
 * (the same primitive with the same params on the same atoms is computed once) and dead-code
 * elimination (equations no output depends on are dropped).
 */
import { Jaxpr, Literal, Var, type Atom, type Eqn } from "./jaxpr";
import { K, runtime, type Tensor } from "../kernels";
import type { Value } from "../trace/core";

/** Drop equations that no output depends on, and constants nothing reads. */
export function dce(j: Jaxpr, consts: readonly Value[]): [Jaxpr, Value[]] {
  const live = new Set<Var>();
  for (const o of j.outs) if (o instanceof Var) live.add(o);
  const kept: Eqn[] = [];
  for (let i = j.eqns.length - 1; i >= 0; i--) {
    const e = j.eqns[i]!;
    if (!live.has(e.out)) continue;
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
  const seen = new Map<string, Var>();
  const primIds = new Map<unknown, number>();
  const eqns: Eqn[] = [];
  for (const e of j.eqns) {
    const inputs = e.inputs.map(rename);
    if (!primIds.has(e.prim)) primIds.set(e.prim, primIds.size);
    const key = `${primIds.get(e.prim)}|${JSON.stringify(e.params)}|${inputs.map((a) => atomKey(a, ids)).join(",")}`;
    const prev = seen.get(key);
    if (prev) {
      subst.set(e.out, prev);
      continue;
    }
    seen.set(key, e.out);
    id(e.out);
    eqns.push({ ...e, inputs });
  }
  return new Jaxpr(j.constvars, j.invars, eqns, j.outs.map(rename));
}

/**
 * Evaluate equations whose inputs are all concrete constants or literals, once; their outputs
 * become new constants (returned as `made`, owned by the caller).
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
  for (const e of j.eqns) {
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
    const out = e.prim.impl(args, e.params);
    scalars.forEach((t) => t.dispose());
    made.push(out);
    known.set(e.out, out);
    constvars.push(e.out);
    values.push(out);
  }
  return [new Jaxpr(constvars, j.invars, eqns, j.outs), values, made];
}
