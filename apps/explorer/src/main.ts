/**
 * The explorer page: loads the MNIST subset (static files made at build time), picks a backend
 * (webgpu when the browser has it, else wasm), trains the paper MLP one update at a time and
 * redraws the plots after each. `window.explorer.run(config, updates)` does the same for tests.
 */
import * as hd from "@hodiff/core";
import { etaChart, lossChart, matrixChart } from "./charts";
import { createSession, DEFAULT_CONFIG, type SessionConfig, type StepReport, type Subset } from "./session";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = (s: string) => ($("status").textContent = s);

// tfjs's wasm binaries are copied beside the page at build time (scripts/make-data.ts).
const { setWasmPaths } = await import("@tensorflow/tfjs-backend-wasm");
setWasmPaths(new URL("tfjs-wasm/", document.baseURI).href);

async function loadSubset(): Promise<Subset> {
  const meta = (await (await fetch("data/subset.json")).json()) as { count: number; images: string; labels: string };
  const [img, lab] = await Promise.all([
    fetch(`data/${meta.images}`).then((r) => r.arrayBuffer()),
    fetch(`data/${meta.labels}`).then((r) => r.arrayBuffer()),
  ]);
  return { count: meta.count, images: new Float32Array(img), labels: Int32Array.from(new Uint8Array(lab)) };
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

let subset: Promise<Subset> | null = null;
let stopRequested = false;

async function run(config: SessionConfig, updates: number, backend: string): Promise<StepReport[]> {
  subset ??= loadSubset();
  const data = await subset;
  const used = await chooseBackend(backend);
  document.body.dataset.backend = hd.getBackend();
  const session = createSession(data, config);
  const reports: StepReport[] = [];
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
    const errors = hd.getBackend() === "webgpu" ? hd.takeWebGpuErrors() : [];
    if (errors.length > 0) throw new Error(`webgpu device errors: ${errors.slice(0, 3).join("; ")}`);
  } finally {
    session.dispose();
    document.body.dataset.state = "done";
  }
  return reports;
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
    optimizer: $<HTMLSelectElement>("optimizer").value as SessionConfig["optimizer"],
    partition: $<HTMLSelectElement>("partition").value as SessionConfig["partition"],
    lambda: Number($<HTMLInputElement>("lambda").value),
  };
  run(config, Number($<HTMLInputElement>("updates").value), $<HTMLSelectElement>("backend").value).catch((e) =>
    status(`error: ${(e as Error).message}`),
  );
});
$("stop").addEventListener("click", () => (stopRequested = true));
status("ready: pick a partition and λ, then Train");
document.body.dataset.state = "ready";
