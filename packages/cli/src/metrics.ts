/**
 * `metrics.jsonl`: one JSON object per line, appended as training goes. Records are
 * `{ kind: "step" | "epoch", epoch, step, train_loss, … }` (see the README for every field).
 * Non-finite numbers are written as the strings "NaN", "Infinity", "-Infinity" (JSON has no such
 * numbers). On resume the file is cut back to the lines the checkpoint had seen, so a resumed run
 * writes exactly the file an uninterrupted run writes.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "./checkpoint";

// model

/** One record of metrics.jsonl. @category model */
export interface MetricsRecord {
  readonly kind: "step" | "epoch";
  /** 1-based epoch the record belongs to. */
  readonly epoch: number;
  /** Updates done so far (the record of the k-th update has step k). */
  readonly step: number;
  /** Minibatch loss of that update (step) or mean minibatch loss over the epoch (epoch). */
  readonly train_loss: number;
  readonly [field: string]: unknown;
}

/** The metrics file of a run directory. @category model */
export const METRICS_FILE = "metrics.jsonl";

// constructors

const replacer = (_key: string, v: unknown): unknown => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v);

/** The text of one record (one line, with its newline). @category utils */
export const formatRecord = (r: MetricsRecord): string => `${JSON.stringify(r, replacer)}\n`;

/** Appends records to a metrics file and counts its lines. @category model */
export class MetricsLog {
  private count: number;

  /** Open `path`; with `keepLines`, cut the file back to its first `keepLines` lines (resume). */
  constructor(
    readonly path: string,
    keepLines?: number,
  ) {
    const lines = existsSync(path)
      ? readFileSync(path, "utf8")
          .split("\n")
          .filter((l) => l !== "")
      : [];
    if (keepLines !== undefined && keepLines < lines.length) {
      writeFileAtomic(
        path,
        lines
          .slice(0, keepLines)
          .map((l) => `${l}\n`)
          .join(""),
      );
      this.count = keepLines;
    } else if (keepLines !== undefined && keepLines > lines.length) {
      throw new Error(
        `${path} has ${lines.length} records but the checkpoint saw ${keepLines}: the run directory was altered`,
      );
    } else this.count = lines.length;
  }

  /** Lines written so far. */
  get lines(): number {
    return this.count;
  }

  append(record: MetricsRecord): void {
    appendFileSync(this.path, formatRecord(record));
    this.count++;
  }
}

/** Parse a metrics file (for tests and reports). @category utils */
export const readMetrics = (path: string): MetricsRecord[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as MetricsRecord);
