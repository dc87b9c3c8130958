/**
 * K-FAC as a pure optimizer: `scaleByKfac` (Kronecker-factored preconditioning, KL clipping and
 * weight decay) and `kfac(lr)` = `chain(scaleByKfac, traceMomentum, scaleByLearningRate)`, a
 * transcription of alecwangcq/KFAC-Pytorch's `KFACOptimizer` (the paper's K-FAC baseline) with its
 * model hooks replaced by explicit statistics passed as `extras.kfac` (see `kfacFactors.ts`).
 */
import * as hd from "@hodiff/core";
import { freezeState, type Extras, type GradientTransformation, type ScalarOrSchedule } from "./base";
import { chain } from "./combine";
import { check, checkOptionNames, checkScalarOrSchedule, isFiniteNumber } from "./internal";
import { layerFactors, type KfacStats, type LayerShape } from "./kfacFactors";
import { dampedInverse, eigen, meanDiagonal, toFloat64 } from "./kfacLinalg";
import { scaleByLearningRate, traceMomentum, type ScaleByScheduleState, type TraceMomentumState } from "./transform";
import type { EmptyState } from "./base";

// model ---------------------------------------------------------------------------------------

/**
 * How the damping λ enters the inverse:
 * - `'eigen'` (alecwangcq's code, the default): `(A ⊗ G + λI)⁻¹` exactly, through the
 *   eigendecompositions `A = Q_A D_A Q_Aᵀ`, `G = Q_G D_G Q_Gᵀ`: `V = Q_A [(Q_Aᵀ M Q_G) / (d_A d_Gᵀ + λ)] Q_Gᵀ`;
 * - `'factored'` (Martens & Grosse 2015, §6.3, π-corrected Tikhonov):
 *   `(A + π√λ I)⁻¹ ⊗ (G + √λ/π I)⁻¹` with `π = √((tr A / dim A) / (tr G / dim G))`: inversions about
 *   5× faster (Cholesky instead of eigendecompositions) and 2 matmuls per layer and step instead of 4.
 * @category kfac
 */
export type KfacDamping = "eigen" | "factored";

/** Options of {@link scaleByKfac} (all but `learningRate` are those of {@link kfac}). @category kfac */
export interface ScaleByKfacOptions {
  /** Learning rate η used by the KL clip (number or schedule of the update count); default 1 (no η in the clip). */
  readonly learningRate?: ScalarOrSchedule;
  /** Decay of the running averages of A and G, in [0, 1) (default 0.95). */
  readonly statDecay?: number;
  /** Damping λ ≥ 0 (default 0.03). */
  readonly damping?: number;
  /** How λ is applied (default `'eigen'`). */
  readonly dampingMode?: KfacDamping;
  /** KL clip κ > 0: updates are scaled by ν = min(1, √(κ / (η² Σ⟨v, g⟩))); Infinity disables (default 0.01). */
  readonly klClip?: number;
  /** Weight decay ω ≥ 0: ω·θ is added to the (preconditioned, clipped) update (default 0.003). */
  readonly weightDecay?: number;
  /** First update (0-based count) with weight decay (default 20·covEvery, as in the reference code). */
  readonly weightDecayFrom?: number;
  /** Fold `extras.kfac` into A and G on updates whose count is a multiple of this (default 10). */
  readonly covEvery?: number;
  /** Invert the factors again on updates whose count is a multiple of this (default 100). */
  readonly invEvery?: number;
  /** The statistics' `g` is the gradient of a batch-mean loss (default true, PyTorch's `batch_averaged`). */
  readonly batchAveraged?: boolean;
  /**
   * Paths of the layers to precondition (subtrees `{ w, b? }` of the parameters). Default: every
   * `w` leaf of rank 2 (dense `[in, out]`) or 4 (conv HWIO), with its sibling `b` when present.
   */
  readonly layers?: readonly string[];
}

/** Options of {@link kfac}. @category kfac */
const SCALE_BY_KFAC_OPTIONS = [
  "learningRate",
  "statDecay",
  "damping",
  "dampingMode",
  "klClip",
  "weightDecay",
  "weightDecayFrom",
  "covEvery",
  "invEvery",
  "batchAveraged",
  "layers",
] as const;

