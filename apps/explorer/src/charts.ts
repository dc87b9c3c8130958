/** The page's plots: vega-lite specs compiled and rendered with vega (as the CLI's report is). */
import * as vega from "vega";
import * as vl from "vega-lite";
import type { StepReport } from "./session";

type Spec = vl.TopLevelSpec;

async function render(el: HTMLElement, spec: Spec): Promise<void> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "svg", container: el, hover: true });
  await view.runAsync();
  el.dataset.rendered = String(Number(el.dataset.rendered ?? "0") + 1);
}

const base = { width: 330, height: 220, $schema: "https://vega.github.io/schema/vega-lite/v6.json" } as const;
/** Updates are whole numbers: no 6.5 on the axis of a short run. */
const updateAxis = { field: "update", type: "quantitative", axis: { tickMinStep: 1, format: "d" } } as const;

export const lossChart = (el: HTMLElement, reports: readonly StepReport[]) =>
  render(el, {
    ...base,
    data: { values: reports.map((r) => ({ update: r.step, loss: r.loss })) },
    mark: { type: "line", point: reports.length < 40 },
    encoding: {
      x: updateAxis,
      y: { field: "loss", type: "quantitative", scale: { zero: false } },
    },
  });

export const etaChart = (el: HTMLElement, reports: readonly StepReport[]) =>
  render(el, {
    ...base,
    data: {
      values: reports.flatMap((r) => (r.eta ?? []).map((eta, i) => ({ update: r.step, group: r.groups[i], eta }))),
    },
    mark: "line",
    encoding: {
      x: updateAxis,
      y: { field: "eta", type: "quantitative", title: "η" },
      color: { field: "group", type: "nominal", sort: null },
    },
  });

/** A heatmap of an S × S matrix over the group labels, diverging colours centred on 0. */
export const matrixChart = (el: HTMLElement, m: readonly (readonly number[])[] | null, groups: readonly string[]) =>
  render(el, {
    ...base,
    width: 260,
    height: 260,
    data: { values: (m ?? []).flatMap((row, i) => row.map((v, j) => ({ row: groups[i], col: groups[j], v }))) },
    mark: "rect",
    encoding: {
      x: { field: "col", type: "nominal", sort: null, title: null },
      y: { field: "row", type: "nominal", sort: null, title: null },
      color: { field: "v", type: "quantitative", scale: { scheme: "redblue", domainMid: 0, reverse: true } },
      tooltip: [{ field: "row" }, { field: "col" }, { field: "v", format: ".4g" }],
    },
  });
