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
import type { ArenaLeaf, Reply, Request, Stamps, Started, WorkerStart } from "./protocol";
import {
  arenaLayout,
  batchSize,
  combineSummaries,
  partSizes,
  placeParts,
  rebalance,
  sizeOf,
  totalSize,
  splitSizes,
  SoloOrPool,
  type InputSpec,
} from "./shards";
import {
  eagerPartGradient,
  fromShared,
  jitPartGradient,
  summariesOnPart,
  writeFlat,
  type BatchLoss,
  type Params,
  type Task,
  type TaskBatch,
} from "./task";

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
  /**
   * How the batch is split. "measured" (default): each thread's share follows its measured speed on
   * the previous calls (per operation, smoothed), so that the parts end together — the calling
   * thread, which copies nothing, takes more when the workers are slower or their cores busy; and
   * a call runs on the calling thread alone when that is measured faster (the pool is tried again
   * every 16th call). "even": parts differ by at most one example, always on the pool, so the
   * result depends on the inputs alone, bit for bit.
   */
  readonly split?: "measured" | "even";
  /**
   * The workers' float32 matrix products (wasm backend). "wasm" (default): tfjs-wasm's own GEMM.
   * "native": each worker installs @hodiff/native's OpenBLAS GEMM when it starts (the addon is
   * loaded once per thread; each worker has its own wasm heap, on which OpenBLAS works in place).
   * The calling thread's GEMM is the caller's: install it there too (`installNativeGemm`) so that
   * every part runs the same code. Needs @hodiff/native, its addon built; createPool throws,
   * naming the fix, where a worker cannot install it.
   */
  readonly gemm?: "wasm" | "native";
  /**
   * With `gemm: "native"`: OpenBLAS's thread count, set by each worker (default 1). OpenBLAS's
   * threads are process-wide, shared by every thread of the process: the last count set wins,
   * so give the calling thread's `installNativeGemm` the same count.
   */
  readonly blasThreads?: number;
  /** Record each call's timeline (`Pool.lastTrace`): a few clock reads per call and thread. */
  readonly trace?: boolean;
  /**
   * Compute each thread's part of `valueAndGrad` as one `hd.jit` plan per part size (its
   * parameters, part and weight arguments; `jitPartGradient` in task.ts) instead of tracing the
   * loss at every call. Default false: not robustly faster in loaded runs (README, "hd.jit in
   * the threads"), and each new part size is a trace. The loss then receives int32 inputs
   * (labels) as int32 arrays, not Int32Arrays: it must compute with them (e.g. `nll`), not read
   * them on the host. Summaries are unchanged. Equal to the eager gradient within float32 rounding.
   */
  readonly jit?: boolean;
}

/** One event of a call's timeline: which thread (0 = the calling one), what had just ended, when (ms since the call began). */
export interface TraceEvent {
  readonly thread: number;
  readonly phase: string;
  readonly ms: number;
}

/** What `Pool.splitState` reports for one operation. */
export interface SplitState {
  readonly calls: number;
  readonly soloCalls: number;
  readonly shares: readonly number[];
  readonly msPerExample: { readonly solo: number; readonly pool: number };
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
  /**
   * How the measured split stands, per operation: the calls so far and how many ran on the calling
   * thread alone, each thread's share of the batch, and the estimated ms per example of each way.
   */
  splitState(): Record<"grad" | "summaries", SplitState>;
  /** The timeline of the last call, in time order (empty unless the pool was made with `trace: true`). */
  lastTrace(): readonly TraceEvent[];
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
  /** The arena this worker was last sent (it is sent again only when the pool makes a new one). */
  arena: SharedArrayBuffer | null;
}

/** Where the worker thread starts: from sources through tsx's loader (boot.mjs), or the built worker.js. */
function workerEntry(): { url: URL; entry?: string } {
  const here = import.meta.url;
  // Names built at run time, so that a bundler does not try to resolve them as assets.
  const file = (name: string) => new URL(`./${name}`, here);
  if (/\.[cm]?ts$/.test(new URL(here).pathname)) return { url: file("boot.mjs"), entry: file("worker.ts").href };
  return { url: file("worker.js") };
}

/** The workers' native GEMM settings from `gemm` and `blasThreads`, refused where they cannot work. */
function nativeGemmOption(
  options: Pick<PoolOptions<unknown>, "gemm" | "blasThreads">,
  backend: string,
): WorkerStart["nativeGemm"] {
  const { gemm = "wasm", blasThreads } = options;
  if (gemm !== "wasm" && gemm !== "native")
    throw new Error(`createPool: gemm must be "wasm" or "native", got ${JSON.stringify(gemm)}`);
  if (blasThreads !== undefined && gemm !== "native")
    throw new Error(`createPool: blasThreads applies only to gemm: "native"`);
  if (gemm === "wasm") return null;
  const threads = blasThreads ?? 1;
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`createPool: blasThreads must be an integer ≥ 1, got ${threads}`);
  if (backend !== "wasm")
    throw new Error(
      `createPool: gemm: "native" computes on the wasm backend's heap; the workers' backend is ${backend}: use backend "wasm"`,
    );
  if (!hd.simdKernelsActive())
    throw new Error(
      `createPool: gemm: "native" runs through hodiff's wasm kernels, which are off in this thread (hd.setSimdKernels(false)); the workers copy that setting`,
    );
  return { threads };
}

