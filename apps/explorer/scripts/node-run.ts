/**
 * The explorer's training run in Node, for comparison with the page:
 *   tsx scripts/node-run.ts [--backend wasm|cpu] [--updates 30] [--partition canonical] [--lambda 0.1]
 *     [--optimizer newton-summary|adam]
 * prints the step reports as JSON on stdout.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as hd from "@hodiff/core";
import { createSession, DEFAULT_CONFIG, type PartitionName, type StepReport } from "../src/session";

const { values } = parseArgs({
  options: {
    backend: { type: "string", default: "wasm" },
    updates: { type: "string", default: "30" },
    partition: { type: "string", default: DEFAULT_CONFIG.partition },
    lambda: { type: "string", default: String(DEFAULT_CONFIG.lambda) },
    optimizer: { type: "string", default: DEFAULT_CONFIG.optimizer },
  },
});
const dataDir = join(dirname(fileURLToPath(import.meta.url)), "..", "public", "data");
const meta = JSON.parse(readFileSync(join(dataDir, "subset.json"), "utf8")) as {
  count: number;
  images: string;
  labels: string;
};
const img = readFileSync(join(dataDir, meta.images));
const subset = {
  count: meta.count,
  images: new Float32Array(img.buffer, img.byteOffset, img.byteLength / 4),
  labels: Int32Array.from(readFileSync(join(dataDir, meta.labels))),
};
await hd.setBackend(values.backend as hd.BackendName);
const session = createSession(subset, {
  ...DEFAULT_CONFIG,
  partition: values.partition as PartitionName,
  lambda: Number(values.lambda),
  optimizer: values.optimizer as "adam" | "newton-summary",
});
const reports: StepReport[] = [];
for (let i = 0; i < Number(values.updates); i++) reports.push(await session.step());
session.dispose();
process.stdout.write(JSON.stringify({ backend: hd.getBackend(), reports }) + "\n");
