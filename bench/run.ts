/**
 * Benchmarks (`pnpm bench [name…]`): each prints one JSON line per measurement, with ratios
 * against a baseline measured in the same run. Timings are medians after warm-up.
 */
import { parseArgs } from "node:util";
import { useDefaultBackend, setBackend, type BackendName } from "@hodiff/core";
import { benchmarks } from "./suites";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    backend: { type: "string" },
    repeats: { type: "string", default: "15" },
  },
});

const backend = values.backend
  ? (await setBackend(values.backend as BackendName), values.backend)
  : await useDefaultBackend();
const repeats = Number(values.repeats);
const selected = positionals.length ? positionals : Object.keys(benchmarks);
for (const name of selected) {
  const run = benchmarks[name];
  if (!run) {
    console.error(`unknown benchmark '${name}'; available: ${Object.keys(benchmarks).join(", ")}`);
    process.exit(2);
  }
  for (const record of await run({ backend, repeats })) console.log(JSON.stringify(record));
}