/** The option names of {@link kfac} and {@link kfacPrepare}: scaleByKfac's but the learning rate, and momentum. */
const KFAC_OPTIONS = [...SCALE_BY_KFAC_OPTIONS.filter((k) => k !== "learningRate"), "momentum"];

export interface KfacOptions extends Omit<ScaleByKfacOptions, "learningRate"> {
  /** SGD momentum μ in [0, 1] after the K-FAC step (default 0.9, PyTorch's buffer without dampening). */
  readonly momentum?: number;
}

/**
 * The inverse of one layer's curvature, from the last inversion:
 * - `'eigen'`: eigenvectors (columns of `QA`, `QG`) and eigenvalues (`dA`, `dG`; those below 1e-10
 *   set to 0) of A and G;
 * - `'factored'`: the damped inverses `Ainv = (A + π√λ I)⁻¹` and `Ginv = (G + √λ/π I)⁻¹` (Cholesky, float64).
 * @category kfac
 */
export type KfacInverse =
  | {
      readonly kind: "eigen";
      readonly QA: hd.Value;
      readonly dA: hd.Value;
      readonly QG: hd.Value;
      readonly dG: hd.Value;
    }
  | { readonly kind: "factored"; readonly Ainv: hd.Value; readonly Ginv: hd.Value };

/**
 * One layer's curvature: running averages `A` (`[K, K]`, K = fan-in + 1 with a bias) and `G`
 * (`[out, out]`), the inverse of the last inversion and π = √((tr A/K) / (tr G/out)) at that inversion
 * (used by `'factored'` damping, for logging with `'eigen'`).
 * @category kfac
 */
export interface KfacLayerState {
  readonly A: hd.Value;
  readonly G: hd.Value;
  readonly pi: number;
  readonly inverse: KfacInverse;
}

/**
 * State of {@link scaleByKfac}: `count` (updates done), `factors` by layer path, and `klScale`,
 * the KL-clip factor ν of the last update (1 before the first).
 * @category kfac
 */
export interface ScaleByKfacState {
  readonly count: number;
  readonly factors: Readonly<Record<string, KfacLayerState>>;
  readonly klScale: number;
}

/** State of {@link kfac}. @category kfac */
export type KfacState = readonly [ScaleByKfacState, TraceMomentumState, EmptyState | ScaleByScheduleState];

// utils ---------------------------------------------------------------------------------------

const FN = "scaleByKfac";

interface LayerIndex {
  readonly w: number;
  readonly b: number | undefined;
}

/** Leaf indices of each layer's `w` and `b` among the flattened leaves with these paths. */
function indexLayers(paths: readonly string[], layers: readonly string[] | undefined, shapes: number[][]) {
  const where = new Map(paths.map((p, i) => [p, i]));
  const join = (layer: string, leaf: string) => (layer === "" ? leaf : `${layer}.${leaf}`);
  const names =
    layers ??
    paths
      .filter((p, i) => (p === "w" || p.endsWith(".w")) && (shapes[i]!.length === 2 || shapes[i]!.length === 4))
      .map((p) => (p === "w" ? "" : p.slice(0, -2)));
  const index: Record<string, LayerIndex> = {};
  for (const layer of names) {
    const w = where.get(join(layer, "w"));
    if (w === undefined) throw new hd.TreeError(`${FN}: layer '${layer}' has no leaf '${join(layer, "w")}'`);
    const r = shapes[w]!.length;
    if (r !== 2 && r !== 4)
      throw new hd.ShapeError(`${FN}: ${join(layer, "w")} must be [in, out] or HWIO, got [${shapes[w]!.join(",")}]`);
    index[layer] = { w, b: where.get(join(layer, "b")) };
  }
  return index;
}

/** Sizes of a layer's factors: A is kIn × kIn (fan-in, + 1 with a bias), G is out × out. */
function factorSizes(w: readonly number[], hasBias: boolean): [number, number] {
  const out = w[w.length - 1]!;
  const fanIn = w.slice(0, -1).reduce((a, b) => a * b, 1);
  return [fanIn + (hasBias ? 1 : 0), out];
}

