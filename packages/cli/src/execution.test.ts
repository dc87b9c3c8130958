/**
 * `--threads auto`, `--gemm auto`, `--blas-threads auto`, `--jit auto`: the resolution for each
 * case (cores, model, native GEMM available or not, backend, explicit flags), and the tables
 * against the measurements they cite: for every model and GEMM, the chosen setting is the one
 * whose training step (one Adam step + one NewtonSummary step, summaries amortised) is fastest in
 * the sitting's saved output, bench/results/2026-12-06-sitting-5.txt; jit is on exactly where the
 * jitted gradient's median was below the eager one's in bench/results/2026-12-06-sitting-9.txt.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MODEL_NAMES } from "./models";
import {
  describeExecution,
  FASTEST,
  JIT_FASTEST,
  MEASURED_CORES,
  recordedExecution,
  resolveExecution,
  resumedRequest,
  type ExecutionRequest,
} from "./execution";
import { RunError } from "./trainer";
import { UsageError } from "./usage";
import type { ModelName } from "@hodiff/nn";

const NO_ADDON = "cannot load: @hodiff/native: the native addon x.node is not usable (ENOENT)";
const auto = (over: Partial<ExecutionRequest> = {}): ExecutionRequest => ({
  backend: "wasm",
  model: "mlp",
  paperWidths: true,
  cores: 2,
  gemm: "auto",
  threads: "auto",
  blasThreads: "auto",
  jit: "auto",
  nativeUnavailable: null,
  ...over,
});

/** The `grad-model` lines of a saved sitting, bench/results/`file`, parsed. */
const gradModelLines = (file: string) =>
  readFileSync(new URL(`../../../bench/results/${file}`, import.meta.url), "utf8")
    .split("\n")
    .filter((line) => line.startsWith('{"name":"grad-model"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** What the sitting measured: the first line of each (model, gemm, threads, BLAS threads) — OpenBLAS's own kernels, not the Haswell rerun. */
function sitting(): Map<string, { adam: number; ns: number }> {
  const out = new Map<string, { adam: number; ns: number }>();
  for (const r of gradModelLines("2026-12-06-sitting-5.txt")) {
    const key = `${String(r["model"])} ${String(r["gemm"])} ${String(r["threads"])} ${String(r["blas_threads"] ?? 1)}`;
    if (!out.has(key)) out.set(key, { adam: r["adam_step_ms"] as number, ns: r["ns_step_ms"] as number });
  }
  return out;
}

describe("FASTEST, the table", () => {
  const measured = sitting();
  const step = (key: string) => {
    const m = measured.get(key);
    return m === undefined ? Infinity : m.adam + m.ns;
  };

  it.each(["mlp", "lenet", "vgg11", "bigmlp"] as ModelName[])(
    "%s: each GEMM's entry is its fastest measured setting in sitting 5 (an unmeasured one is never chosen)",
    (model) => {
      for (const gemm of ["wasm", "native"] as const) {
        const ways = [`${model} ${gemm} 1 1`, `${model} ${gemm} 2 1`, `${model} ${gemm} 1 2`].filter(
          (k) => gemm === "native" || !k.endsWith(" 2"),
        );
        expect(measured.has(ways[0]!)).toBe(true); // one thread is always measured
        const best = ways.reduce((a, b) => (step(b) < step(a) ? b : a));
        const e = FASTEST[model][gemm];
        const chosen = `${model} ${gemm} ${e.threads} ${"blasThreads" in e ? e.blasThreads : 1}`;
        expect(chosen).toBe(best);
      }
    },
  );

  it("has an entry with its reason for every model, within the measured cores", () => {
    expect(Object.keys(FASTEST).sort()).toEqual([...MODEL_NAMES].sort());
    for (const e of Object.values(FASTEST)) {
      expect(e.why.length).toBeGreaterThan(20);
      expect(e.wasm.threads).toBeLessThanOrEqual(MEASURED_CORES);
      expect(e.native.threads * e.native.blasThreads).toBeLessThanOrEqual(MEASURED_CORES);
    }
  });
});

/** Sitting 9's first one-thread line of each (model, gemm): its eager and jitted gradient medians. */
function sitting9(): Map<string, { eager: number; jit: number }> {
  const out = new Map<string, { eager: number; jit: number }>();
  for (const r of gradModelLines("2026-12-06-sitting-9.txt")) {
    const key = `${String(r["model"])} ${String(r["gemm"])}`;
    if (r["threads"] === 1 && typeof r["grad_jit_ms"] === "number" && !out.has(key))
      out.set(key, { eager: r["grad_ms"] as number, jit: r["grad_jit_ms"] });
  }
  return out;
}
const jitMeasured = sitting9();
/** Whether sitting 9 measured the model's jitted gradient faster on that GEMM (false where not measured). */
const jitFaster = (model: ModelName, gemm: "wasm" | "native") => {
  const m = jitMeasured.get(`${model} ${gemm}`);
  return m !== undefined && m.jit < m.eager;
};

describe("JIT_FASTEST, the table", () => {
  it.each(["mlp", "lenet", "vgg11", "bigmlp"] as ModelName[])(
    "%s: jit is on for a GEMM exactly where sitting 9 measured it faster",
    (model) => {
      for (const gemm of ["wasm", "native"] as const) {
        const m = jitMeasured.get(`${model} ${gemm}`);
        expect(m, `${model} ${gemm} in sitting 9`).toBeDefined();
        expect(JIT_FASTEST[model][gemm]).toBe(m!.jit < m!.eager);
      }
    },
  );

  it("an unmeasured model stays eager; every entry says why", () => {
    expect(Object.keys(JIT_FASTEST).sort()).toEqual([...MODEL_NAMES].sort());
    expect(JIT_FASTEST.vbigmlp).toMatchObject({ wasm: false, native: false });
    for (const e of Object.values(JIT_FASTEST)) expect(e.why.length).toBeGreaterThan(10);
  });
});

describe("resolveExecution", () => {
  // [model, with the native GEMM: threads, BLAS threads; with the wasm GEMM: threads], on ≥ 2 cores;
  // jit wherever one thread computes the gradient and sitting 9 measured it faster on that GEMM
  const onTwo: [ModelName, number, number, number][] = [
    ["mlp", 1, 1, 2],
    ["lenet", 2, 1, 2],
    ["vgg11", 1, 2, 1],
    ["bigmlp", 1, 2, 1],
    ["vbigmlp", 1, 1, 1],
  ];
  for (const cores of [1, 2, 16])
    describe(`${cores} core(s)`, () => {
      it.each(onTwo)("%s: native where it loads, else wasm", (model, nThreads, nBlas, wThreads) => {
        const one = cores === 1;
        expect(resolveExecution(auto({ model, cores }))).toEqual({
          backend: "wasm",
          gemm: "native",
          threads: one ? 1 : nThreads,
          blasThreads: one ? 1 : nBlas,
          jit: (one || nThreads === 1) && jitFaster(model, "native"),
        });
        expect(resolveExecution(auto({ model, cores, nativeUnavailable: NO_ADDON }))).toEqual({
          backend: "wasm",
          gemm: "wasm",
          threads: one ? 1 : wThreads,
          blasThreads: null,
          jit: (one || wThreads === 1) && jitFaster(model, "wasm"),
        });
      });
    });

  it("a model not of the paper's widths (--hidden) gets one thread and one BLAS thread, eager: not measured", () => {
    for (const model of ["mlp", "bigmlp"] as const) {
      expect(resolveExecution(auto({ model, paperWidths: false, cores: 16 }))).toEqual({
        backend: "wasm",
        gemm: "native",
        threads: 1,
        blasThreads: 1,
        jit: false,
      });
      expect(resolveExecution(auto({ model, paperWidths: false, nativeUnavailable: NO_ADDON })).threads).toBe(1);
    }
  });

  it("webgpu: one thread, the backend's own kernels; --threads 2 on it is refused", () => {
    expect(resolveExecution(auto({ backend: "webgpu", model: "lenet", nativeUnavailable: "is not used" }))).toEqual({
      backend: "webgpu",
      gemm: null,
      threads: 1,
      blasThreads: null,
      jit: false,
    });
    expect(() => resolveExecution(auto({ backend: "webgpu", threads: 2 }))).toThrow(UsageError);
    expect(() => resolveExecution(auto({ backend: "webgpu", threads: 2 }))).toThrow(
      /--threads 2 runs on the wasm or cpu/,
    );
  });

  it("cpu: the backend's own kernels, one thread (the table was measured on wasm); --threads 2 is allowed", () => {
    expect(resolveExecution(auto({ backend: "cpu", model: "lenet", nativeUnavailable: "is not used" }))).toEqual({
      backend: "cpu",
      gemm: null,
      threads: 1,
      blasThreads: null,
      jit: false,
    });
    expect(resolveExecution(auto({ backend: "cpu", model: "lenet", threads: 2 })).threads).toBe(2);
  });

  it("explicit flags win over the table", () => {
    expect(resolveExecution(auto({ model: "lenet", threads: 1, gemm: "wasm" }))).toEqual({
      backend: "wasm",
      gemm: "wasm",
      threads: 1,
      blasThreads: null,
      jit: true,
    });
    expect(resolveExecution(auto({ model: "mlp", threads: 3, blasThreads: 4 }))).toEqual({
      backend: "wasm",
      gemm: "native",
      threads: 3,
      blasThreads: 4,
      jit: false,
    });
    // --jit on/off wherever one thread computes the gradient, auto's table notwithstanding
    expect(resolveExecution(auto({ model: "mlp", gemm: "wasm", threads: 1, jit: "on" })).jit).toBe(true);
    expect(resolveExecution(auto({ model: "mlp", paperWidths: false, jit: "on" })).jit).toBe(true);
    expect(resolveExecution(auto({ backend: "cpu", jit: "on", nativeUnavailable: "is not used" })).jit).toBe(true);
    expect(resolveExecution(auto({ model: "vgg11", jit: "off" })).jit).toBe(false);
    // --threads 2 on VGG-11': BLAS threads auto shrink to keep 2 × b within the 2 measured cores
    expect(resolveExecution(auto({ model: "vgg11", threads: 2, cores: 16 })).blasThreads).toBe(1);
    expect(resolveExecution(auto({ model: "vgg11", gemm: "native", cores: 16 })).blasThreads).toBe(2);
    // --gemm wasm on cpu is accepted (as before): nothing to route
    expect(resolveExecution(auto({ backend: "cpu", gemm: "wasm" })).gemm).toBeNull();
  });

  it("an explicit --gemm native that cannot load is an error saying why; on another backend a usage error", () => {
    expect(() => resolveExecution(auto({ gemm: "native", nativeUnavailable: NO_ADDON }))).toThrow(RunError);
    expect(() => resolveExecution(auto({ gemm: "native", nativeUnavailable: NO_ADDON }))).toThrow(
      `--gemm native ${NO_ADDON}`,
    );
    expect(() => resolveExecution(auto({ gemm: "native", backend: "cpu" }))).toThrow(UsageError);
  });

  it("--blas-threads without the native GEMM is a usage error naming why", () => {
    expect(() => resolveExecution(auto({ gemm: "wasm", blasThreads: 2 }))).toThrow(
      /^--blas-threads applies only to --gemm native$/,
    );
    expect(() => resolveExecution(auto({ blasThreads: 2, nativeUnavailable: NO_ADDON }))).toThrow(
      `--gemm auto chose wasm (the native GEMM ${NO_ADDON})`,
    );
  });

  it("--jit on with a pool is allowed (each thread's part jitted); auto leaves a pool eager", () => {
    expect(resolveExecution(auto({ model: "lenet", jit: "on" }))).toMatchObject({ threads: 2, jit: true });
    expect(resolveExecution(auto({ model: "lenet" }))).toMatchObject({ threads: 2, jit: false });
    expect(resolveExecution(auto({ model: "vgg11", threads: 2 }))).toMatchObject({ threads: 2, jit: false });
  });

  it("describeExecution: one line", () => {
    expect(describeExecution({ backend: "wasm", gemm: "native", threads: 2, blasThreads: 1, jit: false })).toBe(
      "backend wasm, gemm native (OpenBLAS), threads 2, BLAS threads 1, jit off",
    );
    expect(describeExecution({ backend: "webgpu", gemm: null, threads: 1, blasThreads: null, jit: true })).toBe(
      "backend webgpu, threads 1, jit on",
    );
  });
});

describe("a resumed run", () => {
  const base = { backend: "wasm", model: "lenet", paperWidths: true, cores: 2, nativeUnavailable: null } as const;
  const native2 = { backend: "wasm", gemm: "native", threads: 2, blasThreads: 1, jit: false } as const;
  const jitOne = { backend: "wasm", gemm: "wasm", threads: 1, blasThreads: null, jit: true } as const;

  it("keeps its recorded settings where flags are not given, even where auto would choose otherwise", () => {
    const { request, notes } = resumedRequest({ ...base, cores: 16, model: "mlp" }, {}, native2);
    expect(notes).toEqual([]);
    expect(resolveExecution(request)).toEqual(native2); // auto would give the MLP one thread
  });

  it("given flags win; an explicit auto resolves afresh", () => {
    const r = resumedRequest({ ...base, model: "mlp" }, { threads: "auto", gemm: "wasm" }, native2);
    expect(resolveExecution(r.request)).toEqual({
      backend: "wasm",
      gemm: "wasm",
      threads: 2,
      blasThreads: null,
      jit: false,
    });
  });

  it("keeps its recorded --jit, also where auto would choose otherwise", () => {
    // vBigMLP (not measured): auto would be eager on one thread
    expect(resolveExecution(auto({ model: "vbigmlp", gemm: "wasm", threads: 1 })).jit).toBe(false);
    expect(resolveExecution(resumedRequest({ ...base, model: "vbigmlp" }, {}, jitOne).request)).toEqual(jitOne);
    // the MLP on the wasm GEMM: auto would take the pool, eager
    const kept = resumedRequest({ ...base, model: "mlp" }, {}, jitOne);
    expect(resolveExecution(kept.request)).toEqual(jitOne);
    expect(resolveExecution(resumedRequest({ ...base, model: "mlp" }, { threads: 1 }, jitOne).request)).toEqual(jitOne);
    const pooled = resumedRequest({ ...base, model: "mlp" }, { threads: 2 }, jitOne);
    expect(resolveExecution(pooled.request)).toMatchObject({ threads: 2, jit: true });
    const off = resumedRequest(base, { jit: "off" }, jitOne);
    expect(resolveExecution(off.request)).toEqual({ ...jitOne, jit: false });
    // a run recorded before --jit existed ran eagerly, and goes on so
    const old = { backend: "wasm", gemm: "wasm", threads: 1, blasThreads: null };
    expect(recordedExecution(old)).toEqual({ ...jitOne, jit: false });
    expect(resolveExecution(resumedRequest(base, {}, recordedExecution(old)).request).jit).toBe(false);
  });

  it("on a machine where the native GEMM cannot load, continues on wasm with a note (no error)", () => {
    const { request, notes } = resumedRequest({ ...base, nativeUnavailable: NO_ADDON }, {}, native2);
    expect(resolveExecution(request)).toEqual({
      backend: "wasm",
      gemm: "wasm",
      threads: 2,
      blasThreads: null,
      jit: false,
    });
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/used gemm native .* continues with the wasm GEMM/);
  });

  it("on webgpu, one thread with a note; a run with no record resolves auto", () => {
    const gpu = { ...base, backend: "webgpu", nativeUnavailable: "is not used" };
    const r = resumedRequest(gpu, {}, native2);
    expect(resolveExecution(r.request)).toEqual({
      backend: "webgpu",
      gemm: null,
      threads: 1,
      blasThreads: null,
      jit: false,
    });
    expect(r.notes[0]).toMatch(/used 2 threads; on webgpu it continues on 1/);
    expect(resolveExecution(resumedRequest(base, {}, null).request)).toEqual(resolveExecution(auto(base)));
  });

  it("reads only a valid record", () => {
    expect(recordedExecution(native2)).toEqual(native2);
    for (const bad of [
      undefined,
      null,
      3,
      { ...native2, threads: 0 },
      { ...native2, gemm: "blas" },
      { ...native2, jit: "on" },
      { threads: 2 },
    ])
      expect(recordedExecution(bad)).toBeNull();
  });
});
