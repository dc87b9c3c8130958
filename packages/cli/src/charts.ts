/**
 * Plots of `inspect` and `report`: Vega-Lite specifications compiled and rendered to SVG strings
 * headlessly (vega's `View.toSVG()` with `renderer: "none"`: no browser, no canvas), and PNGs
 * rasterised from those SVGs by resvg (`@resvg/resvg-js`, whose native binary ships in its npm
 * package).
 */
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

// model

/** One point of a line chart. @category model */
export interface Point {
  readonly x: number;
  readonly y: number;
  /** The line it belongs to (a run, a group). */
  readonly series: string;
}

/** A line chart. @category model */
export interface LineChart {
  readonly title: string;
  readonly xTitle: string;
  readonly yTitle: string;
  readonly points: readonly Point[];
  /** Order of the series in the legend and the colour scale (default: alphabetical). */
  readonly seriesOrder?: readonly string[];
  /** Logarithmic y axis (values ≤ 0 are dropped). */
  readonly logY?: boolean;
}

/** A heatmap of an S×S matrix with group labels. @category model */
export interface Heatmap {
  readonly title: string;
  readonly labels: readonly string[];
  readonly values: readonly (readonly number[])[];
  /** Legend title. */
  readonly legend: string;
}

const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";
const CONFIG = { font: FONT, background: "white", view: { stroke: null } } as const;

// rendering

/**
 * Render a Vega-Lite specification to an SVG string (headless).
 * @category rendering
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Rasterise an SVG string to PNG bytes (resvg; system fonts, white background, `scale`× the SVG's size).
 * @category rendering
 */
export function svgToPng(svg: string, scale = 2): Buffer {
  const r = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  });
  return r.render().asPng();
}

// specifications

/** A non-finite number (or a string such as "NaN" from metrics.jsonl) is left out of a plot. */
const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/**
 * The Vega-Lite specification of a line chart, one colour per series.
 * @category specifications
 */
export function lineSpec(c: LineChart): TopLevelSpec {
  const values = c.points
    .filter((p) => finite(p.x) && finite(p.y) && (!c.logY || p.y > 0))
    .map((p) => ({ x: p.x, y: p.y, series: p.series }));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: c.title,
    width: 460,
    height: 260,
    config: CONFIG,
    data: { values },
    mark: { type: "line", point: values.length <= 60, strokeWidth: 1.5 },
    encoding: {
      x: { field: "x", type: "quantitative", title: c.xTitle },
      y: {
        field: "y",
        type: "quantitative",
        title: c.yTitle,
        scale: c.logY ? { type: "log" } : { zero: false },
      },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        ...(c.seriesOrder ? { sort: [...c.seriesOrder] } : {}),
        legend: { orient: "bottom", columns: 3, labelLimit: 320 },
      },
    },
  };
}

/**
 * The Vega-Lite specification of a labelled heatmap (viridis, from 0 to the largest entry; the
 * values printed in the cells when S ≤ 16).
 * @category specifications
 */
export function heatmapSpec(h: Heatmap): TopLevelSpec {
  const S = h.labels.length;
  const values = h.values.flatMap((row, i) =>
    row.map((v, j) => ({ row: h.labels[i]!, col: h.labels[j]!, value: finite(v) ? v : null })),
  );
  const max = Math.max(0, ...values.map((v) => v.value ?? 0));
  const cell = Math.max(18, Math.min(48, Math.floor(480 / Math.max(S, 1))));
  const axis = (title: string) => ({ field: title, type: "ordinal" as const, sort: [...h.labels], title: null });
  const rect = {
    mark: { type: "rect" as const },
    encoding: {
      x: { ...axis("col"), axis: { labelAngle: -45, labelLimit: 160 } },
      y: { ...axis("row"), axis: { labelLimit: 160 } },
      color: {
        field: "value",
        type: "quantitative" as const,
        title: h.legend,
        legend: { titleLimit: 240 },
        scale: { scheme: "viridis", domain: [0, max > 0 ? max : 1] },
      },
    },
  };
  const text = {
    mark: { type: "text" as const, fontSize: cell >= 36 ? 10 : 8 },
    encoding: {
      x: axis("col"),
      y: axis("row"),
      text: { field: "value", type: "quantitative" as const, format: ".2f" },
      color: {
        condition: { test: `datum.value > ${max / 2}`, value: "black" },
        value: "white",
      },
    },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: h.title,
    width: cell * S,
    height: cell * S,
    config: CONFIG,
    data: { values },
    layer: S <= 16 ? [rect, text] : [rect],
  } as TopLevelSpec;
}

/** The legend of the paper's normalised maps. @category specifications */
export const NORMALISED = "|M_ij|/√|M_ii M_jj|";
