/**
 * Reusable laws of optimizers as pure functions (`init(params) → state`, `update(state, params,
 * grads, extras?) → { state, updates }`), each a fast-check property run by `fc.assert`: it returns
 * when the law holds on every generated case and throws (with the shrunk counterexample) when not.
 * Call them from a vitest `it(…)`.
 */
import * as hd from "@hodiff/core";
import { applyUpdates, type Extras, type GradientTransformation } from "@hodiff/optim";
import fc from "fast-check";
import {
  arbParams,
  arbParamsAndGrads,
  leavesOf,
  materialize,
  type LeafSpec,
  type ParamsOptions,
  type TreeSpec,
} from "./arbitraries";
import { quadraticLoss, quadraticMinimiser, quadraticValue, type Quadratic } from "./quadratic";

// model ---------------------------------------------------------------------------------------

/** What a law offers `extras` on each update: the loss of the test problem, as a function of the parameters. @category model */
export interface LawContext {
  /** Number of updates done before this one. */
  readonly step: number;
  /** The loss of the law's problem (purity: a fixed quadratic). */
  readonly loss: (params: never) => hd.Value;
}

/** Options common to every law. @category model */
export interface LawOptions {
  /** The extras of each update, e.g. `(ctx) => ({ loss: ctx.loss })` for NewtonSummary (default none). */
  readonly extras?: (ctx: LawContext) => Extras | undefined;
  /** fast-check runs (default 20). */
  readonly numRuns?: number;
  /** fast-check seed (default: fast-check's). */
  readonly seed?: number;
  /** The parameter trees generated (default: 1 to 3 leaves of rank ≤ 2, axes ≤ 4). */
  readonly params?: ParamsOptions;
}

/** A factory of the optimizer under test (called once per generated case). @category model */
export type OptimizerFactory = () => GradientTransformation<unknown>;

/** The error a law throws when it does not hold (inside fast-check's report of the counterexample). @category model */
export class LawViolation extends Error {
  override name = "LawViolation";
}
const fail = (law: string, message: string): never => {
  throw new LawViolation(`${law}: ${message}`);
};

// utils ---------------------------------------------------------------------------------------

const isTensor = (x: unknown): x is hd.Value =>
  typeof x === "object" && x !== null && typeof (x as { dataSync?: unknown }).dataSync === "function";

/** A state or tree as plain data: tensors become { shape, data } (for comparisons and snapshots). @category utils */
export function snapshot(x: unknown): unknown {
  if (isTensor(x)) return { shape: hd.shapeOf(x), data: Array.from(hd.toFlat(x)) };
  if (Array.isArray(x)) return x.map(snapshot);
  if (typeof x === "object" && x !== null)
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, snapshot(v)]));
  if (typeof x === "function") return "[function]";
  return x;
}

/** Bitwise equality of snapshots (Object.is on numbers: NaN equals NaN, 0 differs from −0). */
function sameBits(a: unknown, b: unknown): boolean {
  if (typeof a === "number" || typeof b === "number") return Object.is(a, b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameBits(x, b[i]));
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => sameBits((a as never)[k], (b as never)[k]));
  }
  return a === b;
}

/** The n×n identity matrix. */
const identity = (n: number): number[][] =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (__, j) => (i === j ? 1 : 0)));

/** Number of scalars of a spec. */
function countScalars(spec: TreeSpec): number {
  return Object.values(spec).reduce(
    (n, v) => n + ("shape" in v && Array.isArray(v.shape) ? (v.data as number[]).length : countScalars(v as TreeSpec)),
    0,
  );
}

/** A diagonal quadratic with curvatures in [0.5, 2] and a weak all-ones coupling (positive definite). */
const arbQuadratic = (n: number): fc.Arbitrary<Quadratic> =>
  fc
    .tuple(
      fc.array(fc.double({ min: 0.5, max: 2, noNaN: true }), { minLength: n, maxLength: n }),
      fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: n, maxLength: n }),
    )
    .map(([d, b]) => ({ a: d.map((x, i) => d.map((_, j) => (i === j ? x : 0) + 0.1 / n)), b }));

/** Run `steps` updates on `loss` from `params` (consumed); returns the flat θ after each and frees everything. */
function trajectory(
  opt: GradientTransformation<unknown>,
  params: hd.Tree<hd.Value>,
  loss: (p: never) => hd.Value,
  steps: number,
  extras: LawOptions["extras"],
): number[][] {
  let state = opt.init(params);
  const thetas: number[][] = [];
  for (let t = 0; t < steps; t++) {
    const grads = hd.grad(loss as (p: hd.Tree<hd.Value>) => hd.Value)(params);
    const r = opt.update(state, params, grads, extras?.({ step: t, loss }));
    const next = applyUpdates(params, r.updates);
    hd.dispose([grads, r.updates, params, state]);
    params = next;
    state = r.state;
    thetas.push(leavesOf(params).flat());
  }
  hd.dispose([params, state]);
  return thetas;
}

