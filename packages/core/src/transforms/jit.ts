/**
 * makeJaxpr and jit: staging a function into a jaxpr, and running it as a compiled plan.
 *
 * jit(f) traces f once per input tree structure, shapes and dtypes (and static arguments) into a
 * jaxpr, optimises it (constant folding, CSE, DCE) and plans its memory (each intermediate freed
 * at its last use). Called on concrete arrays it runs the plan: kernel calls only, no tracing and
 * no per-op dispatch; equations on small arrays run as JS host kernels (`staging/host.ts`). Called
 * on tracers (inside grad, jvp, vmap, makeJaxpr, another jit, …) it binds the call primitive
 * `jit` (`staging/call.ts`) carrying the optimised jaxpr, so the enclosing transform handles the
 * call as a whole (one nested equation, the jvp, transpose or batching of the inner jaxpr).
 */
import { ArgumentError } from "../errors";
import { canReadSync } from "../backend";
import { runtime, type Tensor } from "../kernels";
import { avalOf, formatAval, isValue, type Value } from "../trace/core";
import { treeFlattenKey, treeUnflatten, type TreeDef } from "../tree";
import { ClosedJaxpr, type Jaxpr } from "../staging/jaxpr";
import { hoistConsts, jitP } from "../staging/call";
import { bindCall } from "../trace/core";
import { traceToJaxpr } from "../staging/trace";
import { cse, dce, foldConstants } from "../staging/optimize";
import { transposeConstOperands } from "../staging/constTranspose";
import { allConcrete, Plan } from "../staging/plan";
import { K } from "../kernels";
import { scoped } from "../memory";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => any;

/**
 * makeJaxpr(f)(...args): f traced on abstract values shaped like args (no kernels run on them)
 * into a closed jaxpr; `String(jaxpr)` reads like JAX's. Free its constants with dispose().
 */
export function makeJaxpr<F extends Fn>(f: F) {
  return (...args: Parameters<F>): ClosedJaxpr => traceToJaxpr("makeJaxpr", f, args).closed;
}

export interface JitOptions {
  /** Positional arguments that are not arrays (numbers, strings, configs): part of the cache key. */
  staticArgnums?: number | readonly number[];
  /**
   * Run equations on small arrays as JS host kernels instead of tfjs kernels (default: where the
   * backend reads synchronously, `canReadSync()`; on webgpu a host kernel would block on a read).
   */
  hostKernels?: boolean;
}

/** One compiled specialisation of a jitted function. */
interface Compiled {
  readonly closed: ClosedJaxpr;
  /** The optimised jaxpr with its constants as leading inputs: what a `jit` equation carries. */
  readonly callJaxpr: Jaxpr;
  readonly outDef: TreeDef;
  readonly plan: Plan | null;
  /** Tensors this entry owns: constants made while tracing or folding. */
  readonly owned: Tensor[];
}

/** A jitted function: f with a cache of compiled plans. */
export interface Jitted<F extends Fn> {
  (...args: Parameters<F>): ReturnType<F>;
  /** The optimised jaxpr jit runs for these arguments (compiling it if needed). */
  jaxpr(...args: Parameters<F>): ClosedJaxpr;
  /** Number of cached specialisations. */
  readonly cacheSize: number;
  /** Free every cached plan and its constants. */
  dispose(): void;
}

const describeLeaf = (x: unknown): string =>
  isValue(x) ? formatAval(avalOf(x)) : typeof x === "number" ? "float32[] (number)" : typeof x;

