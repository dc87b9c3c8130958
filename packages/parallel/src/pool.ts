/**
 * A data-parallel pool: the calling thread and `threads − 1` worker threads each take a part of the
 * batch; a call blocks until every part is done and returns the whole batch's result.
 *
 * Why synchronous: training loops and `@hodiff/optim`'s `update` are synchronous, so the pool
 * posts the parts, computes its own part meanwhile, and waits with `Atomics.wait` for each worker's
 * answer, read with `receiveMessageOnPort` (Node; a browser's main thread may not block).
 */
import * as hd from "@hodiff/core";
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import type { Partition, Summaries, SummariesOptions } from "@hodiff/partition";
import type { Reply, Request, Started, WorkerStart } from "./protocol";
import {
  batchSize,
  combineSummaries,
  partSizes,
  sizeOf,
  sliceBatch,
  totalSize,
  type BatchLeaf,
  type HostBatch,
} from "./shards";
import { summariesOnPart, withTaskBatch, writeFlat, type BatchLoss, type Params, type Task } from "./task";

/** A batch given to a pool: float32 arrays (examples along axis 0) and int32 labels (one per example). */
export type Batch = Readonly<Record<string, hd.Value | Float32Array | Int32Array>>;

/** Options of {@link createPool}. */
export interface PoolOptions<I> {
  /** URL of the task module; its default export is made with `defineTask`. Every thread imports it. */
  readonly task: URL | string;
  /** Plain data handed to the task in every thread (copied to the workers). */
  readonly init?: I;
  /** Threads in all, the calling one included (default 2): `threads − 1` workers are started. */
  readonly threads?: number;
  /** The workers' backend (default: the calling thread's). */
  readonly backend?: hd.BackendName;
  /** How long a call waits for a worker before failing, in ms (default 600 000). */
  readonly timeoutMs?: number;
}

