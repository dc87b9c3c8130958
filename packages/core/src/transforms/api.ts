/**
 * The transforms, JAX's API over pytrees: jvp, vjp, grad, valueAndGrad, vmap, linearize,
 * jacfwd, jacrev, hessian, hvp. Each pushes one trace level, boxes its inputs, runs the user's
 * function and unboxes the outputs; any transform may wrap any other.
 */
import { K, runtime, type Tensor } from "../kernels";
import { ArgumentError, ShapeError, TreeError } from "../errors";
import { Tracer, avalOf, formatAval, isValue, withMain, type ArrayLike, type Value } from "../trace/core";
import { JVPTrace, JVPTracer } from "../trace/jvp";
import { BatchTrace, BatchTracer } from "../trace/vmap";
import { ReverseTrace, ReverseTracer, backward, materialize, type TapeNode } from "../trace/reverse";
import { flattenAs, treeFlatten, treePaths, treeUnflatten, type TreeDef } from "../tree";
import { scoped, tensorsIn } from "../memory";
import { linearizeImpl, type LinearMap } from "./linearize";
import { add } from "../primitives/elementwise";
import { broadcastTo, reshape, slice } from "../primitives/shape";
import { moveaxis, sameShape, sizeOf, zerosOf } from "../primitives/rules";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => any;

/** `args.0.w` -> `args[0].w` for messages. */
const argPath = (p: string): string => p.replace(/^args\.(\d+)/, "args[$1]");

/** A leaf as an array: numbers become float32 scalars; anything else is an error naming its path. */
function leafValue(op: string, x: unknown, path: string): Value {
  if (isValue(x)) return x;
  if (typeof x === "number") return K.scalar(x, "float32");
  throw new ArgumentError(
    `${op}: ${argPath(path) || "the value"} must be an array or a number, got ${x === null ? "null" : typeof x}`,
  );
}

function flattenValues(op: string, tree: unknown, root: string): [Value[], TreeDef] {
  const [leaves, def] = treeFlatten(tree);
  // Paths only for a message: most calls have arrays and numbers alone (a path walk per call saved).
  if (leaves.every((l) => typeof l === "number" || isValue(l))) return [leaves.map((l) => leafValue(op, l, "")), def];
  const paths = treePaths(def, root);
  return [leaves.map((l, i) => leafValue(op, l, paths[i]!)), def];
}

function checkSameAvals(op: string, a: Value[], b: Value[], paths: string[], what: [string, string]): void {
  a.forEach((x, i) => {
    const ax = avalOf(x);
    const bx = avalOf(b[i]!);
    if (!sameShape(ax.shape, bx.shape)) {
      throw new ShapeError(
        `${op}: ${what[0]} and ${what[1]} differ at ${argPath(paths[i]!)}: ${formatAval(ax)} vs ${formatAval(bx)}`,
      );
    }
  });
}

/** Throw unless `args` is a JS array of f's arguments (the common slip is passing the first argument bare). */
function checkArgList(op: string, what: string, args: unknown): asserts args is unknown[] {
  if (Array.isArray(args)) return;
  throw new ArgumentError(
    `${op}: ${what} must be an array of f's arguments (e.g. [params] for f(params)), got ${describeOut(args)}`,
  );
}

/**
 * jvp(f, primals, tangents) = [f(primals), ∂f(primals)·tangents]: forward-mode pushforward.
 * `primals` and `tangents` are arrays of f's arguments: `jvp(f, [params], [direction])`.
 */
export function jvp<A extends unknown[], O>(
  f: (...args: A) => O,
  primals: readonly [...A],
  tangents: readonly [...A] | readonly ArrayLike[],
): [O, O] {
  checkArgList("jvp", "primals", primals);
  checkArgList("jvp", "tangents", tangents);
  return scoped(() => {
    const [pl, def] = flattenValues("jvp", primals, "args");
    const paths = treePaths(def, "args");
    const tl = flattenAs<unknown>(def, tangents, "jvp: tangents", "tangents").map((t, i) =>
      leafValue("jvp", t, `tangents${paths[i]!.slice(4)}`),
    );
    checkSameAvals("jvp", pl, tl, paths, ["primals", "tangents"]);
    return withMain(JVPTrace, undefined, (main) => {
      const trace = main.trace as JVPTrace;
      const ins = pl.map((p, i) => new JVPTracer(trace, p, tl[i]!));
      const out = f(...(treeUnflatten(def, ins) as A));
      const [ol, odef] = flattenValues("jvp", out, "out");
      const ps: Value[] = [];
      const ts: Value[] = [];
      for (const o of ol) {
        if (o instanceof JVPTracer && o.trace.main === main) {
          ps.push(o.primal);
          ts.push(o.tangent ?? zerosOf(avalOf(o.primal)));
        } else {
          ps.push(o);
          ts.push(zerosOf(avalOf(o)));
        }
      }
      return [treeUnflatten(odef, ps), treeUnflatten(odef, ts)] as [O, O];
    });
  });
}

