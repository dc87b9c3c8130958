#!/usr/bin/env node
// The `hodiff` executable. The CLI is TypeScript (like every package of this workspace, whose
// exports point at src/*.ts), so this launcher registers tsx's ESM loader in this very process
// (`tsx/esm/api`, Node ≥ 20.6: no child process, signals and exit codes stay ours) and then imports
// src/main.ts, which reads process.argv.
import process from "node:process";
import { URL } from "node:url";
import { register } from "tsx/esm/api";

register();
try {
  await import(new URL("../src/main.ts", import.meta.url).href);
} catch (e) {
  process.stderr.write(`hodiff: could not start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
}
