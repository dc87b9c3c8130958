/**
 * Kernel fusion when a plan is built (as XLA fuses after differentiation): an equation whose operand
 * is the only use of another equation's output may run with it as one kernel. The fused steps are
 * plan-only primitives: they never appear while tracing, so they need no derivative, batching or
 * Taylor rules — transforms of a jitted function see its unfused jaxpr, and the plan that runs it
 * is built from the jaxpr after every transform.
 *
 * Fusions: add(conv2d(x, w), b) with b of shape [O] → `K.conv2dBias` (FusedConv2D), and
 * tanhGrad(y, maxScatter(x, m, t)) with x = y (through reshapes) → `K.maxScatterTanhGrad` (max
 * pooling's gradient and tanh's derivative rule in one pass, LeNet-5's reverse pass). Not a fusion
 * but planned the same way: conv2d(x, w) (+ b) and its filter gradient convFilter(x, ct) share one
 * im2col(x) step where the conv runs as im2col + matmul on a native GEMM (`sharePatches`). Last,
 * tanh(add(z, b)) and tanh(patchConv(P, W, b)), b an [O] bias, → one `biasTanh` pass (`fuseBiasTanh`).
 * conv2d's input-gradient conv of the flipped filter, conv2d(c, transpose(reverse(w))), → convInput(c, w)
 * (`unflipConvInput`): on the col2im scatter the filter is used as it is. A pooling gradient that
 * feeds a filter gradient's composite route is written in the layout that route reads (`cotangentHwnc`).
 */
import {
  conv2dP,
  convFilterP,
  stridedAndDilated,
  type Conv2DParams,
  type ConvFilterParams,
} from "../primitives/linalg";
import { addP, tanhGradP, tanhP } from "../primitives/elementwise";
import { maxScatterP, reduceSumP, type ReduceParams } from "../primitives/reduce";
import { reshapeP, reverseP, transposeP } from "../primitives/shape";
import {
  biasTanhP,
  conv2dBiasP,
  convFilterHwncP,
  maxScatterTanhGradHwncP,
  convInputP,
  im2colP,
  maxScatterTanhGradP,
  patchConvP,
  patchFilterP,
} from "../primitives/fused";
import { Jaxpr, Var, type Atom, type Eqn } from "./jaxpr";
import { hostPlacement } from "./host";
import { sameShape } from "../shapes";
import { K } from "../kernels";
import type { AnyPrimitive } from "../trace/core";

/**
 * One fusion: `outer`'s operand at some position is the output of an equation of `inner`, used by
 * nothing else; `rewrite` returns the fused equation's primitive, params and inputs, or null where
 * this pair does not qualify.
 */
interface Fusion {
  readonly inner: AnyPrimitive;
  readonly outer: AnyPrimitive;
  rewrite(inner: Eqn, outer: Eqn, at: number): { prim: AnyPrimitive; params: unknown; inputs: Atom[] } | null;
}

const FUSIONS: readonly Fusion[] = [
  {
    inner: conv2dP,
    outer: addP,
    rewrite: (conv, add, at) => {
      const y = conv.outs[0]!.aval;
      const b = add.inputs[1 - at]!;
      const out = add.outs[0]!.aval;
      const O = y.shape[3];
      const ok =
        b instanceof Var &&
        y.dtype === "float32" &&
        b.aval.dtype === "float32" &&
        b.aval.shape.length === 1 &&
        b.aval.shape[0] === O &&
        sameShape(out.shape, y.shape);
      return ok ? { prim: conv2dBiasP, params: conv.params, inputs: [...conv.inputs, b] } : null;
    },
  },
];

/** How often each variable is used (the jaxpr's outputs count as uses), and the equation defining each. */
function dataflow(j: Jaxpr): { uses: Map<Var, number>; producer: Map<Var, Eqn> } {
  const uses = new Map<Var, number>();
  const count = (a: Atom) => {
    if (a instanceof Var) uses.set(a, (uses.get(a) ?? 0) + 1);
  };
  j.eqns.forEach((e) => e.inputs.forEach(count));
  j.outs.forEach(count);
  const producer = new Map<Var, Eqn>();
  for (const e of j.eqns) if (e.outs.length === 1) producer.set(e.outs[0]!, e);
  return { uses, producer };
}

