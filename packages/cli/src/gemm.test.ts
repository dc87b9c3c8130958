/**
 * `hodiff train --gemm native [--blas-threads n] [--threads 2]`: the run with @hodiff/native's
 * OpenBLAS GEMM (with --threads 2, in the pool's worker too) follows the default (wasm GEMM, one
 * thread) trajectory within float32 rounding and leaves the default in place afterwards; flags that cannot work are refused before anything is written. The native run
 * is skipped, with the reason in its name, where the addon is not built.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import { nativeGemmAvailable } from "@hodiff/native";
import { hodiff, runResult as result, tempDir, TINY } from "./testing/harness";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
beforeAll(() => hd.setBackend("wasm"));
const built = nativeGemmAvailable();

describe("hodiff train --gemm native", () => {
  it.skipIf(!built)(
    `follows the --gemm wasm trajectory within float32 rounding${built ? "" : " [SKIPPED: @hodiff/native's addon not built — apt-get install libopenblas-dev; pnpm --filter @hodiff/native run build:native]"}`,
    async () => {
      const runs: Record<string, ReturnType<typeof result>> = {};
      const before = hd.numTensors();
      const ways: Record<string, string[]> = {
        wasm: ["wasm"],
        native: ["native", "--blas-threads", "1"],
        "native, 2 threads": ["native", "--threads", "2"],
      };
      for (const [way, gemm] of Object.entries(ways)) {
        const out = tmp.path(`gemm-${way.replace(/\W/g, "")}`);
        const r = await hodiff(
          "train",
          ...TINY,
          "--optimizer",
          "adam",
          "--lr",
          "0.01",
          "--gemm",
          ...gemm,
          "--out",
          out,
        );
        expect(r.err).toBe("");
        expect(r.code).toBe(0);
        expect(r.out.split("\n")[0]).toContain(`gemm ${gemm[0]!} (`); // the run says it used that GEMM
        runs[way] = result(out);
        expect(hd.heapGemmActive()).toBe(false); // the run uninstalled it
      }
      expect(hd.numTensors()).toBe(before);
      const a = runs.wasm!;
      for (const b of [runs.native!, runs["native, 2 threads"]!]) {
        expect(b.losses.length).toBe(a.losses.length);
        b.losses.forEach((l, i) => expect(Math.abs(l! - a.losses[i]!)).toBeLessThan(1e-4));
        b.params.forEach((p, i) => expect(Math.abs(p - a.params[i]!)).toBeLessThan(1e-4));
      }
    },
  );

  it.each([
    [["--gemm", "wasm", "--blas-threads", "2"], /--blas-threads applies only to --gemm native/],
    [["--gemm", "native", "--backend", "cpu"], /--gemm native computes on the wasm backend's heap/],
    [["--gemm", "blas"], /--gemm/],
  ])("refuses %j before writing anything", async (flags, message) => {
    const out = tmp.path(`refused-${flags.join("")}`);
    const r = await hodiff("train", ...TINY, ...flags, "--out", out);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(message);
    expect(existsSync(out)).toBe(false);
    await hd.setBackend("wasm");
  });
});