const eye = (n: number): hd.Value =>
  hd.array(
    Float32Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) === k % n ? 1 : 0)),
    { shape: [n, n] },
  );

/**
 * A new tensor holding the same data (tfjs reshapes share their buffer: nothing is copied), so that
 * the new state owns all its tensors and the caller can dispose the old one.
 */
const share = (v: hd.Value): hd.Value => {
  const s = hd.shapeOf(v);
  return hd.reshape(hd.reshape(v, [...s, 1]), s);
};

/** Validate a positive integer option. */
const checkPeriod = (name: string, v: unknown) =>
  check(Number.isInteger(v) && (v as number) >= 1, FN, name, "an integer ≥ 1", v);

/**
 * One layer's inversion done on the host, from factors read beforehand: π and the inverse's
 * float32 arrays (row-major; the eigenvectors are the columns of `QA`, `QG`).
 * @category kfac
 */
export interface KfacHostInverse {
  readonly pi: number;
  readonly inverse:
    | {
        readonly kind: "eigen";
        readonly QA: Float32Array;
        readonly dA: Float32Array;
        readonly QG: Float32Array;
        readonly dG: Float32Array;
      }
    | { readonly kind: "factored"; readonly Ainv: Float32Array; readonly Ginv: Float32Array };
}

/**
 * What {@link kfacPrepare} read, without blocking, for the update with this `count`, passed to it
 * as `extras.kfacPrepared`: the layers' inversions (on an inversion update) and `klDot = Σ⟨v, M⟩`,
 * the KL clip's sum (when the clip is on). The update then reads nothing synchronously.
 * @category kfac
 */
export interface KfacPrepared {
  readonly count: number;
  readonly inverses?: Readonly<Record<string, KfacHostInverse>>;
  readonly klDot?: number;
}

/** The prepared reads of this update, if any (checked against its count). */
function preparedFor(extras: Record<string, unknown> | undefined, count: number): KfacPrepared | undefined {
  const prepared = extras?.["kfacPrepared"] as KfacPrepared | undefined;
  if (prepared === undefined) return undefined;
  if (prepared === null || typeof prepared !== "object" || prepared.count !== count)
    throw new hd.ArgumentError(
      `${FN}: extras.kfacPrepared was read for update ${String((prepared as { count?: unknown } | null)?.count)}, this is update ${count}: prepare each update from its own state`,
    );
  return prepared;
}

/** The tensors of a host inversion (the same arrays give the same tensors, prepared or not). */
function inverseTensors(h: KfacHostInverse, k: number, out: number): KfacInverse {
  const v = h.inverse;
  return v.kind === "eigen"
    ? {
        kind: "eigen",
        QA: hd.array(v.QA, { shape: [k, k] }),
        dA: hd.array(v.dA),
        QG: hd.array(v.QG, { shape: [out, out] }),
        dG: hd.array(v.dG),
      }
    : { kind: "factored", Ainv: hd.array(v.Ainv, { shape: [k, k] }), Ginv: hd.array(v.Ginv, { shape: [out, out] }) };
}

// constructors --------------------------------------------------------------------------------

/**
 * The update of {@link scaleByKfac} and its prepare step, sharing every computation, so that a
 * prepared update computes the same numbers as one that reads synchronously.
 */
