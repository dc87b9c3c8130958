/**
 * `hodiff inspect`: the interaction map of a model (paper Fig. 1) — H̄ and H̄⁻¹ of a partition,
 * computed along the gradient on one batch, at initialisation or from a run's checkpoint, drawn as
 * normalised heatmaps |M_ij| / √|M_ii M_jj| (SVG and PNG) and written raw as JSON.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { heatmapSpec, NORMALISED, renderSvg, svgToPng } from "../charts";
import { writeFileAtomic } from "../checkpoint";
import { addProbeOptions, probe, type Probe, type ProbeFlags } from "../probe";
import { selectBackend } from "./train";
import type { CommandModule } from "./types";

// model

/** The JSON file `inspect` writes (and `report` looks for). @category model */
export const INSPECT_FILE = "interaction.json";

/** The content of `interaction.json`. @category model */
export interface InspectOutput {
  readonly format: "hodiff-inspect";
  readonly version: 1;
  readonly meta: Probe["meta"];
  readonly labels: string[];
  readonly groupSizes: number[];
  readonly loss: number;
  readonly gbar: number[];
  readonly order3Diag: number[];
  readonly hbar: number[][];
  readonly hbarInverse: number[][];
  readonly normalized: number[][];
  readonly normalizedInverse: number[][];
  /** H̄ was singular: `hbarInverse` is its pseudo-inverse. */
  readonly singular: boolean;
}

/** The heatmap files of `inspect`, by matrix. @category model */
export const HEATMAP_FILES = { hbar: "hbar", hbarInverse: "hbar-inverse" } as const;

/** Title of a heatmap of `o` (shared by `inspect` and `report`). @category utils */
export function heatmapTitle(o: InspectOutput, inverse: boolean): string {
  const where = o.meta.checkpoint === null ? "at initialisation" : `step ${o.meta.step}`;
  return `${inverse ? "H̄⁻¹" : "H̄"} normalised — ${o.meta.model}, ${o.meta.partition}, ${where}${inverse && o.singular ? " (pseudo-inverse)" : ""}`;
}

/** The two heatmap SVGs of an inspect output (H̄, H̄⁻¹). @category utils */
export async function heatmapSvgs(o: InspectOutput): Promise<{ hbar: string; hbarInverse: string }> {
  const hbar = await renderSvg(
    heatmapSpec({ title: heatmapTitle(o, false), labels: o.labels, values: o.normalized, legend: NORMALISED }),
  );
  const hbarInverse = await renderSvg(
    heatmapSpec({ title: heatmapTitle(o, true), labels: o.labels, values: o.normalizedInverse, legend: NORMALISED }),
  );
  return { hbar, hbarInverse };
}

const json = (v: unknown): string =>
  `${JSON.stringify(v, (_k, x: unknown) => (typeof x === "number" && !Number.isFinite(x) ? String(x) : x), 2)}\n`;

// command

/** `hodiff inspect`. @category commands */
export const inspectCommand: CommandModule = {
  register(program, { io, setExit }) {
    const cmd = program
      .command("inspect")
      .description(
        "interaction maps (paper Fig. 1): H̄ and H̄⁻¹ of a partition along the gradient on one batch, as SVG/PNG heatmaps and JSON",
      );
    addProbeOptions(cmd).requiredOption(
      "--out <dir>",
      "directory of interaction.json, hbar.{svg,png}, hbar-inverse.{svg,png}",
    );
    cmd.addHelpText(
      "after",
      "\nExamples:\n  hodiff inspect --model lenet --dataset cifar10 --partition canonical --out runs/lenet-init-map\n  hodiff inspect --checkpoint runs/mlp-ns --out runs/mlp-ns/map",
    );
    cmd.action(async (f: ProbeFlags & { out: string }, c: Command) => {
      const backend = await selectBackend(f.backend, io);
      const p = await probe(f, c, backend);
      const o: InspectOutput = {
        format: "hodiff-inspect",
        version: 1,
        meta: p.meta,
        labels: p.labels,
        groupSizes: p.groupSizes,
        loss: p.loss,
        gbar: p.gbar,
        order3Diag: p.order3Diag,
        hbar: p.map.hbar,
        hbarInverse: p.map.hbarInverse,
        normalized: p.map.normalized,
        normalizedInverse: p.map.normalizedInverse,
        singular: p.map.singular,
      };
      mkdirSync(f.out, { recursive: true });
      const svgs = await heatmapSvgs(o);
      const written: string[] = [];
      const write = (name: string, data: string | Buffer) => {
        const path = join(f.out, name);
        if (typeof data === "string") writeFileAtomic(path, data);
        else writeFileSync(path, data);
        written.push(path);
      };
      write(INSPECT_FILE, json(o));
      for (const [key, base] of Object.entries(HEATMAP_FILES) as [keyof typeof HEATMAP_FILES, string][]) {
        write(`${base}.svg`, svgs[key]);
        write(`${base}.png`, svgToPng(svgs[key]));
      }
      io.out(
        `${p.meta.model}, partition ${p.meta.partition} (S = ${p.labels.length}), ${p.meta.checkpoint === null ? "at initialisation" : `${p.meta.checkpoint} at step ${p.meta.step}`}, batch ${p.meta.batchSize}${p.meta.batches > 1 ? ` × ${p.meta.batches}` : ""}: L = ${p.loss.toPrecision(6)}${o.singular ? " (H̄ singular: H̄⁻¹ is its pseudo-inverse)" : ""}`,
      );
      for (const w of written) io.out(`wrote ${w}`);
      setExit(0);
    });
  },
};