let fusing = true;
/** Turn fusion in plans built from now on off or on (tests and benchmarks compare the two); returns the previous setting. */
export function setFusion(on: boolean): boolean {
  const previous = fusing;
  fusing = on;
  return previous;
}

/**
 * The jaxpr with each `FUSIONS` pattern replaced by its fused equation (at the outer equation's
 * place; the inner one's inputs are defined before it). Outputs of the jaxpr are never fused away.
 */
export function fuse(j: Jaxpr): Jaxpr {
  if (!fusing) return j;
  const { uses, producer } = dataflow(j);
  const fusedAway = new Set<Eqn>();
  const replaced = new Map<Eqn, Eqn>();
  for (const e of j.eqns) {
    for (const f of FUSIONS) {
      if (e.prim !== f.outer || replaced.has(e)) continue;
      for (let at = 0; at < e.inputs.length && !replaced.has(e); at++) {
        const a = e.inputs[at]!;
        const inner = a instanceof Var ? producer.get(a) : undefined;
        if (!inner || inner.prim !== f.inner || uses.get(a as Var) !== 1 || fusedAway.has(inner)) continue;
        const r = f.rewrite(inner, e, at);
        if (!r) continue;
        fusedAway.add(inner);
        replaced.set(e, { prim: r.prim, params: r.params, inputs: r.inputs, outs: e.outs });
      }
    }
  }
  if (replaced.size > 0) {
    const eqns = j.eqns.filter((e) => !fusedAway.has(e)).map((e) => replaced.get(e) ?? e);
    j = new Jaxpr(j.constvars, j.invars, eqns, j.outs);
  }
  return fuseBiasTanh(cotangentHwnc(sharePatches(unflipConvInput(fuseScatterTanhGrad(j)))));
}

/**
 * G = tanhGrad(Y, R), R = reshape(S) (or R = S), S = maxScatter(X, M, T) with X = reshape(Y) (or
 * X = Y), S and R used only there, S or G not a host kernel's step (`hostPlacement`): S becomes
 * maxScatterTanhGrad(X, M, T) (X holds Y's values in the same order) and R's reshape now defines G.
 */
function fuseScatterTanhGrad(j: Jaxpr): Jaxpr {
  const { uses, producer } = dataflow(j);
  const onHost = hostPlacement(j);
  const made = (a: Atom | undefined, prim: AnyPrimitive): Eqn | undefined => {
    const e = a instanceof Var ? producer.get(a) : undefined;
    return e?.prim === prim ? e : undefined;
  };
  const rewritten = new Map<Eqn, Eqn>();
  const dropped = new Set<Eqn>();
  for (const g of j.eqns) {
    if (g.prim !== tanhGradP) continue;
    const [y, r] = g.inputs;
    if (!(y instanceof Var) || !(r instanceof Var) || uses.get(r) !== 1) continue;
    const reshape = made(r, reshapeP);
    const s = reshape ? reshape.inputs[0] : r;
    const scatter = made(s, maxScatterP);
    if (!scatter || uses.get(s as Var) !== 1 || rewritten.has(scatter)) continue;
    const x = scatter.inputs[0];
    const sameData = x === y || made(x, reshapeP)?.inputs[0] === y;
    const shapes = [y, r, g.outs[0]!].map((v) => v.aval.shape);
    if (!sameData || y.aval.dtype !== "float32" || !shapes.every((sh) => sameShape(sh, shapes[0]!))) continue;
    // Steps a plan would run as host kernels stay there: no tfjs call at all.
    if (onHost(scatter) && onHost(g)) continue;
    rewritten.set(scatter, { ...scatter, prim: maxScatterTanhGradP, outs: reshape ? scatter.outs : g.outs });
    if (reshape) rewritten.set(reshape, { ...reshape, outs: g.outs });
    dropped.add(g);
  }
  if (dropped.size === 0) return j;
  const eqns = j.eqns.filter((e) => !dropped.has(e)).map((e) => rewritten.get(e) ?? e);
  return new Jaxpr(j.constvars, j.invars, eqns, j.outs);
}

const sameGeometry = (a: Conv2DParams, b: Conv2DParams): boolean =>
  JSON.stringify([a.strides, a.padding, a.dilations]) === JSON.stringify([b.strides, b.padding, b.dilations]);

