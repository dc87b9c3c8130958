#!/usr/bin/env node
/** The `hodiff` executable: `tsx packages/cli/src/main.ts <command> …` (what bin/hodiff.mjs runs). */
import { run } from "./program";

process.exitCode = await run(process.argv.slice(2));
