/**
 * `npx tsx bench/poolJit.ts [mlp|lenet] [wasm|native] [rounds] [measured|even]`: a pool of 2
 * threads' gradient (B = 100), eager (`createPool({ jit: false })`) against jitted (`jit: true`,
 * each thread's part one plan per part size), two pools side by side, timed call by call in
 * alternation on a new θ each call (θ + 0, as in training) after 40 warm-up calls each; prints the
 * medians, their ratio and how many calls each pool's split ran on one thread (`solo_calls`; a
 * measured split changes the part sizes, and each new size is a new trace). Run it alone on the
 * machine.
 */
import * as hd from "@hodiff/core";
import { MODELS, type ModelName } from "@hodiff/nn";
import { createPool } from "@hodiff/parallel";
import type { Params } from "@hodiff/optim";
import { median } from "./timing";

await hd.setBackend("wasm");
const name = (process.argv[2] ?? "lenet") as ModelName;
const gemm = (process.argv[3] ?? "wasm") as "wasm" | "native";
const rounds = Number(process.argv[4] ?? 100);
const split = (process.argv[5] ?? "measured") as "even" | "measured";
if (gemm === "native") (await import("@hodiff/native")).installNativeGemm({ threads: 1 });
const B = 100;
const model = MODELS[name]();
let params = model.init(hd.random.key(0)) as Params;
const x = hd.random.normal(hd.random.key(1), [B, ...model.inputShape]);
const labels = Int32Array.from({ length: B }, (_, i) => i % model.numClasses);
const make = (jit: boolean) =>
  createPool({
    task: new URL("./modelTask.ts", import.meta.url),
    init: { model: name },
    threads: 2,
    split,
    jit,
    ...(gemm === "native" ? { gemm, blasThreads: 1 } : {}),
  });
const pools = { eager: await make(false), jit: await make(true) };

/** Wall time of one pool call on a new θ (its gradient read back and freed). */
function timed(pool: (typeof pools)["eager"]): number {
  const next = hd.treeMap((p: hd.Value) => hd.add(p, 0), params) as Params;
  hd.dispose(params);
  params = next;
  const t0 = performance.now();
  const { grads } = pool.valueAndGrad(params, { x, labels });
  for (const leaf of hd.treeLeaves(grads)) hd.toFlat(leaf);
  const t = performance.now() - t0;
  hd.dispose(grads);
  return t;
}

const times = { eager: [] as number[], jit: [] as number[] };
for (let r = 0; r < 40 + rounds; r++) {
  for (const k of r % 2 ? (["jit", "eager"] as const) : (["eager", "jit"] as const)) {
    const t = timed(pools[k]);
    if (r >= 40) times[k].push(t);
  }
}
const [e, j] = [median(times.eager), median(times.jit)];
console.log(
  JSON.stringify({
    name: "pool-jit",
    model: name,
    gemm,
    split,
    rounds,
    eager_ms: +e.toFixed(2),
    jit_ms: +j.toFixed(2),
    jit_speedup: +(e / j).toFixed(3),
    solo_calls: { eager: pools.eager.splitState().grad.soloCalls, jit: pools.jit.splitState().grad.soloCalls },
  }),
);
await pools.eager.close();
await pools.jit.close();
