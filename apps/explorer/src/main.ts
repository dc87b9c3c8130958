/**
 * The explorer page: loads the chosen model's data subset (static files made at build time), picks
 * a backend (webgpu when the browser has it, else wasm), trains the model one update at a time and
 * redraws the plots after each. `window.explorer.run(config, updates, backend)` does the same for
 * tests.
 */
import * as hd from "@hodiff/core";
import { etaChart, lossChart, matrixChart } from "./charts";
import { createSession, DEFAULT_CONFIG, MODELS, type SessionConfig, type StepReport } from "./session";
import { decodeSplit, type Subset, type SplitFiles, type SubsetIndex } from "./subset";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (s: string) => ($("status").textContent = s);

// tfjs's wasm binaries are copied beside the page at build time (scripts/make-data.ts).
const { setWasmPaths } = await import("@tensorflow/tfjs-backend-wasm");
setWasmPaths(new URL("tfjs-wasm/", document.baseURI).href);

const bytesOf = async (file: string) => {
  const r = await fetch(`data/${file}`);
  if (!r.ok) throw new Error(`explorer: data/${file}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
};

let index: Promise<SubsetIndex> | null = null;
/** The train and validation subsets of a data set, fetched and decoded once per page. */
const subsets = new Map<string, Promise<{ train: Subset; validation: Subset }>>();
function loadSubsets(dataset: string): Promise<{ train: Subset; validation: Subset }> {
  index ??= fetch("data/subset.json").then((r) => r.json() as Promise<SubsetIndex>);
  const load = async () => {
    const files = (await index!)[dataset];
    if (files === undefined) throw new Error(`explorer: data/subset.json has no ${dataset}; rebuild the page`);
    const read = async (s: SplitFiles) =>
      decodeSplit(files, s, ...(await Promise.all([bytesOf(s.images), bytesOf(s.labels)])));
    const [train, validation] = await Promise.all([read(files.train), read(files.validation)]);
    return { train, validation };
  };
  if (!subsets.has(dataset)) subsets.set(dataset, load());
  return subsets.get(dataset)!;
}

/** webgpu if asked (or, for auto, if the browser has an adapter), else wasm; says which. */
async function chooseBackend(name: string): Promise<string> {
  if (name === "auto") {
    try {
      await hd.setBackend("webgpu");
    } catch {
      await hd.setBackend("wasm");
    }
  } else await hd.setBackend(name as hd.BackendName);
  const a = hd.getWebGpuAdapter();
  return hd.getBackend() === "webgpu" && a !== null ? `webgpu (${a.description || "adapter"})` : hd.getBackend();
}

let stopRequested = false;

/** What a run gives back: the step reports and the validation loss and accuracy after the last. */
export interface RunResult {
  readonly reports: StepReport[];
  readonly validation: { loss: number; accuracy: number; count: number } | null;
}

/** Train `updates` updates on `backend`; then, unless `validate` is false, evaluate on the validation subset. */
async function run(config: SessionConfig, updates: number, backend: string, validate = true): Promise<RunResult> {
  const { train, validation: held } = await loadSubsets(MODELS[config.model].dataset);
  // The controls show what runs (a test calls run() directly; its screenshots should say so).
  $<HTMLSelectElement>("model").value = config.model;
  $<HTMLSelectElement>("optimizer").value = config.optimizer;
  $<HTMLSelectElement>("partition").value = config.partition;
  $<HTMLInputElement>("lambda").value = String(config.lambda);
  $<HTMLInputElement>("updates").value = String(updates);
  const used = await chooseBackend(backend);
  document.body.dataset.backend = hd.getBackend();
  $("title").textContent =
    `hodiff explorer — ${MODELS[config.model].title} (${train.count.toLocaleString("en")} images)`;
  const session = createSession(train, config, held);
  // Plots of an earlier run (say NewtonSummary's η before an Adam run) would mislead.
  for (const id of ["loss", "eta", "hbar", "hinv"]) $(id).replaceChildren();
  const reports: StepReport[] = [];
  let validation: RunResult["validation"] = null;
  stopRequested = false;
  document.body.dataset.state = "running";
  try {
    for (let i = 0; i < updates && !stopRequested; i++) {
      const r = await session.step();
      reports.push(r);
      status(`${used} · update ${r.step}/${updates} · loss ${r.loss.toFixed(4)} · ${r.ms.toFixed(0)} ms/update`);
      await lossChart($("loss"), reports);
      if (config.optimizer === "newton-summary") {
        await etaChart($("eta"), reports);
        await matrixChart($("hbar"), r.hbar, r.groups);
        await matrixChart($("hinv"), r.hbarInverse, r.groups);
      }
    }
    if (validate) validation = await session.evaluate();
    if (validation !== null)
      status(
        `${$("status").textContent} · validation (${held.count}): loss ${validation.loss.toFixed(4)}, ` +
          `accuracy ${(100 * validation.accuracy).toFixed(1)}%`,
      );
    const errors = hd.getBackend() === "webgpu" ? hd.takeWebGpuErrors() : [];
    if (errors.length > 0) throw new Error(`webgpu device errors: ${errors.slice(0, 3).join("; ")}`);
  } finally {
    session.dispose();
    document.body.dataset.state = "done";
  }
  return { reports, validation };
}

declare global {
  interface Window {
    explorer: { run: typeof run };
  }
}
window.explorer = { run };

$("start").addEventListener("click", () => {
  const config: SessionConfig = {
    ...DEFAULT_CONFIG,
    model: $<HTMLSelectElement>("model").value as SessionConfig["model"],
    optimizer: $<HTMLSelectElement>("optimizer").value as SessionConfig["optimizer"],
    partition: $<HTMLSelectElement>("partition").value as SessionConfig["partition"],
    lambda: Number($<HTMLInputElement>("lambda").value),
  };
  run(config, Number($<HTMLInputElement>("updates").value), $<HTMLSelectElement>("backend").value).catch((e) =>
    status(`error: ${(e as Error).message}`),
  );
});
$("stop").addEventListener("click", () => (stopRequested = true));
status("ready: pick a model, optimizer, partition and λ, then Train");
document.body.dataset.state = "ready";
