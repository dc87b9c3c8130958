/**
 * `pnpm explorer:test`: builds the page, serves it, opens it in Debian's headless Chromium
 * (puppeteer-core driving /usr/bin/chromium; no browser download), runs each case of `CASES` (the
 * paper MLP on MNIST and LeNet-5 on CIFAR-10, each on wasm and on webgpu through SwiftShader's
 * software adapter), and checks that
 *   - the loss falls (mean of the last 5 updates < mean of the first 5: single minibatch losses
 *     are noisy, LeNet's especially),
 *   - η per group and the H̄ / H̄⁻¹ heatmap values, and the validation loss after the run, equal a
 *     Node run of the same model, seed and batch size (wasm in Node, scripts/node-run.ts) within
 *     float32 tolerance, and the validation accuracy within one example,
 *   - the plots rendered,
 *   - the controls work (case "controls"): LeNet picked on the page, 2 updates on wasm, Train;
 * and saves screenshots under apps/explorer/screenshots/ (git-ignored).
 * `EXPLORER_CASES=lenet-webgpu,…` runs only the named cases.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";
import { preview } from "vite";
import type { RunResult } from "../src/main";
import type { ModelName, StepReport } from "../src/session";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

interface Case {
  readonly model: ModelName;
  readonly backend: "wasm" | "webgpu";
  readonly updates: number;
  readonly batchSize: number;
  /** NewtonSummary's summary period (summaries at updates 1, 1 + period, …). */
  readonly period: number;
  /** Evaluate on the 512 validation images after the run (and compare with Node). */
  readonly validate: boolean;
}
/**
 * LeNet on webgpu runs 10 updates (two summaries) at batch 16, without the validation pass: on
 * SwiftShader, which runs every kernel on the CPU, one LeNet summary takes about half as long as
 * the MLP's 30 updates, and the validation pass as long again.
 */
const ALL_CASES: Readonly<Record<string, Case>> = {
  "mlp-wasm": { model: "mlp", backend: "wasm", updates: 30, batchSize: 64, period: 5, validate: true },
  "mlp-webgpu": { model: "mlp", backend: "webgpu", updates: 30, batchSize: 64, period: 5, validate: true },
  "lenet-wasm": { model: "lenet", backend: "wasm", updates: 30, batchSize: 64, period: 5, validate: true },
  "lenet-webgpu": { model: "lenet", backend: "webgpu", updates: 10, batchSize: 16, period: 5, validate: false },
};
const chosen = process.env.EXPLORER_CASES?.split(",") ?? [...Object.keys(ALL_CASES), "controls"];
for (const name of chosen)
  if (!(name in ALL_CASES) && name !== "controls") throw new Error(`EXPLORER_CASES: unknown case "${name}"`);
const CASES = chosen.filter((name) => name in ALL_CASES).map((name) => [name, ALL_CASES[name]!] as const);
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
/** Relative tolerance of η and H̄ entries (scaled by the largest entry of each matrix/vector). */
const RTOL = Number(process.env.EXPLORER_RTOL ?? 2e-3);

const run = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] });

function maxScaledDiff(a: readonly number[], b: readonly number[]): number {
  const scale = Math.max(...b.map(Math.abs), 1e-12);
  return Math.max(0, ...a.map((x, i) => Math.abs(x - b[i]!) / scale));
}

