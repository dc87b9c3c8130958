/**
 * Fused primitives: two kernels' work as one step. They are never bound while tracing a user's
 * function, so they have no derivative, batching or Taylor rules: jit plans substitute them after
 * differentiation (`staging/fuse.ts`), and reverse mode's tanh rule binds maxScatterTanhGrad only
 * on concrete tensors (`rules/vjp.ts`, DeferredScatter), where no transform is left to see it.
 * conv2dBias and biasTanh are the exceptions: `conv2d(x, w, { bias })` and `biasTanh(x, b)` bind
 * them, as composite primitives (`decompose` gives the unfused ops, interpreted wherever they have
 * no rule; reverse mode has one for each).
 */
import { K, runtime } from "../kernels";
import { bind, type Primitive } from "../trace/core";
import { add, tanh } from "./elementwise";
import {
  conv2dP,
  convFilterCompositeHwnc,
  convFilterP,
  stridedAndDilated,
  type Conv2DParams,
  type ConvFilterParams,
} from "./linalg";
import { maxScatterP, type ReduceParams } from "./reduce";

/**
 * conv2d(x, w) + b, b [O] broadcast along the output's last axis: a step of jit plans.
 * Strides and dilations both above 1 take conv2d's own route (dense conv, then subsample), then an add.
 */
export const conv2dBiasP: Primitive<Conv2DParams> = {
  name: "conv2dBias",
  impl: ([x, w, b], p) => {
    if (stridedAndDilated(p)) {
      const y = conv2dP.impl([x!, w!], p);
      const out = K.add(y, b!);
      y.dispose();
      return out;
    }
    return K.conv2dBias(
      x!,
      w!,
      b!,
      [p.strides[0], p.strides[1]],
      [
        [p.padding[0][0], p.padding[0][1]],
        [p.padding[1][0], p.padding[1][1]],
      ],
      [p.dilations[0], p.dilations[1]],
    );
  },
  abstractEval: ([x, w], p) => conv2dP.abstractEval([x!, w!], p),
  decompose: ([x, w, b], p) => add(bind(conv2dP, [x!, w!], p), b!),
};

/**
 * tanhGrad(x, maxScatter(x, m, t)) with x tanh's output: max pooling's gradient pushed through the
 * tanh before it (a step of jit plans, and reverse mode's on concrete tensors).
 */
export const maxScatterTanhGradP: Primitive<ReduceParams> = {
  name: "maxScatterTanhGrad",
  impl: ([x, m, t], { axes }) => K.maxScatterTanhGrad(x!, m!, t!, [...axes]),
  abstractEval: (avals, p) => maxScatterP.abstractEval(avals, p),
};

// ---- shared patches (staging/fuse.ts, sharePatches) ----

/**
 * im2col(x; p) = x's [b·ho·wo, kh·kw·c] patch matrix for the kh×kw conv of p, zeros in the padding:
 * a step of jit plans that feeds both conv2d(x, w) (`patchConvP`) and convFilter(x, ct) (`patchFilterP`).
 */
export const im2colP: Primitive<ConvFilterParams> = {
  name: "im2col",
  impl: ([x], p) => K.patches(x!, p.filter, p.strides, p.padding, p.dilations),
  abstractEval: ([x], p) => {
    const c = x!.shape[3]!;
    const [b, ho, wo] = conv2dP.abstractEval([x!, { shape: [...p.filter, c, 1], dtype: x!.dtype }], p).shape;
    return { shape: [b! * ho! * wo!, p.filter[0] * p.filter[1] * c], dtype: x!.dtype };
  },
};

/** conv2d(x, w) (+ b) from im2col(x) = patches: patches · w.reshape(kh·kw·c, o) (+ b) as [b, ho, wo, o] (`out`). */
export const patchConvP: Primitive<{ readonly out: readonly number[] }> = {
  name: "patchConv",
  impl: ([patches, w, b], { out }) => K.patchConv(patches!, w!, b, out),
  abstractEval: ([patches], { out }) => ({ shape: [...out], dtype: patches!.dtype }),
};

/** convFilter(x, ct) from im2col(x) = patches: (patchesᵀ · ct.reshape(b·ho·wo, o)).reshape(kh, kw, c, o). */
export const patchFilterP: Primitive<{ readonly filter: readonly [number, number] }> = {
  name: "patchFilter",
  impl: ([patches, ct], { filter }) => K.patchFilter(patches!, ct!, filter),
  abstractEval: ([patches, ct], { filter }) => ({
    shape: [filter[0], filter[1], patches!.shape[1]! / (filter[0] * filter[1]), ct!.shape[3]!],
    dtype: patches!.dtype,
  }),
};
// ---- end shared patches ----