interface Recorded {
  out: unknown;
  outDef: TreeDef;
  outValues: Value[];
  outNodes: (TapeNode | null)[];
  inNodes: TapeNode[];
  inValues: Value[];
  tape: TapeNode[];
  aux: unknown;
}

/** Run f on reverse tracers for the leaves of `diffArgs`, recording a tape. */
function record(op: string, f: Fn, args: unknown[], diff: (i: number) => boolean, hasAux: boolean): Recorded {
  const tape: TapeNode[] = [];
  return withMain(ReverseTrace, tape, (main) => {
    const trace = main.trace as ReverseTrace;
    const inNodes: TapeNode[] = [];
    const inValues: Value[] = [];
    const boxed = args.map((a, i) => {
      if (!diff(i)) return a;
      const [leaves, def] = flattenValues(op, a, `args.${i}`);
      return treeUnflatten(
        def,
        leaves.map((l) => {
          const t = trace.input(l);
          inNodes.push(t.node!);
          inValues.push(l);
          return t;
        }),
      );
    });
    const result = f(...boxed);
    let out = result;
    let aux: unknown = undefined;
    if (hasAux) {
      if (!Array.isArray(result) || result.length !== 2) {
        throw new ArgumentError(`${op}: with hasAux, f must return [output, aux], got ${describeOut(result)}`);
      }
      [out, aux] = result;
    }
    const [ol, outDef] = flattenValues(op, out, "out");
    const lower = (o: Value): [Value, TapeNode | null] =>
      o instanceof ReverseTracer && o.trace.main === main ? [o.primal, o.node] : [o, null];
    const lowered = ol.map(lower);
    const auxLowered = hasAux
      ? treeUnflatten(
          ...((): [TreeDef, unknown[]] => {
            const [al, adef] = treeFlatten(aux);
            return [adef, al.map((a) => (a instanceof ReverseTracer && a.trace.main === main ? a.primal : a))];
          })(),
        )
      : undefined;
    return {
      out: treeUnflatten(
        outDef,
        lowered.map(([v]) => v),
      ),
      outDef,
      outValues: lowered.map(([v]) => v),
      outNodes: lowered.map(([, n]) => n),
      inNodes,
      inValues,
      tape,
      aux: auxLowered,
    };
  });
}

const describeOut = (x: unknown): string =>
  isValue(x)
    ? formatAval(avalOf(x))
    : Array.isArray(x)
      ? `an array of length ${x.length}`
      : x !== null && typeof x === "object"
        ? `an object with keys {${Object.keys(x).join(", ")}}`
        : x === null
          ? "null"
          : typeof x;

/** Cotangents of the recorded inputs for output cotangents `cts` (zeros where none arrive). */
function pullBack(rec: Recorded, cts: Value[]): Value[] {
  const seeds: [TapeNode, Value][] = [];
  rec.outNodes.forEach((n, i) => {
    if (n) seeds.push([n, cts[i]!]);
  });
  const reached = backward(rec.tape, seeds, add);
  return rec.inNodes.map((n, i) => {
    const ct = reached.get(n);
    return ct === undefined ? zerosOf(avalOf(rec.inValues[i]!)) : materialize(ct);
  });
}

/** A pullback: a linear map from output cotangents (shaped like f's output) to input cotangents. */
export interface Pullback<In extends unknown[]> {
  (cotangent: unknown): In;
  /** Tensors kept alive for the backward pass; freed by dispose(). */
  readonly residuals: Tensor[];
  dispose(): void;
}