/** Worst scaled difference between two runs' η, H̄ and H̄⁻¹ at every update. */
function compare(got: StepReport[], want: StepReport[]): { eta: number; hbar: number; hinv: number } {
  const worst = { eta: 0, hbar: 0, hinv: 0 };
  want.forEach((w, i) => {
    const g = got[i]!;
    if ((g.eta === null) !== (w.eta === null)) throw new Error(`update ${i + 1}: η present in one run only`);
    if (w.eta) worst.eta = Math.max(worst.eta, maxScaledDiff(g.eta!, w.eta));
    if (w.hbar) worst.hbar = Math.max(worst.hbar, maxScaledDiff(g.hbar!.flat(), w.hbar.flat()));
    if (w.hbarInverse) worst.hinv = Math.max(worst.hinv, maxScaledDiff(g.hbarInverse!.flat(), w.hbarInverse.flat()));
  });
  return worst;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const t0 = Date.now();
  run("npx", ["tsx", "scripts/make-data.ts"]);
  run("npx", ["vite", "build", "--logLevel", "warn"]);
  // One Node run per model and batch size, as long as the longest case that uses it.
  type Reference = { reports: StepReport[]; validation: RunResult["validation"] };
  const references = new Map<string, Reference>();
  const refKey = (c: Case) => `${c.model}/${c.batchSize}/${c.period}`;
  for (const [, c] of CASES) {
    const updates = Math.max(...CASES.filter(([, d]) => refKey(d) === refKey(c)).map(([, d]) => d.updates));
    if (references.has(refKey(c))) continue;
    const args = ["--model", c.model, "--backend", "wasm", "--batch-size", String(c.batchSize)];
    args.push("--period", String(c.period));
    const out = run("npx", ["tsx", "scripts/node-run.ts", ...args, "--updates", String(updates)]).toString();
    references.set(refKey(c), JSON.parse(out) as Reference);
  }

  const server = await preview({ root, logLevel: "warn", preview: { port: 0, host: "127.0.0.1" } });
  const url = server.resolvedUrls!.local[0]!;
  const browser = await puppeteer.launch({
    // One evaluate runs all of a case's updates: minutes on a software adapter.
    protocolTimeout: 900_000,
    executablePath: CHROMIUM,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--enable-unsafe-webgpu",
      "--enable-unsafe-swiftshader",
      "--use-webgpu-adapter=swiftshader",
      "--enable-features=Vulkan",
    ],
  });
  const shots = join(root, "screenshots");
  mkdirSync(shots, { recursive: true });
  const failures: string[] = [];
  try {
    for (const [name, c] of CASES) {
      const page = await browser.newPage();
      await page.setViewport({ width: 1100, height: 800 });
      page.on("pageerror", (e) => console.error(`[${name}] page error: ${(e as Error).message}`));
      await page.goto(url);
      await page.waitForSelector("body[data-state=ready]");
      const t = Date.now();
      // A line every 20 s, so a slow software-adapter run shows where it is.
      const ticker = setInterval(() => {
        page
          .evaluate(() => document.getElementById("status")!.textContent)
          .then((s) => console.log(`[${name}] ${((Date.now() - t) / 1000).toFixed(0)} s: ${s}`))
          .catch(() => undefined);
      }, 20_000);
      const result = (await page
        .evaluate(
          (c) =>
            window.explorer.run(
              {
                model: c.model,
                optimizer: "newton-summary",
                partition: "canonical",
                lambda: 0.1,
                seed: 0,
                batchSize: c.batchSize,
                period: c.period,
              },
              c.updates,
              c.backend,
              c.validate,
            ),
          c,
        )
        .finally(() => clearInterval(ticker))) as RunResult;
      const { reports, validation } = result;
      const seconds = (Date.now() - t) / 1000;
      const used = await page.evaluate(() => document.body.dataset.backend);
      await page.screenshot({ path: join(shots, `explorer-${name}.png`), fullPage: true });
      const reference = references.get(refKey(c))!;
      const losses = reports.map((r) => r.loss);
      const falls = mean(losses.slice(-5)) < mean(losses.slice(0, 5));
      const diff = compare(reports, reference.reports.slice(0, c.updates));
      const want = reference.validation;
      // The validation figures are compared only where the Node run stopped at the same update.
      const sameLength = reference.reports.length === c.updates;
      const validationDiff =
        sameLength && validation && want ? Math.abs(validation.loss - want.loss) / Math.abs(want.loss) : 0;
      const accuracyDiff = sameLength && validation && want ? Math.abs(validation.accuracy - want.accuracy) : 0;
      const rendered = await page.evaluate(() =>
        ["loss", "eta", "hbar", "hinv"].every((id) => Number(document.getElementById(id)!.dataset.rendered) > 0),
      );
      console.log(
        JSON.stringify({
          case: name,
          used,
          updates: reports.length,
          batchSize: c.batchSize,
          seconds,
          lossFirst5: mean(losses.slice(0, 5)),
          lossLast5: mean(losses.slice(-5)),
          validation,
          worstScaledDiffVsNode: { ...diff, validationLoss: validationDiff },
          rendered,
        }),
      );
      if (used !== c.backend) failures.push(`${name}: the page ran on ${used}`);
      if (reports.length !== c.updates) failures.push(`${name}: ${reports.length} updates`);
      if (!falls) failures.push(`${name}: the loss did not fall (${losses.map((l) => l.toFixed(3)).join(" ")})`);
      if (!rendered) failures.push(`${name}: a plot did not render`);
      if (c.validate && validation === null) failures.push(`${name}: no validation figures`);
      for (const [k, v] of Object.entries({ ...diff, validationLoss: validationDiff }))
        if (!(v <= RTOL)) failures.push(`${name}: ${k} differs from the Node run by ${v.toExponential(2)} (> ${RTOL})`);
      // One example's worth, in case a float32 difference flips a near tie.
      if (validation && !(accuracyDiff <= 1 / validation.count + 1e-9))
        failures.push(`${name}: validation accuracy ${validation.accuracy} vs the Node run's ${want?.accuracy}`);
      await page.close();
    }
    // The controls themselves: pick LeNet, 2 updates on wasm, press Train.
    if (chosen.includes("controls")) {
      const page = await browser.newPage();
      await page.goto(url);
      await page.waitForSelector("body[data-state=ready]");
      await page.select("#model", "lenet");
      await page.select("#backend", "wasm");
      await page.$eval("#updates", (e) => ((e as HTMLInputElement).value = "2"));
      await page.click("#start");
      await page.waitForFunction(() => document.body.dataset.state === "done", { timeout: 120_000 });
      const [title, said] = await page.evaluate(() => [
        document.getElementById("title")!.textContent,
        document.getElementById("status")!.textContent,
      ]);
      console.log(JSON.stringify({ case: "controls", title, status: said }));
      if (!title?.includes("LeNet-5") || !said?.includes("update 2/2") || !said.includes("validation"))
        failures.push(`controls: after picking LeNet and Train, the page says "${title}" / "${said}"`);
      await page.close();
    }
  } finally {
    await browser.close();
    await new Promise<void>((r) => server.httpServer.close(() => r()));
  }
  console.log(`explorer:test: ${((Date.now() - t0) / 1000).toFixed(1)} s; screenshots in ${shots}`);
  if (failures.length > 0) {
    console.error(`explorer:test FAILED:\n  ${failures.join("\n  ")}`);
    process.exit(1);
  }
  console.log("explorer:test passed");
}

await main();