function kfacCore(options: ScaleByKfacOptions) {
  checkOptionNames(FN, options, SCALE_BY_KFAC_OPTIONS);
  const {
    learningRate = 1,
    statDecay = 0.95,
    damping = 0.03,
    dampingMode = "eigen",
    klClip = 0.01,
    weightDecay = 0.003,
    covEvery = 10,
    invEvery = 100,
    weightDecayFrom = 20 * covEvery,
    batchAveraged = true,
    layers,
  } = options;
  checkScalarOrSchedule(FN, "learningRate", learningRate);
  check(isFiniteNumber(statDecay) && statDecay >= 0 && statDecay < 1, FN, "statDecay", "in [0, 1)", statDecay);
  check(isFiniteNumber(damping) && damping >= 0, FN, "damping", "a finite number ≥ 0", damping);
  check(dampingMode === "eigen" || dampingMode === "factored", FN, "dampingMode", "'eigen' or 'factored'", dampingMode);
  check(typeof klClip === "number" && klClip > 0, FN, "klClip", "> 0 (Infinity disables it)", klClip);
  check(isFiniteNumber(weightDecay) && weightDecay >= 0, FN, "weightDecay", "a finite number ≥ 0", weightDecay);
  check(
    Number.isInteger(weightDecayFrom) && weightDecayFrom >= 0,
    FN,
    "weightDecayFrom",
    "an integer ≥ 0",
    weightDecayFrom,
  );
  checkPeriod("covEvery", covEvery);
  checkPeriod("invEvery", invEvery);

  const layout = (tree: unknown) => {
    const [leaves, def] = hd.treeFlatten(tree as hd.Tree<hd.Value>);
    const shapes = leaves.map((l) => [...hd.shapeOf(l)]);
    return { leaves, def, shapes, index: indexLayers(hd.treePaths(def), layers, shapes) };
  };

  /** The update's checked inputs and layers (creates no tensor). */
  const plan = (
    state: ScaleByKfacState,
    params: unknown,
    grads: unknown,
    extras: Record<string, unknown> | undefined,
  ) => {
    const { count } = state;
    const { leaves: g, def, shapes, index } = layout(grads);
    const theta = hd.flattenAs<hd.Value>(def, params, `${FN} (params against grads)`);
    const lr = typeof learningRate === "function" ? learningRate(count) : learningRate;
    check(isFiniteNumber(lr), FN, `learningRate(${count})`, "a finite number", lr);
    const covStep = count % covEvery === 0;
    const invStep = count % invEvery === 0;
    const stats = extras?.["kfac"] as KfacStats | undefined;
    if (covStep && (stats === undefined || stats === null || typeof stats !== "object"))
      throw new hd.ArgumentError(
        `${FN}: update ${count} folds new statistics into the factors (every ${covEvery} updates): pass them as extras.kfac`,
      );
    const planned = Object.entries(index).map(([layer, { w, b }]) => {
      const old = state.factors[layer];
      if (old === undefined) throw new hd.TreeError(`${FN}: the state has no factors for layer '${layer}'`);
      const [k, out] = factorSizes(shapes[w]!, b !== undefined);
      const fs = hd.shapeOf(old.A);
      if (fs[0] !== k || hd.shapeOf(old.G)[0] !== out)
        throw new hd.ShapeError(
          `${FN}: shapes differ at ${layer}: grads need factors [${k},${k}] ⊗ [${out},${out}], state.factors has [${fs.join(",")}] ⊗ [${hd.shapeOf(old.G).join(",")}]`,
        );
      if (old.inverse.kind !== dampingMode)
        throw new hd.ArgumentError(
          `${FN}: the state of ${layer} holds a '${old.inverse.kind}' inverse, not '${dampingMode}'`,
        );
      return { layer, w, b, k, out, old };
    });
    return { count, g, def, shapes, theta, lr, covStep, invStep, stats, layers: planned };
  };
  type Plan = ReturnType<typeof plan>;
  type PlannedLayer = Plan["layers"][number];

  /** A and G after this update: ρ·old + (1 − ρ)·batch on a fold, else new handles on the old ones. */
  const fold = (p: Plan, L: PlannedLayer): [hd.Value, hd.Value] => {
    let [A, G] = [share(L.old.A), share(L.old.G)];
    if (p.covStep) {
      const s = p.stats![L.layer];
      if (s === undefined) throw new hd.ArgumentError(`${FN}: extras.kfac has no statistics for layer '${L.layer}'`);
      const shape: LayerShape = { w: p.shapes[L.w]!, hasBias: L.b !== undefined };
      const batch = layerFactors(L.layer, s, shape, batchAveraged);
      A = hd.add(hd.mul(A, statDecay), hd.mul(batch.A, 1 - statDecay));
      G = hd.add(hd.mul(G, statDecay), hd.mul(batch.G, 1 - statDecay));
    }
    return [A, G];
  };

  /** The inversion of A and G (row-major float64 on the host): π and the inverse's arrays. */
  const invertOnHost = (L: PlannedLayer, fa: Float64Array, fg: Float64Array): KfacHostInverse => {
    const { k, out } = L;
    const p = Math.sqrt(meanDiagonal(fa, k) / meanDiagonal(fg, out));
    const pi = Number.isFinite(p) && p > 0 ? p : 1;
    if (dampingMode === "eigen") {
      const [ea, eg] = [eigen(fa, k), eigen(fg, out)];
      return { pi, inverse: { kind: "eigen", QA: ea.Q, dA: ea.d, QG: eg.Q, dG: eg.d } };
    }
    const s = Math.sqrt(damping);
    const Ainv = Float32Array.from(dampedInverse(fa, k, pi * s, `A of ${L.layer}`));
    const Ginv = Float32Array.from(dampedInverse(fg, out, s / pi, `G of ${L.layer}`));
    return { pi, inverse: { kind: "factored", Ainv, Ginv } };
  };

  /**
   * M = [∇w reshaped to [fan-in, out]; ∇b] and V = (A ⊗ G + λI)⁻¹ M (eigen) or
   * (A + π√λ)⁻¹ M (G + √λ/π)⁻¹ (factored); V and ⟨V, M⟩, the layer's term of the KL clip's sum.
   */
  const precondition = (p: Plan, L: PlannedLayer, inverse: KfacInverse) => {
    const { w, b, k, out } = L;
    const gw = hd.reshape(p.g[w]!, [k - (b === undefined ? 0 : 1), out]);
    const M = b === undefined ? gw : hd.concat([gw, hd.reshape(p.g[b]!, [1, out])], 0);
    let V: hd.Value;
    if (inverse.kind === "eigen") {
      const { QA, dA, QG, dG } = inverse;
      const denom = hd.add(hd.mul(hd.reshape(dA, [k, 1]), hd.reshape(dG, [1, out])), damping);
      const inner = hd.div(hd.matmul(hd.matmul(hd.transpose(QA), M), QG), denom);
      V = hd.matmul(hd.matmul(QA, inner), hd.transpose(QG));
    } else V = hd.matmul(hd.matmul(inverse.Ainv, M), inverse.Ginv);
    return { V, dot: hd.sum(hd.mul(V, M)) };
  };

  const transformation: GradientTransformation<ScaleByKfacState> = {
    init: (params) =>
      hd.tidy(() => {
        const { shapes, index } = layout(params);
        const factors: Record<string, KfacLayerState> = {};
        for (const [layer, { w, b }] of Object.entries(index)) {
          const [k, out] = factorSizes(shapes[w]!, b !== undefined);
          const inverse: KfacInverse =
            dampingMode === "eigen"
              ? { kind: "eigen", QA: eye(k), dA: hd.ones([k]), QG: eye(out), dG: hd.ones([out]) }
              : { kind: "factored", Ainv: eye(k), Ginv: eye(out) };
          factors[layer] = { A: eye(k), G: eye(out), pi: 1, inverse };
        }
        return freezeState({ count: 0, factors, klScale: 1 });
      }),
    update: (state, params, grads, extras) =>
      hd.tidy(() => {
        const p = plan(state, params, grads, extras);
        const { count, g, def, shapes, theta, lr } = p;
        const prepared = preparedFor(extras, count);
        const factors: Record<string, KfacLayerState> = {};
        const precond: [number, number | undefined, hd.Value][] = [];
        let vg: hd.Value = hd.zeros([]);
        for (const L of p.layers) {
          const [A, G] = fold(p, L);
          let { pi } = L.old;
          const was = L.old.inverse;
          let inverse: KfacInverse =
            was.kind === "eigen"
              ? { kind: "eigen", QA: share(was.QA), dA: share(was.dA), QG: share(was.QG), dG: share(was.dG) }
              : { kind: "factored", Ainv: share(was.Ainv), Ginv: share(was.Ginv) };
          if (p.invStep) {
            // read beforehand by kfacPrepare when given (webgpu), else synchronously here
            const host = prepared?.inverses?.[L.layer] ?? invertOnHost(L, toFloat64(A).a, toFloat64(G).a);
            pi = host.pi;
            inverse = inverseTensors(host, L.k, L.out);
          }
          factors[L.layer] = { A, G, pi, inverse };
          const { V, dot } = precondition(p, L, inverse);
          vg = hd.add(vg, dot);
          precond.push([L.w, L.b, V]);
        }
        // ν in float64 on the host (one scalar read per update, or kfacPrepare's; none without
        // clipping). Σ⟨v, g⟩ ≤ 0 (only possible with damping 0 and round-off) leaves the step
        // unclipped, like a zero gradient.
        const vgSum = klClip === Infinity ? 0 : (prepared?.klDot ?? hd.item(vg)) * lr * lr;
        const klScale = vgSum > 0 ? Math.min(1, Math.sqrt(klClip / vgSum)) : 1;
        const out: hd.Value[] = [...g];
        for (const [w, b, V] of precond) {
          const rows = hd.shapeOf(V)[0]!;
          const nw = b === undefined ? rows : rows - 1;
          const cols = hd.shapeOf(V)[1]!;
          out[w] = hd.mul(hd.reshape(hd.slice(V, [0, 0], [nw, cols]), shapes[w]!), klScale);
          if (b !== undefined) out[b] = hd.mul(hd.reshape(hd.slice(V, [nw, 0], [1, cols]), shapes[b]!), klScale);
        }
        const decayed =
          weightDecay > 0 && count >= weightDecayFrom
            ? out.map((u, i) => {
                const ts = hd.shapeOf(theta[i]!);
                if (ts.length !== shapes[i]!.length || ts.some((d, j) => d !== shapes[i]![j]))
                  throw new hd.ShapeError(
                    `${FN}: shapes differ at ${hd.treePaths(def)[i] || "the root"}: grads [${shapes[i]!.join(",")}] vs params [${ts.join(",")}]`,
                  );
                return hd.add(u, hd.mul(theta[i]!, weightDecay));
              })
            : out;
        const updates = hd.treeUnflatten(def, decayed) as typeof grads;
        return { state: freezeState({ count: count + 1, factors, klScale }), updates };
      }),
  };

  /** The reads of the update, done without blocking (same computations, so the same numbers). */
  const prepare = async (
    state: ScaleByKfacState,
    params: unknown,
    grads: unknown,
    extras: Extras = {},
  ): Promise<Extras> => {
    const invStep = state.count % invEvery === 0;
    if (extras["kfacPrepared"] !== undefined || (!invStep && klClip === Infinity)) return extras;
    const p = plan(state, params, grads, extras);
    let inverses: Record<string, KfacHostInverse> | undefined;
    if (p.invStep) {
      const folded = hd.tidy(() => p.layers.map((L) => fold(p, L)));
      try {
        inverses = {};
        for (const [i, L] of p.layers.entries()) {
          const [A, G] = folded[i]!;
          const fa = Float64Array.from(await hd.toFlatAsync(A));
          const fg = Float64Array.from(await hd.toFlatAsync(G));
          inverses[L.layer] = invertOnHost(L, fa, fg);
        }
      } finally {
        hd.dispose(folded);
      }
    }
    let klDot: number | undefined;
    if (klClip !== Infinity) {
      const vg = hd.tidy(() => {
        let sum: hd.Value = hd.zeros([]);
        for (const L of p.layers) {
          const inverse = inverses ? inverseTensors(inverses[L.layer]!, L.k, L.out) : L.old.inverse;
          sum = hd.add(sum, precondition(p, L, inverse).dot);
        }
        return sum;
      });
      try {
        klDot = await hd.itemAsync(vg);
      } finally {
        hd.dispose(vg);
      }
    }
    const prepared: KfacPrepared = {
      count: p.count,
      ...(inverses === undefined ? {} : { inverses }),
      ...(klDot === undefined ? {} : { klDot }),
    };
    return { ...extras, kfacPrepared: prepared };
  };

  return { transformation, prepare };
}