/**
 * The most floats of patch matrices one plan keeps from its forward to its backward pass (16 MiB):
 * each is kh·kw times its conv's input, which the plan holds anyway. LeNet-5's conv2 at batch 100
 * holds 1.5 M; VGG-11's convs at batch 32 would hold 17 M together, and its speed with sharing was
 * not measured reliably (a loaded machine). Convs share in the order their filter gradients come
 * (the last layers' first) while the budget lasts; the others build their patches twice.
 */
const SHARED_MAX = 2 ** 22;

/**
 * Y = conv2d(X, W) or conv2dBias(X, W, b), D = convFilter(X, C) with the same geometry and filter
 * extent, where K.sharesPatches says the conv runs as im2col + matmul in one piece on a native GEMM:
 * P = im2col(X) is computed once, just before the conv, and Y = patchConv(P, W[, b]),
 * D = patchFilter(P, C) (= Pᵀ·C: the filter gradient without its own im2col or any transposes; P
 * lives from the forward to the backward pass; at most SHARED_MAX floats of such P per plan).
 */
function sharePatches(j: Jaxpr): Jaxpr {
  const convs = j.eqns.filter(
    (e) => (e.prim === conv2dP || e.prim === conv2dBiasP) && e.inputs[0] instanceof Var && e.inputs[1] instanceof Var,
  );
  if (convs.length === 0) return j;
  const before = new Map<Eqn, Eqn>();
  const rewritten = new Map<Eqn, Eqn>();
  let held = 0;
  for (const f of j.eqns) {
    if (f.prim !== convFilterP) continue;
    const fp = f.params as ConvFilterParams;
    const [x, ct] = f.inputs;
    if (!(x instanceof Var) || x.aval.dtype !== "float32") continue;
    const conv = convs.find((c) => {
      const w = c.inputs[1]!.aval.shape;
      return (
        c.inputs[0] === x &&
        w[0] === fp.filter[0] &&
        w[1] === fp.filter[1] &&
        sameGeometry(c.params as Conv2DParams, fp)
      );
    });
    if (!conv) continue;
    const cp = conv.params as Conv2DParams;
    // conv2d's impl takes strides with dilations as a dense conv, subsampled: not a single im2col.
    if (
      stridedAndDilated(cp) ||
      !K.sharesPatches(x.aval.shape, conv.inputs[1]!.aval.shape, cp.strides, cp.padding, cp.dilations)
    )
      continue;
    let im2col = before.get(conv);
    if (!im2col) {
      const params: ConvFilterParams = { ...cp, filter: fp.filter };
      const aval = im2colP.abstractEval([x.aval], params);
      const floats = aval.shape[0]! * aval.shape[1]!;
      if (held + floats > SHARED_MAX) continue;
      held += floats;
      const patches = new Var(aval);
      im2col = { prim: im2colP, params, inputs: [x], outs: [patches] };
      before.set(conv, im2col);
      const out = conv.outs[0]!.aval.shape;
      rewritten.set(conv, {
        prim: patchConvP,
        params: { out },
        inputs: [patches, ...conv.inputs.slice(1)],
        outs: conv.outs,
      });
    }
    rewritten.set(f, {
      prim: patchFilterP,
      params: { filter: fp.filter },
      inputs: [im2col.outs[0]!, ct!],
      outs: f.outs,
    });
  }
  if (rewritten.size === 0) return j;
  // Each patchFilter runs as soon as its cotangent exists (right after the equation defining it),
  // while P may still be in cache, and P is freed sooner; it stays in place if ct is defined before P.
  const { producer } = dataflow(j);
  const after = new Map<Eqn, Eqn[]>();
  const moved = new Set<Eqn>();
  const position = new Map(j.eqns.map((e, i) => [e, i]));
  const convOf = new Map([...before].map(([conv, im2col]) => [im2col.outs[0]!, conv]));
  for (const [old, now] of rewritten) {
    if (now.prim !== patchFilterP) continue;
    const ct = old.inputs[1];
    const at = ct instanceof Var ? producer.get(ct) : undefined;
    if (!at || position.get(at)! < position.get(convOf.get(now.inputs[0] as Var)!)!) continue;
    after.set(at, [...(after.get(at) ?? []), now]);
    moved.add(old);
  }
  const eqns = j.eqns.flatMap((e) => {
    if (moved.has(e)) return [];
    const pre = before.get(e);
    const now = rewritten.get(e) ?? e;
    return [...(pre ? [pre, now] : [now]), ...(after.get(e) ?? [])];
  });
  return new Jaxpr(j.constvars, j.invars, eqns, j.outs);
}

