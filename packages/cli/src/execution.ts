/**
 * How `hodiff train` runs, apart from what it computes: the wasm backend's matrix products
 * (`--gemm`), the threads over each batch (`--threads`), OpenBLAS's threads (`--blas-threads`)
 * and whether the gradient step runs as one compiled jit plan (`--jit`).
 * Each is `auto` by default and resolved here — a pure function of the backend, the machine's
 * cores, the model and whether @hodiff/native loads — from tables of the settings measured
 * fastest (FASTEST, JIT_FASTEST). The resolved values, never "auto", are what a run prints, records
 * (config.json, checkpoint.json) and keeps when it is resumed. None of them changes the trajectory
 * beyond float32 rounding (gemm.test.ts, threads.test.ts, jit.test.ts).
 */
import type { ModelName } from "@hodiff/nn";
import { RunError } from "./trainer";
import { UsageError } from "./usage";

// model

/** What a run executes with, resolved (recorded in config.json and every checkpoint). @category model */
export interface Execution {
  /** The tfjs backend. */
  readonly backend: string;
  /** The wasm backend's matrix products: "wasm" (XNNPACK) or "native" (OpenBLAS); null on another backend (its own kernels). */
  readonly gemm: "wasm" | "native" | null;
  /** Threads over each batch (n > 1: a pool of n − 1 workers beside this thread). */
  readonly threads: number;
  /** OpenBLAS's thread count with the native GEMM; null without it (or, from the library's `train`, when the caller installed it and did not pass `blasThreads`). */
  readonly blasThreads: number | null;
  /**
   * The plain (loss, gradient) step runs as `hd.jit` plans, the batch an argument: one plan on one
   * thread (jitStep.ts); with threads > 1, one per part size in each thread of the pool
   * (`createPool({ jit })`). Optimizers' own gradients (K-FAC's statistics steps) stay eager.
   */
  readonly jit: boolean;
}

/** The flags as given (or defaulted to `auto`), and the facts `auto` is resolved from. @category model */
export interface ExecutionRequest {
  /** The backend in use (already selected). */
  readonly backend: string;
  readonly model: ModelName;
  /** True when the model has the paper's widths (no `--hidden`): FASTEST was measured on those. */
  readonly paperWidths: boolean;
  /** The machine's cores (`os.availableParallelism()`). */
  readonly cores: number;
  readonly gemm: "wasm" | "native" | "auto";
  readonly threads: number | "auto";
  readonly blasThreads: number | "auto";
  readonly jit: "on" | "off" | "auto";
  /** null where @hodiff/native's GEMM can be installed here; otherwise why not (ends the error of `--gemm native`). */
  readonly nativeUnavailable: string | null;
}

/** One model's fastest measured setting on ≥ 2 free cores, per GEMM, and the measurement that says so. @category model */
export interface Fastest {
  readonly wasm: { readonly threads: number };
  readonly native: { readonly threads: number; readonly blasThreads: number };
  readonly why: string;
}

/** The most threads (JS × BLAS) any measurement used: `auto` never goes beyond it, whatever the cores. @category model */
export const MEASURED_CORES = 2;

/**
 * The fastest setting of each paper model on 2 cores: the one whose training step (one Adam step +
 * one NewtonSummary step, summaries every T = 10 amortised) is fastest in the quiet sitting
 * bench/results/2026-12-06-sitting-5.txt (`bash bench/peers/sitting.sh`: `npx tsx bench/run.ts
 * models --models mlp,lenet --simd compare`, `env -u OPENBLAS_CORETYPE npx tsx bench/run.ts models
 * --models mlp,lenet --gemm native --threads 1,2`, `… --models vgg11,bigmlp --gemm native
 * --blas-threads 1,2`; medians; execution.test.ts checks each entry against that file). A
 * pool's measured split runs a call on the calling thread alone when the pool measures slower (a
 * busy core), so a pool entry costs at most about one call in 16 on a loaded machine
 * (packages/parallel/README.md).
 * @category model
 */