/**
 * scaleByKfac: per K-FAC layer with gradient matrix `M = [∇w; ∇b]` (`[fan-in (+1), out]`),
 * `v = (A ⊗ G + λI)⁻¹ vec M` (or the factored inverse), then `u = ν·v + ω·θ` with the KL clip
 * `ν = min(1, √(κ / (η² Σ_layers ⟨v, M⟩)))`; other leaves get `u = g + ω·θ`. On an update whose count
 * is a multiple of `covEvery`, `A ← ρA + (1 − ρ)A_batch` and `G ← ρG + (1 − ρ)G_batch` from
 * `extras.kfac` (required then, ignored otherwise; A and G start at I); on a multiple of `invEvery`,
 * after that, the factors are inverted again in float64 (symmetric eigendecompositions with
 * ml-matrix for `'eigen'`, ~9n³ flops; Cholesky damped inverses for `'factored'`, ~n³). The host
 * reads (factors, Σ⟨v, M⟩) are synchronous unless `extras.kfacPrepared` (see {@link kfacPrepare}) holds them.
 * @example chain(scaleByKfac({ learningRate: 0.01 }), traceMomentum(), scaleByLearningRate(0.01)) // kfac(0.01)
 * @category kfac
 */
export function scaleByKfac(options: ScaleByKfacOptions = {}): GradientTransformation<ScaleByKfacState> {
  return kfacCore(options).transformation;
}

