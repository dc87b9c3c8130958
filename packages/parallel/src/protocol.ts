/**
 * The messages between a pool and its workers. Bulk data (θ, u, the workers' batch parts and
 * their gradients) lives in one shared float32 "arena" (see `arenaLayout` in shards.ts); the
 * messages carry only offsets, versions and small results.
 */
import type { BackendName, TreeDef } from "@hodiff/core";
import type { MessagePort } from "node:worker_threads";
import type { Partition, Summaries, SummariesOptions } from "@hodiff/partition";

/** What a worker starts with (`workerData`). */
export interface WorkerStart {
  /** The worker's real entry (worker.ts) when started through boot.mjs. */
  readonly entry?: string;
  /** URL of the task module (its default export is a `Task`). */
  readonly task: string;
  readonly init: unknown;
  readonly backend: BackendName;
  readonly simd: boolean;
  /** With `gemm: "native"`: install @hodiff/native's OpenBLAS GEMM with this many BLAS threads at start; null: tfjs-wasm's. */
  readonly nativeGemm: { readonly threads: number } | null;
  /** Compute each part's gradient as a jit plan (task.ts: jitPartGradient). */
  readonly jit: boolean;
  /** The worker answers requests on this port, read synchronously by the pool. */
  readonly port: MessagePort;
  /** flag[0]: 0 while the worker computes, 1 when its answer is on the port, 2 when it has exited. */
  readonly flag: Int32Array;
}

/** One input of a worker's part, in the arena: `offset` in 4-byte units, int32 for labels. */
export interface ArenaLeaf {
  readonly offset: number;
  readonly shape: readonly number[];
  readonly dtype: "float32" | "int32";
}

/** What every request says; the worker keeps the arena and its arrays of θ (and u) between requests. */
interface Common {
  /** Sent when the pool (re)allocates its arena; the worker keeps it until the next one. */
  readonly arena?: SharedArrayBuffer;
  readonly def: TreeDef;
  readonly shapes: readonly (readonly number[])[];
  /** Version of θ in arena[0, P): the worker rebuilds its θ arrays only when this differs from its own. */
  readonly theta: number;
  /** This worker's part of the batch, in the arena. */
  readonly batch: Readonly<Record<string, ArenaLeaf>>;
  /** w = B_k / B: the worker's loss is w·L_k, so the parts' results add up without weights. */
  readonly weight: number;
  /** Whether to return the worker's timeline (`Pool.lastTrace`). */
  readonly trace: boolean;
}

export type Request =
  | (Common & {
      readonly op: "grad";
      /** Where (in 4-byte units) the worker writes its P gradient entries. */
      readonly out: number;
    })
  | (Common & {
      readonly op: "summaries";
      /** Version of u in arena[P, 2P), as `theta`. */
      readonly direction: number;
      readonly partition: Partition;
      readonly options: SummariesOptions;
    });

/** [phase, time] pairs of a worker's request, when asked for; times are performance.timeOrigin + performance.now() (ms since the epoch, comparable between threads). */
export type Stamps = [string, number][];

/** When the worker finished its part (timeOrigin + now(), as the stamps): for the measured split. */
interface Done {
  readonly done: number;
  readonly stamps?: Stamps;
}

export type Reply =
  | (Done & { readonly op: "grad"; readonly loss: number })
  | (Done & { readonly op: "summaries"; readonly summaries: Summaries })
  | { readonly op: "error"; readonly message: string };

/** What a worker posts on its parentPort once, when started. */
export type Started = { readonly ready: true } | { readonly ready: false; readonly message: string };
