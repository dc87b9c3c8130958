/**
 * Staging: the interpreter that records primitives into a jaxpr instead of running them. Its
 * tracers carry only an aval and a variable; values from outside (tensors, or tracers of
 * enclosing transforms) become constants of the jaxpr, JS numbers become literals. Operations
 * on constants alone never reach this level: they run (are folded) at trace time.
 */
import { avalOf, numberDtype, Trace, Tracer, withMain, type Aval, type Primitive, type Value } from "../trace/core";
import type { DType } from "../kernels";
import { K, runtime } from "../kernels";
import { ClosedJaxpr, Jaxpr, Literal, Var, type Atom, type Eqn } from "./jaxpr";
import { treeFlatten, treeUnflatten, type TreeDef } from "../tree";
import { isValue } from "../trace/core";
import { ArgumentError } from "../errors";
import { scoped } from "../memory";

export class JaxprTracer extends Tracer {
  constructor(
    readonly trace: JaxprTrace,
    readonly atom: Atom,
  ) {
    super();
  }
  get aval(): Aval {
    return this.atom.aval;
  }
}

/** What one staging level builds: equations, and constants by identity. */
class Builder {
  readonly eqns: Eqn[] = [];
  readonly constvars: Var[] = [];
  readonly consts: Value[] = [];
  private readonly constIndex = new Map<Value, Var>();
  constVar(x: Value): Var {
    let v = this.constIndex.get(x);
    if (!v) {
      v = new Var(avalOf(x));
      this.constIndex.set(x, v);
      this.constvars.push(v);
      this.consts.push(x);
    }
    return v;
  }
}

export class JaxprTrace extends Trace {
  readonly transformName = "makeJaxpr/jit";
  get builder(): Builder {
    return this.main.data as Builder;
  }
  lift(x: Value): Tracer {
    return new JaxprTracer(this, this.builder.constVar(x));
  }
  override liftNumber(x: number, like: DType): Tracer {
    return new JaxprTracer(this, new Literal(x, { shape: [], dtype: numberDtype(x, like) }));
  }
  /**
   * Composite primitives are recorded whole: a plan runs each as its one kernel, and whatever later
   * interprets the jaxpr binds them again, where a trace without a rule takes the decomposition.
   */
  override hasRule(): boolean {
    return true;
  }
  processPrimitive<P>(prim: Primitive<P>, tracers: Tracer[], params: P): Value {
    const ts = tracers as JaxprTracer[];
    const out = new Var(
      prim.abstractEval(
        ts.map((t) => t.aval),
        params,
      ),
    );
    this.builder.eqns.push({ prim, params, inputs: ts.map((t) => t.atom), outs: [out] });
    return new JaxprTracer(this, out);
  }
}

/** A traced function: its closed jaxpr and the tree structures of its inputs and outputs. */
export interface Traced {
  readonly closed: ClosedJaxpr;
  readonly inDef: TreeDef;
  readonly outDef: TreeDef;
}

/** An input leaf as an aval: arrays keep theirs, numbers are float32 scalars. */
function leafAval(op: string, x: unknown, i: number): Aval {
  if (isValue(x)) return avalOf(x);
  if (typeof x === "number") return { shape: [], dtype: "float32" };
  throw new ArgumentError(`${op}: input leaf ${i} must be an array or a number, got ${x === null ? "null" : typeof x}`);
}

/**
 * Trace `f` on abstract inputs shaped like the leaves of `args` (no kernels run on them) into a
 * closed jaxpr. Constants made while tracing are owned by the result.
 */
export function traceToJaxpr(op: string, f: (...args: unknown[]) => unknown, args: unknown[]): Traced {
  const [leaves, inDef] = treeFlatten(args);
  const avals = leaves.map((l, i) => leafAval(op, l, i));
  const mark = tensorIdMark();
  let result!: Traced;
  scoped(
    () => {
      result = withMain(JaxprTrace, new Builder(), (main) => {
        const trace = main.trace as JaxprTrace;
        const builder = trace.builder;
        const invars = avals.map((a) => new Var(a));
        const ins = invars.map((v) => new JaxprTracer(trace, v));
        const out = f(...(treeUnflatten(inDef, ins) as unknown[]));
        const [outLeaves, outDef] = treeFlatten(out);
        const outs = outLeaves.map((o, i): Atom => {
          if (o instanceof JaxprTracer && o.trace.main === main) return o.atom;
          if (isValue(o)) return builder.constVar(o);
          if (typeof o === "number") return builder.constVar(constScalar(o));
          throw new ArgumentError(`${op}: output leaf ${i} must be an array or a number, got ${typeof o}`);
        });
        const owned = builder.consts.filter((c) => runtime.isTensor(c) && c.id > mark);
        const jaxpr = new Jaxpr(builder.constvars, invars, builder.eqns, outs);
        return { closed: new ClosedJaxpr(jaxpr, builder.consts, owned), inDef, outDef };
      });
      return result;
    },
    (r) => r.closed.owned.filter(runtime.isTensor),
  );
  return result;
}

/** Tensors made after this call have larger ids. */
function tensorIdMark(): number {
  const t = K.scalar(0, "float32");
  const id = t.id;
  t.dispose();
  return id;
}

const constScalar = (x: number): Value => K.scalar(x, "float32");
