/**
 * Batching: a tracer carries a value with one extra axis (its batch dim) or none; primitives are
 * interpreted by the rule table of `rules/vmap.ts`.
 *
 * Rank-one batched values. A batched value known to equal sᵢ·b for each batch index i (a batched
 * scalar s times an unbatched b) is kept as the pair (s, b): through a primitive that is linear in
 * its one argument, or bilinear with only this argument batched, it stays rank-one
 * (f(sᵢ·b, y) = sᵢ·f(b, y)), so e.g. x @ (s ⊗ u) costs one matmul, not B. The form is born when a
 * bilinear primitive meets a batched scalar, and formed densely only when some rule needs it.
 * It relies only on the `linear`/`bilinear` flags of primitives.
 */
import { Trace, Tracer, bind, avalOf, type Aval, type BDim, type Primitive, type Value } from "./core";
import { vmapRule } from "../rules/vmap";
import { mul } from "../primitives/elementwise";
import { reshape } from "../primitives/shape";

/** A batched value known to equal scale[i] · base for each batch index i. */
export interface RankOne {
  readonly scale: Value;
  readonly base: Value;
}

export class BatchTracer extends Tracer {
  private dense: Value | undefined;
  constructor(
    readonly trace: BatchTrace,
    val: Value | undefined,
    readonly bdim: BDim,
    /** When set, the value is scale ⊗ base, formed (at batch dim 0) only if a rule needs it. */
    readonly rankOne?: RankOne,
  ) {
    super();
    this.dense = val;
  }
  get val(): Value {
    if (this.dense === undefined) {
      const { scale, base } = this.rankOne!;
      const rank = avalOf(base).shape.length;
      this.dense = mul(reshape(scale, [this.trace.axisSize, ...new Array(rank).fill(1)]), base);
    }
    return this.dense;
  }
  get aval(): Aval {
    if (this.rankOne) return avalOf(this.rankOne.base);
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
    const rankOne = this.rankOneResult(prim, ts, params);
    if (rankOne) return new BatchTracer(this, undefined, 0, rankOne);
    const scaled = this.scaledBilinear(prim, ts, params);
    if (scaled) return scaled;
    const vals = ts.map((t) => t.val);
    const dims = ts.map((t) => t.bdim);
    if (dims.every((d) => d === null)) return bind(prim, vals, params);
    const [out, d] = vmapRule(prim)(vals, dims, params, this.axisSize);
    return d === null ? out : new BatchTracer(this, out, d);
  }
  /**
   * A bilinear op of a dense batched x and a rank-one s ⊗ b: s ⊙ f(x, b), so that b stays one
   * unbatched operand (one folded matmul instead of a batched matmul of B different right sides).
   */
  private scaledBilinear<P>(prim: Primitive<P>, ts: BatchTracer[], params: P): Value | undefined {
    if (ts.length !== 2 || !prim.bilinear) return undefined;
    const i = ts.findIndex((t) => t.rankOne !== undefined);
    const other = ts[1 - i];
    // A batched scalar other operand is left to the dense path (the scale is itself one).
    if (i < 0 || !other || other.bdim === null || other.rankOne || other.aval.shape.length === 0) return undefined;
    const { scale, base } = ts[i]!.rankOne!;
    const args = ts.map((t, j) => (j === i ? new BatchTracer(this, base, null) : t));
    const unscaled = this.processPrimitive(prim, args, params);
    return mul(unscaled, new BatchTracer(this, scale, 0));
  }
  /** The result in rank-one form, when the inputs allow it; otherwise undefined. */
  private rankOneResult<P>(prim: Primitive<P>, ts: BatchTracer[], params: P): RankOne | undefined {
    if (!(prim.bilinear || (prim.linear && ts.length === 1))) return undefined;
    const batched = ts.filter((t) => t.bdim !== null);
    if (batched.length !== 1) return undefined;
    const b = batched[0]!;
    if (b.rankOne) {
      const base = bind(
        prim,
        ts.map((t) => (t === b ? b.rankOne!.base : t.val)),
        params,
      );
      return { scale: b.rankOne.scale, base };
    }
    // A batched scalar into a bilinear primitive: f(sᵢ, y) = sᵢ·f(1, y), the rank-one form is born here.
    if (prim.bilinear && b.aval.shape.length === 0 && b.aval.dtype === "float32") {
      const base = bind(
        prim,
        ts.map((t) => (t === b ? 1 : t.val)),
        params,
      );
      return { scale: b.val, base };
    }
    return undefined;
  }
}
