/** Batching: a tracer carries a value with one extra axis (its batch dim) or none. */
import { Trace, Tracer, bind, avalOf, type Aval, type BDim, type Primitive, type Value } from "./core";

export class BatchTracer extends Tracer {
  constructor(
    readonly trace: BatchTrace,
    readonly val: Value,
    readonly bdim: BDim,
  ) {
    super();
  }
  get aval(): Aval {
    const a = avalOf(this.val);
    if (this.bdim === null) return a;
    const shape = [...a.shape];
    shape.splice(this.bdim, 1);
    return { shape, dtype: a.dtype };
  }
}

export class BatchTrace extends Trace {
  get axisSize(): number {
    return this.main.data as number;
  }
  lift(x: Value): Tracer {
    return new BatchTracer(this, x, null);
  }
  processPrimitive<P>(prim: Primitive<P>, tracers: Tracer[], params: P): Value {
    const ts = tracers as BatchTracer[];
    const vals = ts.map((t) => t.val);
    const dims = ts.map((t) => t.bdim);
    if (dims.every((d) => d === null)) return bind(prim, vals, params);
    const [out, d] = prim.vmap(vals, dims, params, this.axisSize);
    return d === null ? out : new BatchTracer(this, out, d);
  }
}
