/**
 * Fault injection: runs killed (a real SIGKILL, injected through HODIFF_FAULT at named write
 * points, so no timing is involved) at every stage of a checkpoint, a metrics line cut in half, a
 * disk that fills at a chosen byte, non-finite losses, gradients and updates, two writers, stale
 * locks, paths that cannot be written, SIGTERM. Each time the directory must resume (or restart)
 * with one command, and the resumed run must end with exactly the files of an uninterrupted run:
 * the same checkpoint.json, best.json and tensor bytes, and the same metrics apart from wall times.
 *
 * Read-only directories: the tests run as root, for whom chmod does not make a directory
 * read-only, so "cannot be written" is made with a path under a regular file (ENOTDIR), which
 * fails for every user; the sentences for EROFS/EACCES are checked on Node's own error objects.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import { BEST_FILE, CHECKPOINT_FILE, loadCheckpoint } from "./checkpoint";
import { describeError } from "./failures";
import { FAULT_ENV } from "./faults";
import { acquireRunLock, LOCK_FILE } from "./lock";
import { METRICS_FILE, readMetrics } from "./metrics";
import { readRuns } from "./commands/report";
import { run } from "./program";
import { hodiff, tempDir, timeless, TINY } from "./testing/harness";

const tmp = tempDir("hodiff-faults-");
const BIN = fileURLToPath(new URL("../bin/hodiff.mjs", import.meta.url));
/** Two epochs of 8 Adam updates: 16 step records and 2 epoch records, two checkpoints. */
const RUN = [...TINY, "--optimizer", "adam", "--lr", "0.01", "--epochs", "2"];
const quiet = { out: () => {}, err: () => {}, progressStream: { isTTY: false } as NodeJS.WriteStream };

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run bin/hodiff.mjs in a child process. */
function child(args: string[], env: Record<string, string> = {}) {
  return new Promise<Exit>((done) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("exit", (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

/** The command lines of the child processes of `pid` but tsx's esbuild service (Linux; [] elsewhere). */
function childCommands(pid: number): string[] {
  const list = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(list)) return [];
  return readFileSync(list, "utf8")
    .trim()
    .split(/\s+/)
    .filter((c) => c !== "")
    .map((c) => readFileSync(`/proc/${c}/cmdline`, "utf8").replace(/\0/g, " ").trim())
    .filter((cmd) => !/esbuild/.test(cmd));
}

/** Run in-process with HODIFF_FAULT set to `fault` for this run only. */
async function withFault(fault: string, ...argv: string[]) {
  process.env[FAULT_ENV] = fault;
  try {
    return await hodiff(...argv);
  } finally {
    delete process.env[FAULT_ENV];
  }
}

/** Everything a run directory holds, wall times removed: file names, manifests, tensor bytes, metrics. */
function snapshot(dir: string) {
  const files = readdirSync(dir).sort();
  return {
    files,
    checkpoint: readFileSync(join(dir, CHECKPOINT_FILE), "utf8"),
    best: readFileSync(join(dir, BEST_FILE), "utf8"),
    bins: files.filter((f) => f.endsWith(".bin")).map((f) => readFileSync(join(dir, f)).toString("base64")),
    metrics: readMetrics(join(dir, METRICS_FILE)).map(timeless),
    metricsEndsWithNewline: readFileSync(join(dir, METRICS_FILE), "utf8").endsWith("\n"),
  };
}

/** The bits of every parameter of a run's checkpoint. */
function paramBits(dir: string): number[][] {
  const ck = loadCheckpoint(dir);
  const leaves = hd.treeLeaves(ck.params as hd.Tree<hd.Value>);
  const bits = leaves.map((t) => Array.from(new Uint32Array((hd.toFlat(t) as Float32Array).slice().buffer)));
  hd.dispose([...leaves, ...hd.treeLeaves(ck.optState as hd.Tree<hd.Value>)]);
  return bits;
}

// label:stage:n — the n-th time the write of label reaches that stage (see faults.ts)
const POINTS = [
  ["config.json written, not yet renamed (nothing started)", "crash-at:config:written", "restart"],
  ["a metrics line cut in half during epoch 1 (no checkpoint yet)", "crash-at:metrics:partial:5", "resume"],
  ["the first manifest written, not yet renamed", "crash-at:manifest:written:1", "resume"],
  ["the second tensor file half written", "crash-at:bin:partial:2", "resume"],
  ["the second manifest renamed, best.json and the cleanup not done", "crash-at:manifest:renamed:2", "resume"],
] as const;
/** The runs killed at each of POINTS (started first, awaited last: process starts are the slow part). */
let killed: Promise<Exit>[];
let orphan: Promise<{ trainer: number; children: string[]; stderr: string }>;

/** A long run started as `pnpm hodiff` starts it (sh -c), whose shell is killed by SIGKILL after epoch 1. */
function runOrphan() {
  return new Promise<{ trainer: number; children: string[]; stderr: string }>((done) => {
    let trainer = 0;
    let children: string[] = [];
    let stderr = "";
    const args = ["train", ...RUN, "--epochs", "500", "--out", tmp.path("orphan")];
    const shell = spawn("sh", ["-c", `"${process.execPath}" "${BIN}" "$@"; true`, "sh", ...args], {
      env: { ...process.env, npm_lifecycle_event: "hodiff" },
    });
    shell.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    shell.stdout.on("data", (d: Buffer) => {
      if (trainer !== 0 || !d.toString().includes("epoch 1/")) return;
      trainer = Number(readFileSync(`/proc/${shell.pid}/task/${shell.pid}/children`, "utf8").trim());
      children = childCommands(trainer);
      shell.kill("SIGKILL");
    });
    // stdout and stderr close when the trainer, which holds them too, has exited
    shell.on("close", () => done({ trainer, children, stderr }));
  });
}

let straight: ReturnType<typeof snapshot>;
let afterOneEpoch: ReturnType<typeof snapshot>;

beforeAll(async () => {
  orphan = existsSync("/proc/self/task") ? runOrphan() : Promise.resolve({ trainer: 0, children: [], stderr: "" });
  killed = POINTS.map(([, fault], i) =>
    child(["train", ...RUN, "--out", tmp.path(`kill-${i}`)], { [FAULT_ENV]: fault }),
  );
  await hd.setBackend("wasm");
  const dir = tmp.path("straight");
  expect((await hodiff("train", ...RUN, "--out", dir)).code).toBe(0);
  straight = snapshot(dir);
  // epoch 2 is the best, so a crash before best.json is copied (manifest:renamed:2) needs the repair
  expect(JSON.parse(straight.best).epoch).toBe(2);
  const one = tmp.path("straight-1");
  expect((await hodiff("train", ...RUN, "--epochs", "1", "--out", one)).code).toBe(0);
  afterOneEpoch = snapshot(one);
});
afterAll(() => tmp.cleanup());

describe("a full disk (every write fails once the run has written N bytes)", () => {
  /** Bytes the uninterrupted run writes before the second tensor file, and that file's size. */
  const sizes = () => {
    const [config, metrics] = ["config.json", METRICS_FILE].map((f) => readFileSync(tmp.path(`straight/${f}`)).length);
    const bin = Buffer.from(straight.bins.at(-1)!, "base64").length;
    const manifest = afterOneEpoch.checkpoint.length;
    return { config: config!, metrics: metrics!, bin, manifest };
  };

  it("in the middle of the second tensor file: a sentence, no temporary file, and --resume finishes the run", async () => {
    const s = sizes();
    const n = s.config + s.metrics + s.bin + 2 * s.manifest + Math.floor(s.bin / 2);
    const dir = tmp.path("full-bin");
    const r = await withFault(`enospc-at:${n}`, "train", ...RUN, "--out", dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: cannot write .*ckpt-00000016\.bin\.tmp-\d+: no space left on the device\. /);
    expect(r.err).toContain(`continue with: hodiff train --resume ${dir} --epochs 2`);
    expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-") || f === LOCK_FILE)).toEqual([]);
    expect(JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), "utf8")).epoch).toBe(1);
    expect((await hodiff("train", "--resume", dir, "--no-progress")).code).toBe(0);
    expect(snapshot(dir)).toEqual(straight);
  });

  it("in the middle of a metrics line of epoch 2: the line is cut back, --resume finishes the run", async () => {
    const s = sizes();
    const n = s.config + s.bin + 2 * s.manifest + Math.floor(s.metrics * 0.7);
    const dir = tmp.path("full-metrics");
    const r = await withFault(`enospc-at:${n}`, "train", ...RUN, "--out", dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: cannot write .*metrics\.jsonl: no space left on the device/);
    expect(readFileSync(join(dir, METRICS_FILE), "utf8").endsWith("\n")).toBe(true);
    expect((await hodiff("train", "--resume", dir, "--no-progress")).code).toBe(0);
    expect(snapshot(dir)).toEqual(straight);
  });

  it("while writing config.json: a failed start leaves nothing behind", async () => {
    const dir = tmp.path("full-config/run");
    const r = await withFault("enospc-at:100", "train", ...RUN, "--out", dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: cannot write .*config\.json\.tmp-\d+: no space left on the device/);
    expect(existsSync(tmp.path("full-config"))).toBe(false);
  });
});

