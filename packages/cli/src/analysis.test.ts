import { existsSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import type { InspectOutput } from "./commands/inspect";
import { hodiff, tempDir, TINY } from "./testing/harness";
import { isPositiveDefinite } from "./testing/linalg";

const tmp = tempDir("hodiff-analysis-");
afterAll(() => tmp.cleanup());

/** The flags of `inspect`/`lr` that pick TINY's model and data at initialisation. */
const TINY_PROBE = [
  ...["--model", "mlp", "--hidden", "16", "--dataset", "synthetic", "--synthetic-shape", "8"],
  ...["--synthetic-examples", "256", "--batch-size", "32", "--seed", "3"],
];
const NEWTON = [
  "--optimizer",
  "newton-summary",
  "--lr",
  "0.1",
  "--period",
  "2",
  "--warmup",
  "1",
  "--summary-batch-size",
  "32",
];
const CANONICAL = ["fc1.w", "fc1.b", "fc2.w", "fc2.b"];

const ns = tmp.path("ns");
const sgd = tmp.path("sgd");
const map = tmp.path("ns/map");

beforeAll(async () => {
  await hd.setBackend("wasm");
  const a = await hodiff("train", ...TINY, ...NEWTON, "--epochs", "2", "--out", ns);
  expect(a.code, a.err).toBe(0);
  const b = await hodiff(
    "train",
    ...TINY,
    "--optimizer",
    "sgd",
    "--lr",
    "0.1",
    "--log-every",
    "0",
    "--epochs",
    "2",
    "--out",
    sgd,
  );
  expect(b.code, b.err).toBe(0);
});

const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8")) as InspectOutput;

function expectInteractionMatrices(o: InspectOutput, S: number) {
  for (const m of [o.hbar, o.hbarInverse, o.normalized, o.normalizedInverse]) {
    expect(m).toHaveLength(S);
    for (const row of m) expect(row).toHaveLength(S);
    const scale = Math.max(...m.flat().map(Math.abs));
    for (let i = 0; i < S; i++)
      for (let j = 0; j < S; j++) {
        expect(Number.isFinite(m[i]![j]!)).toBe(true);
        expect(Math.abs(m[i]![j]! - m[j]![i]!)).toBeLessThanOrEqual(1e-9 * scale);
      }
  }
  for (let i = 0; i < S; i++) {
    expect(o.normalized[i]![i]).toBeCloseTo(1, 12);
    expect(o.normalizedInverse[i]![i]).toBeCloseTo(1, 12);
  }
  // H̄⁻¹ is the inverse of H̄
  for (let i = 0; i < S; i++)
    for (let j = 0; j < S; j++) {
      const e = o.hbar[i]!.reduce((acc, h, k) => acc + h * o.hbarInverse[k]![j]!, 0);
      expect(e).toBeCloseTo(i === j ? 1 : 0, 6);
    }
}

describe("train → inspect → lr → report", () => {
  it("inspect --checkpoint: SVG, PNG and JSON heatmaps of H̄ and H̄⁻¹ (S×S, symmetric, normalised diagonal 1); no leaks", async () => {
    const before = hd.numTensors();
    const r = await hodiff("inspect", "--checkpoint", ns, "--batch-size", "32", "--out", map);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(hd.numTensors()).toBe(before);
    for (const base of ["hbar", "hbar-inverse"]) {
      const svg = readFileSync(`${map}/${base}.svg`, "utf8");
      expect(svg.startsWith("<svg")).toBe(true);
      for (const label of CANONICAL) expect(svg).toContain(`>${label}<`);
      const png = readFileSync(`${map}/${base}.png`);
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(png.byteLength).toBeGreaterThan(2000);
    }
    const o = readJson(`${map}/interaction.json`);
    expect(o.labels).toEqual(CANONICAL);
    expect(o.groupSizes).toEqual([128, 16, 160, 10]);
    expect(o.meta).toMatchObject({
      model: "mlp",
      partition: "canonical",
      checkpoint: ns,
      step: 16,
      epoch: 2,
      batchSize: 32,
    });
    expectInteractionMatrices(o, 4);
    // along the gradient, ḡ_s = ‖∇_s L‖² > 0
    for (const g of o.gbar) expect(g).toBeGreaterThan(0);
  });

  it("inspect at initialisation with another partition", async () => {
    const out = tmp.path("init-map");
    const r = await hodiff("inspect", ...TINY_PROBE, "--partition", "weights-biases", "--out", out);
    expect(r.code, r.err).toBe(0);
    const o = readJson(`${out}/interaction.json`);
    expect(o.labels).toEqual(["weights", "biases"]);
    expect(o.meta).toMatchObject({ checkpoint: null, step: 0, partition: "weights-biases" });
    expectInteractionMatrices(o, 2);
    for (const f of ["hbar.svg", "hbar.png", "hbar-inverse.svg", "hbar-inverse.png"])
      expect(existsSync(`${out}/${f}`)).toBe(true);
  });

  it("inspect --batches k: the summaries of the mean loss over k batches (2 × 16 examples = one batch of 32)", async () => {
    const probe = TINY_PROBE.slice(0, -4); // without --batch-size 32 --seed 3
    const one = tmp.path("one-32");
    const two = tmp.path("two-16");
    const seed = ["--seed", "3"];
    expect((await hodiff("inspect", ...probe, ...seed, "--batch-size", "32", "--out", one)).code).toBe(0);
    const before = hd.numTensors();
    const r = await hodiff("inspect", ...probe, ...seed, "--batch-size", "16", "--batches", "2", "--out", two);
    expect(r.code, r.err).toBe(0);
    expect(hd.numTensors()).toBe(before);
    expect(r.out).toContain("batch 16 × 2");
    const [a, b] = [readJson(`${one}/interaction.json`), readJson(`${two}/interaction.json`)];
    expect(b.meta).toMatchObject({ batchSize: 16, batches: 2 });
    const close = (x: number, y: number) =>
      expect(Math.abs(x - y)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(y)));
    close(b.loss, a.loss);
    a.gbar.forEach((g, i) => close(b.gbar[i]!, g));
    a.order3Diag.forEach((d, i) => close(b.order3Diag[i]!, d));
    a.hbar.forEach((row, i) => row.forEach((h, j) => close(b.hbar[i]![j]!, h)));
    // and they are not those of the first batch of 16 alone
    const first = tmp.path("first-16");
    expect((await hodiff("inspect", ...probe, ...seed, "--batch-size", "16", "--out", first)).code).toBe(0);
    expect(Math.abs(readJson(`${first}/interaction.json`).loss - a.loss)).toBeGreaterThan(1e-4);
  });

  it("lr: one table row per group, both solvers' cases; --json gives η with H̄η = ḡ", async () => {
    const r = await hodiff("lr", "--checkpoint", ns, "--batch-size", "32");
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split("\n");
    expect(lines[1]).toMatch(/^group\s+params\s+ḡ_s\s+H̄_ss\s+D̄3_sss\s+η = H̄⁻¹ḡ\s+η cubic$/);
    const rows = lines.slice(3, -2);
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(CANONICAL);
    for (const row of rows) expect(row.split(/\s+/)).toHaveLength(7);
    // The solver cases follow from H̄ and D̄(3) of the same probe (inspect's map above), checked here
    // independently: H̄ ≻ 0 makes η = H̄⁻¹ḡ exist, and with some d_s ≠ 0 the cubic case is positive-definite.
    const probe = readJson(`${map}/interaction.json`);
    expect(isPositiveDefinite(probe.hbar)).toBe(true);
    expect(probe.order3Diag.some((d) => d !== 0)).toBe(true);
    expect(lines.at(-2)).toBe("η = H̄⁻¹ḡ: positive-definite");
    expect(lines.at(-1)).toBe("cubic (λ_int = 1): positive-definite");

    // --json: the same probe as inspect's map above (same checkpoint, batch and partition), so H̄η = ḡ with its H̄
    const j = await hodiff("lr", "--checkpoint", ns, "--batch-size", "32", "--lambda-int", "0.5", "--json");
    expect(j.code, j.err).toBe(0);
    const lr = JSON.parse(j.out) as {
      labels: string[];
      lambdaInt: number;
      linearCase: string;
      etaLinear: number[];
      etaCubic: number[];
    };
    expect(lr.labels).toEqual(CANONICAL);
    expect(lr.lambdaInt).toBe(0.5);
    expect(lr.etaCubic).toHaveLength(4);
    expect(lr.linearCase).toBe("positive-definite");
    const o = readJson(`${map}/interaction.json`);
    o.hbar.forEach((row, i) => {
      const hEta = row.reduce((acc, h, k) => acc + h * lr.etaLinear[k]!, 0);
      expect(hEta).toBeCloseTo(o.gbar[i]!, 8);
    });

    // at initialisation H̄ of this MLP is indefinite: η = H̄⁻¹ḡ is undefined ("—"), the cubic η exists
    const init = await hodiff("lr", ...TINY_PROBE, "--partition", "blocks-1");
    expect(init.code, init.err).toBe(0);
    const initRows = init.out.split("\n").slice(3, -2);
    expect(initRows.map((l) => l.split(/\s+/)[0])).toEqual(["block0.weights", "block0.biases", "fc2.w", "fc2.b"]);
    // H̄ of the same probe, from inspect: not positive definite, so no η = H̄⁻¹ḡ, and the cubic case is
    // indefinite (the hard case needs ḡ exactly orthogonal to an eigenvector: not for data like this).
    const initMap = tmp.path("init-blocks-1");
    expect((await hodiff("inspect", ...TINY_PROBE, "--partition", "blocks-1", "--out", initMap)).code).toBe(0);
    expect(isPositiveDefinite(readJson(`${initMap}/interaction.json`).hbar)).toBe(false);
    expect(init.out.split("\n").slice(-2)).toEqual([
      "η = H̄⁻¹ḡ: not-positive-definite",
      "cubic (λ_int = 1): indefinite",
    ]);
  });

  it("report: one self-contained HTML page, an <svg> per plot, the run names", async () => {
    const out = tmp.path("report/index.html");
    const r = await hodiff("report", ns, sgd, "--out", out, "--title", "tiny runs");
    expect(r.code, r.err).toBe(0);
    const html = readFileSync(out, "utf8");
    const figures = html.match(/<figure class="plot">/g)?.length ?? 0;
    const svgs = html.match(/<svg[\s>]/g)?.length ?? 0;
    // training loss, loss per epoch, validation loss, validation accuracy, η of the newton-summary run, H̄ and H̄⁻¹ maps
    expect(figures).toBe(7);
    expect(svgs).toBe(figures);
    expect(r.out).toBe(`wrote ${out}: 2 runs, 7 plots`);
    expect(html).toContain("<title>tiny runs</title>");
    for (const name of ["ns", "sgd"]) expect(html).toContain(`<td>${name}</td>`);
    expect(html).toContain("η per group — ns");
    for (const label of CANONICAL) expect(html).toContain(label);
    expect(html).not.toMatch(/<script|<link|src="/);
  });

  it("bad flags are usage errors naming the flag", async () => {
    const cases: [string[], RegExp][] = [
      [["inspect", ...TINY_PROBE], /--out/],
      [["inspect", "--partition", "blocks-x", "--out", tmp.path("x")], /--partition/],
      [["inspect", ...TINY_PROBE, "--partition", "blocks-9", "--out", tmp.path("x")], /--partition blocks-9/],
      [["inspect", "--checkpoint", tmp.path("nowhere"), "--out", tmp.path("x")], /--checkpoint/],
      [["inspect", "--checkpoint", ns, "--hidden", "32", "--out", tmp.path("x")], /--hidden/],
      [["lr", ...TINY_PROBE, "--lambda-int", "-1"], /--lambda-int/],
      [["lr", "--batch-size", "0"], /--batch-size/],
      [["lr", ...TINY_PROBE.slice(0, -4), "--batch-size", "1000"], /--batch-size 1000 exceeds/],
      [["lr", ...TINY_PROBE, "--batches", "9"], /--batches 9 × --batch-size 32 exceeds the 256 training examples/],
      [["inspect", ...TINY_PROBE, "--batches", "0", "--out", tmp.path("x")], /--batches/],
      [["lr", ...TINY_PROBE, "--train-size", "64", "--batches", "3"], /--batches 3 × --batch-size 32 exceeds the 64/],
      [
        ["inspect", "--checkpoint", ns, "--train-size", "64", "--out", tmp.path("x")],
        /--train-size 64 differs from the run's/,
      ],
      [["report", ns], /--out/],
      [["report", tmp.path("nowhere"), "--out", tmp.path("r.html")], /DIR .*no such directory/],
      [["report", "--out", tmp.path("r.html")], /DIR/],
    ];
    for (const [argv, flag] of cases) {
      const r = await hodiff(...argv);
      expect(r.code, `${argv.join(" ")}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(flag);
    }
  });
});
