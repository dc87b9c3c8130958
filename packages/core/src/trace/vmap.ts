/**
 * Batching: a tracer carries a value with one extra axis (its batch dim) or none; primitives are
 * interpreted by the rule table of `rules/vmap.ts`.
 *
 * Low-rank batched values. A batched value known to equal Σ_k s_k[i]·b_k for each batch index i
 * (batched scalars s_k times unbatched b_k, a few terms) is kept as its terms: through a primitive
 * that is linear in its one argument, or bilinear with only this argument batched, it stays
 * low-rank (f(Σ s_k·b_k, y) = Σ s_k·f(b_k, y)), so e.g. x @ (s ⊗ u) costs one matmul, not B;
 * add and sub of low-rank values join their terms. The form is born when a bilinear primitive
 * meets a batched scalar (one term), and formed densely only when some rule needs it or when it
 * would have more than half as many terms as the batch has rows (past that, the dense form is cheaper).
 * Why more than one term: along S group directions, forward mode's tangent of a layer is nonzero
 * only for the groups before it — a sum of a few rank-one terms while the batch holds S rows.
 * It relies only on the `linear`/`bilinear`/`linearIn` flags of primitives (and on add and sub being sums).
 */
import {
  Trace,
  Tracer,
  bind,
  avalOf,
  type AnyPrimitive,
  type Aval,
  type BDim,
  type Primitive,
  type Value,
} from "./core";
import { hasVmapRule, vmapRule } from "../rules/vmap";
import { sameShape } from "../shapes";
import { add, addP, mul, neg, subP } from "../primitives/elementwise";
import { broadcastTo, reshape } from "../primitives/shape";

/** One term of a low-rank batched value: scale[i] · base for each batch index i. */
export interface RankOne {
  readonly scale: Value;
  readonly base: Value;
}

export class BatchTracer extends Tracer {
  private dense: Value | undefined;
  /** When set, the value is Σ scale_k ⊗ base_k (bases of the value's shape), formed (at batch dim 0) only if a rule needs it. */
  readonly terms: readonly RankOne[] | undefined;
  constructor(
    readonly trace: BatchTrace,
    val: Value | undefined,
    readonly bdim: BDim,
    terms?: readonly RankOne[],
  ) {
    super();
    this.dense = val;
    this.terms = terms;
  }
  get val(): Value {
    if (this.dense === undefined) {
      const rank = avalOf(this.terms![0]!.base).shape.length;
      const ones = new Array<number>(rank).fill(1);
      const formed = this.terms!.map(({ scale, base }) => mul(reshape(scale, [this.trace.axisSize, ...ones]), base));
      this.dense = formed.reduce((a, b) => add(a, b));
    }
    return this.dense;
  }
  get aval(): Aval {
    if (this.terms) return avalOf(this.terms[0]!.base);
    const a = avalOf(this.val);
    if (this.bdim === null) return a;
    const shape = [...a.shape];
    shape.splice(this.bdim, 1);
    return { shape, dtype: a.dtype };
  }
}

export class BatchTrace extends Trace {
  readonly transformName = "vmap";
  get axisSize(): number {
    return this.main.data as number;
  }
  /** Most terms a low-rank value keeps: past half the batch, one dense op is cheaper than the terms' ops. */
  get maxTerms(): number {
    return Math.max(1, Math.floor(this.axisSize / 2));
  }
  lift(x: Value): Tracer {
    return new BatchTracer(this, x, null);
  }
  override hasRule(prim: AnyPrimitive): boolean {
    return hasVmapRule(prim);
  }
  processPrimitive<P>(prim: Primitive<P>, tracers: Tracer[], params: P): Value {
    const ts = tracers as BatchTracer[];
    const terms = this.lowRankResult(prim, ts, params);
    if (terms) return new BatchTracer(this, undefined, 0, terms);
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
    const i = ts.findIndex((t) => t.terms?.length === 1);
    const other = ts[1 - i];
    // A batched scalar other operand is left to the dense path (the scale is itself one).
    if (i < 0 || !other || other.bdim === null || other.terms || other.aval.shape.length === 0) return undefined;
    const { scale, base } = ts[i]!.terms![0]!;
    const args = ts.map((t, j) => (j === i ? new BatchTracer(this, base, null) : t));
    const unscaled = this.processPrimitive(prim, args, params);
    return mul(unscaled, new BatchTracer(this, scale, 0));
  }
  /** The result in low-rank form, when the inputs allow it; otherwise undefined. */
  private lowRankResult<P>(prim: Primitive<P>, ts: BatchTracer[], params: P): RankOne[] | undefined {
    const batched = ts.filter((t) => t.bdim !== null);
    if ((prim === addP || prim === subP) && batched.length === 2) return this.sumTerms(prim, ts, params);
    if (batched.length !== 1) return undefined;
    const b = batched[0]!;
    const linearInB = prim.bilinear || (prim.linear && ts.length === 1) || prim.linearIn === ts.indexOf(b);
    if (!linearInB) return undefined;
    if (b.terms) {
      return b.terms.map(({ scale, base }) => ({
        scale,
        base: bind(
          prim,
          ts.map((t) => (t === b ? base : t.val)),
          params,
        ),
      }));
    }
    // A batched scalar into a bilinear primitive: f(sᵢ, y) = sᵢ·f(1, y), the rank-one form is born here.
    if (prim.bilinear && b.aval.shape.length === 0 && b.aval.dtype === "float32") {
      const others = ts.filter((t) => t !== b);
      const out = prim.abstractEval(
        ts.map((t) => t.aval),
        params,
      );
      // f(1, y) = y needs no kernel when 1 is a unit of f and y already has the output's shape.
      if (prim.scalarUnit && others.length === 1 && sameShape(others[0]!.aval.shape, out.shape)) {
        return [{ scale: b.val, base: others[0]!.val }];
      }
      const base = bind(
        prim,
        ts.map((t) => (t === b ? 1 : t.val)),
        params,
      );
      return [{ scale: b.val, base }];
    }
    return undefined;
  }
  /** x ± y of two low-rank values: the terms of both (y's negated), bases broadcast to the output's shape. */
  private sumTerms<P>(prim: Primitive<P>, ts: BatchTracer[], params: P): RankOne[] | undefined {
    const [x, y] = ts as [BatchTracer, BatchTracer];
    if (!x.terms || !y.terms || x.terms.length + y.terms.length > this.maxTerms) return undefined;
    const { shape } = prim.abstractEval([x.aval, y.aval], params);
    const fit = (b: Value) => (sameShape(avalOf(b).shape, shape) ? b : broadcastTo(b, shape));
    const ys = y.terms.map(({ scale, base }) => ({ scale: prim === subP ? neg(scale) : scale, base }));
    return [...x.terms, ...ys].map(({ scale, base }) => ({ scale, base: fit(base) }));
  }
}