// ---- bias + tanh (staging/fuse.ts, fuseBiasTanh) ----

/** biasTanh(x, b) = tanh(x + b), b [c] along x's last axis: a layer's bias and activation as one step (`K.biasTanh`). */
export const biasTanhP: Primitive = {
  name: "biasTanh",
  impl: ([x, b]) => K.biasTanh(x!, b!),
  abstractEval: ([x]) => x!,
  // Composite (helper "eager"): the `biasTanh` op binds it; interpreters without a rule see tanh(x + b).
  decompose: ([x, b]) => tanh(add(x!, b!)),
};
// ---- end bias + tanh ----

// ---- conv input gradient from the unflipped filter (staging/fuse.ts, unflipConvInput; helper "eagerconv") ----

/**
 * convInput(c, w; p) = conv2d(c, flip(w); p), flip(w) = transpose(reverse(w, [0, 1]), [0, 1, 3, 2]):
 * conv2d's input-gradient conv (stride 1) as a step of jit plans, from w itself where it runs on the
 * col2im scatter (`K.convInputScatter`: no Reverse or Transpose of the filter), else the flipped
 * filter's conv.
 */
export const convInputP: Primitive<Conv2DParams> = {
  name: "convInput",
  impl: ([c, w], p) => {
    const pad: [[number, number], [number, number]] = [
      [p.padding[0][0], p.padding[0][1]],
      [p.padding[1][0], p.padding[1][1]],
    ];
    const direct = K.convInputScatter(c!, w!, pad, [p.dilations[0], p.dilations[1]]);
    if (direct !== null) return direct;
    const reversed = K.reverse(w!, [0, 1]);
    const flipped = K.transpose(reversed, [0, 1, 3, 2]);
    reversed.dispose();
    const out = conv2dP.impl([c!, flipped], p);
    flipped.dispose();
    return out;
  },
  abstractEval: ([c, w], p) => {
    const [kh, kw, ci, o] = w!.shape as [number, number, number, number];
    return conv2dP.abstractEval([c!, { shape: [kh, kw, o, ci], dtype: w!.dtype }], p);
  },
};
// ---- end conv input gradient from the unflipped filter ----

// ---- pooling gradient as conv's [h, w, n, c] cotangent (staging/fuse.ts, cotangentHwnc; helper "sumk") ----

/**
 * maxScatterTanhGradHwnc(x, m, t) = transpose(reshape(maxScatterTanhGrad(x, m, t; axes [2, 4]),
 * [n, h, w, c]), [1, 2, 0, 3]) for x [n, hp, kh, wp, kw, c]: LeNet-5's pooling and tanh gradient
 * written straight into the layout conv's filter gradient reads (`K.maxScatterTanhGradHwnc`).
 */
export const maxScatterTanhGradHwncP: Primitive = {
  name: "maxScatterTanhGradHwnc",
  impl: ([x, m, t]) => K.maxScatterTanhGradHwnc(x!, m!, t!),
  abstractEval: ([x]) => {
    const [n, hp, kh, wp, kw, c] = x!.shape as [number, number, number, number, number, number];
    return { shape: [hp * kh, wp * kw, n, c], dtype: x!.dtype };
  },
};

/** ct's aval from its transpose ctt = ct.transpose([1, 2, 0, 3]) ([ho, wo, b, o]). */
function unHwnc<D extends string>(ctt: { readonly shape: readonly number[]; readonly dtype: D }) {
  const [ho, wo, b, o] = ctt.shape as [number, number, number, number];
  return { shape: [b, ho, wo, o], dtype: ctt.dtype };
}

/**
 * convFilterHwnc(x, ctt; p) = convFilter(x, ct; p) with ctt = ct.transpose([1, 2, 0, 3]) ([ho, wo, b, o]):
 * the composite route reads ctt as it is; the im2col route (`K.convFilterTakesIm2col`) transposes it back.
 */
export const convFilterHwncP: Primitive<ConvFilterParams> = {
  name: "convFilterHwnc",
  impl: ([x, ctt], p) => {
    if (!K.convFilterTakesIm2col(x!, unHwnc(ctt!), p.filter)) return convFilterCompositeHwnc(x!, ctt!, p);
    const pad: [[number, number], [number, number]] = [[...p.padding[0]], [...p.padding[1]]];
    return runtime.tidy(() =>
      K.convFilter(x!, K.transpose(ctt!, [2, 0, 1, 3]), [...p.filter], [...p.strides], pad, [...p.dilations])!,
    );
  },
  abstractEval: ([x, ctt], p) => convFilterP.abstractEval([x!, unHwnc(ctt!)], p),
};
// ---- end pooling gradient as [h, w, n, c] ----
