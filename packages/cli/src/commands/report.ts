/**
 * `hodiff report DIR… --out FILE.html`: one self-contained HTML page comparing runs — a summary
 * table, training loss per update, validation loss and accuracy per epoch, the η traces per group
 * of NewtonSummary runs (paper Fig. 2b), and the heatmaps of every `inspect` output found in the
 * directories (`interaction.json` in a directory or one of its subdirectories). Every plot is a
 * Vega-Lite chart rendered to SVG in Node and inlined: the page needs nothing else.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { lineSpec, renderSvg, type LineChart, type Point } from "../charts";
import { writeFileAtomic } from "../checkpoint";
import { METRICS_FILE, MetricsError, readMetrics, type MetricsRecord } from "../metrics";
import { UsageError } from "../usage";
import { heatmapSvgs, INSPECT_FILE, type InspectOutput } from "./inspect";
import type { CommandModule } from "./types";

// model

/** What `report` reads from one directory. @category model */
export interface RunSummary {
  /** The name shown (the directory's base name, made unique). */
  readonly name: string;
  readonly dir: string;
  /** config.json's `config`, when there is one. */
  readonly config: Readonly<Record<string, unknown>> | null;
  readonly metrics: readonly MetricsRecord[];
  /** The inspect outputs found, with the directory each is in. */
  readonly inspects: readonly { readonly dir: string; readonly output: InspectOutput }[];
}

// reading

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

function readInspects(dir: string): { dir: string; output: InspectOutput }[] {
  const dirs = [dir, ...readdirSync(dir).map((d) => join(dir, d))].filter((d) => statSync(d).isDirectory());
  return dirs
    .filter((d) => existsSync(join(d, INSPECT_FILE)))
    .map((d) => ({ dir: d, output: JSON.parse(readFileSync(join(d, INSPECT_FILE), "utf8")) as InspectOutput }))
    .filter((x) => x.output.format === "hodiff-inspect");
}

/** config.json's `config`; a damaged file is a sentence, not a stack trace. */
function readConfig(path: string): Record<string, unknown> | null {
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { config?: Record<string, unknown> }).config ?? null;
  } catch (e) {
    throw new MetricsError(`${path} is not valid JSON (${(e as Error).message}): the run directory is damaged`);
  }
}

/**
 * Read the runs (metrics.jsonl, config.json) and inspect outputs of `dirs`; a directory with
 * neither is a usage error.
 * @category report
 */
export function readRuns(dirs: readonly string[]): RunSummary[] {
  const used = new Map<string, number>();
  return dirs.map((dir) => {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError("DIR", `DIR ${dir}: no such directory`);
    const metricsPath = join(dir, METRICS_FILE);
    const metrics = existsSync(metricsPath) ? readMetrics(metricsPath) : [];
    const configPath = join(dir, "config.json");
    const config = existsSync(configPath) ? readConfig(configPath) : null;
    const inspects = readInspects(dir);
    if (!existsSync(metricsPath) && inspects.length === 0)
      throw new UsageError(
        "DIR",
        `DIR ${dir}: neither a run (${METRICS_FILE}) nor an inspect output (${INSPECT_FILE}, here or in a subdirectory)`,
      );
    const base = basename(resolve(dir));
    const k = (used.get(base) ?? 0) + 1;
    used.set(base, k);
    return { name: k === 1 ? base : `${base} (${k})`, dir, config, metrics, inspects };
  });
}

// charts

/** The line charts of the comparison (only those with data). @category report */
export function runCharts(runs: readonly RunSummary[]): LineChart[] {
  const charts: LineChart[] = [];
  const points = (kind: "step" | "epoch", x: "step" | "epoch", field: string): Point[] =>
    runs.flatMap((r) =>
      r.metrics
        .filter((m) => m.kind === kind && num(m[field]) !== null)
        .map((m) => ({ x: m[x], y: num(m[field])!, series: r.name })),
    );
  const stepLoss = points("step", "step", "train_loss");
  // A run logged without step records still has a curve: its epoch means, at the epoch's last step.
  const epochOnly = runs
    .filter((r) => !r.metrics.some((m) => m.kind === "step"))
    .flatMap((r) =>
      r.metrics
        .filter((m) => m.kind === "epoch" && num(m.train_loss) !== null)
        .map((m) => ({ x: m.step, y: m.train_loss, series: r.name })),
    );
  const names = runs.map((r) => r.name);
  const add = (c: LineChart) => {
    if (c.points.length > 0) charts.push({ seriesOrder: names, ...c });
  };
  add({ title: "Training loss", xTitle: "update", yTitle: "minibatch NLL", points: [...stepLoss, ...epochOnly] });
  add({
    title: "Training loss per epoch",
    xTitle: "epoch",
    yTitle: "mean minibatch NLL",
    points: points("epoch", "epoch", "train_loss"),
  });
  add({ title: "Validation loss", xTitle: "epoch", yTitle: "NLL", points: points("epoch", "epoch", "val_loss") });
  add({
    title: "Validation accuracy",
    xTitle: "epoch",
    yTitle: "accuracy",
    points: points("epoch", "epoch", "val_accuracy"),
  });
  for (const r of runs) {
    const hasSteps = r.metrics.some((m) => m.kind === "step" && m["eta"] !== undefined);
    const records = r.metrics.filter(
      (m) => m.kind === (hasSteps ? "step" : "epoch") && typeof m["eta"] === "object" && m["eta"] !== null,
    );
    const eta = records.flatMap((m) =>
      Object.entries(m["eta"] as Record<string, unknown>)
        .filter(([, v]) => num(v) !== null)
        .map(([group, v]) => ({ x: m.step, y: num(v)!, series: group })),
    );
    const groups = [...new Set(records.flatMap((m) => Object.keys(m["eta"] as Record<string, unknown>)))];
    add({ title: `η per group — ${r.name}`, xTitle: "update", yTitle: "η_s", points: eta, seriesOrder: groups });
  }
  return charts;
}

