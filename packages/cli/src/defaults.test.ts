/**
 * `hodiff train`'s defaults end to end (`--threads auto --gemm auto --blas-threads auto --jit auto`): a run
 * prints and records the resolved values (never "auto"); `--threads 1 --gemm wasm` is the behaviour
 * before these defaults (the library's `train` without options), bit for bit; a resumed run keeps
 * its recorded settings; and, in a child process whose @hodiff/native addon cannot load, the
 * default falls back to the wasm GEMM silently, an explicit `--gemm native` fails saying why, and a
 * run recorded with the native GEMM resumes on wasm with a note.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import { nativeGemmAvailable } from "@hodiff/native";
import { CHECKPOINT_FILE } from "./checkpoint";
import { expectLibraryTrainSame, expectRecorded, hodiff, readJson, resumed, tempDir, TINY } from "./testing/harness";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
beforeAll(() => hd.setBackend("wasm"));
const built = nativeGemmAvailable();

describe("hodiff train's defaults", () => {
  it("a default run prints and records the resolved values: the native GEMM where it loads, one thread and eager with --hidden", async () => {
    const dir = tmp.path("default");
    const r = await hodiff("train", ...TINY, "--epochs", "1", "--out", dir);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const want = built
      ? { backend: "wasm", gemm: "native", threads: 1, blasThreads: 1, jit: false }
      : { backend: "wasm", gemm: "wasm", threads: 1, blasThreads: null, jit: false };
    expect(r.out.split("\n")[0]).toBe(
      built
        ? "backend wasm, gemm native (OpenBLAS), threads 1, BLAS threads 1, jit off"
        : "backend wasm, gemm wasm (XNNPACK), threads 1, jit off",
    );
    expectRecorded(dir, want);
    expect(hd.heapGemmActive()).toBe(false); // the run uninstalled it
  });

  it("LeNet-5 of the paper's widths gets the pool of 2 threads on ≥ 2 cores", async () => {
    const dir = tmp.path("lenet");
    const before = hd.numTensors();
    const r = await hodiff(
      "train",
      ...["--model", "lenet", "--dataset", "synthetic", "--synthetic-examples", "64", "--batch-size", "32"],
      ...["--val-size", "0", "--epochs", "1", "--no-progress", "--out", dir],
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(hd.numTensors()).toBe(before);
    const threads = availableParallelism() >= 2 ? 2 : 1;
    const want = {
      backend: "wasm",
      gemm: built ? "native" : "wasm",
      threads,
      blasThreads: built ? 1 : null,
      jit: threads === 1,
    };
    expectRecorded(dir, want);
    expect(r.out.split("\n")[0]).toMatch(new RegExp(`^backend wasm, gemm ${want.gemm} .*, threads ${threads}(,|$)`));
  });

  it("--threads 1 --gemm wasm is the behaviour before the defaults: the library's train without options, bit for bit", async () => {
    const dir = tmp.path("forced");
    const r = await hodiff("train", ...TINY, "--epochs", "2", "--threads", "1", "--gemm", "wasm", "--out", dir);
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toBe("backend wasm, gemm wasm (XNNPACK), threads 1, jit off");
    const want = { backend: "wasm", gemm: "wasm", threads: 1, blasThreads: null, jit: false };
    expectRecorded(dir, want);
    await expectLibraryTrainSame(dir, tmp.path("library"));
  });

  it("a resumed run keeps its recorded settings; a flag given on resume changes them", async () => {
    const dir = tmp.path("resumed");
    // not what auto gives TINY (one thread): the resumed run can only have it from the record
    const first = await hodiff("train", ...TINY, "--epochs", "1", "--threads", "2", "--gemm", "wasm", "--out", dir);
    expect(first.code).toBe(0);
    const kept = { backend: "wasm", gemm: "wasm", threads: 2, blasThreads: null, jit: false };
    expect(await resumed(dir, "2")).toBe("backend wasm, gemm wasm (XNNPACK), threads 2, jit off");
    expectRecorded(dir, kept);
    await resumed(dir, "3", "--threads", "1");
    const one = { ...kept, threads: 1 };
    expectRecorded(dir, one);
  });
});

describe("where @hodiff/native's addon cannot load (a child process)", () => {
  const cli = new URL("../bin/hodiff.mjs", import.meta.url).pathname;
  const run = async (...argv: string[]) => {
    try {
      const r = await promisify(execFile)(process.execPath, [cli, ...argv], {
        env: { ...process.env, HODIFF_NATIVE_ADDON: "/nonexistent/hodiff_native.node" },
      });
      return { code: 0, out: r.stdout.trim(), err: r.stderr.trim() };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, out: x.stdout.trim(), err: x.stderr.trim() };
    }
  };

  it("the default uses the wasm GEMM silently; an explicit --gemm native fails saying how to build it", async () => {
    const dir = tmp.path("no-addon");
    const r = await run("train", ...TINY, "--epochs", "1", "--out", dir);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toBe("backend wasm, gemm wasm (XNNPACK), threads 1, jit off");
    const want = { backend: "wasm", gemm: "wasm", threads: 1, blasThreads: null, jit: false };
    expectRecorded(dir, want);

    const refused = tmp.path("no-addon-native");
    const n = await run("train", ...TINY, "--epochs", "1", "--gemm", "native", "--out", refused);
    expect(n.code).toBe(1);
    expect(n.err).toMatch(/--gemm native cannot load: .*nonexistent.*To build it/);
    expect(existsSync(refused)).toBe(false);
  }, 60_000);

  it.skipIf(!built)(
    `a run recorded with the native GEMM resumes on wasm, with a note${built ? "" : " [SKIPPED: @hodiff/native's addon not built here, so no such run can be made]"}`,
    async () => {
      const dir = tmp.path("native-then-none");
      expect((await hodiff("train", ...TINY, "--epochs", "1", "--gemm", "native", "--out", dir)).code).toBe(0);
      const r = await run("train", "--resume", dir, "--epochs", "2", "--no-progress");
      expect(r.code).toBe(0);
      expect(r.err).toMatch(
        /note: the run used gemm native \(OpenBLAS\), but the native GEMM cannot load: .* continues with the wasm GEMM/,
      );
      expect(r.out.split("\n")[0]).toBe("backend wasm, gemm wasm (XNNPACK), threads 1, jit off");
      expect(readJson(`${dir}/${CHECKPOINT_FILE}`)["epoch"]).toBe(2);
    },
    60_000,
  );
});