/**
 * T = tanh(A) with A = add(Z, b) or A = patchConv(P, W, b), b an [O] bias along A's last axis and A
 * used only by T: T = biasTanh(Z, b) (or Z = patchConv(P, W) without its bias, then T =
 * biasTanh(Z, b)) — the bias add inside the tanh's pass instead of a pass of its own (dense layers
 * and LeNet-5's conv2 on the native GEMM). Where both would run as host kernels they stay there.
 */
function fuseBiasTanh(j: Jaxpr): Jaxpr {
  const { uses, producer } = dataflow(j);
  const onHost = hostPlacement(j);
  const rewritten = new Map<Eqn, Eqn[]>();
  const dropped = new Set<Eqn>();
  for (const t of j.eqns) {
    if (t.prim !== tanhP) continue;
    const a = t.inputs[0];
    const inner = a instanceof Var ? producer.get(a) : undefined;
    if (!inner || uses.get(a as Var) !== 1 || a!.aval.dtype !== "float32" || a!.aval.shape.length === 0) continue;
    const O = a!.aval.shape[a!.aval.shape.length - 1]!;
    const isBias = (b: Atom | undefined): b is Var =>
      b instanceof Var && b.aval.dtype === "float32" && b.aval.shape.length === 1 && b.aval.shape[0] === O;
    if (inner.prim === addP) {
      const at = [0, 1].find(
        (i) => isBias(inner.inputs[1 - i]) && sameShape(inner.inputs[i]!.aval.shape, a!.aval.shape),
      );
      if (at === undefined) continue;
      if (onHost(inner) && onHost(t)) continue;
      rewritten.set(t, [
        { prim: biasTanhP, params: {}, inputs: [inner.inputs[at]!, inner.inputs[1 - at]!], outs: t.outs },
      ]);
      dropped.add(inner);
    } else if (inner.prim === patchConvP && inner.inputs.length === 3 && isBias(inner.inputs[2])) {
      const z = new Var(a!.aval);
      const conv = { ...inner, inputs: inner.inputs.slice(0, 2), outs: [z] };
      rewritten.set(t, [conv, { prim: biasTanhP, params: {}, inputs: [z, inner.inputs[2]!], outs: t.outs }]);
      dropped.add(inner);
    }
  }
  if (rewritten.size === 0) return j;
  const eqns = j.eqns.flatMap((e) => rewritten.get(e) ?? (dropped.has(e) ? [] : [e]));
  return new Jaxpr(j.constvars, j.invars, eqns, j.outs);
}

// ---- conv input gradient from the unflipped filter (helper "eagerconv") ----

/**
 * Y = conv2d(C, F) with stride 1, F = transpose(R, [0, 1, 3, 2]), R = reverse(W, [0, 1]), F and R
 * used only there (conv2d's input-gradient rule, `rules/vjp.ts` convInputTranspose) →
 * Y = convInput(C, W): on the col2im scatter the plan then forms no flipped filter
 * (`K.convInputScatter`); elsewhere convInput flips W itself.
 */
function unflipConvInput(j: Jaxpr): Jaxpr {
  const { uses, producer } = dataflow(j);
  const only = (a: Atom | undefined, prim: AnyPrimitive): Eqn | undefined => {
    const e = a instanceof Var && uses.get(a) === 1 ? producer.get(a) : undefined;
    return e?.prim === prim ? e : undefined;
  };
  const away = new Set<Eqn>();
  const replaced = new Map<Eqn, Eqn>();
  for (const e of j.eqns) {
    if (e.prim !== conv2dP) continue;
    const p = e.params as Conv2DParams;
    if (p.strides[0] !== 1 || p.strides[1] !== 1) continue;
    const t = only(e.inputs[1], transposeP);
    if (!t || !sameShape((t.params as { perm: readonly number[] }).perm, [0, 1, 3, 2])) continue;
    const r = only(t.inputs[0], reverseP);
    if (!r || !sameShape((r.params as { axes: readonly number[] }).axes, [0, 1]) || !(r.inputs[0] instanceof Var))
      continue;
    away.add(t).add(r);
    replaced.set(e, { prim: convInputP, params: p, inputs: [e.inputs[0]!, r.inputs[0]], outs: e.outs });
  }
  if (replaced.size === 0) return j;
  const eqns = j.eqns.filter((e) => !away.has(e)).map((e) => replaced.get(e) ?? e);
  return new Jaxpr(j.constvars, j.invars, eqns, j.outs);
}
// ---- end conv input gradient from the unflipped filter ----

