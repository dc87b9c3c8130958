/**
 * linearize by partial evaluation (JAX's design): jvp(f) is traced with the primals known and the
 * tangents abstract. Every operation on known values alone runs now, at trace time — that is the
 * primal computation, done once — while operations touching a tangent are staged into a jaxpr
 * whose constants are the residuals they need (cos x for sin, the activations for a matmul, …).
 * The returned linear map runs only that jaxpr: tangent work, no primal equation.
 */
import { K, runtime, type Tensor } from "../kernels";
import { treeFlatten, treeUnflatten, type TreeDef } from "../tree";
import { Var, ClosedJaxpr, Jaxpr, evalJaxpr } from "../staging/jaxpr";
import { traceToJaxpr } from "../staging/trace";
import { dce } from "../staging/optimize";
import { allConcrete, Plan } from "../staging/plan";
import { scoped } from "../memory";
import type { Value } from "../trace/core";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => any;

/** The linear map t ↦ ∂f(primals)·t of `linearize`, holding its residuals until dispose(). */
export interface LinearMap<In extends unknown[], Out> {
  (...tangents: In): Out;
  /** The staged tangent computation: only equations that depend on the tangents. */
  readonly jaxpr: ClosedJaxpr;
  /** Free the residuals. */
  dispose(): void;
}

/** [f(primals), t ↦ ∂f(primals)·t], the primal computed once and the map running tangent work only. */
export function linearizeImpl<F extends Fn>(
  jvp: (f: F, primals: unknown[], tangents: unknown[]) => [unknown, unknown],
  f: F,
  primals: Parameters<F>,
): [ReturnType<F>, LinearMap<Parameters<F>, ReturnType<F>>] {
  const traced = traceToJaxpr("linearize", (...tangents: unknown[]) => jvp(f, primals, tangents), primals);
  const { jaxpr, consts, owned } = traced.closed;
  const pairDef = traced.outDef;
  if (pairDef.kind !== "array" || pairDef.children.length !== 2) throw new Error("internal: jvp returned no pair");
  const [yDef, tDef] = pairDef.children as [typeof pairDef, typeof pairDef];
  const nY = countLeaves(yDef);
  const constOf = new Map<Var, Value>();
  jaxpr.constvars.forEach((v, i) => constOf.set(v, consts[i]!));
  // The primal outputs are known: they were computed while tracing and are constants here.
  const ys = jaxpr.outs.slice(0, nY).map((a) => {
    const v = a instanceof Var ? constOf.get(a) : undefined;
    if (v === undefined) throw new Error("internal: linearize's primal output was staged");
    return runtime.isTensor(v) ? K.reshape(v, v.shape) : v;
  });
  const [linJaxpr, linConsts] = dce(new Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.eqns, jaxpr.outs.slice(nY)), consts);
  const live = new Set(linConsts);
  const residuals = owned.filter((t) => live.has(t));
  for (const t of owned) if (!live.has(t)) (t as Tensor).dispose();
  const closed = new ClosedJaxpr(linJaxpr, linConsts, residuals);
  const plan = allConcrete(linConsts) ? new Plan(linJaxpr, linConsts) : null;
  const map = ((...tangents: Parameters<F>) =>
    scoped(() => {
      const [leaves] = treeFlatten(tangents);
      const ins = (leaves as unknown[]).map((l) => (typeof l === "number" ? K.scalar(l, "float32") : (l as Value)));
      const outs = plan && allConcrete(ins) ? plan.run(ins) : evalJaxpr(linJaxpr, linConsts, ins);
      return treeUnflatten(tDef, outs);
    })) as LinearMap<Parameters<F>, ReturnType<F>>;
  Object.defineProperty(map, "jaxpr", { value: closed });
  Object.defineProperty(map, "residuals", { value: residuals });
  Object.defineProperty(map, "dispose", {
    value: () => closed.dispose(),
  });
  return [treeUnflatten(yDef, ys) as ReturnType<F>, map];
}

const countLeaves = (def: TreeDef): number =>
  def.kind === "leaf" ? 1 : def.kind === "none" ? 0 : def.children.reduce((n, c) => n + countLeaves(c), 0);
