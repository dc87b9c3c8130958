// Worker entry when @hodiff/parallel runs from its TypeScript sources (this workspace, vitest,
// the tsx-launched CLI): a worker thread starts without the parent's TypeScript loader, so it
// registers tsx's ESM loader here, in this thread, and then imports the real entry, worker.ts.
// The built package starts dist/worker.js directly and never loads this file.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