/** The batch's inputs checked (float32 arrays with the examples along axis 0, or Int32Array labels) and described. */
function checkBatch(batch: Batch): { B: number; inputs: Record<string, InputSpec> } {
  const inputs: Record<string, InputSpec> = {};
  for (const [name, x] of Object.entries(batch)) {
    if (x instanceof Int32Array) inputs[name] = { shape: [x.length], dtype: "int32" };
    else if (x instanceof Float32Array)
      throw new Error(
        `parallel: batch input '${name}' is a bare Float32Array; pass it as an array with a shape (hd.array(data, { shape }))`,
      );
    else {
      if (hd.dtypeOf(x) !== "float32")
        throw new Error(
          `parallel: batch input '${name}' is ${hd.dtypeOf(x)}; inputs are float32 arrays or Int32Array labels`,
        );
      inputs[name] = { shape: hd.shapeOf(x), dtype: "float32" };
    }
  }
  return { B: batchSize(inputs), inputs };
}

/** Examples [0, n) of the batch as the loss sees them, sliced on the backend (new arrays go to `own`). */
function headOf(batch: Batch, n: number, B: number, own: hd.Value[]): TaskBatch {
  const out: Record<string, hd.Value | Int32Array> = {};
  for (const [name, x] of Object.entries(batch)) {
    if (x instanceof Int32Array) out[name] = n === B ? x : x.subarray(0, n);
    else if (n === B) out[name] = x as hd.Value;
    else {
      const shape = hd.shapeOf(x as hd.Value);
      const t = hd.slice(
        x as hd.Value,
        shape.map(() => 0),
        [n, ...shape.slice(1)],
      );
      own.push(t);
      out[name] = t;
    }
  }
  return out;
}

/**
 * What the arena holds of a pytree (θ or u): the leaves it was written from and its version. Arrays
 * are immutable, so the same leaf objects, none disposed and none a mutable tf.Variable, mean the
 * same values: then neither this thread nor the workers copy them again.
 */
class Written {
  private leaves: readonly hd.Value[] = [];
  version = 0;
  /** Whether `leaves` are those last written (and the arena still holds them). */
  holds(leaves: readonly hd.Value[]): boolean {
    return (
      leaves.length === this.leaves.length &&
      leaves.every((l, i) => {
        const t = l as { isDisposed?: boolean; assign?: unknown };
        return l === this.leaves[i] && t.isDisposed !== true && typeof t.assign !== "function";
      })
    );
  }
  /** Record that `leaves` were just written: a new version. */
  wrote(leaves: readonly hd.Value[]): void {
    this.leaves = [...leaves];
    this.version++;
  }
  /** The arena was replaced: nothing is held. */
  forget(): void {
    this.leaves = [];
  }
}

/**
 * createPool({ task, init, threads }): starts `threads − 1` worker threads, each with its own
 * backend and the task's loss L(θ; batch); a call splits the batch into `threads` parts of sizes
 * B_k (following the threads' measured speeds, or even) and returns Σ_k (B_k/B)·(part k's result).
 * @example
 * await using pool = await createPool({ task: new URL("./task.ts", import.meta.url), threads: 2 });
 * const { loss, grads } = pool.valueAndGrad(params, { x, labels });
 */
