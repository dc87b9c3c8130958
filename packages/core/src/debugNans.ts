/**
 * A NaN/Inf check mode, like JAX's `debug_nans`: while on, every primitive evaluated on concrete
 * tensors has its output read back and checked, and the first one that produces NaN or ±Inf
 * throws a NonFiniteError naming the primitive, its input and output shapes, how many values are
 * bad, and the transforms it ran under (grad, jvp, vmap). It is a hook at the one place where
 * primitives run on tensors, so it is free when off; when on, each op waits for its values.
 * `HODIFF_DEBUG_NANS=1` in the environment turns it on at start.
 */
import { NonFiniteError } from "./errors";
import type { Tensor } from "./kernels";
import { activeTraceKinds, formatAval, setEvalHook, type EvalHook } from "./trace/core";
import type { DType } from "./kernels";

/** What users know each trace level as. */
const TRANSFORM_NAMES: Record<string, string> = { JVPTrace: "jvp", ReverseTrace: "grad/vjp", BatchTrace: "vmap" };

const shapeOf = (t: Tensor): string => formatAval({ shape: t.shape, dtype: t.dtype as DType });

/** Counts of NaN and ±Inf entries of a float tensor (0, 0 for int and bool tensors). */
function nonFinite(t: Tensor): { nan: number; inf: number } {
  let nan = 0;
  let inf = 0;
  if (t.dtype !== "float32") return { nan, inf };
  for (const v of t.dataSync() as Float32Array) {
    if (Number.isNaN(v)) nan++;
    else if (v === Infinity || v === -Infinity) inf++;
  }
  return { nan, inf };
}

const check: EvalHook = (prim, args, out) => {
  const bad = nonFinite(out);
  if (bad.nan === 0 && bad.inf === 0) return;
  const counts = [bad.nan ? `${bad.nan} NaN` : "", bad.inf ? `${bad.inf} Inf` : ""].filter(Boolean).join(" and ");
  const inputs = args.map(shapeOf).join(", ");
  const badInputs = args.flatMap((a, i) => {
    const b = nonFinite(a);
    return b.nan || b.inf ? [i] : [];
  });
  const origin =
    badInputs.length > 0
      ? `input ${badInputs.join(", ")} was already non-finite (it came from outside hodiff's ops: data, parameters or a constant)`
      : "its inputs were finite";
  const levels = activeTraceKinds().map((k) => TRANSFORM_NAMES[k] ?? k);
  const where = levels.length > 0 ? `inside ${levels.join(" > ")} (outermost first)` : "outside any transform";
  out.dispose();
  throw new NonFiniteError(
    `debugNans: ${prim.name} produced ${counts} (of ${out.size} values) in ${shapeOf(out)} from (${inputs}); ${origin}; ${where}`,
  );
};

let enabled = false;

/** setDebugNans(on): check every primitive's output for NaN/Inf (slow: reads every value back). Returns the previous setting. */
export function setDebugNans(on: boolean): boolean {
  const previous = enabled;
  enabled = on;
  setEvalHook(on ? check : null);
  return previous;
}

/** True while the NaN/Inf check mode is on. */
export const debugNansEnabled = (): boolean => enabled;

/**
 * withDebugNans(fn): run fn with the NaN/Inf check mode on, then restore the previous setting.
 * @example withDebugNans(() => grad(loss)(params)) // throws NonFiniteError at the first NaN
 */
export function withDebugNans<T>(fn: () => T): T {
  const previous = setDebugNans(true);
  try {
    return fn();
  } finally {
    setDebugNans(previous);
  }
}

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
if (env?.HODIFF_DEBUG_NANS === "1") setDebugNans(true);