const runOptions = (o: LawOptions) => ({ numRuns: o.numRuns ?? 20, ...(o.seed === undefined ? {} : { seed: o.seed }) });

// laws ----------------------------------------------------------------------------------------

/**
 * checkPurity: for arbitrary parameters and gradients, over `steps` updates, `update` leaves its
 * inputs (parameters, gradients, state) unchanged, gives bitwise-equal results for equal inputs,
 * and, once the caller disposes what it owns, leaves `hd.numTensors()` where it was.
 * @example it("is pure", () => checkPurity(() => myOptimizer(0.1)));
 * @category laws
 */
export function checkPurity(factory: OptimizerFactory, options: LawOptions & { readonly steps?: number } = {}): void {
  const law = "purity";
  const steps = options.steps ?? 3;
  fc.assert(
    fc.property(arbParamsAndGrads(steps, options.params), ({ params: spec, grads: gradSpecs }) => {
      const before = hd.numTensors();
      const q: Quadratic = {
        a: identity(countScalars(spec)),
        b: new Array<number>(countScalars(spec)).fill(0.5),
      };
      const loss = quadraticLoss(q);
      const opt = factory();
      let params = materialize(spec);
      let state = opt.init(params);
      let pending: unknown[] = []; // freed even when a check throws mid-update
      try {
        for (let t = 0; t < steps; t++) {
          const grads = materialize(gradSpecs[t]!);
          pending = [grads];
          const inputs = snapshot([params, grads, state]);
          const extras = options.extras?.({ step: t, loss });
          const r1 = opt.update(state, params, grads, extras);
          pending.push(r1);
          const r2 = opt.update(state, params, grads, extras);
          pending.push(r2);
          if (!sameBits(snapshot([params, grads, state]), inputs))
            fail(law, `update ${t} modified its inputs (parameters, gradients or state)`);
          if (!sameBits(snapshot(r1.updates), snapshot(r2.updates)))
            fail(law, `update ${t}: equal inputs gave different updates`);
          if (!sameBits(snapshot(r1.state), snapshot(r2.state)))
            fail(law, `update ${t}: equal inputs gave different states`);
          const next = applyUpdates(params, r1.updates);
          hd.dispose([r2, grads, r1.updates, params, state]);
          pending = [];
          params = next;
          state = r1.state;
        }
      } finally {
        hd.dispose([params, state, pending]);
      }
      const leaked = hd.numTensors() - before;
      if (leaked !== 0)
        fail(law, `${leaked} tensors left after ${steps} updates (update must free what it does not return)`);
    }),
    runOptions(options),
  );
}

/**
 * checkDescent: on arbitrary convex quadratics (curvatures in [0.5, 2], weakly coupled) from
 * arbitrary parameters with ‖∇L(θ₀)‖ ≥ minGradientNorm (default 1e-3), `steps` updates (default 20)
 * lower the loss: L(θ_T) < L(θ₀). An optimizer whose steps do not shrink near the minimum (Adam's are
 * about its learning rate) only descends from far enough: raise `minGradientNorm`.
 * @example it("descends", () => checkDescent(() => sgd(0.1), { steps: 10 }));
 * @category laws
 */
export function checkDescent(
  factory: OptimizerFactory,
  options: LawOptions & { readonly steps?: number; readonly minGradientNorm?: number } = {},
): void {
  const law = "descent on convex quadratics";
  const steps = options.steps ?? 20;
  const minGradientNorm = options.minGradientNorm ?? 1e-3;
  const paramsOptions = { maxAbs: 3, ...options.params };
  fc.assert(
    fc.property(
      arbParams(paramsOptions).chain((spec) => arbQuadratic(countScalars(spec)).map((q) => ({ spec, q }))),
      ({ spec, q }) => {
        const theta0 = leavesOfSpec(spec);
        const g0 = q.a.map((row, i) => row.reduce((s, x, j) => s + x * theta0[j]!, 0) - q.b[i]!);
        fc.pre(Math.hypot(...g0) >= minGradientNorm);
        const thetas = trajectory(factory(), materialize(spec), quadraticLoss(q), steps, options.extras);
        const l0 = quadraticValue(q, theta0);
        const lT = quadraticValue(q, thetas.at(-1)!);
        if (!(lT < l0)) fail(law, `the loss went from ${l0} to ${lT} in ${steps} updates`);
      },
    ),
    runOptions(options),
  );
}

/**
 * checkRescalingInvariance: with each leaf a group, rescaling the parameters θ_s = c_s·θ̃_s
 * (c_s ∈ [0.25, 4]) and optimizing θ̃ on L(c·θ̃) gives the same trajectory in θ, |c·θ̃_t − θ_t| ≤
 * tol·(1 + |θ_t|), on arbitrary convex quadratics (the invariance of the paper's App. E).
 * @example it("is invariant", () => checkRescalingInvariance(() => newtonSummary({ … }), { extras: (c) => ({ loss: c.loss }) }));
 * @category laws
 */
