/**
 * `pnpm bench models [--models mlp,lenet] [--repeats N]`: one JSON line per paper model (mlp,
 * lenet, vgg11, bigmlp at the paper's batch sizes 100, 100, 32, 100) with the gradient's wall time
 * (forward + backward of the NLL on a random batch whose labels are a tensor made once, as
 * bench/peers/models_torch.py measures PyTorch: no read-back on wasm and cpu, whose kernels have
 * run when the call returns; read back with dataSync elsewhere), the time inside tfjs kernels and
 * inside the matmul/conv kernels alone (`kernel_ms`, `gemm_ms`, of which `patch_ms` is the patch
 * matrices of convs computed as matmuls — see `GEMM`; on wasm and cpu measured in the
 * timed gradient calls themselves, see `kernelClock`; elsewhere tf.profile of three more
 * gradients), and the time of one NewtonSummary update (period T = 10, so one update in ten computes the
 * summaries) divided by one Adam update, both counting the gradient. Medians of interleaved repeats;
 * each timed gradient follows an untimed one, as in PyTorch's loop of consecutive gradients.
 * `--threads 1,2` (the default for mlp and lenet; [1] for vgg11 and bigmlp unless given):
 * tfjs-wasm runs on one thread in Node, so threads n > 1 is an `@hodiff/parallel` pool (the
 * calling thread and n − 1 workers, each taking a part of the batch), timed interleaved with one
 * thread in the same rounds; its line has the same wall times, `speedup` = median over rounds of
 * (one thread's gradient ÷ the pool's), and no kernel times (tf.profile sees one thread's kernels
 * only). `grad_cpu_ms`: CPU time of the process (all threads) per gradient. The pool's split is
 * measured (its default): `solo_fraction` is the share of its gradient calls that ran on the
 * calling thread alone because that was measured faster, `calling_thread_share` that thread's
 * share of the batch in the others.
 * `grad_jit_ms` (one-thread lines): the same gradient as `jit(grad(loss))` with the batch an
 * argument (traced once, then run as a compiled plan), timed in the same rounds (`grad_jit_cpu_ms`
 * its CPU time; `jit_kernel_ms`, `jit_gemm_ms` the kernel times of those calls, which
 * `grad_jit_over_gemm` divides by); on wasm and cpu `grad_over_gemm` and `grad_jit_over_gemm` are
 * medians over the timed calls of each call's wall time ÷ its own gemm time (robust to load);
 * `jit_speedup` = median over rounds of (eager ÷ jit), `grad_jit_max_abs_diff` its largest
 * difference from the eager gradient.
 * `--gemm wasm,native` (default wasm): each model is also timed with `@hodiff/native`'s OpenBLAS
 * GEMM installed (wasm backend only), once per `--blas-threads` count (default 1), after the wasm
 * rows; every line says its `"gemm"` and native lines their `"blas_threads"`. Native settings get
 * the same thread counts as wasm: a pool's workers then install the same GEMM and BLAS thread count
 * (`createPool({ gemm: "native", blasThreads })`; OpenBLAS's threads are process-wide, so
 * `--blas-threads 2` with a 2-thread pool runs up to 4 BLAS threads). `gemm_ms` stays the time
 * inside the matmul/conv kernels, whichever computes them. The settings run one after the other,
 * not interleaved: compare them within one run, on a quiet machine.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { MODELS, nll, oneHot, type ModelName } from "@hodiff/nn";
import { adam, applyUpdates, newtonSummary, type Extras, type Params } from "@hodiff/optim";
import { createPool, type Pool } from "@hodiff/parallel";
import { canonical, summaries } from "@hodiff/partition";
import { installNativeGemm, nativeBlasConfig } from "@hodiff/native";
import { median, round } from "./timing";
import type { Bench } from "./suites";

/** The paper's batch size of each model, and how many timed repeats it gets by default (it is slow). */
export const PAPER: Record<string, { batch: number; repeats: number }> = {
  mlp: { batch: 100, repeats: 9 },
  lenet: { batch: 100, repeats: 9 },
  vgg11: { batch: 32, repeats: 3 },
  bigmlp: { batch: 100, repeats: 3 },
};

