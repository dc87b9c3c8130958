/**
 * `checkpoint` (JAX's remat): under reverse mode a checkpointed function is one tape node that
 * keeps only its inputs and outputs; its backward pass re-runs the function to rebuild what the
 * pullback needs. Where no reverse pass can need them, the intermediates of a checkpointed call
 * are freed as soon as it returns — so a chain of checkpointed blocks holds one block's
 * intermediates at a time, in forward mode, Taylor mode and vmap too.
 */
import { runtime, type Tensor } from "../kernels";
import { ArgumentError, TraceError } from "../errors";
import { Tracer, activeTraceKinds, bind, isValue, withMain, type Primitive, type Value } from "../trace/core";
import { defVjp, type Cotangent } from "../rules/vjp";
import { defJvp } from "../rules/jvp";
import { defVmap } from "../rules/vmap";
import { defJet } from "../trace/jet";
import { defHostKernel } from "../staging/host";
import { K } from "../kernels";
import { ReverseTrace, ReverseTracer, backward, materialize, type TapeNode } from "../trace/reverse";
import { treeFlatten, treeUnflatten, type TreeDef } from "../tree";
import { add } from "../primitives/elementwise";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => any;

export interface CheckpointOptions {
  /**
   * What the reverse pass may keep of f's intermediates: `"nothingSaveable"` (default: only f's
   * inputs and outputs; everything else is recomputed) or `"everythingSaveable"` (no
   * rematerialisation: f as it is).
   */
  policy?: "nothingSaveable" | "everythingSaveable";
}

/**
 * checkpoint(f)(...args) = f(...args), with the same derivatives of every order, but reverse mode
 * saves only f's inputs and recomputes f's intermediates on the backward pass (time for memory).
 * Every traced value f uses must be one of its arguments (not captured from an enclosing scope).
 * @example const block = checkpoint((p, h) => elu(conv2d(h, p.w)))  // per layer of a deep net
 */
export function checkpoint<F extends Fn>(f: F, options: CheckpointOptions = {}): F {
  const policy = options.policy ?? "nothingSaveable";
  if (policy !== "nothingSaveable" && policy !== "everythingSaveable") {
    throw new ArgumentError(
      `checkpoint: policy must be "nothingSaveable" or "everythingSaveable", got ${JSON.stringify(policy)}`,
    );
  }
  if (policy === "everythingSaveable") return f;
  return ((...args: unknown[]) => call(f, args)) as F;
}

/** A checkpointed call on arguments of any level. */
function call(f: Fn, args: unknown[]): unknown {
  const [leaves, def] = treeFlatten(args);
  let top: ReverseTracer | null = null;
  let topLevel = 0;
  for (const l of leaves) {
    if (l instanceof Tracer && l.trace.main.level > topLevel) {
      topLevel = l.trace.main.level;
      top = l instanceof ReverseTracer ? l : null;
    }
  }
  if (top) return recordRemat(f, leaves, def, top.trace as ReverseTrace);
  return plainCall(f, leaves, def);
}

/** Run f on values of levels without a reverse pass at the top: free its intermediates if nothing below can need them. */
function plainCall(f: Fn, leaves: unknown[], def: TreeDef): unknown {
  const inputs = leaves.filter(isValue);
  if (staging() || reachable(inputs).hasReverse) return f(...(treeUnflatten(def, leaves) as unknown[]));
  let result: unknown;
  runtime.tidy(() => {
    result = f(...(treeUnflatten(def, leaves) as unknown[]));
    const out = treeFlatten(result)[0].filter(isValue);
    const reach = reachable(out);
    if (reach.hasReverse) {
      throw new TraceError(
        "checkpoint: f used a value traced by an enclosing reverse pass that is not one of its arguments; pass it as an argument",
      );
    }
    // Inputs may have cached values formed inside (e.g. a rank-one batched tracer's dense form).
    return [...reach.tensors, ...reachable(inputs).tensors];
  });
  return result;
}

interface RematParams {
  readonly f: Fn;
  readonly def: TreeDef;
  /** All leaves of the arguments; values are replaced by the node's inputs on recomputation. */
  readonly leaves: readonly unknown[];
  /** Which output leaf this node stands for. */
  readonly index: number;
}

/** The tape node of a checkpointed call at one reverse level: its VJP recomputes f. */
const rematP: Primitive<RematParams> = {
  name: "checkpoint",
  impl: () => {
    throw new TraceError("internal: checkpoint is never evaluated through bind");
  },
  abstractEval: () => {
    throw new TraceError("internal: checkpoint is never evaluated through bind");
  },
};
// Only reverse mode meets this node (it lives on a tape); other interpreters see f's own primitives.
defVjp(rematP, (ct, inputs, _out, params, needs) => recomputeVjp(params, inputs, ct, needs));

/**
 * The identity, with a fresh id per recomputation: when the backward pass is staged (under jit),
 * CSE would otherwise merge the recomputed forward with the original one and keep every
 * intermediate alive until the backward pass — undoing the checkpoint (JAX's optimization barrier).
 */