/** vjp(f, ...primals) = [f(primals), ct ↦ ctᵀ·∂f(primals)]: reverse-mode pullback. */
export function vjp<A extends unknown[], O>(f: (...args: A) => O, ...primals: A): [O, Pullback<A>] {
  let residuals: Tensor[] = [];
  // Tensors made by this call have larger ids than this mark; older ones (closure constants) are not ours to free.
  const probe = K.scalar(0, "float32");
  const mark = probe.id;
  probe.dispose();
  const rec = scoped(
    () => record("vjp", f as Fn, primals, () => true, false),
    (r) => {
      residuals = [];
      for (const n of r.tape) {
        for (const v of [...n.inputs, n.out]) if (runtime.isTensor(v) && v.id > mark) residuals.push(v);
      }
      return [...tensorsIn(r.out), ...residuals];
    },
  );
  const own = new Set(tensorsIn(rec.out));
  for (const v of rec.inValues) if (runtime.isTensor(v)) own.add(v);
  const kept = [...new Set(residuals)].filter((t) => !own.has(t));
  const pullback = ((ct: unknown) =>
    scoped(() => {
      const cts = flattenAs<unknown>(rec.outDef, ct, "vjp: cotangent").map((c, i) =>
        leafValue("vjp", c, `cotangent.${i}`),
      );
      checkSameAvals("vjp", rec.outValues, cts, treePaths(rec.outDef, "out"), ["outputs", "cotangents"]);
      const inCts = pullBack(rec, cts);
      let k = 0;
      return primals.map((p) => {
        const [leaves, def] = treeFlatten(p);
        return treeUnflatten(
          def,
          leaves.map(() => inCts[k++]!),
        );
      });
    })) as Pullback<A>;
  Object.defineProperty(pullback, "residuals", { value: kept });
  Object.defineProperty(pullback, "dispose", { value: () => kept.forEach((t) => t.dispose()) });
  return [rec.out as O, pullback];
}

export interface GradOptions {
  /** Which positional arguments to differentiate (default 0); an array gives a tuple of grads. */
  argnums?: number | readonly number[];
  /** f returns [loss, aux]; aux is passed through undifferentiated. */
  hasAux?: boolean;
}

function valueAndGradImpl(
  op: string,
  f: Fn,
  options: GradOptions,
  args: unknown[],
  keepValue: boolean,
): [unknown, unknown, unknown] {
  const argnums = options.argnums ?? 0;
  const nums = typeof argnums === "number" ? [argnums] : [...argnums];
  for (const n of nums) {
    if (!Number.isInteger(n) || n < 0 || n >= args.length) {
      throw new ArgumentError(`${op}: argnums ${n} is out of range for ${args.length} argument(s)`);
    }
  }
  return scoped(() => {
    const rec = record(op, f, args, (i) => nums.includes(i), options.hasAux ?? false);
    if (rec.outValues.length !== 1 || avalOf(rec.outValues[0]!).shape.length !== 0) {
      throw new ShapeError(`${op}: f must return a scalar, got ${describeOut(rec.out)}`);
    }
    if (avalOf(rec.outValues[0]!).dtype !== "float32") {
      throw new ShapeError(`${op}: f must return a float32 scalar, got ${describeOut(rec.out)}`);
    }
    const inCts = pullBack(rec, [K.scalar(1, "float32")]);
    let k = 0;
    const grads = nums.map((n) => {
      const [leaves, def] = treeFlatten(args[n]);
      return treeUnflatten(
        def,
        leaves.map(() => inCts[k++]!),
      );
    });
    return [keepValue ? rec.out : undefined, rec.aux, typeof argnums === "number" ? grads[0] : grads];
  });
}

/** The gradients of the arguments picked by a tuple of argnums: one pytree per index, typed like it. */
export type GradsOf<A extends readonly unknown[], N extends readonly number[]> = { [K in keyof N]: A[N[K]] };

/** Options of grad/valueAndGrad that differentiate argument 0 and return no aux. */
export interface Plain {
  readonly argnums?: 0;
  readonly hasAux?: false;
}
/** Options that differentiate argument 0 of an f that returns [loss, aux]. */
export interface WithAux {
  readonly argnums?: 0;
  readonly hasAux: true;
}
/** Options that differentiate one argument N or a tuple of arguments Ns, without aux. */
export interface ArgN<N> {
  readonly argnums: N;
  readonly hasAux?: false;
}

/**
 * grad(f)(x) = ∇ₓf(x) for scalar f. The gradient has the type (and pytree structure) of the
 * differentiated argument: `grad((p: Params, x: Array) => loss)` is `(p: Params, x: Array) => Params`
 * (number leaves come back as float32 scalar arrays). `argnums: n` or `[i, j]` picks other
 * arguments (a tuple of gradients for a tuple); `hasAux` lets f return [loss, aux], passed through.
 */