/**
 * scaleByKfacPrepare: `extras` plus `kfacPrepared` = {factors' inversions (on an update with count ≡ 0
 * mod invEvery), Σ⟨v, M⟩ (when klClip < ∞)} of the {@link scaleByKfac} update with these options and
 * inputs, computed by the same operations and read without blocking; `extras` unchanged when the
 * update reads nothing or `extras.kfacPrepared` is given. The form for webgpu (no synchronous reads).
 * @example const extras = await scaleByKfacPrepare(opts)(state, params, grads, { kfac: stats }); scaleByKfac(opts).update(state, params, grads, extras)
 * @category kfac
 */
export function scaleByKfacPrepare(
  options: ScaleByKfacOptions = {},
): (state: ScaleByKfacState, params: unknown, grads: unknown, extras?: Extras) => Promise<Extras> {
  return kfacCore(options).prepare;
}

/**
 * kfacPrepare: {@link scaleByKfacPrepare} for {@link kfac} with these options (its state's first
 * stage; the learning rate and momentum do not enter: the prepared Σ⟨v, M⟩ is before η): after
 * `extras = await prepare(state, params, grads, extras)`, `kfac(lr, options).update(state, params, grads, extras)`
 * reads nothing synchronously and gives the same numbers as without it.
 * @example const prepare = kfacPrepare({ damping: 0.03 }); const extras = await prepare(state, params, grads, { kfac: stats })
 * @category kfac
 */