describe("non-finite values", () => {
  it.each(["loss", "gradient", "update"])(
    "a NaN %s stops the run with a sentence naming the update and the quantity",
    async (quantity) => {
      const dir = tmp.path(`nan-${quantity}`);
      const before = hd.numTensors();
      const r = await withFault(`nan-at:${quantity}:3`, "train", ...RUN, "--out", dir);
      expect(hd.numTensors()).toBe(before); // the stopped update's tensors are freed too
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`^error: update 3 \\(epoch 1\\) has a non-finite ${quantity}\\b`));
      expect(r.err).toContain("It had no checkpoint yet");
      expect(existsSync(join(dir, CHECKPOINT_FILE))).toBe(false);
      expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    },
  );

  it("a NaN gradient in epoch 2 keeps the finite checkpoint of epoch 1; --on-nonfinite skip then drops that update and counts it", async () => {
    const dir = tmp.path("nan-epoch-2");
    const r = await withFault("nan-at:gradient:12", "train", ...RUN, "--out", dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: update 12 \(epoch 2\) has a non-finite gradient/);
    expect(r.err).toContain("the last after epoch 1");
    expect(r.err).toContain(`or drop such updates: hodiff train --resume ${dir} --epochs 2 --on-nonfinite skip`);
    const kept = snapshot(dir);
    expect(kept.bins).toEqual(afterOneEpoch.bins);
    // the same manifests as a 1-epoch run's, whose config says 1 epoch instead of 2
    const asOneEpoch = (text: string) => {
      const m = JSON.parse(text);
      return { ...m, config: { ...m.config, epochs: 1 } };
    };
    expect(asOneEpoch(kept.checkpoint)).toEqual(JSON.parse(afterOneEpoch.checkpoint));
    expect(asOneEpoch(kept.best)).toEqual(JSON.parse(afterOneEpoch.best));

    const before = hd.numTensors();
    const skip = await withFault("nan-at:gradient:12", "train", "--resume", dir, "--on-nonfinite", "skip");
    expect(skip.code).toBe(0);
    expect(hd.numTensors()).toBe(before);
    const records = readMetrics(join(dir, METRICS_FILE));
    // identical to the uninterrupted run up to update 11, then every record counts the skipped update
    expect(records.slice(0, 12).map(timeless)).toEqual(straight.metrics.slice(0, 12));
    expect(records.filter((x) => x.nonfinite_skipped !== undefined).map((x) => [x.kind, x.step])).toEqual([
      ...[12, 13, 14, 15, 16].map((s) => ["step", s]),
      ["epoch", 16],
    ]);
    expect(records.every((x) => x.nonfinite_skipped === undefined || x.nonfinite_skipped === 1)).toBe(true);
    const manifest = JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), "utf8"));
    expect([manifest.epoch, manifest.nonfiniteSkipped]).toEqual([2, 1]);
    expect(Number.isFinite(records.at(-1)!.train_loss)).toBe(true);
  });

  it("an absurd learning rate (--lr 1e38) stops at the first non-finite update, not at the end", async () => {
    const dir = tmp.path("lr-1e38");
    const r = await hodiff("train", ...TINY, "--optimizer", "sgd", "--lr", "1e38", "--epochs", "2", "--out", dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: update \d+ \(epoch 1\) has a non-finite (loss|gradient|update)/);
    expect(existsSync(join(dir, CHECKPOINT_FILE))).toBe(false);
  });
});

