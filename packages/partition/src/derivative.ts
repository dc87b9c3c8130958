/**
 * Partitioned derivatives (paper §3, App. A): the derivatives of g(α) = L(θ + V·α) at α = 0, built
 * by composing core transforms — grad for order 1, then one forward-mode Jacobian (vmap of jvp
 * over the S group directions) per further order; the diagonal by one Taylor-mode pass (jet) per group.
 */
import * as hd from "@hodiff/core";
import type { Tree, Value } from "@hodiff/core";
import { alignLeaves, groupDirection, perturbation } from "./perturb";
import type { Partition } from "./partition";
import { PartitionError } from "./errors";

export interface PartitionedDerivativeOptions {
  /** Only the S diagonal entries D̄[s,…,s] (one univariate derivative per group). */
  diagonal?: boolean;
  /** How many group directions are batched through vmap at once (default: `defaultChunkSize`). */
  chunkSize?: number;
}

/** Scalars of batched tangents allowed at once by default (~100 MB per parameter-sized batch). */
export const BATCHED_SCALARS = 25_000_000;

/** Directions batched at once by default: all S while S·P stays under BATCHED_SCALARS (wasm's heap is 4 GiB). */
export function defaultChunkSize(partition: Partition): number {
  const P = partition.leafShapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  return Math.max(1, Math.min(partition.size, Math.floor(BATCHED_SCALARS / Math.max(P, 1))));
}

type Loss<P> = (params: P) => Value;

/** The standard basis of R^S, in chunks of rows: [c, S] each. */
function basisChunks(S: number, chunk: number): Value[] {
  const out: Value[] = [];
  for (let start = 0; start < S; start += chunk) {
    const n = Math.min(chunk, S - start);
    const rows = new Float32Array(n * S);
    for (let i = 0; i < n; i++) rows[i * S + start + i] = 1;
    out.push(hd.array(rows, { shape: [n, S] }));
  }
  return out;
}

/** ∂h/∂α as [S, …out]: vmap of jvp over the basis, `chunk` directions at a time. */
function forwardJacobian(h: (a: Value) => Value, chunk: number) {
  return (alpha: Value): Value => {
    const S = hd.shapeOf(alpha)[0]!;
    const parts = basisChunks(S, chunk).map((E) => hd.vmap((e: Value) => hd.jvp(h, [alpha], [e])[1] as Value)(E));
    return parts.length === 1 ? parts[0]! : hd.concat(parts, 0);
  };
}

function checkOrder(op: string, order: number) {
  if (!Number.isInteger(order) || order < 1)
    throw new PartitionError(`${op}: order must be an integer ≥ 1, got ${order}`);
}

/** g(α) = L(θ + V·α) and α = 0, after validating params and direction against the partition. */
export function alongGroups<P extends Tree<Value>>(
  op: string,
  partition: Partition,
  f: Loss<P>,
  params: P,
  direction: P,
) {
  const { leaves, dirs, def } = alignLeaves(op, partition, params, direction);
  const move = perturbation(partition, leaves, dirs, def);
  const g = (alpha: Value): Value => f(move(alpha) as P);
  return { g, alpha0: hd.zeros([partition.size]) };
}

/**
 * partitionedDerivative(order, partition)(f)(θ, u) = D̄(order)[i1…id] = Dᵈ L(θ)[v_i1, …, v_id]:
 * the S×…×S tensor of order-d derivatives of α ↦ L(θ + V·α) at 0 (with `diagonal`, the S entries D̄[s,…,s]).
 * @example partitionedDerivative(2, canonical(params))(loss)(params, grad(loss)(params)) // H̄, S×S
 */
export function partitionedDerivative(order: number, partition: Partition, options: PartitionedDerivativeOptions = {}) {
  checkOrder("partitionedDerivative", order);
  const chunk = options.chunkSize ?? defaultChunkSize(partition);
  if (!Number.isInteger(chunk) || chunk < 1) {
    throw new PartitionError(`partitionedDerivative: chunkSize must be a positive integer, got ${chunk}`);
  }
  return <P extends Tree<Value>>(f: Loss<P>) =>
    (params: P, direction: P): Value =>
      hd.tidy(() => {
        const { g, alpha0 } = alongGroups("partitionedDerivative", partition, f, params, direction);
        if (options.diagonal) return diagonal(order, partition, f, params, direction);
        let h: (a: Value) => Value = hd.grad(g);
        for (let d = 2; d <= order; d++) h = forwardJacobian(h, chunk);
        return h(alpha0);
      });
}

/**
 * D̄[s,…,s] = dᵈ/dtᵈ L(θ + t·v_s) at 0 for every s: the last of `diagonalTerms`.
 */
export function diagonal<P extends Tree<Value>>(
  order: number,
  partition: Partition,
  f: Loss<P>,
  params: P,
  direction: P,
  op = "partitionedDerivative",
): Value {
  const terms = diagonalTerms(order, partition, f, params, direction, op);
  return hd.reshape(hd.slice(terms, [0, order - 1], [partition.size, 1]), [partition.size]);
}

/**
 * [S, order]: row s holds dᵏ/dtᵏ L(θ + t·v_s) at 0 for k = 1..order, by Taylor mode: `multiJet`
 * along the S paths t ↦ θ + t·v_s, `chunk` paths per pass, so the primal runs once per pass and
 * path s carries terms only from its group's first use on. jet's terms are derivatives along the
 * path (JAX's convention), so term k is D̄(k)[s,…,s] itself, i.e. k! × the k-th Taylor coefficient.
 */
export function diagonalTerms<P extends Tree<Value>>(
  order: number,
  partition: Partition,
  f: Loss<P>,
  params: P,
  direction: P,
  op = "partitionedDerivative",
  chunk = defaultChunkSize(partition),
): Value {
  const { leaves, dirs, def } = alignLeaves(op, partition, params, direction);
  const fl = (...ls: Value[]): Value => f(hd.treeUnflatten(def, ls) as P);
  const rest = new Array<null>(order - 1).fill(null);
  const rows: Value[] = [];
  for (let start = 0; start < partition.size; start += chunk) {
    const groups = [...Array(Math.min(chunk, partition.size - start)).keys()].map((i) => start + i);
    const paths = groups.map((s) => groupDirection(partition, dirs, s).map((v) => (v === null ? null : [v, ...rest])));
    const [, series] = hd.multiJet(
      fl,
      leaves,
      paths.map((p) => p.map((row) => row ?? [...rest, null])),
    );
    for (const terms of series) rows.push(hd.stack(terms as Value[]));
  }
  return hd.stack(rows);
}

/**
 * taylorTerms(order)(f)(θ, u) = [D¹L(θ)[u], …, DᵈL(θ)[u,…,u]], so that
 * L(θ + u) ≈ L(θ) + Σ_d DᵈL(θ)[u,…,u] / d! (paper Eq. 4).
 */
export function taylorTerms(order: number) {
  checkOrder("taylorTerms", order);
  return <P extends Tree<Value>>(f: Loss<P>) =>
    (params: P, direction: P): Value =>
      hd.tidy(() => {
        const terms: Value[] = [];
        let h = f as (p: P) => Value;
        for (let d = 1; d <= order; d++) {
          const inner = h;
          h = (p: P) => hd.jvp(inner, [p], [direction])[1] as Value;
          terms.push(h(params));
        }
        return hd.stack(terms);
      });
}