/**
 * Kernels that are matrix products or convolutions: `gemm_ms` is their time, with `PATCHES`'s.
 * A conv that K.conv2d computes as im2col + matmul (or matmul + col2im, its input gradient) counts
 * its patch gather/scatter as conv time, as tfjs-wasm's Conv2D (XNNPACK's indirect conv) counts the
 * packing it does inside the kernel; `patch_ms` says how much of `gemm_ms` that is.
 */
const GEMM = new Set([
  "BatchMatMul",
  "_FusedMatMul",
  "Conv2D",
  "FusedConv2D",
  "Conv2DBackpropInput",
  "Conv2DBackpropFilter",
  "DepthwiseConv2dNative",
]);
/** The patch matrices of convs computed as matmuls (kernels.ts FUSED_KERNELS.im2col/col2im). */
const PATCHES = new Set(["HodiffIm2Col", "HodiffCol2Im"]);

/**
 * Backends whose kernels run inside the call that launches them: when a function returns, its
 * tensors hold their values. There a timed call is not followed by a read-back, which would add a
 * copy of every output (the MLP's 4 MB of gradients: 0.2–1.8 ms, load-dependent) that PyTorch's
 * `torch.autograd.grad` (bench/peers/models_torch.py) does not make.
 */
const SYNCHRONOUS = new Set(["wasm", "cpu"]);

/**
 * Time inside kernels, measured in the timed calls themselves (`kernel_ms`, `gemm_ms`): while a
 * call runs, every kernel registered for the backend is wrapped by a clock (performance.now around
 * it; a kernel that a kernel runs is counted once). Only for `SYNCHRONOUS` backends, where a
 * kernel's work is done when it returns. The wrappers are installed around each call and removed
 * after it (simd/install.ts re-registers kernels when its kernels are switched).
 */
function kernelClock<T>(fn: () => T): { out: T; kernel: number; gemm: number; patch: number } {
  const configs = tf.getKernelsForBackend(tf.getBackend()) as { kernelName: string; kernelFunc: tf.KernelFunc }[];
  const originals = configs.map((c) => c.kernelFunc);
  let [kernel, gemm, patch, depth] = [0, 0, 0, 0];
  configs.forEach((c, i) => {
    const f = originals[i]!;
    const isPatch = PATCHES.has(c.kernelName);
    const isGemm = isPatch || GEMM.has(c.kernelName);
    c.kernelFunc = (args) => {
      if (depth > 0) return f(args);
      depth++;
      const t0 = performance.now();
      try {
        return f(args);
      } finally {
        const ms = performance.now() - t0;
        depth--;
        kernel += ms;
        if (isGemm) gemm += ms;
        if (isPatch) patch += ms;
      }
    };
  });
  try {
    return { out: fn(), kernel, gemm, patch };
  } finally {
    configs.forEach((c, i) => (c.kernelFunc = originals[i]!));
  }
}

/**
 * Wall time of `fn` in ms, its tensor outputs freed after. On a backend that is not `SYNCHRONOUS`
 * the outputs are read back (so the kernels have run) inside the timing. With `cpu`, also pushes
 * the process's CPU time (user + system, every thread: a pool's workers too); with `clock`, the
 * time inside kernels of this call.
 */
function timeOnce(fn: () => unknown, cpu?: number[], clock?: { kernel: number[]; gemm: number[]; patch: number[] }) {
  const run = () => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = fn();
    if (!SYNCHRONOUS.has(tf.getBackend()))
      for (const leaf of hd.treeLeaves(out as hd.Tree<unknown>)) if (leaf instanceof tf.Tensor) leaf.dataSync();
    const t1 = performance.now();
    const c = process.cpuUsage(c0);
    cpu?.push((c.user + c.system) / 1000);
    return { out, ms: t1 - t0 };
  };
  if (!clock) {
    const { out, ms } = run();
    hd.dispose(out);
    return ms;
  }
  const { out, kernel, gemm, patch } = kernelClock(run);
  hd.dispose(out.out);
  clock.kernel.push(kernel);
  clock.gemm.push(gemm);
  clock.patch.push(patch);
  return out.ms;
}

