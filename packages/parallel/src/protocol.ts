/** The messages between a pool and its workers (plain data: structured clone, shared memory). */
import type { BackendName, TreeDef } from "@hodiff/core";
import type { MessagePort } from "node:worker_threads";
import type { Partition, Summaries, SummariesOptions } from "@hodiff/partition";
import type { BatchLeaf } from "./shards";

/** What a worker starts with (`workerData`). */
export interface WorkerStart {
  /** The worker's real entry (worker.ts) when started through boot.mjs. */
  readonly entry?: string;
  /** URL of the task module (its default export is a `Task`). */
  readonly task: string;
  readonly init: unknown;
  readonly backend: BackendName;
  readonly simd: boolean;
  /** The worker answers requests on this port, read synchronously by the pool. */
  readonly port: MessagePort;
  /** flag[0]: 0 while the worker computes, 1 when its answer is on the port, 2 when it has exited. */
  readonly flag: Int32Array;
}

/** Parameters (and a direction) as one shared float32 buffer: [θ (P) | u (P)]. */
interface Shared {
  readonly shared: SharedArrayBuffer;
  readonly def: TreeDef;
  readonly shapes: readonly (readonly number[])[];
  readonly batch: Readonly<Record<string, BatchLeaf>>;
}

export type Request =
  | (Shared & { readonly op: "grad" })
  | (Shared & { readonly op: "summaries"; readonly partition: Partition; readonly options: SummariesOptions });

export type Reply =
  | { readonly op: "grad"; readonly loss: number; readonly grad: Float32Array }
  | { readonly op: "summaries"; readonly summaries: Summaries }
  | { readonly op: "error"; readonly message: string };

/** What a worker posts on its parentPort once, when started. */
export type Started = { readonly ready: true } | { readonly ready: false; readonly message: string };