export function grad<P, R extends unknown[]>(
  f: (p: P, ...rest: R) => ArrayLike,
  options?: Plain,
): (p: P, ...rest: R) => P;
export function grad<P, R extends unknown[], Aux>(
  f: (p: P, ...rest: R) => readonly [ArrayLike, Aux],
  options: WithAux,
): (p: P, ...rest: R) => [P, Aux];
export function grad<A extends unknown[], const N extends number>(
  f: (...args: A) => ArrayLike,
  options: ArgN<N>,
): (...args: A) => A[N];
export function grad<A extends unknown[], const N extends readonly number[]>(
  f: (...args: A) => ArrayLike,
  options: ArgN<N>,
): (...args: A) => GradsOf<A, N>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function grad<F extends Fn>(f: F, options?: GradOptions): (...args: Parameters<F>) => any;
export function grad(f: Fn, options: GradOptions = {}): Fn {
  return (...args: unknown[]) => {
    const [, aux, g] = valueAndGradImpl("grad", f, options, args, false);
    return options.hasAux ? [g, aux] : g;
  };
}

/**
 * valueAndGrad(f)(x) = [f(x), ∇ₓf(x)] (with hasAux: [[loss, aux], grads]); typed like {@link grad}.
 * @example const [loss, g] = valueAndGrad(lossFn)(params, x, y); // g: typeof params
 */
export function valueAndGrad<P, R extends unknown[], V extends Value>(
  f: (p: P, ...rest: R) => V,
  options?: Plain,
): (p: P, ...rest: R) => [V, P];
export function valueAndGrad<P, R extends unknown[], V extends Value, Aux>(
  f: (p: P, ...rest: R) => readonly [V, Aux],
  options: WithAux,
): (p: P, ...rest: R) => [[V, Aux], P];
export function valueAndGrad<A extends unknown[], V extends Value, const N extends number>(
  f: (...args: A) => V,
  options: ArgN<N>,
): (...args: A) => [V, A[N]];
export function valueAndGrad<A extends unknown[], V extends Value, const N extends readonly number[]>(
  f: (...args: A) => V,
  options: ArgN<N>,
): (...args: A) => [V, GradsOf<A, N>];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function valueAndGrad<F extends Fn>(f: F, options?: GradOptions): (...args: Parameters<F>) => any;
export function valueAndGrad(f: Fn, options: GradOptions = {}): Fn {
  return (...args: unknown[]) => {
    const [value, aux, g] = valueAndGradImpl("valueAndGrad", f, options, args, true);
    return options.hasAux ? [[value, aux], g] : [value, g];
  };
}

/** Axis spec of vmap: a number or null for every leaf, or a tree prefix of the arguments. */
export type AxisSpec = number | null | readonly AxisSpec[] | { readonly [k: string]: AxisSpec };

/** The axis of each leaf of `tree`, from an axis spec that is a tree prefix of it. */
function axesFor(op: string, spec: AxisSpec, def: TreeDef, path: string): (number | null)[] {
  if (spec === null || typeof spec === "number") return new Array(countLeaves(def)).fill(spec);
  if (def.kind === "array" && Array.isArray(spec) && spec.length === def.children.length) {
    return def.children.flatMap((c, i) => axesFor(op, (spec as AxisSpec[])[i]!, c, `${path}.${i}`));
  }
  if (def.kind === "object" && !Array.isArray(spec) && def.keys.every((k) => k in (spec as object))) {
    return def.children.flatMap((c, i) =>
      axesFor(op, (spec as Record<string, AxisSpec>)[def.keys[i]!]!, c, `${path}.${def.keys[i]}`),
    );
  }
  throw new TreeError(`${op}: the axis spec does not match the structure at ${argPath(path)}`);
}

const countLeaves = (def: TreeDef): number =>
  def.kind === "leaf" ? 1 : def.kind === "none" ? 0 : def.children.reduce((n, c) => n + countLeaves(c), 0);