/** jit(f)(...args) = f(...args), staged and compiled once per input structure, shapes and dtypes. */
export function jit<F extends Fn>(f: F, options: JitOptions = {}): Jitted<F> {
  const s = options.staticArgnums ?? [];
  const statics = new Set(typeof s === "number" ? [s] : s);
  const cache = new Map<string, Compiled>();
  const name = f.name || "<lambda>";

  const split = (args: unknown[]) => {
    const dynamic = statics.size === 0 ? args : args.filter((_, i) => !statics.has(i));
    // Leaves and the cache key in one walk (no TreeDef built per call: compile makes its own).
    const [leaves, structure] = treeFlattenKey(dynamic, describeLeaf);
    for (let i = 0; i < leaves.length; i++) {
      const l = leaves[i];
      if (!isValue(l) && typeof l !== "number") {
        throw new ArgumentError(
          `jit: dynamic argument leaf ${i} must be an array or a number, got ${describeLeaf(l)} (mark it with staticArgnums)`,
        );
      }
    }
    const staticKey = statics.size === 0 ? "" : JSON.stringify(args.map((a, i) => (statics.has(i) ? a : undefined)));
    return { dynamic, leaves: leaves as (Value | number)[], key: `${staticKey}|${structure}` };
  };

  const compile = (args: unknown[], dynamic: unknown[]): Compiled => {
    const withStatics = (dyn: unknown[]): unknown[] => {
      let k = 0;
      return args.map((a, i) => (statics.has(i) ? a : dyn[k++]));
    };
    const traced = traceToJaxpr("jit", (...dyn: unknown[]) => f(...withStatics(dyn)), dynamic);
    const owned = [...traced.closed.owned] as Tensor[];
    let jaxpr = traced.closed.jaxpr;
    let consts: Value[] = [...traced.closed.consts];
    const [folded, foldedConsts, made] = foldConstants(transposeConstOperands(jaxpr, consts), consts);
    owned.push(...made);
    jaxpr = cse(folded);
    [jaxpr, consts] = dce(jaxpr, foldedConsts);
    // Constants no longer referenced after DCE are freed now.
    const live = new Set(consts);
    for (const t of owned.filter((t) => !live.has(t))) t.dispose();
    const kept = owned.filter((t) => live.has(t));
    const closed = new ClosedJaxpr(jaxpr, consts, kept);
    const plan = allConcrete(consts) ? new Plan(jaxpr, consts, options.hostKernels ?? canReadSync()) : null;
    // Cached tensors may be made inside an enclosing transform's tidy: they must outlive it.
    if (plan) kept.forEach(runtime.keep);
    return { closed, callJaxpr: hoistConsts(jaxpr), outDef: traced.outDef, plan, owned: kept };
  };

  const lookup = (args: unknown[]) => {
    const { dynamic, leaves, key } = split(args);
    let c = cache.get(key);
    if (!c) {
      c = compile(args, dynamic);
      // A jaxpr closed over tracers of an enclosing transform is valid for this call only; its
      // tensors then belong to that transform's scope, which frees them.
      if (c.plan) cache.set(key, c);
    }
    return { c, leaves };
  };

  const jitted = ((...args: Parameters<F>): ReturnType<F> => {
    const { c, leaves } = lookup(args);
    if (c.plan && leaves.every((l) => typeof l === "number" || runtime.isTensor(l))) {
      const made: Tensor[] = [];
      const ins = leaves.map((l) => {
        if (typeof l !== "number") return l as Tensor;
        const t = K.scalar(l, "float32");
        made.push(t);
        return t;
      });
      try {
        return treeUnflatten(c.outDef, c.plan.run(ins)) as ReturnType<F>;
      } finally {
        made.forEach((t) => t.dispose());
      }
    }
    // Inside a transform: one call of the optimised jaxpr, which the transform handles as a whole.
    return scoped(() => {
      const ins = leaves.map((l) => (typeof l === "number" ? K.scalar(l, "float32") : l));
      const outs = bindCall(jitP, [...c.closed.consts, ...ins], { name, jaxpr: c.callJaxpr });
      return treeUnflatten(c.outDef, outs) as ReturnType<F>;
    });
  }) as Jitted<F>;

  Object.defineProperty(jitted, "jaxpr", {
    value: (...args: Parameters<F>) => lookup(args).c.closed,
  });
  Object.defineProperty(jitted, "cacheSize", { get: () => cache.size });
  Object.defineProperty(jitted, "dispose", {
    value: () => {
      for (const c of cache.values()) {
        c.owned.forEach((t) => t.dispose());
      }
      cache.clear();
    },
  });
  return jitted;
}