/** A pool of threads over the batch. Close it (or `await using`) to end its workers. */
export interface Pool {
  /** Threads in all, the calling one included. */
  readonly threads: number;
  /** The task's loss, built in the calling thread. */
  readonly loss: BatchLoss;
  /**
   * (L, ∇L) of the mean loss over the batch: Σ_k (B_k/B)·(L_k, ∇L_k) over the parts. The gradient
   * has the parameters' structure; the caller owns (and frees) it.
   */
  valueAndGrad(params: Params, batch: Batch): { loss: number; grads: Params };
  /** L, ḡ, H̄ and the order-3 diagonal along `direction`: Σ_k (B_k/B)·(part k's), as `@hodiff/partition`'s `summaries`. */
  summaries(
    params: Params,
    direction: Params,
    batch: Batch,
    partition: Partition,
    options?: SummariesOptions,
  ): Summaries;
  /** Ends the workers (idempotent). */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Member {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly flag: Int32Array;
  /** Why the worker died, once its 'error' event has come (reported by the next call). */
  failure: string | null;
}

/** Where the worker thread starts: from sources through tsx's loader (boot.mjs), or the built worker.js. */
function workerEntry(): { url: URL; entry?: string } {
  const here = import.meta.url;
  // Names built at run time, so that a bundler does not try to resolve them as assets.
  const file = (name: string) => new URL(`./${name}`, here);
  if (/\.[cm]?ts$/.test(new URL(here).pathname)) return { url: file("boot.mjs"), entry: file("worker.ts").href };
  return { url: file("worker.js") };
}

/** The batch as host arrays (float32 inputs read back once, labels as they are). */
function toHost(batch: Batch): HostBatch {
  const out: Record<string, BatchLeaf> = {};
  for (const [name, x] of Object.entries(batch)) {
    if (x instanceof Int32Array) out[name] = { data: x, shape: [x.length] };
    else if (x instanceof Float32Array)
      throw new Error(
        `parallel: batch input '${name}' is a bare Float32Array; pass it as an array with a shape (hd.array(data, { shape }))`,
      );
    else {
      const data = hd.toFlat(x);
      if (!(data instanceof Float32Array))
        throw new Error(
          `parallel: batch input '${name}' is ${hd.dtypeOf(x)}; inputs are float32 arrays or Int32Array labels`,
        );
      out[name] = { data, shape: hd.shapeOf(x) };
    }
  }
  return out;
}

/**
 * createPool({ task, init, threads }): starts `threads − 1` worker threads, each with its own
 * backend and the task's loss L(θ; batch); a call splits the batch into `threads` parts of sizes
 * B_k (differing by at most one) and returns Σ_k (B_k/B)·(part k's result).
 * @example
 * await using pool = await createPool({ task: new URL("./task.ts", import.meta.url), threads: 2 });
 * const { loss, grads } = pool.valueAndGrad(params, { x, labels });
 */
export async function createPool<I>(options: PoolOptions<I>): Promise<Pool> {
  const threads = options.threads ?? 2;
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`createPool: threads must be an integer ≥ 1, got ${threads}`);
  const taskUrl = String(options.task);
  const mod = (await import(taskUrl)) as { default?: Task<I> };
  if (typeof mod.default !== "function")
    throw new Error(`createPool: the task module ${taskUrl} has no default export made with defineTask(...)`);
  const loss = await mod.default(options.init as I);
  const backend = options.backend ?? (hd.getBackend() as hd.BackendName);
  const timeoutMs = options.timeoutMs ?? 600_000;
  const members: Member[] = [];
  const { url, entry } = workerEntry();
  try {
    await Promise.all(
      Array.from({ length: threads - 1 }, async () => {
        const { port1, port2 } = new MessageChannel();
        const flag = new Int32Array(new SharedArrayBuffer(4));
        const data: WorkerStart = {
          ...(entry ? { entry } : {}),
          task: taskUrl,
          init: options.init,
          backend,
          simd: hd.simdKernelsActive(),
          port: port2,
          flag,
        };
        const worker = new Worker(url, { workerData: data, transferList: [port2] });
        const member: Member = { worker, port: port1, flag, failure: null };
        members.push(member);
        const started = await new Promise<Started>((resolve, reject) => {
          worker.once("message", resolve);
          worker.once("error", reject);
          worker.once("exit", (code) => reject(new Error(`a worker exited with code ${code} while starting`)));
        });
        if (!started.ready) throw new Error(`createPool: a worker could not start: ${started.message}`);
        worker.removeAllListeners("exit");
        worker.removeAllListeners("error");
        // Kept: an 'error' event with no listener would crash this process.
        worker.on("error", (e: unknown) => (member.failure = e instanceof Error ? e.message : String(e)));
        // A pool someone forgot to close must not keep the process alive; calls block on their own.
        worker.unref();
        port1.unref();
      }),
    );
  } catch (e) {
    await Promise.all(members.map((m) => m.worker.terminate()));
    throw e;
  }

  let shared = new SharedArrayBuffer(0);
  let closed = false;

  /** Post each worker its part, run part 0 here, wait for the rest; weights B_k / B. */
  function run<L, R>(
    params: Params,
    direction: Params | null,
    batch: Batch,
    local: (part: Record<string, BatchLeaf>) => L,
    request: (base: Omit<Request & { op: "grad" }, "op">) => Request,
    read: (reply: Reply) => R,
  ): { own: L; results: R[]; weights: number[] } {
    if (closed) throw new Error("parallel: the pool is closed");
    const host = toHost(batch);
    const B = batchSize(host);
    const sizes = partSizes(B, threads);
    const [leaves, def] = hd.treeFlatten(params);
    const shapes = leaves.map((l) => hd.shapeOf(l));
    const total = totalSize(shapes);
    const busy: { member: Member; index: number }[] = [];
    let start = sizes[0]!;
    for (let k = 1; k < threads; k++) {
      if (sizes[k] === 0) continue;
      if (busy.length === 0) {
        // Parameters (and the direction) once, in memory every worker reads.
        if (shared.byteLength < 8 * total) shared = new SharedArrayBuffer(8 * total);
        const flat = new Float32Array(shared, 0, 2 * total);
        writeFlat(leaves, flat);
        if (direction) writeFlat(hd.flattenAs(def, direction, "direction"), flat, total);
      }
      const member = members[k - 1]!;
      Atomics.store(member.flag, 0, 0);
      member.port.postMessage(request({ shared, def, shapes, batch: sliceBatch(host, start, sizes[k]!) }));
      busy.push({ member, index: k });
      start += sizes[k]!;
    }
    let own: L | undefined;
    let failure: unknown = null;
    try {
      own = local(sliceBatch(host, 0, sizes[0]!));
    } catch (e) {
      failure = e;
    }
    // Every busy worker's answer is taken off its port, even after a failure: one left there
    // would be read as the answer to the next call.
    const results: R[] = [];
    const weights = [sizes[0]! / B];
    for (const { member, index } of busy) {
      try {
        const reply = waitFor(member, index);
        if (failure === null) {
          results.push(read(reply));
          weights.push(sizes[index]! / B);
        }
      } catch (e) {
        failure ??= e;
      }
    }
    if (failure !== null) {
      hd.dispose(own as hd.Tree<hd.Value>);
      throw failure;
    }
    return { own: own as L, results, weights };
  }

