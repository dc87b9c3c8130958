/**
 * Verification of a decoded data set against the known facts of its spec (docs/data.md): counts,
 * per-class counts, first labels, the first pixel, and the mean/std of the training pixels.
 * Nothing is cached unless every check passes.
 */
import * as E from "fp-ts/Either";
import { verificationFailed, type DataError } from "./errors";
import type { DatasetSpec } from "./specs";
import type { RawDataset, RawSplit } from "./types";

/** The outcome of one check, for reports. @category model */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly expected: string;
  readonly actual: string;
}

/** Per-channel mean and population std of uint8 pixels scaled to [0,1]. @category model */
export interface PixelStats {
  readonly mean: number[];
  readonly std: number[];
}

/**
 * Per-channel mean and population std (ddof 0) of interleaved uint8 pixels, scaled to [0,1].
 * Exact: it counts a 256-bin histogram per channel and sums in float64.
 * @category statistics
 */
export function pixelStats(pixels: Uint8Array, channels: number): PixelStats {
  const hist = new Float64Array(256 * channels);
  for (let c = 0; c < channels; c++) {
    const off = 256 * c;
    for (let i = c; i < pixels.length; i += channels) hist[off + pixels[i]!]!++;
  }
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < channels; c++) {
    let n = 0;
    let s = 0;
    for (let v = 0; v < 256; v++) {
      const k = hist[256 * c + v]!;
      n += k;
      s += k * (v / 255);
    }
    const m = n > 0 ? s / n : 0;
    let ss = 0;
    for (let v = 0; v < 256; v++) {
      const d = v / 255 - m;
      ss += hist[256 * c + v]! * d * d;
    }
    mean.push(m);
    std.push(n > 0 ? Math.sqrt(ss / n) : 0);
  }
  return { mean, std };
}

/** Examples per class (index = label); labels ≥ numClasses are not counted. @category statistics */
export function classCounts(labels: Uint8Array | Int32Array, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const l of labels) if (l >= 0 && l < numClasses) counts[l]!++;
  return counts;
}

const fmtList = (xs: ArrayLike<number>, digits?: number): string =>
  `[${Array.from(xs, (x) => (digits === undefined ? String(x) : x.toFixed(digits))).join(" ")}]`;

const sameList = (a: ArrayLike<number>, b: ArrayLike<number>): boolean =>
  a.length === b.length && Array.from(a).every((x, i) => x === b[i]);

function splitChecks(spec: DatasetSpec, raw: RawDataset, which: "train" | "test", s: RawSplit): Check[] {
  const [h, w, c] = raw.imageShape;
  const ex = spec.expect;
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, expected: string, actual: string): void => {
    checks.push({ name: `${which}: ${name}`, ok, expected, actual });
  };
  const count = which === "train" ? ex.trainCount : ex.testCount;
  add("image count", s.count === count, String(count), String(s.count));
  add("label count", s.labels.length === s.count, String(s.count), String(s.labels.length));
  add("image bytes", s.images.length === s.count * h * w * c, `${s.count}×${h}×${w}×${c}`, String(s.images.length));
  let maxLabel = 0;
  for (const l of s.labels) if (l > maxLabel) maxLabel = l;
  add("labels < numClasses", maxLabel < spec.numClasses, `< ${spec.numClasses}`, `max ${maxLabel}`);
  const perClass = which === "train" ? ex.trainClassCounts : ex.testClassCounts;
  if (perClass) {
    const got = classCounts(s.labels, spec.numClasses);
    add("per-class counts", sameList(got, perClass), fmtList(perClass), fmtList(got));
  }
  const first = which === "train" ? ex.firstTrainLabels : ex.firstTestLabels;
  if (first) {
    const got = s.labels.subarray(0, first.length);
    add(`first ${first.length} labels`, sameList(got, first), fmtList(first), fmtList(got));
  }
  return checks;
}

/**
 * Run every check of `spec` on `raw`; all checks are returned, passing or not.
 * @category verification
 */
export function runChecks(spec: DatasetSpec, raw: RawDataset): Check[] {
  const ex = spec.expect;
  const checks: Check[] = [];
  const shapeOk = sameList(raw.imageShape, spec.imageShape);
  checks.push({
    name: "image shape",
    ok: shapeOk,
    expected: fmtList(spec.imageShape),
    actual: fmtList(raw.imageShape),
  });
  checks.push(...splitChecks(spec, raw, "train", raw.train), ...splitChecks(spec, raw, "test", raw.test));
  const channels = raw.imageShape[2];
  if (ex.firstPixel) {
    const got = raw.train.images.subarray(0, channels);
    checks.push({
      name: "train: pixel (0,0) of image 0",
      ok: sameList(got, ex.firstPixel),
      expected: fmtList(ex.firstPixel),
      actual: fmtList(got),
    });
  }
  if (ex.firstRowChannel0) {
    const got = Array.from({ length: ex.firstRowChannel0.length }, (_, x) => raw.train.images[x * channels]!);
    checks.push({
      name: `train: row 0 of image 0, channel 0`,
      ok: sameList(got, ex.firstRowChannel0),
      expected: fmtList(ex.firstRowChannel0),
      actual: fmtList(got),
    });
  }
  const stats = pixelStats(raw.train.images, channels);
  const tol = ex.statTolerance;
  const within = (a: readonly number[], b: readonly number[]): boolean =>
    a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) <= tol);
  checks.push({
    name: `train: pixel mean (±${tol})`,
    ok: within(stats.mean, ex.trainMean),
    expected: fmtList(ex.trainMean, 4),
    actual: fmtList(stats.mean, 5),
  });
  checks.push({
    name: `train: pixel std (±${tol})`,
    ok: within(stats.std, ex.trainStd),
    expected: fmtList(ex.trainStd, 4),
    actual: fmtList(stats.std, 5),
  });
  return checks;
}

/**
 * Verify `raw` against `spec`: Right(all checks) if every check passes, otherwise Left
 * `verification-failed` naming the first failing check (and how many others failed).
 * @category verification
 */
export function verifyRaw(spec: DatasetSpec, raw: RawDataset): E.Either<DataError, Check[]> {
  const checks = runChecks(spec, raw);
  const failed = checks.filter((c) => !c.ok);
  const first = failed[0];
  if (first === undefined) return E.right(checks);
  const err = verificationFailed(spec.name, first.name, first.expected, first.actual);
  if (failed.length === 1) return E.left(err);
  const others = failed
    .slice(1)
    .map((c) => c.name)
    .join("; ");
  return E.left({ ...err, message: `${err.message} Also failed: ${others}.` });
}