describe("one writer per run directory", () => {
  it("a second writer is refused with a sentence naming the holder; the run is untouched", async () => {
    const dir = tmp.path("held");
    expect((await hodiff("train", ...RUN, "--epochs", "1", "--out", dir)).code).toBe(0);
    const before = snapshot(dir);
    const lock = acquireRunLock(dir, quiet, "train --resume elsewhere");
    try {
      const r = await hodiff("train", "--resume", dir, "--epochs", "2");
      expect(r.code).toBe(1);
      expect(r.err).toBe(
        `error: ${dir} is in use by another hodiff process (pid ${process.pid} on ${hostname()}, since ${lock.holder.startedAt}: train --resume elsewhere): one run directory has one writer. Wait for it to finish or stop it (it can be resumed), or use another directory`,
      );
    } finally {
      lock.release();
    }
    expect(snapshot(dir)).toEqual(before);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it("two --out runs and then two --resume runs started together: one of each runs, the other is refused, no mixed records", async () => {
    const dir = tmp.path("race");
    const outs = await Promise.all([1, 2].map(() => hodiff("train", ...RUN, "--epochs", "1", "--out", dir)));
    expect(outs.map((r) => r.code).sort()).toEqual([0, 1]);
    expect(outs.find((r) => r.code === 1)!.err).toMatch(/is in use by another hodiff process \(pid \d+/);
    const resumes = await Promise.all([1, 2].map(() => hodiff("train", "--resume", dir, "--epochs", "2")));
    expect(resumes.map((r) => r.code).sort()).toEqual([0, 1]);
    expect(snapshot(dir)).toEqual(straight);
  });

  it("a lock of a process that is gone is taken over; one of another host is not", async () => {
    const dir = tmp.path("stale");
    expect((await hodiff("train", ...RUN, "--epochs", "1", "--out", dir)).code).toBe(0);
    const dead = spawnSync("true").pid!;
    const holder = { pid: dead, hostname: hostname(), startedAt: "2026-01-01T00:00:00.000Z", command: "train" };
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify(holder));
    writeFileSync(join(dir, `${METRICS_FILE}.tmp-${dead}`), "left by a dead writer");
    const r = await hodiff("train", "--resume", dir, "--epochs", "2");
    expect(r.code).toBe(0);
    expect(r.err).toContain(`note: took over the lock of ${dir} from pid ${dead} on ${hostname()}`);
    expect(r.err).toContain(`removed 1 file(s) an interrupted run left in ${dir}: ${METRICS_FILE}.tmp-${dead}`);
    expect(snapshot(dir)).toEqual(straight);

    if (existsSync("/proc/self/stat")) {
      // a live pid that another process had when it took the lock (a pid reused after a restart)
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ ...holder, pid: process.pid, procStart: "1" }));
      const reused = await hodiff("train", "--resume", dir, "--epochs", "2");
      expect([reused.code, reused.err]).toEqual([
        0,
        expect.stringContaining(`took over the lock of ${dir} from pid ${process.pid}`),
      ]);
    }
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ ...holder, pid: process.pid, hostname: "elsewhere" }));
    const other = await hodiff("train", "--resume", dir, "--epochs", "3");
    expect(other.code).toBe(1);
    expect(other.err).toContain(`if that process is gone, delete ${join(dir, LOCK_FILE)}`);
  });
});

