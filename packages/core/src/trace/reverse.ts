/**
 * Reverse mode: tracers record each primitive on a tape; the backward pass runs the primitives'
 * VJP rules (written with ops) after the level is popped, so the cotangent computation is itself
 * traced by any enclosing transform — that is what makes grad-of-grad and jvp-of-grad work.
 * Rules come from the table of `rules/vjp.ts` (which also defines factored, deferred cotangents).
 */
import { Trace, Tracer, bind, avalOf, type AnyPrimitive, type Aval, type Primitive, type Value } from "./core";
import {
  deferredVjpRule,
  hasVjpRule,
  isDeferred,
  passesNoCotangent,
  vjpRule,
  type Cotangent,
  type DeferredCotangent,
} from "../rules/vjp";

/** One recorded application of a primitive (or an input, when `prim` is null). */
export interface TapeNode {
  readonly prim: Primitive<unknown> | null;
  readonly params: unknown;
  readonly inputs: Value[];
  readonly out: Value;
  readonly parents: (TapeNode | null)[];
  /**
   * Set on the nodes of a call's outputs (recorded together): their cotangents are pulled back
   * by one rule, from all of them at once, to the shared `parents`.
   */
  readonly group?: {
    readonly nodes: readonly TapeNode[];
    readonly rule: (cts: (Value | null)[]) => Cotangent[];
  };
}

export class ReverseTracer extends Tracer {
  constructor(
    readonly trace: ReverseTrace,
    readonly primal: Value,
    readonly node: TapeNode | null,
  ) {
    super();
  }
  get aval(): Aval {
    return avalOf(this.primal);
  }
}

export class ReverseTrace extends Trace {
  readonly transformName = "grad/vjp";
  get tape(): TapeNode[] {
    return this.main.data as TapeNode[];
  }
  lift(x: Value): Tracer {
    return new ReverseTracer(this, x, null);
  }
  override hasRule(prim: AnyPrimitive): boolean {
    return hasVjpRule(prim);
  }
  /** A fresh input of this level: cotangents flow back to its node. */
  input(x: Value): ReverseTracer {
    return new ReverseTracer(this, x, { prim: null, params: undefined, inputs: [], out: x, parents: [] });
  }
  processPrimitive<P>(prim: Primitive<P>, tracers: Tracer[], params: P): Value {
    const ts = tracers as ReverseTracer[];
    const primals = ts.map((t) => t.primal);
    const out = bind(prim, primals, params);
    const parents = ts.map((t) => t.node);
    // No node where no cotangent can reach an input: the output is a constant of this level.
    if (parents.every((p) => p === null) || passesNoCotangent(prim)) return out;
    const node: TapeNode = { prim: prim as Primitive<unknown>, params, inputs: primals, out, parents };
    this.tape.push(node);
    return new ReverseTracer(this, out, node);
  }
}

/**
 * Propagate cotangents from `seeds` back through `tape` (in reverse order of recording) and
 * return the cotangent reaching each node that received one. `add` accumulates fan-in.
 */
export function backward(
  tape: readonly TapeNode[],
  seeds: ReadonlyArray<[TapeNode, Value]>,
  add: (a: Value, b: Value) => Value,
): Map<TapeNode, Value | DeferredCotangent> {
  const cts = new Map<TapeNode, Value | DeferredCotangent>();
  const accumulate = (n: TapeNode, ct: Value | DeferredCotangent) => {
    const prev = cts.get(n);
    cts.set(n, prev === undefined ? ct : add(materialize(prev), materialize(ct)));
  };
  for (const [n, ct] of seeds) accumulate(n, ct);
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.group) {
      // The last output of the call met first: take every output's cotangent now.
      const got = node.group.nodes.map((n) => {
        const c = cts.get(n);
        cts.delete(n);
        return c === undefined ? null : materialize(c);
      });
      if (got.every((c) => c === null)) continue;
      const inCts = node.group.rule(got);
      node.parents.forEach((p, j) => {
        const c = inCts[j];
        if (p && c) accumulate(p, c);
      });
      continue;
    }
    const ct = cts.get(node);
    if (ct === undefined) continue;
    cts.delete(node);
    const needs = node.parents.map((p) => p !== null);
    const prim = node.prim!;
    const deferred = isDeferred(ct) ? deferredVjpRule(prim) : undefined;
    const inCts: Cotangent[] = deferred
      ? deferred(ct as DeferredCotangent, node.inputs, node.out, node.params, needs)
      : vjpRule(prim)(materialize(ct), node.inputs, node.out, node.params, needs);
    for (let j = 0; j < node.parents.length; j++) {
      const p = node.parents[j];
      const c = inCts[j];
      if (p && c) accumulate(p, c);
    }
  }
  return cts;
}

/** The entries of a cotangent, forming a deferred one if needed. */
export const materialize = (ct: Value | DeferredCotangent): Value => (isDeferred(ct) ? ct.materialize() : ct);
