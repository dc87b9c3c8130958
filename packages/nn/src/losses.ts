/**
 * Losses and metrics on logits `[B, C]`. Labels are class ids `[B]` (an int32 array, an
 * `Int32Array` or a JS array) or one-hot/probability rows `[B, C]` (float32).
 */
import * as hd from "@hodiff/core";

/** Class ids `[B]` (int32 array, Int32Array, number[]) or target rows `[B, C]` (float32 array). @category model */
export type Labels = hd.Value | Int32Array | readonly number[];

const fail = (op: string, message: string): never => {
  throw new hd.ShapeError(`${op}: ${message}`);
};

/**
 * oneHot(labels, C)[b, c] = 1 if labels[b] = c else 0 (a zero row for an id outside [0, C)):
 * class ids in JS memory are encoded there and uploaded once (one transfer instead of six kernels:
 * upload, two broadcasts, equal, cast); ids in an array with ops
 * (`cast(equal(reshape(labels, [B, 1]), arange[1, C]))`); float `[B, C]` labels pass through.
 * @category utils
 */
export function oneHot(labels: Labels, numClasses: number, op = "oneHot"): hd.Value {
  if (labels instanceof Int32Array || Array.isArray(labels)) {
    const ids = Int32Array.from(labels as ArrayLike<number>);
    const rows = new Float32Array(ids.length * numClasses);
    ids.forEach((c, b) => {
      if (c >= 0 && c < numClasses) rows[b * numClasses + c] = 1;
    });
    return hd.array(rows, { shape: [ids.length, numClasses] });
  }
  const y = labels as hd.Value;
  const s = hd.shapeOf(y);
  if (s.length === 2) {
    if (s[1] !== numClasses) fail(op, `one-hot labels must be [B, ${numClasses}], got ${hd.dtypeOf(y)}[${s}]`);
    return hd.dtypeOf(y) === "float32" ? y : hd.cast(y, "float32");
  }
  if (s.length !== 1) fail(op, `labels must be class ids [B] or one-hot [B, ${numClasses}], got [${s}]`);
  return hd.tidy(() => {
    const classes = hd.array(
      Int32Array.from({ length: numClasses }, (_, c) => c),
      { shape: [1, numClasses] },
    );
    return hd.cast(hd.equal(hd.reshape(hd.cast(y, "int32"), [s[0]!, 1]), classes), "float32");
  });
}

const batchOf = (op: string, logits: hd.Value, rank = 2): [number, number] => {
  const s = hd.shapeOf(logits);
  if (s.length !== rank) fail(op, `logits must be [B, C], got [${s}]`);
  return [s[0]!, s[1]!];
};

const checkRows = (op: string, y: hd.Value, B: number): void => {
  if (hd.shapeOf(y)[0] !== B) fail(op, `${B} rows of logits but labels of shape [${hd.shapeOf(y)}]`);
};

/**
 * nll(z, y) = −(1/B) Σ_b Σ_c y[b,c]·logSoftmax(z)[b,c]: mean negative log-likelihood
 * (cross-entropy); ∂/∂z = (softmax(z) − y)/B.
 * @example nll(hd.array([[1, 2, 3]]), [2]) // = log(e + e² + e³) − 3 ≈ 0.4076
 * @category losses
 */
export function nll(logits: hd.Value, labels: Labels): hd.Value {
  const [B, C] = batchOf("nll", logits);
  return hd.tidy(() => {
    const y = oneHot(labels, C, "nll");
    checkRows("nll", y, B);
    // The scale −1/B folded into the constant y (not into the scalar sum): forward one multiply by
    // a constant, backward sum's cotangent 1 times −y/B in one kernel (no scalar multiply each way).
    return hd.sum(hd.mul(hd.mul(y, -1 / B), hd.logSoftmax(logits, -1)));
  });
}

/**
 * squaredError(o, t) = (1/B) Σ_b ½‖o[b] − t[b]‖²: mean over the batch of half the squared norm
 * (summed over outputs, not averaged); class ids as targets mean their one-hot rows.
 * @category losses
 */
export function squaredError(outputs: hd.Value, targets: Labels): hd.Value {
  const [B, C] = batchOf("squaredError", outputs);
  return hd.tidy(() => {
    const t = oneHot(targets, C, "squaredError");
    checkRows("squaredError", t, B);
    return hd.div(hd.mul(hd.sum(hd.square(hd.sub(outputs, t))), 0.5), B);
  });
}

const argmaxRows = (values: ArrayLike<number>, B: number, C: number): number[] =>
  Array.from({ length: B }, (_, b) => {
    let best = 0;
    for (let c = 1; c < C; c++) if (values[b * C + c]! > values[b * C + best]!) best = c;
    return best;
  });

/**
 * accuracy(z, y) = (1/B) Σ_b [argmax_c z[b,c] = y_b] (ties go to the first class; one-hot
 * labels are read by their argmax). Reads values: not for use inside a transform.
 * @category metrics
 */
export function accuracy(logits: hd.Value, labels: Labels): number {
  const [B, C] = batchOf("accuracy", logits);
  const y = labelsArray(labels);
  return accuracyOf(hd.toFlat(logits), B, C, labels, y === null ? null : hd.toFlat(y));
}

/**
 * accuracy(z, y), reading the values without blocking: the form for webgpu, where synchronous
 * reads are impossible (see `accuracy`).
 * @category metrics
 */
export async function accuracyAsync(logits: hd.Value, labels: Labels): Promise<number> {
  const [B, C] = batchOf("accuracyAsync", logits);
  const y = labelsArray(labels);
  const [z, yv] = await Promise.all([hd.toFlatAsync(logits), y === null ? null : hd.toFlatAsync(y)]);
  return accuracyOf(z, B, C, labels, yv);
}

/** The labels as an array value, or null when they are given as numbers. */
const labelsArray = (labels: Labels): hd.Value | null =>
  Array.isArray(labels) || labels instanceof Int32Array ? null : (labels as hd.Value);

/** The accuracy from the logits' values (B × C) and the labels (`yValues`: a labels array's values). */
function accuracyOf(
  z: ArrayLike<number>,
  B: number,
  C: number,
  labels: Labels,
  yValues: ArrayLike<number> | null,
): number {
  const predicted = argmaxRows(z, B, C);
  let truth: number[];
  if (yValues === null) truth = Array.from(labels as ArrayLike<number>);
  else {
    const s = hd.shapeOf(labels as hd.Value);
    truth = s.length === 2 ? argmaxRows(yValues, s[0]!, s[1]!) : Array.from(yValues);
  }
  if (truth.length !== B) fail("accuracy", `${B} rows of logits but ${truth.length} labels`);
  return B === 0 ? NaN : predicted.filter((p, b) => p === truth[b]).length / B;
}
