/**
 * `npx tsx bench/poolWarmup.ts [mlp|lenet] [rounds] [even|measured]`: how a fresh pool's gradient
 * speeds up over its first calls. Each round times one thread's gradient on the whole batch (B =
 * 100) and then the pool's (2 threads, traced), both on a new θ (θ + 0, as in training); prints the
 * medians over windows of rounds (0–20, 20–60, 60–120, 120+) of: one thread, the pool, the worker's
 * part (from its batch on the backend to its gradient computed) and the calling thread's part. A
 * worker's code starts unoptimised in its new isolate, and the JIT compiling it competes with both
 * threads for the cores. Run it alone on the machine.
 */
import * as hd from "@hodiff/core";
import { MODELS, nll, type ModelName } from "@hodiff/nn";
import { createPool } from "@hodiff/parallel";
import type { Params } from "@hodiff/optim";
import { median } from "./timing";

await hd.useDefaultBackend();
const name = (process.argv[2] ?? "lenet") as ModelName;
const rounds = Number(process.argv[3] ?? 161);
const split = (process.argv[4] ?? "even") as "even" | "measured";
const B = 100;
const model = MODELS[name]();
const params = model.init(hd.random.key(0)) as Params;
const x = hd.random.normal(hd.random.key(1), [B, ...model.inputShape]);
const labels = Int32Array.from({ length: B }, (_, i) => i % model.numClasses);
const pool = await createPool({
  task: new URL("./modelTask.ts", import.meta.url),
  init: { model: name },
  threads: 2,
  trace: true,
  split,
});

/** Wall time of f (its outputs read back and freed). */
function timed(f: () => Params): number {
  const t0 = performance.now();
  const g = f();
  for (const leaf of hd.treeLeaves(g)) hd.toFlat(leaf);
  const t = performance.now() - t0;
  hd.dispose(g);
  return t;
}
const times = { one: [] as number[], pool: [] as number[], worker_part: [] as number[], calling_part: [] as number[] };
for (let i = 0; i < rounds; i++) {
  const p = hd.treeMap((l: hd.Value) => hd.add(l, 0), params) as Params;
  times.one.push(timed(() => hd.grad((q: Params) => nll(model.apply(q as never, x), labels))(p)));
  times.pool.push(timed(() => pool.valueAndGrad(p, { x, labels }).grads));
  hd.dispose(p);
  const trace = pool.lastTrace();
  const at = (phase: string) => trace.find((e) => e.phase.includes(phase))?.ms ?? NaN;
  times.worker_part.push(at("gradient computed") - at("batch on the backend"));
  times.calling_part.push(at("own part computed") - at("requests posted"));
}
/** The median of the measured (non-NaN) values, to 0.01 ms; null if none. */
const measuredMedian = (xs: number[]) => {
  const s = xs.filter((v) => !Number.isNaN(v));
  return s.length ? Math.round(median(s) * 100) / 100 : null;
};
for (const [from, to] of [
  [0, 20],
  [20, 60],
  [60, 120],
  [120, Infinity],
] as const) {
  if (from >= rounds) break;
  const w = (xs: number[]) => measuredMedian(xs.slice(from, to));
  console.log(
    JSON.stringify({
      name: "pool-warmup",
      model: name,
      split,
      rounds: `${from}-${Math.min(to, rounds)}`,
      one_ms: w(times.one),
      pool_ms: w(times.pool),
      worker_part_ms: w(times.worker_part),
      calling_part_ms: w(times.calling_part),
    }),
  );
}
hd.dispose([params, x]);
await pool.close();
