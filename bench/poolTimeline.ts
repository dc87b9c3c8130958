/**
 * `npx tsx bench/poolTimeline.ts [mlp|lenet] [repeats] [threads] [grad|summaries] [measured|even] [wasm|native]`: where a pool's
 * time goes, for the gradient or NewtonSummary's summaries (S = the partition's blocks, along a
 * random u). Interleaved in each round: one thread's call on the whole batch and on an even first
 * part alone (what the calling thread computes), then the pool's (with `trace: true`) —
 * each both with the same θ as the round before (as `pnpm bench models` times it) and with a new
 * θ (θ + 0, made on the backend: as in training, where every step changes θ). Prints the median
 * wall times, the process's CPU time per call (all threads: robust to other jobs' load, which
 * stretches wall times), and the median time of each phase of the pool's timeline (ms since the
 * call began). `native`: @hodiff/native's OpenBLAS GEMM (one BLAS thread) in every thread, the
 * calling thread's and the pool's workers' (`createPool({ gemm: "native" })`).
 */
import * as hd from "@hodiff/core";
import { MODELS, nll, type ModelName } from "@hodiff/nn";
import { createPool, partSizes } from "@hodiff/parallel";
import type { Params } from "@hodiff/optim";
import { canonical, summaries } from "@hodiff/partition";
import { installNativeGemm } from "@hodiff/native";
import { median } from "./timing";

await hd.useDefaultBackend();
const name = (process.argv[2] ?? "mlp") as ModelName;
const repeats = Number(process.argv[3] ?? 15);
const threads = Number(process.argv[4] ?? 2);
const op = process.argv[5] ?? "grad";
const split = (process.argv[6] ?? "measured") as "measured" | "even";
const gemm = process.argv[7] ?? "wasm";
if (gemm !== "wasm" && gemm !== "native") throw new Error(`poolTimeline: gemm is wasm or native, not '${gemm}'`);
// Installed for the whole script (the process ends with it).
if (gemm === "native") installNativeGemm({ threads: 1 });
if (op !== "grad" && op !== "summaries") throw new Error(`poolTimeline: op is grad or summaries, not '${op}'`);
const B = 100;
const model = MODELS[name]();
const params = model.init(hd.random.key(0)) as Params;
const x = hd.random.normal(hd.random.key(1), [B, ...model.inputShape]);
const labels = Int32Array.from({ length: B }, (_, i) => i % model.numClasses);
const n0 = partSizes(B, threads)[0]!;
const x0 = hd.slice(x, [0, ...model.inputShape.map(() => 0)], [n0, ...model.inputShape]);
const pool = await createPool({
  task: new URL("./modelTask.ts", import.meta.url),
  init: { model: name },
  threads,
  trace: true,
  split,
  ...(gemm === "native" ? { gemm: "native" as const, blasThreads: 1 } : {}),
});

const u = hd.treeMap((l: hd.Value) => hd.random.normal(hd.random.key(2), hd.shapeOf(l)), params) as Params;
const partition = canonical(params);

/** Wall time of a call on `fresh ? θ + 0 : θ` (the copy made before the clock starts); outputs read back. */
function timed(grad: (p: Params) => unknown, fresh: boolean, cpu: number[]): number {
  const p = fresh ? (hd.treeMap((l: hd.Value) => hd.add(l, 0), params) as Params) : params;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const g = grad(p);
  for (const leaf of hd.treeLeaves(g as Params)) if (typeof leaf !== "number") hd.toFlat(leaf);
  const t = performance.now() - t0;
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1000);
  hd.dispose(g);
  if (fresh) hd.dispose(p);
  return t;
}
const lossOn = (xx: hd.Value, ll: Int32Array) => (q: Params) => nll(model.apply(q as never, xx as never), ll);
const one = (xx: hd.Value, ll: Int32Array) => (p: Params) =>
  op === "grad" ? hd.grad(lossOn(xx, ll))(p) : summaries(lossOn(xx, ll) as never, partition)(p, u);
const runs = {
  one: one(x, labels),
  onePart: one(x0, labels.subarray(0, n0)),
  pool: (p: Params) =>
    op === "grad" ? pool.valueAndGrad(p, { x, labels }).grads : pool.summaries(p, u, { x, labels }, partition),
};
for (const fresh of [false, true]) {
  // Warm-up: 64 rounds first, as a worker's code starts unoptimised in its new isolate (its part
  // takes ~20% longer over its first tens of calls, see packages/parallel/README.md).
  for (let i = 0; i < (fresh ? 5 : 64); i++) for (const f of Object.values(runs)) timed(f, fresh, []);
  const times: Record<string, number[]> = { one: [], onePart: [], pool: [] };
  const cpu: Record<string, number[]> = { one: [], onePart: [], pool: [] };
  const phases = new Map<string, number[]>();
  const parts: number[] = [];
  for (let i = 0; i < repeats; i++) {
    for (const [k, f] of Object.entries(runs)) times[k]!.push(timed(f, fresh, cpu[k]!));
    for (const e of pool.lastTrace()) {
      if (e.phase.startsWith("parts of")) {
        // The split of this call: "parts of 52 + 48 examples" → the calling thread's part.
        parts.push(Number(/\d+/.exec(e.phase)![0]));
        continue;
      }
      const key = `${e.thread === 0 ? "main" : `worker ${e.thread}`}: ${e.phase}`;
      phases.set(key, [...(phases.get(key) ?? []), e.ms]);
    }
  }
  const r = (v: number) => Math.round(v * 100) / 100;
  console.log(
    JSON.stringify({
      name: "pool-timeline",
      op,
      model: name,
      batch: B,
      threads,
      theta: fresh ? "new each step" : "same",
      split,
      one_ms: r(median(times.one!)),
      one_part_ms: r(median(times.onePart!)),
      pool_ms: r(median(times.pool!)),
      speedup: r(median(times.one!.map((t, i) => t / times.pool![i]!))),
      calling_thread_part: median(parts),
      one_cpu_ms: r(median(cpu.one!)),
      one_part_cpu_ms: r(median(cpu.onePart!)),
      pool_cpu_ms: r(median(cpu.pool!)),
    }),
  );
  [...phases.entries()]
    .sort((a, b) => median(a[1]) - median(b[1]))
    .forEach(([k, v]) => console.log(`  ${median(v).toFixed(2).padStart(7)} ms  ${k}`));
}
hd.dispose([params, x, x0, u]);
await pool.close();