/** Total kernel time and matmul/conv kernel time of one call of `fn` (tf.profile; for backends not `SYNCHRONOUS`). */
async function kernelTimes(fn: () => unknown): Promise<{ kernel: number; gemm: number; patch: number }> {
  const prof = await tf.profile(() => {
    const out = fn();
    for (const leaf of hd.treeLeaves(out as hd.Tree<unknown>)) if (leaf instanceof tf.Tensor) leaf.dataSync();
    hd.dispose(out);
  });
  let [kernel, gemm, patch] = [0, 0, 0];
  for (const k of prof.kernels) {
    const ms = Number(k.kernelTimeMs);
    kernel += ms;
    if (GEMM.has(k.name) || PATCHES.has(k.name)) gemm += ms;
    if (PATCHES.has(k.name)) patch += ms;
  }
  return { kernel, gemm, patch };
}

/** Timings of one model; `repeats` interleaved rounds of (gradient, Adam step, NewtonSummary steps). */
async function benchModel(
  name: ModelName,
  batch: number,
  repeats: number,
  backend: string,
  withSummaries: boolean,
  compareSimd: boolean,
  pools: readonly Pool[],
) {
  const model = MODELS[name]();
  const params = model.init(hd.random.key(0)) as Params;
  const x = hd.random.normal(hd.random.key(1), [batch, ...model.inputShape]);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % model.numClasses);
  // The labels as a tensor made once, as PyTorch's `y` (its one-hot rows: what nll uses); the
  // pools take the Int32Array, which their threads split.
  const y = oneHot(labels, model.numClasses);
  const loss = (p: Params) => nll(model.apply(p as never, x), y);
  const gradient = () => hd.grad(loss)(params);
  // hodiff's fastest robust setting: the batch is an argument, so the plan is traced once and reused.
  const gradJit = hd.jit((p: Params, xb: hd.Value) => hd.grad((q: Params) => nll(model.apply(q as never, xb), y))(p));
  const jitGradient = () => gradJit(params, x) as Params;

  // NewtonSummary with T = 10 and no warm-up, so that the update with summaries also solves and steps.
  // Its update is pure: a state with count 0 (mod T) makes every call compute the summaries, one with
  // count 1 none; one update in T computes them.
  const opt = adam(1e-3);
  const adamState = opt.init(params);
  const ns = newtonSummary({ learningRate: 0.03, period: 10, warmup: 0 });
  const ns0 = ns.init(params);
  /**
   * Optimizer steps on one gradient (what one training step costs: gradient, update, new
   * parameters): Adam's, and NewtonSummary's with `nsExtras` (how it computes its summaries).
   */
  const stepsOf = (gradient: () => Params, nsExtras: Extras, summaryFn: () => unknown) => ({
    gradient,
    adamStep: () => {
      const g = gradient();
      const { state, updates } = opt.update(adamState, params, g);
      const next = applyUpdates(params, updates);
      hd.dispose([g, state, updates]);
      return next;
    },
    nsStep: (state: typeof ns0) => () => {
      const g = gradient();
      const r = ns.update(state, params, g, nsExtras);
      const next = applyUpdates(params, r.updates);
      hd.dispose([g, r.state, r.updates]);
      return next;
    },
    summaryFn,
  });
  type Steps = ReturnType<typeof stepsOf>;
  const first = ns.update(ns0, params, gradient(), { loss });
  hd.dispose(first.updates);
  const ns1 = first.state;

  const u = gradient();
  const partition = canonical(params);
  const one = stepsOf(gradient, { loss }, () => (summaries(loss as never, partition)(params, u), []));

  // The same steps on each pool: its gradient, and its summaries handed to NewtonSummary.
  const onPool = pools.map((pool) => {
    const data = { x, labels };
    const summarize = (p: Params, dir: Params, part: typeof partition, o: object) =>
      pool.summaries(p, dir, data, part, o);
    return stepsOf(
      () => pool.valueAndGrad(params, data).grads,
      { summarize },
      () => (pool.summaries(params, u, data, partition), []),
    );
  });
  const newTimes = () => ({
    grad: [] as number[],
    jit: [] as number[],
    jitCpu: [] as number[],
    gradCpu: [] as number[],
    plain: [] as number[],
    adam: [] as number[],
    ns: [] as number[],
    nsSum: [] as number[],
    sum: [] as number[],
    kernel: [] as number[],
    gemm: [] as number[],
    patch: [] as number[],
    jitKernel: [] as number[],
    jitGemm: [] as number[],
    jitPatch: [] as number[],
  });
  type Times = ReturnType<typeof newTimes>;
  for (const p of [...onPool, one]) for (const fn of [p.gradient, p.adamStep, p.nsStep(ns1)]) timeOnce(fn); // warm-up
  timeOnce(jitGradient); // traces and compiles
  if (onPool.length > 0) {
    // With pools, every way once more (summaries too: new code to compile in every thread), then
    // 64 more gradients each: a worker's code starts unoptimised in its new isolate (LeNet-5's
    // worker half: 14 ms over a pool's first 20 calls, 9 ms after 120; packages/parallel/README.md),
    // and the pool's measured split runs these on the pool (its warm-up) and decides after them.
    for (const p of [...onPool, one]) {
      timeOnce(p.nsStep(ns0));
      if (withSummaries) timeOnce(p.summaryFn);
    }
    for (let i = 0; i < 64; i++) for (const p of [one, ...onPool]) timeOnce(p.gradient);
  }
  const jitDiff = hd.tidy(() => {
    const diffs = hd.treeLeaves(
      hd.treeMap((a: hd.Value, b: hd.Value) => hd.max(hd.abs(hd.sub(a, b))), jitGradient(), u),
    );
    return Math.max(...diffs.map((d) => (d as tf.Tensor).dataSync()[0]!));
  });

  const t = newTimes();
  const tp = pools.map(newTimes);
  const clock = SYNCHRONOUS.has(backend);
  // One thread first, then each pool, interleaved step by step.
  const each = (f: (s: Steps, m: Times) => void) => [one, ...onPool].forEach((s, k) => f(s, [t, ...tp][k]!));
  const heavy = Math.max(1, Math.ceil(repeats / 3)); // updates with summaries: fewer repeats
  for (let i = 0; i < repeats; i++) {
    if (compareSimd) {
      // The same gradient on tfjs-wasm's own kernels, right before: the before/after of one sitting.
      hd.setSimdKernels(false);
      t.plain.push(timeOnce(gradient));
      hd.setSimdKernels(true);
    }
    // Each timed gradient right after an untimed one of the same function, as in PyTorch's loop of
    // consecutive gradients (bench/peers/models_torch.py): the round's other steps (Adam,
    // NewtonSummary, summaries) would otherwise leave its caches and code cold.
    each((s) => timeOnce(s.gradient));
    each((s, m) =>
      m.grad.push(
        timeOnce(
          s.gradient,
          m.gradCpu,
          s === one && clock ? { kernel: t.kernel, gemm: t.gemm, patch: t.patch } : undefined,
        ),
      ),
    );
    timeOnce(jitGradient);
    t.jit.push(
      timeOnce(jitGradient, t.jitCpu, clock ? { kernel: t.jitKernel, gemm: t.jitGemm, patch: t.jitPatch } : undefined),
    );
    each((s, m) => m.adam.push(timeOnce(s.adamStep)));
    each((s, m) => m.ns.push(timeOnce(s.nsStep(ns1))));
    if (i < heavy) {
      each((s, m) => m.nsSum.push(timeOnce(s.nsStep(ns0))));
      if (withSummaries) each((s, m) => m.sum.push(timeOnce(s.summaryFn)));
    }
  }
  if (!clock)
    for (let i = 0; i < Math.min(3, repeats); i++) {
      const p = await kernelTimes(gradient);
      t.kernel.push(p.kernel);
      t.gemm.push(p.gemm);
      t.patch.push(p.patch);
    }

  /** The JSON line of one thread count's times; `kernels` are its kernel-time fields. */
  const recordOf = (threads: number, m: Times, kernels: Record<string, unknown>): Record<string, unknown> => {
    const nsUpdate = (median(m.nsSum) + 9 * median(m.ns)) / 10;
    return {
      name: "grad-model",
      model: name,
      batch,
      backend,
      threads,
      grad_ms: round(median(m.grad), 2),
      grad_cpu_ms: round(median(m.gradCpu), 2),
      ...kernels,
      adam_step_ms: round(median(m.adam), 2),
      ns_step_ms: round(nsUpdate, 2),
      ns_plain_step_ms: round(median(m.ns), 2),
      ns_summary_step_ms: round(median(m.nsSum), 2),
      ns_over_adam: round(nsUpdate / median(m.adam), 3),
      repeats,
      ...(withSummaries ? { summaries_ms: round(median(m.sum), 2) } : {}),
    };
  };
  const gemm = median(t.gemm);
  // jit runs the same matmul/conv kernels; with the clock, its own calls' gemm time
  const jitGemm = clock ? median(t.jitGemm) : gemm;
  // With the clock, the median over calls of (wall ÷ gemm time) of the same call: a call slowed by
  // other jobs is often slowed in both, so the ratio is steadier under load than the quotient of
  // the two medians (three runs of the MLP at load 5: 1.12–1.19 against 1.15–1.31; still noisy
  // with 9 repeats); otherwise the quotient of the medians.
  const perCall = (wall: number[], g: number[], fallback: number) =>
    clock ? median(wall.map((w, i) => w / g[i]!)) : median(wall) / fallback;
  const record = recordOf(1, t, {
    kernel_ms: round(median(t.kernel), 2),
    gemm_ms: round(gemm, 2),
    patch_ms: round(median(t.patch), 2),
    grad_over_gemm: round(perCall(t.grad, t.gemm, gemm), 2),
    grad_jit_ms: round(median(t.jit), 2),
    ...(clock
      ? {
          jit_kernel_ms: round(median(t.jitKernel), 2),
          jit_gemm_ms: round(jitGemm, 2),
          jit_patch_ms: round(median(t.jitPatch), 2),
        }
      : {}),
    grad_jit_over_gemm: round(perCall(t.jit, t.jitGemm, jitGemm), 2),
    grad_jit_cpu_ms: round(median(t.jitCpu), 2),
    jit_speedup: round(median(t.grad.map((g, i) => g / t.jit[i]!)), 2),
    grad_jit_max_abs_diff: jitDiff,
  });
  if (compareSimd) {
    record.grad_ms_tfjs_kernels = round(median(t.plain), 2);
    record.simd_speedup = round(median(t.plain.map((p, i) => p / t.grad[i]!)), 2);
  }
  const records = [record];
  pools.forEach((pool, k) => {
    const m = tp[k]!;
    const r = recordOf(pool.threads, m, {
      kernel_ms: null,
      gemm_ms: null,
      speedup: round(median(t.grad.map((g1, i) => g1 / m.grad[i]!)), 2),
    });
    if (withSummaries) r.summaries_speedup = round(median(t.sum.map((s1, i) => s1 / m.sum[i]!)), 2);
    // The pool's measured split: the share of its gradient calls run on the calling thread alone
    // (measured faster there), and the calling thread's share of the batch otherwise.
    const split = pool.splitState().grad;
    r.solo_fraction = round(split.soloCalls / Math.max(1, split.calls), 2);
    r.calling_thread_share = round(split.shares[0]!, 2);
    records.push(r);
  });
  gradJit.dispose();
  hd.dispose([params, x, y, u, adamState, ns0, ns1]);
  return records;
}

