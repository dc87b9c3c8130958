/**
 * A pool's worker thread: its own backend (its own wasm instance), the task's loss, and a loop
 * that answers each request with the loss, gradient or summaries of its part of the batch.
 */
import * as hd from "@hodiff/core";
import { parentPort, workerData } from "node:worker_threads";
import type { Reply, Request, Started, WorkerStart } from "./protocol";
import { totalSize } from "./shards";
import { gradOnPart, paramsFrom, summariesOnPart, toTaskBatch, type BatchLoss, type Task } from "./task";

const start = workerData as WorkerStart;

/** Tell the pool an answer is waiting on the port (it blocks in Atomics.wait until then). */
function signal(state: 1 | 2): void {
  Atomics.store(start.flag, 0, state);
  Atomics.notify(start.flag, 0);
}

/** One request on this worker's part: everything allocated is freed before answering. */
function answer(loss: BatchLoss, req: Request): { reply: Reply; transfer: ArrayBuffer[] } {
  const before = hd.numTensors();
  const own: hd.Value[] = [];
  const total = totalSize(req.shapes);
  const flat = new Float32Array(req.shared);
  const params = paramsFrom(req.def, req.shapes, flat.subarray(0, total));
  try {
    const batch = toTaskBatch(req.batch, own);
    if (req.op === "grad") {
      const r = gradOnPart(loss, params, batch);
      return { reply: { op: "grad", loss: r.loss, grad: r.grad }, transfer: [r.grad.buffer as ArrayBuffer] };
    }
    const direction = paramsFrom(req.def, req.shapes, flat.subarray(total, 2 * total));
    try {
      return {
        reply: {
          op: "summaries",
          summaries: summariesOnPart(loss, params, direction, batch, req.partition, req.options),
        },
        transfer: [],
      };
    } finally {
      hd.dispose(direction);
    }
  } finally {
    hd.dispose([params, own]);
    const leaked = hd.numTensors() - before;
    if (leaked !== 0) console.warn(`@hodiff/parallel worker: ${leaked} tensor(s) left after a '${req.op}' request`);
  }
}

async function main(): Promise<void> {
  // Set before anything else so a crash while starting still wakes a waiting pool.
  process.on("exit", () => signal(2));
  let loss: BatchLoss;
  try {
    await hd.setBackend(start.backend);
    if (!start.simd) hd.setSimdKernels(false);
    const mod = (await import(start.task)) as { default?: Task };
    if (typeof mod.default !== "function")
      throw new Error(`the task module ${start.task} has no default export made with defineTask(...)`);
    loss = await mod.default(start.init);
  } catch (e) {
    parentPort!.postMessage({ ready: false, message: e instanceof Error ? e.message : String(e) } satisfies Started);
    return;
  }
  start.port.on("message", (req: Request) => {
    let out: { reply: Reply; transfer: ArrayBuffer[] };
    try {
      out = answer(loss, req);
    } catch (e) {
      out = { reply: { op: "error", message: e instanceof Error ? e.message : String(e) }, transfer: [] };
    }
    start.port.postMessage(out.reply, out.transfer);
    signal(1);
  });
  parentPort!.postMessage({ ready: true } satisfies Started);
}

await main();
