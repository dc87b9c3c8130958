/**
 * `npx tsx bench/threadContention.ts [rounds] [lenet|matmul256|matmul1024]`: whether two threads
 * slow each other down, without a pool. The calling thread and one worker thread (each its own
 * tfjs-wasm) hold the same work: LeNet-5's gradient on 50 examples (half of the paper's batch), or
 * ten n×n matmuls. Each round times it on the calling thread alone, on the worker alone (the
 * calling thread waiting) and on both at once; prints the medians. Run it alone on the machine.
 */
import * as hd from "@hodiff/core";
import { MODELS, nll } from "@hodiff/nn";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { median } from "./timing";

const work = (process.argv[3] ?? (workerData as { work?: string } | null)?.work ?? "lenet") as string;

/** The work, timed (ms), after making its inputs. */
async function setup(): Promise<() => number> {
  await hd.useDefaultBackend();
  if (work.startsWith("matmul")) {
    const n = Number(work.slice(6));
    const a = hd.random.normal(hd.random.key(3), [n, n]);
    return () => {
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) {
        const c = hd.matmul(a, a);
        hd.toFlat(c);
        hd.dispose(c);
      }
      return performance.now() - t0;
    };
  }
  const model = MODELS.lenet();
  const params = model.init(hd.random.key(0)) as never;
  const x = hd.random.normal(hd.random.key(1), [50, ...model.inputShape]);
  const labels = Int32Array.from({ length: 50 }, (_, i) => i % model.numClasses);
  return () => {
    const t0 = performance.now();
    const g = hd.grad((p: never) => nll(model.apply(p, x as never), labels))(params);
    for (const leaf of hd.treeLeaves(g as never)) hd.toFlat(leaf as hd.Value);
    hd.dispose(g as never);
    return performance.now() - t0;
  };
}

if (isMainThread) {
  // ctl[0]: the request counter (the worker runs once per increment), ctl[1]: the last one done.
  const ctl = new Int32Array(new SharedArrayBuffer(8));
  const times = new Float64Array(new SharedArrayBuffer(8 * 4096));
  const worker = new Worker(new URL("../packages/parallel/src/boot.mjs", import.meta.url), {
    workerData: { entry: import.meta.url, ctl, times, work },
  });
  const run = await setup();
  await new Promise((resolve) => worker.once("message", resolve));
  let request = 0;
  const post = () => {
    Atomics.store(ctl, 0, ++request);
    Atomics.notify(ctl, 0);
  };
  const wait = () => {
    while (Atomics.load(ctl, 1) !== request) Atomics.wait(ctl, 1, Atomics.load(ctl, 1), 50);
    return times[request]!;
  };
  const rounds = Number(process.argv[2] ?? 31);
  const t = {
    main_alone: [] as number[],
    worker_alone: [] as number[],
    main_both: [] as number[],
    worker_both: [] as number[],
  };
  for (let i = 0; i < rounds + 5; i++) {
    const mainAlone = run();
    post();
    const workerAlone = wait();
    post();
    const mainBoth = run();
    const workerBoth = wait();
    if (i < 5) continue; // warm-up
    t.main_alone.push(mainAlone);
    t.worker_alone.push(workerAlone);
    t.main_both.push(mainBoth);
    t.worker_both.push(workerBoth);
  }
  const medianRounded = (xs: number[]) => Math.round(median(xs) * 100) / 100;
  console.log(
    JSON.stringify({
      name: "thread-contention",
      work,
      rounds,
      ...Object.fromEntries(Object.entries(t).map(([k, v]) => [`${k}_ms`, medianRounded(v)])),
    }),
  );
  await worker.terminate();
} else {
  const { ctl, times } = workerData as { ctl: Int32Array; times: Float64Array };
  const run = await setup();
  parentPort!.postMessage("ready");
  for (let seen = 0; ;) {
    Atomics.wait(ctl, 0, seen);
    seen = Atomics.load(ctl, 0);
    times[seen] = run();
    Atomics.store(ctl, 1, seen);
    Atomics.notify(ctl, 1);
  }
}