const rematBarrierP: Primitive<{ readonly id: number }> = {
  name: "remat_barrier",
  impl: ([x]) => K.reshape(x!, x!.shape),
  abstractEval: ([a]) => a!,
};
defJvp(rematBarrierP, ([x], [dx], p) => [bind(rematBarrierP, [x!], p), dx ?? null]);
defVjp(rematBarrierP, (ct) => [ct]);
defVmap(rematBarrierP, ([x], [d], p) => [bind(rematBarrierP, [x!], p), d!]);
defJet(rematBarrierP, (_x, [series]) => series!);
defHostKernel(rematBarrierP, ([x]) => x!);
let barrierIds = 0;
/** Whether a staging level is active: constants made now belong to a jaxpr, no tidy may free them. */
const staging = (): boolean => activeTraceKinds().includes("makeJaxpr/jit");
/** Inputs of a staged recomputation, behind barriers. */
const barrier = (inputs: Value[]): Value[] =>
  inputs.map((x) => (x instanceof Tracer ? bind(rematBarrierP, [x], { id: barrierIds++ }) : x));

/** Under a reverse trace: evaluate below it (recursively checkpointed), record one node per output. */
function recordRemat(f: Fn, leaves: unknown[], def: TreeDef, trace: ReverseTrace): unknown {
  const mine = (l: unknown): l is ReverseTracer => l instanceof ReverseTracer && l.trace === trace;
  const lowered = leaves.map((l) => (mine(l) ? l.primal : l));
  const inputs: Value[] = [];
  const parents: (TapeNode | null)[] = [];
  leaves.forEach((l) => {
    if (!isValue(l)) return;
    inputs.push(mine(l) ? l.primal : l);
    parents.push(mine(l) ? l.node : null);
  });
  const tapeLength = trace.tape.length;
  const result = call(f, treeUnflatten(def, lowered) as unknown[]);
  const [outLeaves, outDef] = treeFlatten(result);
  const escaped = outLeaves.some((o) => o instanceof Tracer && o.trace.main.level >= trace.main.level);
  if (trace.tape.length !== tapeLength || escaped) {
    throw new TraceError(
      "checkpoint: f used a value traced by an enclosing transform that is not one of its arguments; pass it as an argument",
    );
  }
  if (parents.every((p) => p === null)) return result;
  const boxed = outLeaves.map((o, index) => {
    if (!isValue(o)) return o;
    const node: TapeNode = {
      prim: rematP as Primitive<unknown>,
      params: { f, def, leaves: lowered, index } satisfies RematParams,
      inputs,
      out: o,
      parents,
    };
    trace.tape.push(node);
    return new ReverseTracer(trace, o, node);
  });
  return treeUnflatten(outDef, boxed);
}

/** ∂⟨ct, f(x)[index]⟩/∂x by re-running f under a fresh reverse level (intermediates freed when safe). */
function recomputeVjp(p: RematParams, given: Value[], ct: Value, needs: boolean[]): Cotangent[] {
  const staged = staging();
  const inputs = staged ? barrier(given) : given;
  const run = (): Cotangent[] => {
    const tape: TapeNode[] = [];
    const rec = withMain(ReverseTrace, tape, (main) => {
      const trace = main.trace as ReverseTrace;
      let k = 0;
      const inTracers: (ReverseTracer | null)[] = [];
      const leaves = p.leaves.map((l) => {
        if (!isValue(l)) return l;
        const j = k++;
        const t = needs[j] ? trace.input(inputs[j]!) : null;
        inTracers.push(t);
        return t ?? inputs[j]!;
      });
      const out = treeFlatten(p.f(...(treeUnflatten(p.def, leaves) as unknown[])))[0][p.index];
      const node = out instanceof ReverseTracer && out.trace === trace ? out.node : null;
      return { node, inTracers };
    });
    if (rec.node === null) return needs.map(() => null);
    const reached = backward(tape, [[rec.node, ct]], add);
    return rec.inTracers.map((t) => {
      const c = t ? reached.get(t.node!) : undefined;
      return c === undefined ? null : materialize(c);
    });
  };
  if (staged || reachable([...inputs, ct]).hasReverse) return run();
  let cts: Cotangent[] = [];
  runtime.tidy(() => {
    cts = run();
    const values = cts.filter((c): c is Value => c !== null && isValue(c));
    return [...reachable(values).tensors, ...reachable([...inputs, ct]).tensors];
  });
  return cts;
}

/**
 * The tensors a value holds (through tracers of any kind, found by their fields) and whether a
 * reverse tracer is among them — then some tape may need intermediates and nothing is freed.
 */
function reachable(values: unknown[]): { tensors: Tensor[]; hasReverse: boolean } {
  const tensors = new Set<Tensor>();
  const seen = new Set<object>();
  let hasReverse = false;
  const visit = (x: unknown): void => {
    if (runtime.isTensor(x)) {
      tensors.add(x);
      return;
    }
    if (typeof x !== "object" || x === null || seen.has(x)) return;
    seen.add(x);
    if (x instanceof ReverseTracer) hasReverse = true;
    if (x instanceof Tracer) {
      for (const [key, v] of Object.entries(x)) if (key !== "trace" && key !== "node") visit(v);
    } else if (Array.isArray(x)) {
      x.forEach(visit);
    } else if (Object.getPrototypeOf(x) === Object.prototype) {
      Object.values(x).forEach(visit);
    }
  };
  values.forEach(visit);
  return { tensors: [...tensors], hasReverse };
}
