/** What NewtonSummary needs every T steps, in one call that shares work between orders. */
import * as hd from "@hodiff/core";
import type { Tree, Value } from "@hodiff/core";
import { alongGroups, defaultChunkSize, diagonal } from "./derivative";
import type { Partition } from "./partition";
import { PartitionError } from "./errors";

/** The loss and the partitioned derivatives of orders 1, 2 and the order-3 diagonal, in float64. */
export interface Summaries {
  readonly loss: number;
  /** ḡ_s = ⟨∇_{T_s} L, u_{T_s}⟩ */
  readonly gbar: number[];
  /** H̄ = Vᵀ H V (symmetrised) */
  readonly hbar: number[][];
  /** D̄(3)[s,s,s] = d³/dt³ L(θ + t·v_s) at 0 */
  readonly order3Diag: number[];
}

export interface SummariesOptions {
  /** Compute the order-3 diagonal (default true); false skips it and returns zeros there. */
  order3?: boolean;
  /** Group directions batched at once (default: `defaultChunkSize`). */
  chunkSize?: number;
  /**
   * Run both passes as one `jit` plan, traced anew for each call (default false: on the paper MLP
   * it was slower than eager in bench/results/2026-12-06-sitting-8.txt, 73.1 against 57.9 ms, and
   * faster in 2026-12-06-sitting-9.txt, 50.8 against 56.5 ms: not robustly faster yet;
   * `summariesAsync` and debugNans always run eagerly). The plan's CSE shares what eager's
   * `shareProducts` shares, and the primal.
   */
  jit?: boolean;
}

const rows = (flat: ArrayLike<number>, S: number): number[][] =>
  Array.from({ length: S }, (_, i) => Array.from(flat).slice(i * S, (i + 1) * S));

/** The summaries as arrays on the backend, before they are read into float64 numbers. */
interface SummaryArrays {
  loss: Value;
  gbar: Value;
  hbar: Value;
  d3: Value;
}

/** The numbers of `SummaryArrays` (H̄ symmetrised), given its values read as flat arrays. */
function toSummaries(
  S: number,
  loss: ArrayLike<number>,
  gbar: ArrayLike<number>,
  hbar: ArrayLike<number>,
  d3: ArrayLike<number>,
): Summaries {
  const h = rows(hbar, S);
  return {
    loss: loss[0]!,
    gbar: Array.from(gbar),
    hbar: h.map((row, i) => row.map((x, j) => (x + h[j]![i]!) / 2)),
    order3Diag: Array.from(d3),
  };
}

/**
 * summaries(f, partition)(θ, u) = {L(θ), ḡ, H̄, diag D̄(3)}: one forward-over-reverse pass batched
 * over the S group directions gives L, ḡ and H̄ together; Taylor mode (multiJet over the groups) the diagonal.
 */
export function summaries(f: (params: never) => Value, partition: Partition, options: SummariesOptions = {}) {
  const arrays = summaryArrays(f, partition, options);
  return <P extends Tree<Value>>(params: P, direction: P): Summaries => {
    // Under debugNans the passes run eagerly, where every primitive's output is checked.
    const a = arrays(params, direction, options.jit === true && !hd.debugNansEnabled());
    const flat = [a.loss, a.gbar, a.hbar, a.d3].map((x) => hd.toFlat(x));
    hd.dispose([a.loss, a.gbar, a.hbar, a.d3]);
    return toSummaries(partition.size, flat[0]!, flat[1]!, flat[2]!, flat[3]!);
  };
}

/**
 * `summaries`, reading the results without blocking: the form for webgpu in Node, where
 * synchronous reads are impossible, and for pages that must stay responsive.
 */
export function summariesAsync(f: (params: never) => Value, partition: Partition, options: SummariesOptions = {}) {
  const arrays = summaryArrays(f, partition, options);
  return async <P extends Tree<Value>>(params: P, direction: P): Promise<Summaries> => {
    const a = arrays(params, direction);
    try {
      const flat = await Promise.all([a.loss, a.gbar, a.hbar, a.d3].map((x) => hd.toFlatAsync(x)));
      return toSummaries(partition.size, flat[0]!, flat[1]!, flat[2]!, flat[3]!);
    } finally {
      hd.dispose([a.loss, a.gbar, a.hbar, a.d3]);
    }
  };
}

function summaryArrays(f: (params: never) => Value, partition: Partition, options: SummariesOptions) {
  const S = partition.size;
  const chunk = options.chunkSize ?? defaultChunkSize(partition);
  if (!Number.isInteger(chunk) || chunk < 1) {
    throw new PartitionError(`summaries: chunkSize must be a positive integer, got ${chunk}`);
  }
  return <P extends Tree<Value>>(params: P, direction: P, jitted = false): SummaryArrays => {
    if (jitted) {
      // One plan for both passes: its CSE computes the products both passes share (x·W₁ and x·u₁,
      // which shareProducts' memo cannot see through tracing, and the primal) once. Traced on
      // every call (tracing runs no kernel; a few ms), because f closes over its data: a cached
      // plan would keep that data alive and go stale when the caller's closure changes.
      const j = hd.jit((p: P, u: P) => passes<P>((body) => body(p, u)));
      try {
        return j(params, direction) as SummaryArrays;
      } finally {
        j.dispose();
      }
    }
    // Both passes multiply the data by the first layer's direction (x·u₁: the diagonal's first
    // Taylor term, H̄'s tangent): computed once, kept until the second pass is done. Two scopes,
    // so the first pass's intermediates are freed before the second starts.
    return hd.shareProducts(() => passes<P>((body) => hd.tidy(() => body(params, direction))));
  };
  /** The order-3 diagonal, then L, ḡ and H̄, each pass run by `pass` (which supplies params and direction). */
  function passes<P extends Tree<Value>>(pass: <T>(body: (p: P, u: P) => T) => T): SummaryArrays {
    const d3 = pass((p, u) =>
      options.order3 === false ? hd.zeros([S]) : diagonal(3, partition, f as (p: P) => Value, p, u, "summaries", chunk),
    );
    const out = pass((p, u) => {
      const { g, alpha0 } = alongGroups("summaries", partition, f as (p: P) => Value, p, u);
      const valueAndGrad = hd.valueAndGrad(g);
      const starts = [...Array(Math.ceil(S / chunk)).keys()].map((i) => i * chunk);
      let loss: Value | undefined;
      let gbar: Value | undefined;
      const hcols: Value[] = [];
      const basis = basisRows(S);
      for (const start of starts) {
        const n = Math.min(chunk, S - start);
        const E = hd.slice(basis, [start, 0], [n, S]);
        // The primal (L, ḡ) does not depend on the tangent, so vmap leaves it unbatched (out axis null).
        const [[l, gb], [, hc]] = hd.vmap((e: Value) => hd.jvp(valueAndGrad, [alpha0], [e]), 0, [
          [null, null],
          [0, 0],
        ])(E) as [[Value, Value], [Value, Value]];
        loss = l;
        gbar = gb;
        hcols.push(hc);
      }
      return { loss: loss!, gbar: gbar!, hbar: hd.concat(hcols, 0) };
    });
    return { ...out, d3 };
  }
}

function basisRows(S: number): Value {
  const m = new Float32Array(S * S);
  for (let i = 0; i < S; i++) m[i * S + i] = 1;
  return hd.array(m, { shape: [S, S] });
}
