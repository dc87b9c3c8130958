/**
 * Averaging of the summary computations (ḡ, H̄, diag D̄(3)) before NewtonSummary solves for η: the
 * plain mean of the last W, a bias-corrected exponential average, or the published code's running
 * average with its buffer aliasing (`'reference-code'`). Plain float64 numbers, pure functions.
 */

// model ---------------------------------------------------------------------------------------

/** One summary computation, in float64: the loss on its minibatch, ḡ, H̄ and diag D̄(3). @category newtonSummary */
export interface SummaryRecord {
  /** Update count at which it was computed. */
  readonly step: number;
  readonly loss: number;
  readonly gbar: readonly number[];
  readonly hbar: readonly (readonly number[])[];
  readonly order3Diag: readonly number[];
}

/** The averaged summaries given to a solve. @category newtonSummary */
export type AveragedSummaries = Omit<SummaryRecord, "loss">;

/** Unnormalised exponential averages and their weight 1 − β^n (the bias correction). @category newtonSummary */
export interface EmaSums {
  readonly weight: number;
  readonly gbar: readonly number[];
  readonly hbar: readonly (readonly number[])[];
  readonly order3Diag: readonly number[];
}

/**
 * The two running averages of the published code (`use`, returned, and `up`, being filled), as
 * flat vectors [ḡ, H̄ row-major, diag D̄(3)]; `shared`: they are one buffer (aliased), as during the
 * published code's first period.
 * @category newtonSummary
 */
export interface ReferenceAverages {
  readonly use: readonly number[];
  readonly up: readonly number[];
  readonly shared: boolean;
}

// utils ---------------------------------------------------------------------------------------

/** Plain mean of the records' ḡ, H̄ and diag D̄(3). @internal */
export function meanOf(step: number, records: readonly SummaryRecord[]): AveragedSummaries {
  const n = records.length;
  const mean = (pick: (r: SummaryRecord) => readonly number[]) =>
    pick(records[0]!).map((_, i) => records.reduce((a, r) => a + pick(r)[i]!, 0) / n);
  return {
    step,
    gbar: mean((r) => r.gbar),
    hbar: records[0]!.hbar.map((_, i) => mean((r) => r.hbar[i]!)),
    order3Diag: mean((r) => r.order3Diag),
  };
}

/** m ← β·m + (1 − β)·x for ḡ, H̄ and diag D̄(3); weight ← β·weight + (1 − β) = 1 − βⁿ. @internal */
export function emaStep(prev: EmaSums | null, x: SummaryRecord, beta: number): EmaSums {
  const mix = (m: readonly number[] | undefined, v: readonly number[]) =>
    v.map((vi, i) => (m === undefined ? 0 : beta * m[i]!) + (1 - beta) * vi);
  return {
    weight: (prev === null ? 0 : beta * prev.weight) + (1 - beta),
    gbar: mix(prev?.gbar, x.gbar),
    hbar: x.hbar.map((row, i) => mix(prev?.hbar[i], row)),
    order3Diag: mix(prev?.order3Diag, x.order3Diag),
  };
}

/** The bias-corrected exponential averages m / (1 − βⁿ). @internal */
export function emaAverage(step: number, e: EmaSums): AveragedSummaries {
  const w = e.weight;
  return {
    step,
    gbar: e.gbar.map((x) => x / w),
    hbar: e.hbar.map((row) => row.map((x) => x / w)),
    order3Diag: e.order3Diag.map((x) => x / w),
  };
}

const flatten = (r: SummaryRecord): number[] => [...r.gbar, ...r.hbar.flat(), ...r.order3Diag];

/**
 * The published code's running average (`update_uniform_avg` of p-wol/GroupedNewton's
 * `newton_summary_uniform_avg.py`, master e5a6cf8), for the k-th summary computation (k = update
 * count / period) with period P = W: every P computations `use ← up`, `up ← x_k`, then both are
 * updated in place, `X ← X·(n−1)/n + x_k/n` with n = t + 1 for `up` and offset + t + 1 for `use`
 * (t = k mod P, offset 0 in the first period, P after). Its buffers alias: at k = 0 `use`, `up` and
 * x_0 are one tensor (so the first average is exactly 0 and both stay one buffer, updated twice, for
 * the whole first period), and at each later period start `up` is x_k itself, zeroed by its n = 1
 * update. This replays those in-place updates on explicit buffers, aliasing included. With W = 2
 * the averages are 0, ¾x₁, ½x₁ + ⅓x₂, ⅜x₁ + ¼x₂ + ¼x₃, then alternately ⅓(x_{k−1} + x_k) and
 * ¼(x_{k−2} + x_{k−1} + x_k); with W = 1, 0 then x_k/2.
 * @internal
 */
export function referenceAverage(
  prev: ReferenceAverages | null,
  k: number,
  period: number,
  x: SummaryRecord,
): { averages: ReferenceAverages; averaged: AveragedSummaries } {
  const curr = flatten(x);
  const t = k % period;
  let use: number[] | null = prev === null ? null : [...prev.use];
  let up: number[] | null = prev === null ? null : prev.shared ? use : [...prev.up];
  // A period starts (or the first finite computation arrives, k = 0 unless earlier ones were non-finite).
  if (t === 0 || use === null || up === null) {
    if (k === 0 || use === null || up === null) up = curr;
    use = up;
    up = curr;
  }
  const offset = k < period ? 0 : period;
  for (const [buf, n] of [
    [use, offset + t + 1],
    [up, t + 1],
  ] as const) {
    const keep = (n - 1) / n;
    for (let i = 0; i < buf.length; i++) buf[i] = buf[i]! * keep; // X.mul_((n − 1)/n)
    const add = curr.map((c) => (1 / n) * c); // (1/n)·x_k, read after the mul_ (x_k may be X itself)
    for (let i = 0; i < buf.length; i++) buf[i] = buf[i]! + add[i]!;
  }
  const s = x.gbar.length;
  const v = use;
  return {
    averages: { use: [...use], up: [...up], shared: use === up },
    averaged: {
      step: x.step,
      gbar: v.slice(0, s),
      hbar: Array.from({ length: s }, (_, i) => v.slice(s + i * s, s + (i + 1) * s)),
      order3Diag: v.slice(s + s * s, s + s * s + s),
    },
  };
}