export async function createPool<I>(options: PoolOptions<I>): Promise<Pool> {
  const threads = options.threads ?? 2;
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`createPool: threads must be an integer ≥ 1, got ${threads}`);
  const backend = options.backend ?? (hd.getBackend() as hd.BackendName);
  const nativeGemm = nativeGemmOption(options, backend); // refused before anything starts
  const taskUrl = String(options.task);
  const mod = (await import(taskUrl)) as { default?: Task<I> };
  if (typeof mod.default !== "function")
    throw new Error(`createPool: the task module ${taskUrl} has no default export made with defineTask(...)`);
  const loss = await mod.default(options.init as I);
  const jit = options.jit === true ? jitPartGradient(loss) : null;
  const gradient = jit ?? eagerPartGradient(loss);
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
          nativeGemm,
          jit: options.jit === true,
          port: port2,
          flag,
        };
        const worker = new Worker(url, { workerData: data, transferList: [port2] });
        const member: Member = { worker, port: port1, flag, failure: null, arena: null };
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
    jit?.dispose();
    throw e;
  }

  let arena = new SharedArrayBuffer(0);
  const theta = new Written();
  const direction_ = new Written();
  let closed = false;
  let trace: TraceEvent[] = [];
  const even = options.split === "even";
  /** Each thread's share of the batch, per operation (the gradient and the summaries cost differently). */
  const shares = {
    grad: Array<number>(threads).fill(1 / threads),
    summaries: Array<number>(threads).fill(1 / threads),
  };
  /** Whether the calling thread alone is faster than the pool (on a machine whose other cores are busy, it can be). */
  const modes = { grad: new SoloOrPool(), summaries: new SoloOrPool() };

  /**
   * Post each busy worker its part (θ, u and the parts in the arena), run part 0 here, wait for
   * the rest. `local` gets this thread's part and its weight B_0 / B; `request` makes a worker's
   * request from what every request says.
   */
  function run<L, R>(
    op: "grad" | "summaries",
    params: Params,
    direction: Params | null,
    batch: Batch,
    local: (part: TaskBatch, weight: number) => L,
    request: (base: Omit<Request & { op: "grad" }, "op" | "out">, out: number) => Request,
    read: (reply: Reply) => R,
  ): { own: L; results: R[]; weights: number[]; out: number[]; finish: () => void } {
    if (closed) throw new Error("parallel: the pool is closed");
    const start = now();
    const stamps: Stamps | undefined = options.trace ? [["start", start]] : undefined;
    const { B, inputs } = checkBatch(batch);
    const solo = !even && threads > 1 && modes[op].next();
    const sizes = even
      ? partSizes(B, threads)
      : solo
        ? [B, ...Array<number>(threads - 1).fill(0)]
        : splitSizes(B, shares[op]);
    const busy: { member: Member; index: number; posted: number }[] = [];
    stamps?.push([`parts of ${sizes.join(" + ")} examples`, now()]);
    const out: number[] = [];
    const W = threads - 1;
    if (sizes.slice(1).some((n) => n > 0)) {
      const [leaves, def] = hd.treeFlatten(params);
      const shapes = leaves.map((l) => hd.shapeOf(l));
      const P = totalSize(shapes);
      const place = placeParts(inputs, sizes, arenaLayout(P, W, 0).batch);
      const layout = arenaLayout(P, W, place.entries);
      if (arena.byteLength < 4 * layout.size) {
        // Some room to spare, so that a batch of another size rarely makes a new one.
        arena = new SharedArrayBuffer(4 * Math.ceil(layout.size * 1.25));
        theta.forget();
        direction_.forget();
      }
      const f32 = new Float32Array(arena);
      if (!theta.holds(leaves)) {
        writeFlat(leaves, f32, layout.theta);
        theta.wrote(leaves);
      }
      if (direction) {
        const u = hd.flattenAs<hd.Value>(def, direction, "direction");
        if (!direction_.holds(u)) {
          writeFlat(u, f32, layout.direction);
          direction_.wrote(u);
        }
      }
      // The whole inputs, each in one copy (from wasm's heap): the workers read their rows.
      const i32 = new Int32Array(arena);
      for (const [name, x] of Object.entries(batch))
        if (x instanceof Int32Array) i32.set(x, place.offsets[name]);
        else hd.copyInto(x as hd.Value, f32, place.offsets[name]);
      stamps?.push(["θ, u and the workers' parts written to the arena", now()]);
      for (let k = 1; k < threads; k++) {
        if (sizes[k] === 0) continue;
        const member = members[k - 1]!;
        Atomics.store(member.flag, 0, 0);
        const base = {
          ...(member.arena !== arena ? { arena } : {}),
          def,
          shapes,
          theta: theta.version,
          batch: place.parts[k - 1]! as Record<string, ArenaLeaf>,
          weight: sizes[k]! / B,
          trace: stamps !== undefined,
        };
        member.port.postMessage(request(base, layout.result(k)));
        member.arena = arena;
        busy.push({ member, index: k, posted: now() });
        out.push(layout.result(k));
      }
      stamps?.push(["requests posted", now()]);
    }
    let own: L | undefined;
    let failure: unknown = null;
    const mine: hd.Value[] = [];
    const elapsed = Array<number>(threads).fill(0);
    try {
      const t0 = now();
      own = local(headOf(batch, sizes[0]!, B, mine), sizes[0]! / B);
      elapsed[0] = now() - t0;
      stamps?.push(["own part computed", now()]);
    } catch (e) {
      failure = e;
    } finally {
      hd.dispose(mine);
    }
    // Every busy worker's answer is taken off its port, even after a failure: one left there
    // would be read as the answer to the next call.
    const results: R[] = [];
    const weights = [sizes[0]! / B];
    for (const { member, index, posted } of busy) {
      try {
        const reply = waitFor(member, index);
        if (reply.op !== "error") elapsed[index] = reply.done - posted;
        stamps?.push([`worker ${index}'s answer taken`, now()]);
        if (stamps && "stamps" in reply && reply.stamps)
          for (const [phase, t] of reply.stamps) stamps.push([`${index}:${phase}`, t]);
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
    if (!even && !solo) rebalance(shares[op], sizes, elapsed);
    if (stamps) trace = toTrace(stamps);
    // Called by the caller once the parts are combined: the whole call's time per example.
    const finish = () => {
      if (!even && threads > 1 && B > 0) modes[op].record(solo, (now() - start) / B);
    };
    return { own: own as L, results, weights, out, finish };
  }

  const now = () => performance.timeOrigin + performance.now();
  /** Stamps as trace events: worker stamps are "k:phase"; times relative to the first stamp. */
  const toTrace = (stamps: Stamps): TraceEvent[] => {
    const t0 = stamps[0]![1];
    return stamps
      .map(([phase, t]) => {
        const m = /^(\d+):(.*)$/.exec(phase);
        return { thread: m ? Number(m[1]) : 0, phase: m ? m[2]! : phase, ms: t - t0 };
      })
      .sort((a, b) => a.ms - b.ms);
  };
  /** Adds an event of this thread to the last trace (after `run`). */
  const stampLast = (phase: string, since: number) => {
    if (options.trace && trace.length)
      trace.push({ thread: 0, phase, ms: trace[trace.length - 1]!.ms + (now() - since) });
  };

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
    jit?.dispose();
    await Promise.all(members.map((m) => (m.port.close(), m.worker.terminate())));
  };

  return {
    threads,
    loss,
    valueAndGrad(params, batch) {
      // One thread: the batch and θ as they are, on this backend.
      if (threads === 1) {
        checkBatch(batch);
        const [value, grads] = gradient(params, batch as TaskBatch, 1);
        try {
          return { loss: hd.item(value), grads };
        } finally {
          hd.dispose(value);
        }
      }
      // Each thread differentiates w_k·L_k (w_k = B_k / B), so ∇L = Σ_k ∇(w_k·L_k): no weighting afterwards.
      const { own, results, out, finish } = run(
        "grad",
        params,
        null,
        batch,
        (part, weight) => {
          const [value, grads] = gradient(params, part, weight);
          try {
            return { loss: hd.item(value), grads };
          } finally {
            hd.dispose(value);
          }
        },
        (base, at) => ({ op: "grad", ...base, out: at }),
        (reply) => {
          if (reply.op !== "grad") throw new Error(`parallel: expected a gradient, got '${reply.op}'`);
          return reply.loss;
        },
      );
      const since = now();
      const [mine, def] = hd.treeFlatten(own.grads);
      const f32 = new Float32Array(arena);
      let offset = 0;
      // The workers' gradients are in the arena: each leaf is this thread's plus theirs, on the backend.
      const grads = mine.map((g0) => {
        const shape = hd.shapeOf(g0);
        const n = sizeOf(shape);
        const g = hd.tidy(() =>
          results.reduce<hd.Value>(
            (acc, _, k) => hd.add(acc, fromShared(f32.subarray(out[k]! + offset, out[k]! + offset + n), shape)),
            g0,
          ),
        );
        offset += n;
        return g;
      });
      // A leaf with no worker part (none busy) is returned as it is: free only those replaced.
      hd.dispose(mine.filter((g0, i) => grads[i] !== g0));
      stampLast("gradients added", since);
      finish();
      return {
        loss: results.reduce((acc, l) => acc + l, own.loss),
        grads: hd.treeUnflatten(def, grads) as Params,
      };
    },
    summaries(params, direction, batch, partition, options = {}) {
      const { own, results, weights, finish } = run(
        "summaries",
        params,
        direction,
        batch,
        (part) => summariesOnPart(loss, params, direction, part, partition, options),
        (base) => ({ op: "summaries", ...base, direction: direction_.version, partition, options }),
        (reply) => {
          if (reply.op !== "summaries") throw new Error(`parallel: expected summaries, got '${reply.op}'`);
          return reply.summaries;
        },
      );
      const combined = results.length === 0 ? own : combineSummaries([own, ...results], weights);
      finish();
      return combined;
    },
    splitState: () => {
      const of = (op: "grad" | "summaries"): SplitState => ({
        calls: modes[op].counts.all,
        soloCalls: modes[op].counts.solo,
        shares: [...shares[op]],
        msPerExample: { solo: modes[op].estimate("solo"), pool: modes[op].estimate("pool") },
      });
      return { grad: of("grad"), summaries: of("summaries") };
    },
    lastTrace: () => trace,
    close,
    [Symbol.asyncDispose]: close,
  };
}
