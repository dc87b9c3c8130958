/**
 * The tracing core (after JAX's Autodidax): values, tracers, the trace stack and `bind`.
 *
 * A transform pushes a `MainTrace` with a fresh level, boxes its inputs in tracers of that level
 * and runs the user's function. Every op calls `bind`, which lifts its arguments to the highest
 * level among them and lets that trace interpret the primitive; derivative and batching rules are
 * written with ops, so they are traced in turn by the levels below. The stack is the only mutable
 * module state of hodiff, and it changes only through `withMain`.
 */
import type { DType, Tensor } from "../kernels";
import { K, runtime } from "../kernels";
import { ShapeError, TraceError } from "../errors";

/** Shape and dtype of a value: all that rules may know without looking at the numbers. */
export interface Aval {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** A value being traced by a transform; user code sees it where it expects an array. */
export abstract class Tracer {
  abstract readonly trace: Trace;
  abstract get aval(): Aval;
  get shape(): number[] {
    return [...this.aval.shape];
  }
  get dtype(): DType {
    return this.aval.dtype;
  }
  get rank(): number {
    return this.aval.shape.length;
  }
  toString(): string {
    return `Tracer<${formatAval(this.aval)}>@${this.trace.main.level}`;
  }
}

/** An array: a concrete tfjs tensor, or a tracer standing for one inside a transform. */
export type Value = Tensor | Tracer;
/** What ops accept: arrays and JS numbers (scalars). */
export type ArrayLike = Value | number;
/** A tangent or cotangent; `null` is the symbolic zero, never materialised. */
export type Tangent = Value | null;
/** A batch dimension under `vmap`; `null` means "not batched". */
export type BDim = number | null;

/**
 * A primitive: the unit every interpreter knows. It carries only what does not depend on the
 * interpreter — how to evaluate it and its output type — and flags that rules may rely on. Its
 * derivative and batching rules live in one table per interpreter, keyed by this object
 * (`rules/jvp.ts`, `rules/vjp.ts`, `rules/vmap.ts`), so primitives must stay stable exported objects.
 */
export interface Primitive<P = unknown> {
  readonly name: string;
  /** Evaluate on concrete tensors (the only code that calls kernels, all through `kernels.ts`). */
  impl(args: Tensor[], params: P): Tensor;
  /** Output aval from input avals; throws ShapeError naming the op and shapes. */
  abstractEval(avals: Aval[], params: P): Aval;
  /** Jointly linear in its array arguments: f(a·x + b·y) = a·f(x) + b·f(y) (neg, add, reshape, sum, …). */
  readonly linear?: boolean;
  /** Linear in each argument with the others fixed: f(s·x, y) = s·f(x, y) = f(x, s·y) (mul, matmul, conv2d). */
  readonly bilinear?: boolean;
  /** The scalar 1 is a unit: f(1, y) = f(y, 1) = y when y has the output's shape (mul). */
  readonly scalarUnit?: boolean;
  /** Linear in this argument with the others fixed: f(y, s·t) = s·f(y, t) (tanhGrad and eluGrad in t). */
  readonly linearIn?: number;
  /**
   * A composite primitive: the same function written with other primitives. Interpreters without
   * a rule for it (`Trace.hasRule`) interpret this instead, so it needs only the rules that make it
   * cheaper (one kernel call for several, a shorter backward pass) and is exact everywhere else.
   */
  decompose?(args: ArrayLike[], params: P): Value;
}

/** Any primitive, whatever its params (table keys). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPrimitive = Primitive<any>;

export type TraceClass = new (main: MainTrace) => Trace;

/** One level of the trace stack. */
export interface MainTrace {
  readonly level: number;
  readonly trace: Trace;
  readonly data: unknown;
}

/** An interpreter of primitives at one level. */
export abstract class Trace {
  constructor(readonly main: MainTrace) {}
  /** The transform users know this level as (in error messages: "inside jvp > vmap"). */
  abstract readonly transformName: string;
  /** Box a value of a lower level as a tracer of this level (with no perturbation). */
  abstract lift(x: Value): Tracer;
  /** Whether this interpreter has its own rule for a composite primitive (else it is decomposed). */
  hasRule(_prim: AnyPrimitive): boolean {
    return false;
  }
  /** Interpret `prim` on tracers of this level; may return a lower-level value. */
  abstract processPrimitive<P>(prim: Primitive<P>, tracers: Tracer[], params: P): Value;
  /** Box a JS number used as an operand (dtype from the other operands); staging keeps it a literal. */
  liftNumber(x: number, like: DType): Tracer {
    return this.lift(numberToTensor(x, like));
  }
}

class EvalTrace extends Trace {
  readonly transformName = "eval";
  lift(): Tracer {
    throw new TraceError("internal: nothing lifts to the eval level");
  }
  processPrimitive(): Value {
    throw new TraceError("internal: the eval level evaluates in bind");
  }
}

const stack: MainTrace[] = [];
{
  const base = { level: 0, data: undefined } as { level: number; data: unknown; trace: Trace };
  base.trace = new EvalTrace(base);
  stack.push(base);
}

/** Number of active transform levels (0 outside any transform). */
export function transformDepth(): number {
  return stack.length - 1;
}

/** Run `body` with a new level of trace type `T` on the stack; pops it whatever happens. */
export function withMain<R>(T: TraceClass, data: unknown, body: (main: MainTrace) => R): R {
  const main = { level: stack.length, data } as { level: number; data: unknown; trace: Trace };
  main.trace = new T(main);
  stack.push(main);
  try {
    return body(main);
  } finally {
    const popped = stack.pop();
    // Unreachable unless a transform escaped withMain; fail loudly rather than corrupt levels.
    if (popped !== main) console.error(new TraceError("trace levels were pushed and popped out of order"));
  }
}

/** True when a tracer's level is still live on the stack (it did not escape its transform). */
function isLive(t: Tracer): boolean {
  const m = t.trace.main;
  return stack[m.level] === m;
}

export function avalOf(x: Value): Aval {
  return x instanceof Tracer ? x.aval : { shape: x.shape, dtype: x.dtype as DType };
}

export function formatAval(a: Aval): string {
  return `${a.dtype}[${a.shape.join(",")}]`;
}

export function isValue(x: unknown): x is Value {
  return x instanceof Tracer || runtime.isTensor(x);
}

/** The dtype a JS number takes next to operands of dtype `like`. */
export const numberDtype = (x: number, like: DType): DType =>
  like === "int32" && Number.isInteger(x) ? "int32" : "float32";

function numberToTensor(x: number, like: DType): Tensor {
  return K.scalar(x, numberDtype(x, like));
}

/** Throw when tracer `a`, an argument of primitive `name`, outlived the transform that made it. */
function assertLive(name: string, a: Tracer): void {
  if (!isLive(a)) {
    throw new TraceError(
      `${name}: a tracer (${formatAval(a.aval)}) escaped the transform that created it; ` +
        `return it from the transformed function instead of storing it.`,
    );
  }
}

/** Apply a primitive to arguments of any level. The heart of every transform. */
export function bind<P>(prim: Primitive<P>, args: ArrayLike[], params: P): Value {
  let top = 0;
  let likeDtype: DType = "float32";
  let hasNumber = false;
  for (const a of args) {
    if (a instanceof Tracer) {
      assertLive(prim.name, a);
      if (a.trace.main.level > top) top = a.trace.main.level;
      likeDtype = a.aval.dtype;
    } else if (typeof a === "number") {
      hasNumber = true;
    } else if (runtime.isTensor(a)) {
      likeDtype = a.dtype as DType;
    } else {
      throw new TypeError(`${prim.name}: expected arrays or numbers, got ${describe(a)}`);
    }
  }
  if (top === 0) {
    if (!hasNumber) return evaluate(prim, args as Tensor[], params);
    const made: Tensor[] = [];
    const tensors = args.map((a) => {
      if (typeof a !== "number") return a as Tensor;
      const t = numberToTensor(a, likeDtype);
      made.push(t);
      return t;
    });
    try {
      return evaluate(prim, tensors, params);
    } finally {
      for (const t of made) t.dispose();
    }
  }
  const trace = stack[top]!.trace;
  if (prim.decompose !== undefined && !trace.hasRule(prim)) {
    return prim.decompose(args, params);
  }
  const tracers = args.map((a) => {
    if (typeof a === "number") return trace.liftNumber(a, likeDtype);
    if (a instanceof Tracer && a.trace.main === trace.main) return a;
    return trace.lift(a);
  });
  return trace.processPrimitive(prim, tracers, params);
}

/**
 * A call primitive (JAX's `pjit`/`closed_call`): applies a sub-program, given as a jaxpr in its
 * params, to several inputs and gives several outputs. Interpreters that know calls keep them as
 * one call (staged, differentiated or batched as a whole); the others inline the sub-program.
 */
export interface CallPrimitive<P = unknown> {
  readonly name: string;
  readonly call: true;
  /** Evaluate on concrete tensors; returns fresh tensors owned by the caller. */
  impl(args: Tensor[], params: P): Tensor[];
  /** Output avals from input avals. */
  abstractEval(avals: Aval[], params: P): Aval[];
  /** Interpret the call's sub-program primitive by primitive on values of any level (inlining). */
  inline(args: Value[], params: P): Value[];
}

/** Any call primitive, whatever its params. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCallPrimitive = CallPrimitive<any>;

/** Whether an equation's primitive is a call primitive (several outputs, a sub-jaxpr in its params). */
export const isCallPrimitive = (p: unknown): p is AnyCallPrimitive =>
  typeof p === "object" && p !== null && (p as { call?: unknown }).call === true;

/** How one interpreter handles call primitives: (its trace, the call, its tracers, params) ↦ outputs. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CallRule = (trace: Trace, prim: AnyCallPrimitive, tracers: Tracer[], params: any) => Value[];

// Keyed by the trace class: one call rule per interpreter; without one, the call is inlined.
const callRules = new Map<abstract new (main: MainTrace) => Trace, CallRule>();

/** Register how the interpreter of trace class `T` handles call primitives. */
export function defCallRule(T: abstract new (main: MainTrace) => Trace, rule: CallRule): void {
  callRules.set(T, rule);
}

/** Apply a call primitive to arguments of any level (`bind` for several outputs). */
export function bindCall<P>(prim: CallPrimitive<P>, args: readonly Value[], params: P): Value[] {
  let top = 0;
  for (const a of args) {
    if (a instanceof Tracer) {
      assertLive(prim.name, a);
      if (a.trace.main.level > top) top = a.trace.main.level;
    } else if (!runtime.isTensor(a)) {
      throw new TypeError(`${prim.name}: expected arrays, got ${describe(a)}`);
    }
  }
  if (top === 0) return prim.impl(args as Tensor[], params);
  const trace = stack[top]!.trace;
  const tracers = args.map((a) => (a instanceof Tracer && a.trace.main === trace.main ? a : trace.lift(a)));
  const rule = callRules.get(trace.constructor as abstract new (main: MainTrace) => Trace);
  return rule ? rule(trace, prim, tracers, params) : prim.inline(tracers, params);
}

/** Sees every primitive evaluated on concrete tensors (e.g. debug_nans); null, the default, costs nothing. */
export type EvalHook = (prim: Primitive<unknown>, args: readonly Tensor[], out: Tensor, params: unknown) => void;
let evalHook: EvalHook | null = null;

/** Install (or with null remove) the hook called after each concrete evaluation; returns the previous one. */
export function setEvalHook(hook: EvalHook | null): EvalHook | null {
  const previous = evalHook;
  evalHook = hook;
  return previous;
}

/** Kinds of the active transform levels, outermost first (trace class names, e.g. "ReverseTrace"). */
export function activeTraceKinds(): string[] {
  return stack.slice(1).map((m) => m.trace.transformName);
}

function evaluate<P>(prim: Primitive<P>, args: Tensor[], params: P): Tensor {
  prim.abstractEval(
    args.map((a) => ({ shape: a.shape, dtype: a.dtype as DType })),
    params,
  );
  const out = prim.impl(args, params);
  if (evalHook !== null) evalHook(prim as Primitive<unknown>, args, out, params);
  return out;
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "a JS array (wrap it with array(...))";
  return typeof x;
}

/** Throw a ShapeError naming the op. */
export function shapeError(op: string, message: string): never {
  throw new ShapeError(`${op}: ${message}`);
}