export const FASTEST: Readonly<Record<ModelName, Fastest>> = {
  mlp: {
    wasm: { threads: 2 },
    native: { threads: 1, blasThreads: 1 },
    why:
      "wasm: the pool's gradient 10.5 vs 12.3 ms, summaries 45.2 vs 48.4 ms, NewtonSummary step 17.1 vs 19.3 ms (Adam step 18.3 vs 17.5: even). " +
      "native: one thread; the pool's gradient 3.53 vs 3.95 ms but its summaries 31.4 vs 20.5 ms, Adam step 9.25 vs 8.51, NewtonSummary step 8.54 vs 7.31 ms " +
      "(a pool's fixed costs exceed half of OpenBLAS's work); two BLAS threads on its small products were up to 2.6× slower under load (bench/results/2026-12-06-pool-native.txt)",
  },
  lenet: {
    wasm: { threads: 2 },
    native: { threads: 2, blasThreads: 1 },
    why:
      "wasm: the pool's gradient 10.6 vs 19.3 ms, Adam step 13.7 vs 16.0, NewtonSummary step 22.5 vs 29.8 ms. " +
      "native: the pool's gradient 8.66 vs 12.4 ms, Adam step 10.4 vs 13.5, NewtonSummary step 20.1 vs 24.6 ms",
  },
  vgg11: {
    wasm: { threads: 1 },
    native: { threads: 1, blasThreads: 2 },
    why:
      "native: two BLAS threads' gradient 169 vs 247 ms, Adam step 220 vs 292 ms (a pool was not measured). " +
      "wasm: one thread; its pool was not measured (each worker holds the model and its summaries' memory in its own heap)",
  },
  bigmlp: {
    wasm: { threads: 1 },
    native: { threads: 1, blasThreads: 2 },
    why:
      "native: two BLAS threads' gradient 81.5 vs 122 ms, Adam step 181 vs 226 ms (a pool was not measured). " +
      "wasm: one thread; a pool was not measured in a quiet sitting, and in a loaded one its measured split kept the whole batch on one thread (bench/results/2026-12-06-bigmlp-wasm-pool-loaded.txt)",
  },
  vbigmlp: {
    wasm: { threads: 1 },
    native: { threads: 1, blasThreads: 1 },
    why: "not measured: one thread, one BLAS thread",
  },
};

/** Whether one model's gradient is faster as a jit plan, per GEMM (one thread), and the measurement that says so. @category model */
export interface JitFastest {
  readonly wasm: boolean;
  readonly native: boolean;
  readonly why: string;
}

/**
 * Where the jitted gradient (`jit(valueAndGrad(loss))`, the batch an argument, traced once) is
 * faster than the eager one, one thread: `grad_jit_ms` < `grad_ms` (medians) on the first line of
 * each model and GEMM in the quiet sitting bench/results/2026-12-06-sitting-9.txt (`npx tsx
 * bench/run.ts models …`, bench/models.ts; execution.test.ts checks each entry against that file).
 * Sitting 8 (2026-12-06-sitting-8.txt) had the same answer but for VGG-11' on wasm (946 vs 928 ms);
 * sitting 6 had the wasm MLP's jit slower (13.1 vs 11.5 ms), before plans ran composite primitives
 * as one kernel each and left small arrays of large plans to the kernels.
 * @category model
 */
export const JIT_FASTEST: Readonly<Record<ModelName, JitFastest>> = {
  mlp: { wasm: true, native: true, why: "native: 2.76 → 2.62 ms (jit_speedup 1.05). wasm: 12.07 → 11.5 ms (1.05)" },
  lenet: { wasm: true, native: true, why: "native: 10.2 → 9.45 ms (1.08). wasm: 13.33 → 12.74 ms (1.04)" },
  vgg11: { wasm: true, native: true, why: "native: 236.7 → 226.5 ms (1.05). wasm: 974.2 → 949.5 ms (1.03)" },
  bigmlp: { wasm: true, native: true, why: "native: 121.8 → 109.8 ms (1.11). wasm: 479.1 → 462.0 ms (1.03)" },
  vbigmlp: { wasm: false, native: false, why: "not measured: eager" },
};