/** vmap(f, inAxes, outAxes)(xs) = stack_i f(xs[i]): f mapped over an axis of its inputs. */
export function vmap<A extends unknown[], O>(
  f: (...args: A) => O,
  inAxes: AxisSpec = 0,
  outAxes: AxisSpec = 0,
): (...args: A) => O {
  return (...args: A): O =>
    scoped(() => {
      const [leaves, def] = flattenValues("vmap", args, "args");
      const paths = treePaths(def, "args");
      const axes = axesFor("vmap", inAxes, def, "args");
      let size: number | null = null;
      let first = "";
      const norm = axes.map((a, i) => {
        if (a === null) return null;
        const aval = avalOf(leaves[i]!);
        const r = aval.shape.length;
        const ax = a < 0 ? a + r : a;
        if (ax < 0 || ax >= r) {
          throw new ShapeError(`vmap: axis ${a} is out of range for ${argPath(paths[i]!)} (${formatAval(aval)})`);
        }
        const n = aval.shape[ax]!;
        if (size === null) {
          size = n;
          first = `${argPath(paths[i]!)} (${formatAval(aval)}, axis ${ax}) has ${n}`;
        } else if (n !== size) {
          throw new ShapeError(
            `vmap: inconsistent sizes for mapped axes: ${first}, ${argPath(paths[i]!)} (${formatAval(aval)}, axis ${ax}) has ${n}.`,
          );
        }
        return ax;
      });
      if (size === null) throw new ArgumentError("vmap: no argument is mapped (every in-axis is null)");
      const n: number = size;
      return withMain(BatchTrace, n, (main) => {
        const trace = main.trace as BatchTrace;
        const ins = leaves.map((l, i) => (norm[i] === null ? l : new BatchTracer(trace, l, norm[i]!)));
        const out = f(...(treeUnflatten(def, ins) as A));
        const [ol, odef] = flattenValues("vmap", out, "out");
        const oaxes = axesFor("vmap", outAxes, odef, "out");
        const opaths = treePaths(odef, "out");
        const res = ol.map((o, i) => {
          const oa = oaxes[i]!;
          const batched = o instanceof BatchTracer && o.trace.main === main && o.bdim !== null;
          const v = o instanceof BatchTracer && o.trace.main === main ? o.val : o;
          if (oa === null) {
            if (batched) throw new ShapeError(`vmap: output ${opaths[i]} is mapped but its out axis is null`);
            return v;
          }
          const r = avalOf(v).shape.length + (batched ? 0 : 1);
          const to = oa < 0 ? oa + r : oa;
          if (batched) return moveaxis(v, (o as BatchTracer).bdim!, to);
          const s = avalOf(v).shape;
          const expanded = reshape(v, [...s.slice(0, to), 1, ...s.slice(to)]);
          return broadcastTo(expanded, [...s.slice(0, to), n, ...s.slice(to)]);
        });
        return treeUnflatten(odef, res) as O;
      });
    });
}

/**
 * linearize(f, ...primals) = [f(primals), t ↦ ∂f(primals)·t], by partial evaluation: the primal
 * runs once, the linear map runs only the staged tangent work (see `linearize.ts`). The map holds
 * its residuals until `dispose(map)`.
 */
export function linearize<A extends unknown[], O>(f: (...args: A) => O, ...primals: A): [O, LinearMap<A, O>] {
  return linearizeImpl(jvp as never, f, primals) as [O, LinearMap<A, O>];
}

/** The standard basis of the leaves of x, batched on axis 0: leaf i gets [n, ...shape_i]. */
function basis(leaves: Value[]): Value[] {
  const sizes = leaves.map((l) => sizeOf(avalOf(l).shape));
  const n = sizes.reduce((a, b) => a + b, 0);
  const eye = runtime.eye(n);
  let offset = 0;
  return leaves.map((l, i) => {
    const cols = slice(eye, [0, offset], [n, sizes[i]!]);
    offset += sizes[i]!;
    return reshape(cols, [n, ...avalOf(l).shape]);
  });
}

/** Split the last axis of a Jacobian block [...out, n] by input leaves: each becomes [...out, ...in_i]. */
function splitLastAxis(j: Value, inLeaves: Value[], inDef: TreeDef): unknown {
  const js = avalOf(j).shape;
  const outShape = js.slice(0, -1);
  let offset = 0;
  const parts = inLeaves.map((l) => {
    const s = avalOf(l).shape;
    const n = sizeOf(s);
    const block = slice(j, [...outShape.map(() => 0), offset], [...outShape, n]);
    offset += n;
    return reshape(block, [...outShape, ...s]);
  });
  return treeUnflatten(inDef, parts);
}

export interface JacOptions {
  /** Which positional argument to differentiate (default 0). */
  argnums?: number;
}

/**
 * The type of a Jacobian of an output tree O with respect to an input tree I: every leaf of O
 * becomes a tree shaped like I (block [...outShape, ...inShape] at each leaf pair).
 */
export type Jacobian<O, I> = O extends Value | number ? I : { [K in keyof O]: Jacobian<O[K], I> };

const withArg = (args: unknown[], n: number, x: unknown): unknown[] => args.map((a, i) => (i === n ? x : a));