export function checkRescalingInvariance(
  factory: OptimizerFactory,
  options: LawOptions & { readonly steps?: number; readonly tolerance?: number } = {},
): void {
  const law = "invariance under per-group rescaling";
  const steps = options.steps ?? 6;
  const tol = options.tolerance ?? 1e-3;
  const paramsOptions = { maxAbs: 3, nested: false, ...options.params };
  fc.assert(
    fc.property(
      arbParams(paramsOptions).chain((spec) =>
        fc
          .tuple(
            arbQuadratic(countScalars(spec)),
            fc.array(fc.double({ min: 0.25, max: 4, noNaN: true }), {
              minLength: Object.keys(spec).length,
              maxLength: Object.keys(spec).length,
            }),
          )
          .map(([q, c]) => ({ spec, q, c })),
      ),
      ({ spec, q, c }) => {
        const keys = Object.keys(spec);
        const loss = quadraticLoss(q);
        const direct = trajectory(factory(), materialize(spec), loss, steps, options.extras);
        // θ̃ = θ / c per leaf (float32-rounded), loss L(c·θ̃).
        const scaledSpec: TreeSpec = Object.fromEntries(
          keys.map((k, i) => {
            const leaf = spec[k] as LeafSpec;
            return [k, { shape: leaf.shape, data: leaf.data.map((x) => Math.fround(x / c[i]!)) }];
          }),
        );
        const scaledLoss = (p: Record<string, hd.Value>) =>
          loss(Object.fromEntries(keys.map((k, i) => [k, hd.mul(p[k]!, c[i]!)])) as never);
        const scaled = trajectory(factory(), materialize(scaledSpec), scaledLoss as never, steps, options.extras);
        const sizes = keys.map((k) => (spec[k] as LeafSpec).data.length);
        const scaleOf = sizes.flatMap((n, i) => new Array<number>(n).fill(c[i]!));
        direct.forEach((theta, t) =>
          theta.forEach((x, i) => {
            const y = scaled[t]![i]! * scaleOf[i]!;
            if (!(Math.abs(x - y) <= tol * (1 + Math.abs(x))))
              fail(law, `update ${t}, scalar ${i}: θ = ${x} directly, ${y} through the rescaling by ${c.join(", ")}`);
          }),
        );
      },
    ),
    runOptions(options),
  );
}

/**
 * checkNewtonStep: one update from arbitrary parameters on an arbitrary positive definite quadratic
 * ½θᵀAθ − bᵀθ (A = MᵀM + I, n ≤ 6 scalars) lands on the minimiser A⁻¹b (|θ₁ − A⁻¹b| ≤ tol·(1 +
 * |A⁻¹b|)): what NewtonSummary reduces to with the discrete partition, no cubic term, u = g and λ = 1.
 * @example it("is Newton", () => checkNewtonStep(() => newtonSummary({ learningRate: 1, momentum: 0, period: 1, window: 1, warmup: 0, cubic: false, positivePart: false, partition: discrete }), { extras: (c) => ({ loss: c.loss }) }));
 * @category laws
 */
export function checkNewtonStep(
  factory: OptimizerFactory,
  options: LawOptions & { readonly tolerance?: number } = {},
): void {
  const law = "reduction to Newton on a quadratic";
  const tol = options.tolerance ?? 1e-3;
  const paramsOptions = { maxAbs: 2, maxLeaves: 2, maxRank: 1, maxDim: 3, ...options.params };
  fc.assert(
    fc.property(
      arbParams(paramsOptions).chain((spec) => {
        const n = countScalars(spec);
        return fc
          .tuple(
            fc.array(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: n, maxLength: n }), {
              minLength: n,
              maxLength: n,
            }),
            fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: n, maxLength: n }),
          )
          .map(([m, b]) => {
            const a = m.map((_, i) =>
              m.map((__, j) => m.reduce((s, row) => s + row[i]! * row[j]!, 0) + (i === j ? 1 : 0)),
            );
            return { spec, q: { a, b } as Quadratic };
          });
      }),
      ({ spec, q }) => {
        const theta0 = leavesOfSpec(spec);
        const g0 = q.a.map((row, i) => row.reduce((s, x, j) => s + x * theta0[j]!, 0) - q.b[i]!);
        fc.pre(g0.every((g) => Math.abs(g) >= 1e-2)); // a zero gradient component leaves its group still
        const [theta1] = trajectory(factory(), materialize(spec), quadraticLoss(q), 1, options.extras);
        const want = quadraticMinimiser(q);
        want.forEach((w, i) => {
          if (!(Math.abs(theta1![i]! - w) <= tol * (1 + Math.abs(w))))
            fail(law, `scalar ${i}: one update reached ${theta1![i]}, Newton's step reaches ${w}`);
        });
      },
    ),
    runOptions(options),
  );
}

/** The values of a spec's leaves, flattened in the order `materialize` + flatten gives (sorted keys, as hd's pytrees). */
function leavesOfSpec(spec: TreeSpec): number[] {
  const tree = materialize(spec);
  const flat = leavesOf(tree).flat();
  hd.dispose(tree);
  return flat;
}
