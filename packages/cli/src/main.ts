#!/usr/bin/env node
/** The `hodiff` program's entry: bin/hodiff.mjs (and so `pnpm hodiff`) imports it in-process. */
import { run } from "./program";

process.exitCode = await run(process.argv.slice(2));