// utils

const gemmName = { wasm: "wasm (XNNPACK)", native: "native (OpenBLAS)" } as const;

/**
 * The one line a run prints at its start, e.g. "backend wasm, gemm native (OpenBLAS), threads 1, BLAS threads 1, jit on".
 * @category utils
 */
export function describeExecution(e: Execution): string {
  return [
    `backend ${e.backend}`,
    ...(e.gemm === null ? [] : [`gemm ${gemmName[e.gemm]}`]),
    `threads ${e.threads}`,
    ...(e.blasThreads === null ? [] : [`BLAS threads ${e.blasThreads}`]),
    `jit ${e.jit ? "on" : "off"}`,
  ].join(", ");
}

// resolution

/**
 * The execution of a run: explicit flags as given; `auto` from the table. gemm: native when the
 * backend is wasm and @hodiff/native loads, else wasm (null on other backends); threads: 1 on
 * another backend than wasm (webgpu, cpu: not measured), on one core or for a model not of the
 * paper's widths, else FASTEST's, at most the cores;
 * BLAS threads (native only): FASTEST's, with threads × BLAS threads ≤ min(cores, MEASURED_CORES);
 * jit: on with one thread on wasm for a model of the paper's widths where JIT_FASTEST says so for
 * the GEMM, else off (other backends and widths were not measured; a pool's jit was not robustly
 * faster: 0.90–1.14× in loaded runs, bench/results/2026-12-06-train-jit-loaded.txt).
 * Throws a UsageError for flags that cannot work together and a RunError for an explicit
 * `--gemm native` that cannot load.
 * @example resolveExecution({ backend: "wasm", model: "lenet", paperWidths: true, cores: 2, gemm: "auto", threads: "auto", blasThreads: "auto", jit: "auto", nativeUnavailable: null }) // { backend: "wasm", gemm: "native", threads: 2, blasThreads: 1, jit: false }
 * @category resolution
 */
export function resolveExecution(r: ExecutionRequest): Execution {
  const onWasm = r.backend === "wasm";
  if (r.gemm === "native" && !onWasm)
    throw new UsageError(
      "--gemm",
      `--gemm native computes on the wasm backend's heap; the backend is ${r.backend}: use --backend wasm`,
    );
  if (r.gemm === "native" && r.nativeUnavailable !== null) throw new RunError(`--gemm native ${r.nativeUnavailable}`);
  const gemm = !onWasm ? null : r.gemm === "auto" ? (r.nativeUnavailable === null ? "native" : "wasm") : r.gemm;
  if (r.blasThreads !== "auto" && gemm !== "native")
    throw new UsageError(
      "--blas-threads",
      r.gemm === "auto"
        ? `--blas-threads applies only to the native GEMM, and --gemm auto chose ${gemm ?? `the ${r.backend} backend's own kernels`}${onWasm ? ` (the native GEMM ${r.nativeUnavailable})` : " (the native GEMM runs on --backend wasm only)"}`
        : "--blas-threads applies only to --gemm native",
    );
  if (r.threads !== "auto" && r.threads > 1 && r.backend === "webgpu")
    throw new UsageError(
      "--threads",
      `--threads ${r.threads} runs on the wasm or cpu backend only (its threads read synchronously); use --backend wasm, or --threads 1 on webgpu`,
    );
  const budget = Math.max(1, Math.min(r.cores, MEASURED_CORES));
  const fastest = r.paperWidths && r.cores >= 2 ? FASTEST[r.model] : null;
  const wanted = fastest === null ? null : gemm === "native" ? fastest.native : fastest.wasm;
  // The table was measured on wasm; a pool cannot run on webgpu (its threads read synchronously)
  // and was not measured on cpu (the fallback where wasm cannot start): one thread there.
  const threads = r.threads !== "auto" ? r.threads : !onWasm ? 1 : Math.min(wanted?.threads ?? 1, budget);
  const blasThreads =
    gemm !== "native"
      ? null
      : r.blasThreads !== "auto"
        ? r.blasThreads
        : Math.max(1, Math.min(fastest?.native.blasThreads ?? 1, Math.floor(budget / threads)));
  const jit =
    r.jit !== "auto"
      ? r.jit === "on"
      : onWasm && gemm !== null && threads === 1 && r.paperWidths && JIT_FASTEST[r.model][gemm];
  return { backend: r.backend, gemm, threads, blasThreads, jit };
}