describe("paths that cannot be written, and damaged files, are sentences", () => {
  it("--out under a regular file: exit 1, no stack trace, nothing created", async () => {
    const file = tmp.path("a-file");
    writeFileSync(file, "x");
    const r = await hodiff("train", ...RUN, "--out", join(file, "run"));
    expect([r.code, r.err]).toEqual([
      1,
      `error: --out ${join(file, "run")}: cannot create the directory ${join(file, "run")}: a part of the path is a file, not a directory`,
    ]);
    const named = await hodiff("train", ...RUN, "--out", file);
    expect([named.code, named.err.split("\n")[0]]).toEqual([
      2,
      `error: --out ${file} is a file, not a directory: choose another --out`,
    ]);
  });

  it("Node's errors for a read-only file system and a permission problem read as sentences", () => {
    const err = (code: string, syscall: string, path: string) =>
      Object.assign(new Error(`${code}: raw`), { code, syscall, path });
    expect(describeError(err("EROFS", "open", "/ro/x"))).toBe("cannot open /ro/x: the file system is read-only");
    expect(describeError(err("EACCES", "mkdir", "/ro/run"))).toBe(
      "cannot create the directory /ro/run: permission denied",
    );
  });

  it("a failed start (data missing) leaves no directory", async () => {
    const dataDir = tmp.path("no-data");
    mkdirSync(dataDir);
    const out = tmp.path("never/run");
    const r = await hodiff("train", "--dataset", "mnist", "--data-dir", dataDir, "--out", out, "--no-progress");
    expect(r.code).toBe(1);
    expect(existsSync(tmp.path("never"))).toBe(false);
  });

  it("a metrics file shorter than the checkpoint says: exit 1 with a sentence", async () => {
    const dir = tmp.path("short-metrics");
    expect((await hodiff("train", ...RUN, "--epochs", "1", "--out", dir)).code).toBe(0);
    writeFileSync(join(dir, METRICS_FILE), readFileSync(join(dir, METRICS_FILE), "utf8").split("\n")[0] + "\n");
    const r = await hodiff("train", "--resume", dir, "--epochs", "2");
    expect([r.code, r.err]).toEqual([
      1,
      expect.stringMatching(/\nerror: .*metrics\.jsonl has 1 complete records but the checkpoint saw 9: /),
    ]);
    expect(r.err).not.toMatch(/\n\s+at /);
    const debug = await hodiff("train", "--resume", dir, "--epochs", "2", "--debug");
    expect(debug.err).toMatch(/\n\s+at /); // --debug shows where
  });

  it("report reads a run whose last metrics line was cut short, and names a damaged line", async () => {
    const dir = tmp.path("cut-line");
    expect((await hodiff("train", ...RUN, "--epochs", "1", "--out", dir)).code).toBe(0);
    writeFileSync(join(dir, METRICS_FILE), `${readFileSync(join(dir, METRICS_FILE), "utf8")}{"kind":"st`);
    const [run] = readRuns([dir]); // what report reads (rendering the page is report's own test)
    expect(run!.metrics.map(timeless)).toEqual(afterOneEpoch.metrics);
    writeFileSync(join(dir, METRICS_FILE), `{"kind":"st\n${readFileSync(join(dir, METRICS_FILE), "utf8")}`);
    const bad = await hodiff("report", dir, "--out", tmp.path("bad.html"));
    expect([bad.code, bad.err]).toEqual([
      1,
      expect.stringMatching(/^error: .*metrics\.jsonl, line 1: not a JSON record/),
    ]);
  });
});

