import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { FETCH_COMMAND } from "@hodiff/data";
import { wasmFailure } from "./program";
import { hodiff, tempDir, TINY } from "./testing/harness";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("usage errors name the flag (exit status 2, nothing written)", () => {
  const out = () => tmp.path(`never-${Math.random().toString(36).slice(2)}`);
  it.each([
    ["an unknown flag", ["train", "--bogus"], /unknown option '--bogus'/],
    ["a non-integer --epochs", ["train", "--epochs", "two"], /--epochs <n>' argument 'two' is invalid/],
    ["--epochs 0", ["train", "--epochs", "0"], /--epochs <n>' argument '0' is invalid. expected an integer ≥ 1/],
    ["--batch-size 1.5", ["train", "--batch-size", "1.5"], /--batch-size/],
    [
      "an unknown --model",
      ["train", "--model", "resnet"],
      /--model <name>' argument 'resnet' is invalid. Allowed choices are mlp, lenet/,
    ],
    ["an unknown --dataset", ["train", "--dataset", "svhn"], /--dataset <name>' argument 'svhn' is invalid/],
    [
      "an unknown --optimizer",
      ["train", "--optimizer", "rmsprop"],
      /--optimizer <name>' argument 'rmsprop' is invalid/,
    ],
    ["an unknown --backend", ["train", "--backend", "webgl"], /--backend <name>' argument 'webgl' is invalid/],
    ["a negative --lr", ["train", "--lr", "-1"], /--lr <x>' argument '-1' is invalid. expected a finite number > 0/],
    ["--b2 1", ["train", "--b2", "1"], /--b2 <x>' argument '1' is invalid. expected a number < 1/],
    ["a bad --hidden", ["train", "--hidden", "16,,8"], /--hidden <widths>' argument '16,,8' is invalid/],
    [
      "a flag of another optimizer",
      ["train", "--optimizer", "sgd", "--b1", "0.5"],
      /--b1 does not apply to --optimizer sgd \(its flags: --lr, --momentum, --nesterov\)/,
    ],
    [
      "--chunk-size -1",
      ["train", "--optimizer", "newton-summary", "--chunk-size", "-1"],
      /--chunk-size <n>' argument '-1' is invalid/,
    ],
    ["--hidden on a CNN", ["train", "--model", "lenet", "--hidden", "16"], /--hidden applies only to the MLP models/],
    [
      "--synthetic-shape on real data",
      ["train", "--dataset", "mnist", "--synthetic-shape", "8"],
      /--synthetic-shape applies only to --dataset synthetic/,
    ],
    ["a missing --out", ["train"], /train needs --out <dir>/],
    [
      "an unknown data set to fetch",
      ["fetch", "svhn"],
      /value 'svhn' is invalid for argument 'dataset'. Allowed choices are mnist, fashion-mnist, cifar10, all/,
    ],
    ["--archive with all", ["fetch", "all", "--archive", "x.tgz"], /--archive needs exactly one data set/],
    ["an extra argument", ["train", "extra"], /too many arguments/],
    [
      "an unknown --partition",
      ["train", "--optimizer", "newton-summary", "--partition", "layers"],
      /--partition <name>' argument 'layers' is invalid. expected groups: canonical, trivial/,
    ],
    [
      "--period 0",
      ["train", "--optimizer", "newton-summary", "--period", "0"],
      /--period <n>' argument '0' is invalid. expected an integer ≥ 1/,
    ],
    [
      "a bad --solver",
      ["train", "--optimizer", "newton-summary", "--solver", "exact"],
      /--solver <name>' argument 'exact' is invalid. Allowed choices are cubic, linear/,
    ],
  ])("%s", async (_what, argv, message) => {
    const dir = out();
    const args =
      argv[0] === "train" && !argv.includes("--out") && _what !== "a missing --out" ? [...argv, "--out", dir] : argv;
    const r = await hodiff(...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(existsSync(dir)).toBe(false);
  });

  it("--train-size larger than the data, and --batch-size larger than --train-size", async () => {
    const a = await hodiff("train", ...TINY, "--train-size", "1000", "--out", out());
    expect([a.code, a.err]).toEqual([2, expect.stringMatching(/--train-size 1000 exceeds the 256 training examples/)]);
    const b = await hodiff("train", ...TINY, "--train-size", "16", "--out", out());
    expect([b.code, b.err]).toEqual([2, expect.stringMatching(/--batch-size 32 exceeds the 16 training examples/)]);
  });

  it("a --partition that does not fit the model", async () => {
    const r = await hodiff(
      "train",
      ...TINY,
      "--optimizer",
      "newton-summary",
      "--partition",
      "blocks-2",
      "--out",
      out(),
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--partition blocks-2: block: k = 2 exceeds the 1 layers before the last/);
  });

  it("a run directory is never overwritten, and a resumed run keeps its configuration", async () => {
    const dir = tmp.path("taken");
    expect((await hodiff("train", ...TINY, "--epochs", "1", "--out", dir)).code).toBe(0);
    const again = await hodiff("train", ...TINY, "--epochs", "1", "--out", dir);
    expect([again.code, again.err]).toEqual([
      2,
      expect.stringMatching(/--out .* already holds a run: continue it with --resume/),
    ]);
    const seed = await hodiff("train", "--resume", dir, "--seed", "9");
    expect([seed.code, seed.err]).toEqual([2, expect.stringMatching(/--seed 9 differs from the run's 3/)]);
    const lr = await hodiff("train", "--resume", dir, "--lr", "0.5");
    expect([lr.code, lr.err]).toEqual([2, expect.stringMatching(/--lr 0.5 differs from the run's 0.001/)]);
    const fewer = await hodiff("train", "--resume", dir, "--epochs", "1");
    expect(fewer.code).toBe(0); // already done: nothing to do
    const other = await hodiff("train", "--resume", dir, "--out", tmp.path("elsewhere"));
    expect([other.code, other.err]).toEqual([2, expect.stringMatching(/--out .* differs from --resume/)]);
    const same = await hodiff("train", "--resume", dir, "--seed", "3", "--model", "mlp", "--epochs", "1");
    expect(same.code).toBe(0); // repeating the run's own flags is fine
  });

  it("--resume of a directory without a checkpoint", async () => {
    const dir = tmp.path("empty");
    mkdirSync(dir);
    const r = await hodiff("train", "--resume", dir);
    expect([r.code, r.err]).toEqual([
      2,
      expect.stringMatching(/--resume .*: no run there \(no checkpoint.json, no config.json\)/),
    ]);
  });
});

describe("other exits", () => {
  it("a real data set that was not fetched: exit 1, the message names the fetch command", async () => {
    const dataDir = tmp.path("no-data");
    mkdirSync(dataDir);
    const r = await hodiff(
      "train",
      "--dataset",
      "mnist",
      "--data-dir",
      dataDir,
      "--out",
      tmp.path("mnist-run"),
      "--no-progress",
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain(`no data cache at ${dataDir}/mnist`);
    expect(r.err).toContain(`${FETCH_COMMAND} mnist --dir ${dataDir}`);
    expect(existsSync(tmp.path("mnist-run"))).toBe(false); // a failed start leaves nothing behind
  });

  it("no command prints the help and exits 2; --help and --version exit 0", async () => {
    const none = await hodiff();
    expect([none.code, none.err]).toEqual([2, expect.stringMatching(/Usage: hodiff .*\n[\s\S]*train/)]);
    const help = await hodiff("train", "--help");
    expect(help.code).toBe(0);
    for (const flag of [
      "--model",
      "--dataset",
      "--optimizer",
      "--epochs",
      "--train-size",
      "--batch-size",
      "--seed",
      "--backend",
      "--out",
      "--resume",
      "--lr",
      "--hidden",
    ])
      expect(help.out).toContain(flag);
    expect((await hodiff("--version")).out).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("a wasm trap (the heap running out) gets advice whose flags all exist", async () => {
    const advice = wasmFailure(new WebAssembly.RuntimeError("Aborted()"));
    expect(advice).toMatch(/^error: the wasm backend stopped with "Aborted\(\)"/);
    const flags = advice.match(/--[a-z-]+/g) ?? [];
    expect(flags).toEqual(
      expect.arrayContaining(["--batch-size", "--summary-batch-size", "--chunk-size", "--backend"]),
    );
    const help = (await hodiff("train", "--help")).out;
    for (const flag of flags) expect(help).toContain(flag);
  });

  it("bin/hodiff.mjs runs the CLI through tsx with its exit status", () => {
    const bin = fileURLToPath(new URL("../bin/hodiff.mjs", import.meta.url));
    const r = spawnSync(process.execPath, [bin, "train", "--bogus"], { encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown option '--bogus'");
  });
});