// ---- pooling gradient as conv's [h, w, n, c] cotangent (helper "sumk") ----

/**
 * G = reshape(S) to [n, h, w, c], S = maxScatterTanhGrad(X, M, T; axes [2, 4]) with X [n, hp, kh,
 * wp, kw, c] (2-D max pooling's gradient through tanh), where G's uses are convFilter(x, G) taking
 * its composite route (which transposes G to [h, w, n, c] first, K.convFilterTakesIm2col false) and
 * sums over all axes but the last (the conv's bias gradient; the same sum on either layout):
 * Gt = maxScatterTanhGradHwnc(X, M, T) in S's place, the filter gradients become
 * convFilterHwnc(x, Gt) and the sums read Gt. LeNet-5's conv1: no Transpose of its cotangent.
 */
function cotangentHwnc(j: Jaxpr): Jaxpr {
  const { uses, producer } = dataflow(j);
  const users = new Map<Var, Array<[Eqn, number]>>();
  for (const e of j.eqns)
    e.inputs.forEach((a, at) => {
      if (!(a instanceof Var)) return;
      const list = users.get(a);
      if (list) list.push([e, at]);
      else users.set(a, [[e, at]]);
    });
  const rewritten = new Map<Eqn, Eqn>();
  const dropped = new Set<Eqn>();
  for (const r of j.eqns) {
    if (r.prim !== reshapeP) continue;
    const s = r.inputs[0];
    const scatter = s instanceof Var ? producer.get(s) : undefined;
    if (!scatter || scatter.prim !== maxScatterTanhGradP || uses.get(s as Var) !== 1) continue;
    const x = scatter.inputs[0]!.aval;
    const g = r.outs[0]!;
    const [n, hp, kh, wp, kw, c] = x.shape as [number, number, number, number, number, number];
    const pooling =
      x.dtype === "float32" &&
      x.shape.length === 6 &&
      sameShape((scatter.params as ReduceParams).axes, [2, 4]) &&
      sameShape(g.aval.shape, [n, hp * kh, wp * kw, c]);
    const gUses = users.get(g) ?? [];
    if (!pooling || gUses.length !== uses.get(g)) continue; // also used as a jaxpr output
    const filters = gUses.filter(([e, at]) => e.prim === convFilterP && at === 1);
    const biasSums = gUses.filter(
      ([e, at]) => e.prim === reduceSumP && at === 0 && sameShape((e.params as ReduceParams).axes, [0, 1, 2]),
    );
    if (filters.length === 0 || filters.length + biasSums.length !== gUses.length) continue;
    const composite = filters.every(
      ([e]) => !K.convFilterTakesIm2col(e.inputs[0]!.aval, g.aval, (e.params as ConvFilterParams).filter),
    );
    if (!composite) continue;
    const gt = new Var(
      maxScatterTanhGradHwncP.abstractEval(
        scatter.inputs.map((a) => a.aval),
        {},
      ),
    );
    rewritten.set(scatter, { prim: maxScatterTanhGradHwncP, params: {}, inputs: scatter.inputs, outs: [gt] });
    dropped.add(r);
    for (const [e] of filters) rewritten.set(e, { ...e, prim: convFilterHwncP, inputs: [e.inputs[0]!, gt] });
    for (const [e] of biasSums) rewritten.set(e, { ...e, inputs: [gt] });
  }
  if (dropped.size === 0) return j;
  const eqns = j.eqns.filter((e) => !dropped.has(e)).map((e) => rewritten.get(e) ?? e);
  return new Jaxpr(j.constvars, j.invars, eqns, j.outs);
}
// ---- end pooling gradient as [h, w, n, c] ----
