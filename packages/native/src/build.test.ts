/**
 * scripts/build.mjs as the package's install hook: where the compiler or OpenBLAS is missing it
 * prints one warning line saying what to install and exits 0 (an install never fails because of
 * it); with --strict (build:native, CI) it exits 1. The compiler is replaced through CC by a
 * missing path or by a stub that fails as gcc does without OpenBLAS, so nothing is built here.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const script = fileURLToPath(new URL("../scripts/build.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "hodiff-native-build-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in compiler: answers --version, then fails compiling with gcc's message for a missing cblas.h. */
const noBlas = join(dir, "cc-without-openblas");
writeFileSync(
  noBlas,
  '#!/bin/sh\n[ "$1" = --version ] && exit 0\necho "csrc/gemm.c:17:10: fatal error: cblas.h: No such file or directory" >&2\nexit 1\n',
);
chmodSync(noBlas, 0o755);

const build = (cc: string, ...args: string[]) =>
  spawnSync(process.execPath, [script, ...args], { env: { ...process.env, CC: cc }, encoding: "utf8" });

describe("the install hook without a compiler or OpenBLAS", () => {
  it.each([
    [join(dir, "no-such-cc"), /not built \(no C compiler '.*no-such-cc'\)/],
    [noBlas, /not built \(OpenBLAS \(cblas\.h \/ libopenblas\) not found\)/],
  ])("with CC=%s warns in one line, naming what to install, and exits 0", (cc, reason) => {
    const r = build(cc);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(reason);
    expect(lines[0]).toMatch(/apt-get install gcc libopenblas-dev/);
    expect(lines[0]).toMatch(/build:native/);
  });
  it("fails (exit 1) with --strict, showing the compiler's output", () => {
    const r = build(noBlas, "--strict");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cblas\.h: No such file/);
    expect(r.stderr).toMatch(/build failed/);
  });
});
