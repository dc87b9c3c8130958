/**
 * The examples in /examples run as a user would run them (`npx tsx examples/<name>.ts`), each in
 * its own process, and must print what they promise. Every example file must be listed here, so
 * a new example cannot be left out of CI.
 */
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);

/** Each example and lines its output must contain (each example also checks itself and exits non-zero on failure). */
const EXAMPLES: Record<string, RegExp[]> = {
  "interaction-map.ts": [
    /groups: l1\.w, l1\.b, l2\.w, l2\.b/,
    /max \|H̄ \(grad\+hvp\) − H̄ \(summaries\)\| \/ max \|H̄\| = \d\.\de-\d+/,
    /interaction map: OK/,
  ],
  "training-loop.ts": [
    /loss: [\d.]+ → [\d.]+ in 500 Adam steps/,
    /live tensors after every step: \d+/,
    /training loop: OK/,
  ],
};

describe("examples", () => {
  it("every file in examples/ is run by this test", () => {
    const files = readdirSync(join(root, "examples")).filter((f) => f.endsWith(".ts"));
    expect(files.sort()).toEqual(Object.keys(EXAMPLES).sort());
  });

  it.each(Object.entries(EXAMPLES))(
    "%s runs and prints its checks",
    async (file, expected) => {
      const { stdout } = await run(process.execPath, ["--import", "tsx", join("examples", file)], {
        cwd: root,
        timeout: 120_000,
      });
      for (const line of expected) expect(stdout).toMatch(line);
    },
    150_000,
  );
});