/** A run's recorded execution, if the file holds a valid one (runs before it was recorded hold none; one without `jit` ran eagerly). @category resolution */
export function recordedExecution(json: unknown): Execution | null {
  if (typeof json !== "object" || json === null) return null;
  const e = json as Record<string, unknown>;
  const count = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 1;
  if (
    typeof e["backend"] !== "string" ||
    !(e["gemm"] === null || e["gemm"] === "wasm" || e["gemm"] === "native") ||
    !count(e["threads"]) ||
    !(e["blasThreads"] === null || count(e["blasThreads"])) ||
    !(e["jit"] === undefined || typeof e["jit"] === "boolean")
  )
    return null;
  return {
    backend: e["backend"],
    gemm: e["gemm"],
    threads: e["threads"] as number,
    blasThreads: e["blasThreads"] as number | null,
    // a run recorded before --jit existed computed its gradients eagerly
    jit: e["jit"] ?? false,
  };
}

/**
 * The request of a resumed run: a flag given on the command line wins (`auto` given resolves
 * afresh for this machine); a flag not given keeps the recorded value where it can still run here
 * (same kind of backend, @hodiff/native loading), else is `auto`, with a note saying so. A run
 * with no record (made before it was recorded) resolves `auto`.
 * @category resolution
 */
export function resumedRequest(
  base: Omit<ExecutionRequest, "gemm" | "threads" | "blasThreads" | "jit">,
  flags: {
    readonly gemm?: ExecutionRequest["gemm"];
    readonly threads?: ExecutionRequest["threads"];
    readonly blasThreads?: ExecutionRequest["blasThreads"];
    readonly jit?: ExecutionRequest["jit"];
  },
  recorded: Execution | null,
): { request: ExecutionRequest; notes: string[] } {
  const notes: string[] = [];
  const onWasm = base.backend === "wasm";
  let gemm: ExecutionRequest["gemm"] = flags.gemm ?? "auto";
  if (flags.gemm === undefined && recorded !== null && recorded.gemm !== null && onWasm) {
    if (recorded.gemm === "native" && base.nativeUnavailable !== null)
      notes.push(
        `note: the run used gemm native (OpenBLAS), but the native GEMM ${base.nativeUnavailable} here; it continues with the wasm GEMM: results agree within float32 rounding, not bit for bit`,
      );
    else gemm = recorded.gemm;
  }
  const nativeKept = gemm === "native" || (gemm === "auto" && onWasm && base.nativeUnavailable === null);
  let threads: ExecutionRequest["threads"] = flags.threads ?? "auto";
  if (flags.threads === undefined && recorded !== null) {
    if (recorded.threads > 1 && base.backend === "webgpu")
      notes.push(`note: the run used ${recorded.threads} threads; on webgpu it continues on 1`);
    else threads = recorded.threads;
  }
  let blasThreads: ExecutionRequest["blasThreads"] = flags.blasThreads ?? "auto";
  if (flags.blasThreads === undefined && recorded?.blasThreads != null && nativeKept)
    blasThreads = recorded.blasThreads;
  let jit: ExecutionRequest["jit"] = flags.jit ?? "auto";
  if (flags.jit === undefined && recorded !== null) jit = recorded.jit ? "on" : "off";
  return { request: { ...base, gemm, threads, blasThreads, jit }, notes };
}