/** Options of the models bench that run.ts passes on: `--models a,b` and `--repeats` (default per model). */
export interface ModelsOptions {
  models?: string;
  repeats?: number;
  /** Also time each gradient on tfjs-wasm's own kernels (interleaved): `grad_ms_tfjs_kernels`, `simd_speedup`. */
  compareSimd?: boolean;
  /** Thread counts to time (default [1, 2] for mlp and lenet, [1] otherwise); n > 1 is an `@hodiff/parallel` pool of n threads. */
  threads?: readonly number[];
  /** Which GEMMs to time (default ["wasm"]): "native" is @hodiff/native's OpenBLAS, on the wasm backend. */
  gemm?: readonly GemmName[];
  /** OpenBLAS thread counts for the native rows (default [1]). */
  blasThreads?: readonly number[];
}

export type GemmName = "wasm" | "native";

/** The GEMM settings a model is timed under, in order: wasm, then native per BLAS thread count. */
function gemmSettings(options: ModelsOptions, backend: string): Array<{ gemm: GemmName; blasThreads?: number }> {
  const gemms = options.gemm ?? ["wasm"];
  for (const g of gemms)
    if (g !== "wasm" && g !== "native") throw new Error(`bench models: unknown --gemm '${g}' (use wasm, native)`);
  if (gemms.includes("native") && backend !== "wasm")
    throw new Error(`bench models: --gemm native needs the wasm backend (got '${backend}')`);
  return gemms.flatMap((gemm): Array<{ gemm: GemmName; blasThreads?: number }> =>
    gemm === "wasm" ? [{ gemm }] : (options.blasThreads ?? [1]).map((blasThreads) => ({ gemm, blasThreads })),
  );
}