// html

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const fmt = (x: number | null, digits = 4): string => (x === null ? "—" : x.toPrecision(digits));

function summaryTable(runs: readonly RunSummary[]): string {
  const head = [
    "run",
    "directory",
    "model",
    "dataset",
    "optimizer",
    "epochs",
    "updates",
    "train loss",
    "val loss",
    "val accuracy",
  ];
  const rows = runs.map((r) => {
    const epochs = r.metrics.filter((m) => m.kind === "epoch");
    const last = epochs[epochs.length - 1];
    const c = r.config ?? {};
    const str = (v: unknown) => (v === undefined || v === null ? "—" : String(v));
    return [
      r.name,
      r.dir,
      str(c["model"]),
      str(c["dataset"]),
      str(c["optimizer"]),
      last ? String(last.epoch) : "—",
      last ? String(last.step) : "—",
      fmt(num(last?.train_loss)),
      fmt(num(last?.["val_loss"])),
      fmt(num(last?.["val_accuracy"])),
    ];
  });
  const tr = (cells: string[], tag: "td" | "th") =>
    `<tr>${cells.map((x) => `<${tag}>${esc(x)}</${tag}>`).join("")}</tr>`;
  return `<table class="summary"><thead>${tr(head, "th")}</thead><tbody>${rows.map((r) => tr(r, "td")).join("")}</tbody></table>`;
}

const STYLE = `body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}
table.summary{border-collapse:collapse;font-size:.9em}table.summary td,table.summary th{border:1px solid #ccc;padding:.3em .6em;text-align:right}
table.summary td:first-child,table.summary td:nth-child(2){text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:1.5em}figure.plot{margin:0}figcaption{font-size:.85em;color:#555}`;

/**
 * The HTML page of `runs` (every plot an inline SVG in a `<figure class="plot">`).
 * @category report
 */
export async function renderReport(
  runs: readonly RunSummary[],
  title: string,
): Promise<{ html: string; plots: number }> {
  let plots = 0;
  const figure = (svg: string, caption?: string) => {
    plots++;
    return `<figure class="plot">${svg}${caption ? `<figcaption>${esc(caption)}</figcaption>` : ""}</figure>`;
  };
  const charts = runCharts(runs);
  const curves: string[] = [];
  for (const c of charts) curves.push(figure(await renderSvg(lineSpec(c))));
  const maps: string[] = [];
  for (const r of runs)
    for (const { dir, output } of r.inspects) {
      const svgs = await heatmapSvgs(output);
      const caption = `${r.name}: ${dir}`;
      maps.push(figure(svgs.hbar, caption), figure(svgs.hbarInverse, caption));
    }
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head>
<body>
<h1>${esc(title)}</h1>
<p>Runs: ${runs.map((r) => esc(r.name)).join(", ")}. Generated by <code>hodiff report</code> on ${esc(new Date().toISOString())}.</p>
${summaryTable(runs)}
${curves.length > 0 ? `<h2>Curves</h2><div class="plots">${curves.join("\n")}</div>` : ""}
${maps.length > 0 ? `<h2>Interaction maps (normalised |M_ij| / √|M_ii M_jj|)</h2><div class="plots">${maps.join("\n")}</div>` : ""}
</body></html>
`;
  return { html, plots };
}

// command

/** `hodiff report`. @category commands */
export const reportCommand: CommandModule = {
  register(program, { io, setExit }) {
    program
      .command("report")
      .description(
        "one self-contained HTML page comparing runs: loss and accuracy curves, η per group, interaction maps of inspect outputs",
      )
      .argument("<DIR...>", "run directories (metrics.jsonl) and/or inspect outputs (interaction.json)")
      .requiredOption("--out <file>", "the HTML file to write")
      .option("--title <text>", "title of the page", "hodiff report")
      .addHelpText("after", "\nExample:\n  hodiff report runs/mlp-adam runs/mlp-ns --out runs/report.html")
      .action(async (dirs: string[], f: { out: string; title: string }) => {
        const runs = readRuns(dirs);
        const { html, plots } = await renderReport(runs, f.title);
        mkdirSync(dirname(resolve(f.out)), { recursive: true });
        writeFileAtomic(f.out, html);
        io.out(`wrote ${f.out}: ${runs.length} run${runs.length === 1 ? "" : "s"}, ${plots} plots`);
        setExit(0);
      });
  },
};
