/**
 * `pnpm explorer:test`: builds the page, serves it, opens it in Debian's headless Chromium
 * (puppeteer-core driving /usr/bin/chromium; no browser download), runs 30 updates on wasm and on
 * webgpu (SwiftShader's software adapter), and checks that
 *   - the loss falls (mean of the last 5 updates < mean of the first 5),
 *   - η per group and the H̄ / H̄⁻¹ heatmap values equal a Node run of the same seed (wasm in Node,
 *     scripts/node-run.ts) within float32 tolerance,
 *   - the plots rendered;
 * and saves screenshots under apps/explorer/screenshots/ (git-ignored).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";
import { preview } from "vite";
import type { StepReport } from "../src/session";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const UPDATES = 30;
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
  const reference = JSON.parse(
    run("npx", ["tsx", "scripts/node-run.ts", "--backend", "wasm", "--updates", String(UPDATES)]).toString(),
  ) as { reports: StepReport[] };

  const server = await preview({ root, logLevel: "warn", preview: { port: 0, host: "127.0.0.1" } });
  const url = server.resolvedUrls!.local[0]!;
  const browser = await puppeteer.launch({
    // One evaluate runs all 30 updates: minutes on a software adapter.
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
    for (const backend of ["wasm", "webgpu"]) {
      const page = await browser.newPage();
      await page.setViewport({ width: 1100, height: 760 });
      page.on("pageerror", (e) => console.error(`[${backend}] page error: ${(e as Error).message}`));
      await page.goto(url);
      await page.waitForSelector("body[data-state=ready]");
      const t = Date.now();
      const reports = (await page.evaluate(
        (b, n) =>
          window.explorer.run(
            { optimizer: "newton-summary", partition: "canonical", lambda: 0.1, seed: 0, batchSize: 64, period: 5 },
            n,
            b,
          ),
        backend,
        UPDATES,
      )) as StepReport[];
      const used = await page.evaluate(() => document.body.dataset.backend);
      await page.screenshot({ path: join(shots, `explorer-${backend}.png`), fullPage: true });
      const losses = reports.map((r) => r.loss);
      const falls = mean(losses.slice(-5)) < mean(losses.slice(0, 5));
      const diff = compare(reports, reference.reports);
      const rendered = await page.evaluate(() =>
        ["loss", "eta", "hbar", "hinv"].every((id) => Number(document.getElementById(id)!.dataset.rendered) > 0),
      );
      console.log(
        JSON.stringify({
          backend,
          used,
          updates: reports.length,
          seconds: (Date.now() - t) / 1000,
          lossFirst5: mean(losses.slice(0, 5)),
          lossLast5: mean(losses.slice(-5)),
          worstScaledDiffVsNode: diff,
          rendered,
        }),
      );
      if (used !== backend) failures.push(`${backend}: the page ran on ${used}`);
      if (reports.length !== UPDATES) failures.push(`${backend}: ${reports.length} updates`);
      if (!falls) failures.push(`${backend}: the loss did not fall (${losses.map((l) => l.toFixed(3)).join(" ")})`);
      if (!rendered) failures.push(`${backend}: a plot did not render`);
      for (const [k, v] of Object.entries(diff))
        if (!(v <= RTOL))
          failures.push(`${backend}: ${k} differs from the Node run by ${v.toExponential(2)} (> ${RTOL})`);
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
