/**
 * The explorer's training run in Node, for comparison with the page:
 *   tsx scripts/node-run.ts [--model mlp|lenet] [--backend wasm|cpu] [--updates 30]
 *     [--partition canonical] [--lambda 0.1] [--optimizer newton-summary|adam] [--batch-size 64] [--period 5]
 * prints the step reports and the validation figures as JSON on stdout.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as hd from "@hodiff/core";
import {
  createSession,
  DEFAULT_CONFIG,
  MODELS,
  type ModelName,
  type PartitionName,
  type StepReport,
} from "../src/session";
import { decodeSplit, type SplitFiles, type SubsetIndex } from "../src/subset";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: DEFAULT_CONFIG.model },
    backend: { type: "string", default: "wasm" },
    updates: { type: "string", default: "30" },
    partition: { type: "string", default: DEFAULT_CONFIG.partition },
    lambda: { type: "string", default: String(DEFAULT_CONFIG.lambda) },
    optimizer: { type: "string", default: DEFAULT_CONFIG.optimizer },
    "batch-size": { type: "string", default: String(DEFAULT_CONFIG.batchSize) },
    period: { type: "string", default: String(DEFAULT_CONFIG.period) },
  },
});
const model = values.model as ModelName;
if (!(model in MODELS)) throw new Error(`node-run: unknown model "${model}"; use ${Object.keys(MODELS).join(" or ")}`);
const dataDir = join(dirname(fileURLToPath(import.meta.url)), "..", "public", "data");
const files = (JSON.parse(readFileSync(join(dataDir, "subset.json"), "utf8")) as SubsetIndex)[MODELS[model].dataset];
if (files === undefined)
  throw new Error(`node-run: no ${MODELS[model].dataset} subset in ${dataDir}; run scripts/make-data.ts`);
const read = (split: SplitFiles) =>
  decodeSplit(files, split, readFileSync(join(dataDir, split.images)), readFileSync(join(dataDir, split.labels)));

await hd.setBackend(values.backend as hd.BackendName);
const session = createSession(
  read(files.train),
  {
    ...DEFAULT_CONFIG,
    model,
    partition: values.partition as PartitionName,
    lambda: Number(values.lambda),
    optimizer: values.optimizer as "adam" | "newton-summary",
    batchSize: Number(values["batch-size"]),
    period: Number(values.period),
  },
  read(files.validation),
);
const reports: StepReport[] = [];
for (let i = 0; i < Number(values.updates); i++) reports.push(await session.step());
const validation = await session.evaluate();
session.dispose();
process.stdout.write(JSON.stringify({ backend: hd.getBackend(), reports, validation }) + "\n");
