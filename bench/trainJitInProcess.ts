/**
 * `env -u OPENBLAS_CORETYPE npx tsx bench/trainJitInProcess.ts [mlp|lenet] [wasm|native] [rounds] [threads]`:
 * `hodiff train`'s loop (the library's `train`, one thread or a pool of `threads`, Adam, MNIST, --train-size 10000,
 * batch 100: 100 steps) with `jit: false` and `jit: true` alternating in one process (no start-up
 * cost or process noise between the two), after one warm-up run of each; prints each run's epoch
 * time and, per setting, the median and the median over rounds of off ÷ on.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as hd from "@hodiff/core";
import type { ModelName } from "@hodiff/nn";
import { readMetrics } from "../packages/cli/src/metrics";
import { OPTIMIZERS, camel, type OptimizerEntry } from "../packages/cli/src/optimizers";
import { train, type TrainConfig } from "../packages/cli/src/trainer";
import { median } from "./timing";

const model = (process.argv[2] ?? "lenet") as ModelName;
const gemm = (process.argv[3] ?? "native") as "wasm" | "native";
const rounds = Number(process.argv[4] ?? 5);
const threads = Number(process.argv[5] ?? 1);
await hd.setBackend("wasm");
if (gemm === "native") (await import("@hodiff/native")).installNativeGemm({ threads: 1 });
const adam = OPTIMIZERS.adam as OptimizerEntry;
const cfg: TrainConfig = {
  model,
  hidden: null,
  dataset: "mnist",
  dataSeed: 0,
  syntheticExamples: 0,
  syntheticShape: null,
  optimizer: "adam",
  hyper: Object.fromEntries(adam.hyper.map((h) => [camel(h.flag), h.default])),
  epochs: 1,
  trainSize: 10000,
  batchSize: 100,
  seed: 0,
  valSize: 0,
  logEvery: 0,
};
const silent = { out: () => {}, err: () => {}, progressStream: { isTTY: false } as NodeJS.WriteStream };
// with threads > 1, the pool's workers' GEMM (this thread's is installed above)
const workersGemm = gemm === "native" ? { gemm, blasThreads: 1 } : {};
const root = mkdtempSync(join(tmpdir(), "train-jit-"));
let n = 0;
async function once(jit: boolean): Promise<number> {
  const dir = join(root, String(n++));
  mkdirSync(dir);
  await train(cfg, { dir, resume: false, io: silent, progress: false, backend: "wasm", jit, threads, ...workersGemm });
  const epoch = readMetrics(join(dir, "metrics.jsonl")).find((r) => r.kind === "epoch")!;
  rmSync(dir, { recursive: true });
  return epoch["epoch_time_s"] as number;
}
await once(false);
await once(true);
const t = { off: [] as number[], on: [] as number[] };
for (let r = 0; r < rounds; r++) {
  for (const jit of r % 2 ? [true, false] : [false, true]) t[jit ? "on" : "off"].push(await once(jit));
  console.log(`round ${r + 1}: off ${t.off.at(-1)!.toFixed(3)} s, on ${t.on.at(-1)!.toFixed(3)} s`);
}
rmSync(root, { recursive: true, force: true });
console.log(
  JSON.stringify({
    name: "train-jit",
    model,
    gemm,
    threads,
    steps: 100,
    rounds,
    off_s: +median(t.off).toFixed(3),
    on_s: +median(t.on).toFixed(3),
    speedup: +median(t.off.map((o, i) => o / t.on[i]!)).toFixed(3),
  }),
);
