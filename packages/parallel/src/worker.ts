/**
 * A pool's worker thread: its own backend (its own wasm instance), the task's loss, and a loop
 * that answers each request with the loss, gradient or summaries of its part of the batch.
 *
 * θ (and u) stay on this thread's backend between requests while their version does not change:
 * remaking them costs an upload and, on wasm, makes every matmul repack its weights (XNNPACK
 * caches the packed weights per array).
 */
import * as hd from "@hodiff/core";
import { parentPort, workerData } from "node:worker_threads";
import type { Reply, Request, Stamps, Started, WorkerStart } from "./protocol";
import { totalSize } from "./shards";
import {
  arenaBatch,
  eagerPartGradient,
  gradInto,
  jitPartGradient,
  paramsFrom,
  summariesOnPart,
  type BatchLoss,
  type Params,
  type PartGradient,
  type Task,
} from "./task";

const start = workerData as WorkerStart;

/** Tell the pool an answer is waiting on the port (it blocks in Atomics.wait until then). */
function signal(state: 1 | 2): void {
  Atomics.store(start.flag, 0, state);
  Atomics.notify(start.flag, 0);
}

/** Arrays kept between requests: θ or u as of a version of the pool's. */
interface Kept {
  version: number;
  params: Params | null;
}

let arena = new SharedArrayBuffer(0);
const theta: Kept = { version: -1, params: null };
const direction: Kept = { version: -1, params: null };

/** `kept`'s arrays for `version`, remade from arena[from, from + P) when the version differs. */
function current(kept: Kept, version: number, req: Request, from: number): Params {
  if (kept.params === null || kept.version !== version) {
    hd.dispose(kept.params);
    kept.params = null;
    const total = totalSize(req.shapes);
    kept.params = paramsFrom(req.def, req.shapes, new Float32Array(arena, 4 * from, total));
    kept.version = version;
  }
  return kept.params;
}

const now = () => performance.timeOrigin + performance.now();

/** This thread's part gradient, with its number of jit plans (0 when eager). */
type Gradient = PartGradient & { readonly plans: number };

/** One request on this worker's part: everything allocated, but the kept θ and u, is freed before answering. */
function answer(loss: BatchLoss, gradient: Gradient, req: Request, stamps: Stamps | undefined): Reply {
  if (req.arena) arena = req.arena;
  const params = current(theta, req.theta, req, 0);
  const u = req.op === "summaries" ? current(direction, req.direction, req, totalSize(req.shapes)) : null;
  const before = hd.numTensors();
  const plans = gradient.plans;
  const own: hd.Value[] = [];
  try {
    const batch = arenaBatch(arena, req.batch, own);
    stamps?.push(["worker: θ and batch on the backend", now()]);
    if (req.op === "grad") {
      const mark = stamps && ((phase: string) => void stamps.push([`worker: ${phase}`, now()]));
      const value = gradInto(gradient, req.weight, params, batch, new Float32Array(arena), req.out, mark);
      stamps?.push(["worker: gradient written to the arena", now()]);
      return { op: "grad", loss: value, done: now(), ...(stamps ? { stamps } : {}) };
    }
    const summaries = summariesOnPart(loss, params, u!, batch, req.partition, req.options);
    stamps?.push(["worker: summaries computed", now()]);
    return { op: "summaries", summaries, done: now(), ...(stamps ? { stamps } : {}) };
  } finally {
    hd.dispose(own);
    const leaked = hd.numTensors() - before;
    // a new jit plan keeps its constants until the worker ends
    if (leaked !== 0 && gradient.plans === plans)
      console.warn(`@hodiff/parallel worker: ${leaked} tensor(s) left after a '${req.op}' request`);
  }
}

/**
 * @hodiff/native's OpenBLAS GEMM for this thread's wasm heap (kept installed until the worker ends).
 * Loaded only when asked for: the optional peer dependency may be absent. Its own error says how
 * to build a missing addon.
 */
async function installNative(threads: number): Promise<void> {
  let native: typeof import("@hodiff/native");
  try {
    native = await import("@hodiff/native");
  } catch (e) {
    throw new Error(
      `gemm: "native" needs the package @hodiff/native beside @hodiff/parallel (npm install @hodiff/native): ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  native.installNativeGemm({ threads });
  if (!hd.heapGemmActive())
    throw new Error(`gemm: "native" was installed but is not active on this worker's ${hd.getBackend()} backend`);
}

async function main(): Promise<void> {
  // Set before anything else so a crash while starting still wakes a waiting pool.
  process.on("exit", () => signal(2));
  let loss: BatchLoss;
  let gradient: Gradient;
  try {
    await hd.setBackend(start.backend);
    if (!start.simd) hd.setSimdKernels(false);
    if (start.nativeGemm) await installNative(start.nativeGemm.threads);
    const mod = (await import(start.task)) as { default?: Task };
    if (typeof mod.default !== "function")
      throw new Error(`the task module ${start.task} has no default export made with defineTask(...)`);
    loss = await mod.default(start.init);
    gradient = start.jit ? jitPartGradient(loss) : Object.assign(eagerPartGradient(loss), { plans: 0 });
  } catch (e) {
    parentPort!.postMessage({ ready: false, message: e instanceof Error ? e.message : String(e) } satisfies Started);
    return;
  }
  start.port.on("message", (req: Request) => {
    const stamps: Stamps | undefined = req.trace ? [["worker: request received", now()]] : undefined;
    let reply: Reply;
    try {
      reply = answer(loss, gradient, req, stamps);
    } catch (e) {
      reply = { op: "error", message: e instanceof Error ? e.message : String(e) };
    }
    stamps?.push(["worker: answer posted", now()]);
    start.port.postMessage(reply);
    signal(1);
  });
  parentPort!.postMessage({ ready: true } satisfies Started);
}

await main();
