#!/usr/bin/env node
/** The `hodiff` program's entry: bin/hodiff.mjs (and so `pnpm hodiff`) imports it in-process. */
import { run } from "./program";

/**
 * Under a package-manager script (`pnpm hodiff …`) this process's parent is a shell (`sh -c`) that
 * a kill -9 can remove without this process noticing, which would then train on unseen. So when
 * the parent is gone, stop as on SIGTERM (between two updates, printing how to resume). Not done
 * when started directly, where outliving the parent is what `nohup hodiff train … &` asks for.
 */
function stopWithLauncher(): void {
  if (process.env["npm_lifecycle_event"] === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, "SIGTERM");
  }, 500);
  timer.unref();
}

stopWithLauncher();
process.exitCode = await run(process.argv.slice(2));
