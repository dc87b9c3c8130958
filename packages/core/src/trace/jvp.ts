/**
 * Forward mode: a tracer carries a primal and its tangent (absent = symbolic zero); primitives are
 * interpreted by the rule table of `rules/jvp.ts`.
 */
import {
  Trace,
  Tracer,
  bind,
  avalOf,
  type AnyPrimitive,
  type Aval,
  type Primitive,
  type Tangent,
  type Value,
} from "./core";
import { hasJvpRule, jvpRule } from "../rules/jvp";

export class JVPTracer extends Tracer {
  constructor(
    readonly trace: JVPTrace,
    readonly primal: Value,
    readonly tangent: Tangent,
  ) {
    super();
  }
  get aval(): Aval {
    return avalOf(this.primal);
  }
}

export class JVPTrace extends Trace {
  readonly transformName = "jvp";
  lift(x: Value): Tracer {
    return new JVPTracer(this, x, null);
  }
  override hasRule(prim: AnyPrimitive): boolean {
    return hasJvpRule(prim);
  }
  processPrimitive<P>(prim: Primitive<P>, tracers: Tracer[], params: P): Value {
    const ts = tracers as JVPTracer[];
    const primals = ts.map((t) => t.primal);
    const tangents = ts.map((t) => t.tangent);
    // No perturbation reaches this op: evaluate at the level below, no tracer needed.
    if (tangents.every((t) => t === null)) return bind(prim, primals, params);
    const [out, dout] = jvpRule(prim)(primals, tangents, params);
    return dout === null ? out : new JVPTracer(this, out, dout);
  }
}