export function kfacPrepare(
  kfacOptions: KfacOptions = {},
): (state: KfacState, params: unknown, grads: unknown, extras?: Extras) => Promise<Extras> {
  checkOptionNames("kfacPrepare", kfacOptions, KFAC_OPTIONS);
  const { momentum: _momentum, ...options } = kfacOptions;
  const prepare = kfacCore(options).prepare;
  return (state, params, grads, extras) => prepare(state[0], params, grads, extras);
}

/**
 * kfac: the paper's K-FAC baseline (alecwangcq/KFAC-Pytorch `KFACOptimizer`):
 * `chain(scaleByKfac({ learningRate, … }), traceMomentum({ decay: momentum }), scaleByLearningRate(learningRate))`,
 * i.e. `b ← μb + (ν·(A ⊗ G + λI)⁻¹∇ + ω·θ)`, `θ ← θ − η·b`. Defaults: statDecay 0.95, damping 0.03,
 * klClip 0.01, weightDecay 0.003 (from update 200), covEvery 10, invEvery 100, momentum 0.9.
 * @example const opt = kfac(0.01); // pass extras.kfac = stats on updates 0, 10, 20, …
 * @category kfac
 */
export function kfac(learningRate: ScalarOrSchedule, kfacOptions: KfacOptions = {}): GradientTransformation<KfacState> {
  checkOptionNames("kfac", kfacOptions, KFAC_OPTIONS);
  const { momentum = 0.9, ...options } = kfacOptions;
  return chain(
    scaleByKfac({ ...options, learningRate }),
    traceMomentum({ decay: momentum }),
    scaleByLearningRate(learningRate),
  ) as unknown as GradientTransformation<KfacState>;
}

/** True when the update with this count folds statistics into the factors (count % covEvery = 0). @category kfac */
export const kfacNeedsStats = (count: number, covEvery = 10): boolean => count % covEvery === 0;