  /** Block until worker `index` answers (its flag turns 1), then take the answer off its port. */
  function waitFor(member: Member, index: number): Reply {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const got = receiveMessageOnPort(member.port);
      if (got) {
        const reply = got.message as Reply;
        if (reply.op === "error") throw new Error(`parallel: worker ${index} failed: ${reply.message}`);
        return reply;
      }
      if (Atomics.load(member.flag, 0) === 2)
        throw new Error(`parallel: worker ${index} has exited${member.failure ? `: ${member.failure}` : ""}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`parallel: worker ${index} did not answer within ${timeoutMs} ms`);
      Atomics.wait(member.flag, 0, 0, Math.min(left, 1000));
    }
  }

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await Promise.all(members.map((m) => (m.port.close(), m.worker.terminate())));
  };

  return {
    threads,
    loss,
    valueAndGrad(params, batch) {
      // This thread's part stays on the backend: the workers' parts are added to it there.
      const gradOnOwnPart = (part: Readonly<Record<string, BatchLeaf>>) =>
        withTaskBatch(part, (tb) => {
          const [value, grads] = hd.valueAndGrad((p: Params) => loss(p, tb))(params);
          const l = hd.item(value);
          hd.dispose(value);
          return { loss: l, grads };
        });
      // One thread: θ and ∇L stay on the backend (the batch still makes one host round trip, in toHost).
      if (threads === 1) return gradOnOwnPart(toHost(batch));
      const { own, results, weights } = run(
        params,
        null,
        batch,
        gradOnOwnPart,
        (base) => ({ op: "grad", ...base }),
        (reply) => {
          if (reply.op !== "grad") throw new Error(`parallel: expected a gradient, got '${reply.op}'`);
          return { loss: reply.loss, grad: reply.grad };
        },
      );
      const [mine, def] = hd.treeFlatten(own.grads);
      let offset = 0;
      // ∇L = w_0·∇L_0 + Σ_k w_k·∇L_k, leaf by leaf, on the backend.
      const grads = mine.map((g0) =>
        hd.tidy(() => {
          const shape = hd.shapeOf(g0);
          const n = sizeOf(shape);
          let g = hd.mul(g0, weights[0]!);
          results.forEach((r, k) => {
            g = hd.add(g, hd.mul(hd.array(r.grad.subarray(offset, offset + n), { shape }), weights[k + 1]!));
          });
          offset += n;
          return g;
        }),
      );
      hd.dispose(own.grads);
      return {
        loss: results.reduce((acc, r, k) => acc + weights[k + 1]! * r.loss, weights[0]! * own.loss),
        grads: hd.treeUnflatten(def, grads) as Params,
      };
    },
    summaries(params, direction, batch, partition, options = {}) {
      const { own, results, weights } = run(
        params,
        direction,
        batch,
        (part) => withTaskBatch(part, (tb) => summariesOnPart(loss, params, direction, tb, partition, options)),
        (base) => ({ op: "summaries", ...base, partition, options }),
        (reply) => {
          if (reply.op !== "summaries") throw new Error(`parallel: expected summaries, got '${reply.op}'`);
          return reply.summaries;
        },
      );
      return results.length === 0 ? own : combineSummaries([own, ...results], weights);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
