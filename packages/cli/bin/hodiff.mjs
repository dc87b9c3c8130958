#!/usr/bin/env node
// The `hodiff` executable. The CLI is TypeScript (like every package of this workspace, whose
// exports point at src/*.ts), so this launcher registers tsx's ESM loader in this very process
// (`tsx/esm/api`, Node ≥ 20.6: no child process, signals and exit codes stay ours) and then imports
// src/main.ts, which reads process.argv. `pnpm hodiff` runs this file too (not the tsx CLI, which
// runs the program in a child process that a kill -9 of the parent would leave running).
import process from "node:process";
import { URL } from "node:url";
import { register } from "tsx/esm/api";

register();
try {
  await import(new URL("../src/main.ts", import.meta.url).href);
} catch (e) {
  const debug = process.argv.includes("--debug") || process.env.HODIFF_DEBUG === "1";
  const why = e instanceof Error ? (debug ? (e.stack ?? e.message) : e.message) : String(e);
  process.stderr.write(`hodiff: could not start: ${why}${debug ? "" : " (--debug shows the stack trace)"}\n`);
  process.exitCode = 1;
}
