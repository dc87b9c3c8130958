/**
 * `metrics.jsonl`: one JSON object per line, appended as training goes. Records are
 * `{ kind: "step" | "epoch", epoch, step, train_loss, … }` (see the README for every field).
 * Non-finite numbers are written as the strings "NaN", "Infinity", "-Infinity" (JSON has no such
 * numbers). On resume the file is cut back to the lines the checkpoint had seen, so a resumed run
 * writes exactly the file an uninterrupted run writes; a last line cut short by a crash or a full
 * disk is skipped by readers and cut off by the next writer.
 */
import { existsSync, readFileSync, truncateSync } from "node:fs";
import { appendDurable, fsyncPath } from "./durable";

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

/** A metrics file that cannot be used (exit status 1). @category errors */
export class MetricsError extends Error {
  override name = "MetricsError";
}

/** Byte offsets just past each complete (newline-terminated) line of `text`. */
function lineEnds(text: Buffer): number[] {
  const ends: number[] = [];
  for (let i = text.indexOf(10); i !== -1; i = text.indexOf(10, i + 1)) ends.push(i + 1);
  return ends;
}

/** Appends records to a metrics file and counts its lines. @category model */
export class MetricsLog {
  private count: number;

  /**
   * Open `path`; with `keepLines`, cut the file back to its first `keepLines` complete lines
   * (resume: drops what was written after the checkpoint, including a line cut short by a crash).
   */
  constructor(
    readonly path: string,
    keepLines?: number,
  ) {
    const bytes = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
    const ends = lineEnds(bytes);
    if (keepLines === undefined) {
      this.count = ends.length;
      if (bytes.length > (ends.at(-1) ?? 0)) truncateSync(path, ends.at(-1) ?? 0); // a partial last line
      return;
    }
    if (keepLines > ends.length)
      throw new MetricsError(
        `${path} has ${ends.length} complete records but the checkpoint saw ${keepLines}: the file was cut or edited, so the run's history is lost; start the run again in a new directory`,
      );
    if (bytes.length > (keepLines === 0 ? 0 : ends[keepLines - 1]!))
      truncateSync(path, keepLines === 0 ? 0 : ends[keepLines - 1]!);
    this.count = keepLines;
  }

  /** Lines written so far. */
  get lines(): number {
    return this.count;
  }

  append(record: MetricsRecord): void {
    appendDurable(this.path, formatRecord(record), "metrics");
    this.count++;
  }

  /** Make the records written so far durable (before a checkpoint counts them). */
  sync(): void {
    if (existsSync(this.path)) fsyncPath(this.path);
  }
}

/**
 * Parse a metrics file (for tests and reports). A last line without its newline that is not
 * valid JSON is the record a crash or a full disk cut short: it is skipped. Any other bad line
 * is a `MetricsError` naming the line.
 * @category utils
 */
export function readMetrics(path: string): MetricsRecord[] {
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  const records: MetricsRecord[] = [];
  lines.forEach((l, i) => {
    if (l === "") return;
    try {
      records.push(JSON.parse(l) as MetricsRecord);
    } catch (e) {
      if (i === lines.length - 1) return; // no newline after it: cut short by a crash
      throw new MetricsError(`${path}, line ${i + 1}: not a JSON record (${(e as Error).message})`);
    }
  });
  return records;
}