/** jacfwd(f)(x)[out…, in…] = ∂f/∂x by forward mode: vmap of jvp over the input basis. */
export function jacfwd<P, R extends unknown[], O>(
  f: (p: P, ...rest: R) => O,
  options?: { readonly argnums?: 0 },
): (p: P, ...rest: R) => Jacobian<O, P>;
export function jacfwd<A extends unknown[], O, const N extends number>(
  f: (...args: A) => O,
  options: { readonly argnums: N },
): (...args: A) => Jacobian<O, A[N]>;
export function jacfwd(f: Fn, options: JacOptions = {}): Fn {
  const n = options.argnums ?? 0;
  return (...args: unknown[]): unknown =>
    scoped(() => {
      const [xl, xdef] = flattenValues("jacfwd", args[n], `args.${n}`);
      const push = (...ts: Value[]) =>
        jvp((x: unknown) => f(...withArg(args, n, x)), [args[n]], [treeUnflatten(xdef, ts)])[1];
      const J = vmap(push, 0, -1)(...basis(xl));
      const [jl, jdef] = treeFlatten(J as unknown);
      return treeUnflatten(
        jdef,
        (jl as Value[]).map((j) => splitLastAxis(j, xl, xdef)),
      );
    });
}

/** jacrev(f)(x)[out…, in…] = ∂f/∂x by reverse mode: vmap of the pullback over the output basis. */
export function jacrev<P, R extends unknown[], O>(
  f: (p: P, ...rest: R) => O,
  options?: { readonly argnums?: 0 },
): (p: P, ...rest: R) => Jacobian<O, P>;
export function jacrev<A extends unknown[], O, const N extends number>(
  f: (...args: A) => O,
  options: { readonly argnums: N },
): (...args: A) => Jacobian<O, A[N]>;
export function jacrev(f: Fn, options: JacOptions = {}): Fn {
  const n = options.argnums ?? 0;
  return (...args: unknown[]): unknown =>
    scoped(() => {
      const [xl, xdef] = flattenValues("jacrev", args[n], `args.${n}`);
      const [y, pullback] = vjp((x: unknown) => f(...withArg(args, n, x)), args[n]);
      const [yl, ydef] = flattenValues("jacrev", y, "out");
      const rows = vmap((...cts: Value[]) => pullback(treeUnflatten(ydef, cts))[0], 0, 0)(...basis(yl));
      const rowLeaves = treeFlatten(rows as unknown)[0] as Value[];
      let offset = 0;
      const blocks = yl.map((yleaf) => {
        const ys = avalOf(yleaf).shape;
        const m = sizeOf(ys);
        const parts = rowLeaves.map((r, i) => {
          const rs = avalOf(r).shape;
          const block = slice(r, [offset, ...rs.slice(1).map(() => 0)], [m, ...rs.slice(1)]);
          return reshape(block, [...ys, ...avalOf(xl[i]!).shape]);
        });
        offset += m;
        return treeUnflatten(xdef, parts);
      });
      return treeUnflatten(ydef, blocks);
    });
}

/** hessian(f)(x) = ∂²f/∂x² = jacfwd(jacrev(f)); for a pytree x, H[a][b] is the block ∂²f/∂x_a∂x_b. */
export function hessian<P, R extends unknown[]>(
  f: (p: P, ...rest: R) => ArrayLike,
  options?: { readonly argnums?: 0 },
): (p: P, ...rest: R) => Jacobian<P, P>;
export function hessian<A extends unknown[], const N extends number>(
  f: (...args: A) => ArrayLike,
  options: { readonly argnums: N },
): (...args: A) => Jacobian<A[N], A[N]>;
export function hessian(f: Fn, options: JacOptions = {}): Fn {
  return jacfwd(jacrev(f, options as { argnums: number }), options as { argnums: number });
}

/**
 * hvp(f, primals, tangents) = ∇²f(primals)·tangents, forward-over-reverse (w.r.t. argument 0);
 * typed like the first argument: `hvp(loss, [params, x], [v, x])` has the type of params.
 */
export function hvp<P, R extends unknown[]>(
  f: (p: P, ...rest: R) => ArrayLike,
  primals: readonly [P, ...R],
  tangents: readonly [P, ...R] | readonly ArrayLike[],
): P {
  checkArgList("hvp", "primals", primals);
  checkArgList("hvp", "tangents", tangents);
  return scoped(() => jvp((...xs: [P, ...R]) => grad(f)(...xs), primals, tangents)[1]);
}

export { Tracer };
