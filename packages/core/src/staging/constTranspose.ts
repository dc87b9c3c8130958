/**
 * A jaxpr pass run by `jit` before constant folding: a matmul operand flagged transposed
 * (`MatmulParams`) whose value is known at compile time — a constant, or computed from constants
 * only — becomes an explicit `transpose` equation (which folding then evaluates once) and the
 * flag is dropped: matmul(c, x; transposeA) → matmul(transpose(c), x). On a backend whose GEMM is
 * slow with flags (XNNPACK), `K.matmul` would otherwise transpose c at every call; on one that
 * takes them (the native heap GEMM) the folded operand costs nothing per call either.
 */
import { transposeP } from "../primitives/shape";
import { matmulP, matmulParams, type MatmulParams } from "../primitives/linalg";
import type { Value } from "../trace/core";
import { runtime } from "../kernels";
import { Jaxpr, Literal, Var, type Eqn } from "./jaxpr";

/** j with matmul(a, b; transposeA) → matmul(transpose(a), b) (likewise b) where that operand is known from `consts` alone. */
export function transposeConstOperands(j: Jaxpr, consts: readonly Value[]): Jaxpr {
  const known = new Set<Var>(j.constvars.filter((_, i) => runtime.isTensor(consts[i])));
  const isKnown = (a: unknown) => a instanceof Literal || (a instanceof Var && known.has(a));
  const eqns: Eqn[] = [];
  let changed = false;
  for (const e of j.eqns) {
    if (e.inputs.every(isKnown)) {
      e.outs.forEach((v) => known.add(v)); // folded whole by foldConstants
      eqns.push(e);
      continue;
    }
    const p = e.params as MatmulParams;
    if (e.prim !== matmulP || !((p.transposeA && isKnown(e.inputs[0])) || (p.transposeB && isKnown(e.inputs[1])))) {
      eqns.push(e);
      continue;
    }
    const flags = [p.transposeA === true, p.transposeB === true];
    const inputs = e.inputs.map((a, i) => {
      if (!flags[i] || !(a instanceof Var) || !known.has(a)) return a;
      flags[i] = false;
      const r = a.aval.shape.length;
      const perm = [...Array(r - 2).keys(), r - 1, r - 2];
      const t = new Var({ shape: perm.map((d) => a.aval.shape[d]!), dtype: a.aval.dtype });
      known.add(t);
      eqns.push({ prim: transposeP, params: { perm }, inputs: [a], outs: [t] });
      return t;
    });
    eqns.push({ prim: matmulP, params: matmulParams(flags[0], flags[1]), inputs, outs: e.outs });
    changed = true;
  }
  return changed ? new Jaxpr(j.constvars, j.invars, eqns, j.outs) : j;
}