export const modelsBench =
  (options: ModelsOptions): Bench =>
  async ({ backend }) => {
    const names = options.models ? options.models.split(",") : Object.keys(PAPER);
    const settings = gemmSettings(options, backend);
    if (settings.some((s) => s.gemm === "native"))
      console.error(`# ${nativeBlasConfig() ?? "@hodiff/native: not built"}`);
    // Every name checked before any model runs (vgg11 and bigmlp take minutes).
    for (const n of names)
      if (!PAPER[n]) throw new Error(`bench models: unknown model '${n}' (use ${Object.keys(PAPER).join(", ")})`);
    for (const n of names)
      for (const setting of settings) {
        const paper = PAPER[n]!;
        // By default a pool only for the small models: a VGG-11'/BigMLP pool holds the model and its
        // summaries' memory in every thread's wasm heap, and doubles minutes-long runs (untested).
        const native = setting.gemm === "native";
        const counts = options.threads ?? (n === "mlp" || n === "lenet" ? [1, 2] : [1]);
        const pools: Pool[] = [];
        const installed = native ? installNativeGemm({ threads: setting.blasThreads! }) : null;
        try {
          for (const threads of counts.filter((c) => c > 1))
            pools.push(
              await createPool({
                task: new URL("./modelTask.ts", import.meta.url),
                init: { model: n },
                threads,
                ...(native ? { gemm: "native" as const, blasThreads: setting.blasThreads! } : {}),
              }),
            );
          const records = await benchModel(
            n as ModelName,
            paper.batch,
            options.repeats ?? paper.repeats,
            backend,
            n === "mlp",
            (options.compareSimd ?? false) && hd.simdKernelsActive() && !native,
            pools,
          );
          // printed as soon as measured: vgg11 and bigmlp take minutes
          for (const r of records) {
            const { name, model, batch, threads } = r;
            const gemm = native ? { gemm: "native", blas_threads: installed!.threads() } : { gemm: "wasm" };
            console.log(JSON.stringify({ name, model, batch, backend: r.backend, threads, ...gemm, ...r }));
          }
        } finally {
          installed?.uninstall();
          await Promise.all(pools.map((p) => p.close()));
        }
      }
    return [];
  };