describe("signals, the launcher, the warm-up", () => {
  it("SIGTERM stops between two updates, prints the resume command and exits 143", async () => {
    // in-process: the handler that `train` installs is called as the signal would call it
    const dir = tmp.path("sigterm");
    const err: string[] = [];
    let sent = false;
    const io = {
      ...quiet,
      err: (l: string) => err.push(l),
      out: (l: string) => {
        if (sent || !l.startsWith("epoch 1/")) return;
        sent = true;
        (process.listeners("SIGTERM").at(-1) as (s: NodeJS.Signals) => void)("SIGTERM");
      },
    };
    const listeners = process.listeners("SIGTERM").length;
    const code = await run(["train", ...RUN, "--epochs", "500", "--out", dir], io);
    expect(code).toBe(143);
    expect(err.join("\n")).toBe(
      `SIGTERM: stopping after the current update (send it again to stop at once)\nstopped by SIGTERM: ${dir} keeps its checkpoint (after epoch 1); continue with: hodiff train --resume ${dir} --epochs 500`,
    );
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    expect(process.listeners("SIGTERM").length).toBe(listeners); // the handler is removed again
    expect((await hodiff("train", "--resume", dir, "--epochs", "2")).code).toBe(0);
    expect(snapshot(dir)).toEqual(straight);
  });

  it.skipIf(!existsSync("/proc/self/task"))(
    "under a package-manager script, a kill -9 of the launching shell stops the run (no orphan, no child process)",
    async () => {
      const { trainer, children, stderr } = await orphan;
      expect(trainer).toBeGreaterThan(0);
      expect(children).toEqual([]); // bin/hodiff.mjs runs the program in its own process
      // gone, or a zombie whose new parent has not reaped it yet
      const stat = `/proc/${trainer}/stat`;
      expect(existsSync(stat) ? readFileSync(stat, "utf8").split(") ")[1]![0] : "gone").toMatch(/^(gone|Z)$/);
      expect(stderr).toContain("SIGTERM: stopping after the current update");
      expect(stderr).toContain(`continue with: hodiff train --resume ${tmp.path("orphan")} --epochs 500`);
      expect(existsSync(tmp.path(`orphan/${LOCK_FILE}`))).toBe(false);
    },
  );

  it("pnpm hodiff runs the launcher in-process (the tsx CLI would run the program in a child)", () => {
    const root = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8"));
    expect(root.scripts.hodiff).toBe("node packages/cli/bin/hodiff.mjs");
  });

  it("warns when a newton-summary run is shorter than its warm-up, whose updates change nothing", async () => {
    const newton = (lr: string, extra: string[]) => [...TINY, "--optimizer", "newton-summary", "--lr", lr, ...extra];
    const a = await hodiff("train", ...newton("0.1", []), "--epochs", "1", "--out", tmp.path("warm-a"));
    expect(a.code).toBe(0);
    expect(a.err).toMatch(
      /^warning: newton-summary spends its first 30 updates on warm-up \(--warmup 3 summaries × --period 10\), but this run has only 8/,
    );
    // no update was applied: another λ ends with the same parameters
    expect((await hodiff("train", ...newton("0.5", []), "--epochs", "1", "--out", tmp.path("warm-b"))).code).toBe(0);
    expect(paramBits(tmp.path("warm-b"))).toEqual(paramBits(tmp.path("warm-a")));
    const long = await hodiff(
      "train",
      ...newton("0.1", ["--period", "2", "--warmup", "1"]),
      "--epochs",
      "1",
      "--out",
      tmp.path("warm-c"),
    );
    expect([long.code, long.err]).toEqual([0, ""]);
  });
});

describe("a kill -9 at each write point leaves a directory that one command resumes to the uninterrupted run", () => {
  // label:stage:n — the n-th time the write of label reaches that stage (see faults.ts)
  it.each(POINTS.map((p, i) => [...p, i] as const))("%s", async (_what, _fault, how, i) => {
    const dir = tmp.path(`kill-${i}`);
    const exit = await killed[i]!;
    expect([exit.signal, exit.stderr]).toEqual(["SIGKILL", ""]);
    // the dead writer's lock is still there, and taken over by the next writer with a note
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    const again =
      how === "restart"
        ? await hodiff("train", ...RUN, "--out", dir) // no config.json: the documented command is the first one
        : await hodiff("train", "--resume", dir, "--no-progress");
    expect(again.err).toMatch(/note: took over the lock of .* which is no longer running/);
    expect(again.code).toBe(0);
    expect(again.err).not.toMatch(/error/);
    expect(snapshot(dir)).toEqual(straight);
  });
});
