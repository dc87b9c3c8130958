/**
 * @hodiff/parallel: data parallelism over the batch on both (all) cores — a pool of worker
 * threads, each with its own backend and the task's loss; gradients and NewtonSummary's summaries
 * are means over examples, so the parts' results, weighted by part size, give the whole batch's.
 * @packageDocumentation
 */
export { createPool } from "./pool";
export type { Pool, PoolOptions, Batch, SplitState, TraceEvent } from "./pool";
export { defineTask } from "./task";
export type { Task, BatchLoss, TaskBatch, Params } from "./task";
export { partSizes } from "./shards";
