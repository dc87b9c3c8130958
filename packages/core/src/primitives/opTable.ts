/**
 * Core's op table for tests: every primitive (through its op) and the composites, each with
 * arguments in a range where finite differences are accurate. Used by the derivative, batching
 * and jit tests.
 */
import * as hd from "../index";
import type { Value } from "../index";
import { eluGrad, tanhGrad } from "./elementwise";
import { maxGather, maxScatter } from "./reduce";
import { convFilterP, matmulT, type ConvFilterParams } from "./linalg";
import { bind } from "../trace/core";

/** conv2d's filter gradient as its own primitive: convFilter(x, ct) with explicit params. */
const convFilter = (p: ConvFilterParams) => (x: Value, ct: Value) => bind(convFilterP, [x, ct], p);

const k = hd.random.key(42);
const [k1, k2, k3, k4] = hd.random.split(k, 4) as [hd.Key, hd.Key, hd.Key, hd.Key];
/** Values in [lo, hi) so log/sqrt/div stay away from their singularities. */
const u = (key: hd.Key, shape: number[], lo = -1, hi = 1) => hd.random.uniform(key, shape, lo, hi);

export interface GradSpec {
  name: string;
  f: (...xs: Value[]) => Value;
  args: () => Value[];
  order?: number;
}

export const GRAD_OPS: GradSpec[] = [
  { name: "neg", f: (x) => hd.neg(x), args: () => [u(k1, [3, 2])] },
  { name: "exp", f: (x) => hd.exp(x), args: () => [u(k1, [3, 2])] },
  { name: "expm1", f: (x) => hd.expm1(x), args: () => [u(k1, [4])] },
  { name: "log", f: (x) => hd.log(x), args: () => [u(k1, [3, 2], 0.5, 2)] },
  { name: "log1p", f: (x) => hd.log1p(x), args: () => [u(k1, [4], 0, 1)] },
  { name: "sin", f: (x) => hd.sin(x), args: () => [u(k1, [5])] },
  { name: "cos", f: (x) => hd.cos(x), args: () => [u(k1, [5])] },
  { name: "tanh", f: (x) => hd.tanh(x), args: () => [u(k1, [2, 3])] },
  { name: "sqrt", f: (x) => hd.sqrt(x), args: () => [u(k1, [4], 0.5, 2)] },
  { name: "tanhGrad", f: (y, t) => tanhGrad(y, t), args: () => [u(k1, [2, 3]), u(k2, [2, 3])] },
  { name: "tanhGrad (broadcast)", f: (y, t) => tanhGrad(y, t), args: () => [u(k1, [3, 2]), u(k2, [2])] },
  // x away from 0 (the kink of ELU's second derivative), on both sides.
  {
    name: "eluGrad",
    f: (x, t) => eluGrad(x, t),
    args: () => [hd.array([-0.9, -0.5, -0.2, 0.3, 0.6, 0.95]), u(k2, [6])],
  },
  { name: "add (broadcast)", f: (a, b) => hd.add(a, b), args: () => [u(k1, [3, 2]), u(k2, [2])] },
  { name: "sub (broadcast)", f: (a, b) => hd.sub(a, b), args: () => [u(k1, [3, 1]), u(k2, [1, 2])] },
  { name: "mul (broadcast)", f: (a, b) => hd.mul(a, b), args: () => [u(k1, [3, 2]), u(k2, [3, 1])] },
  { name: "div (broadcast)", f: (a, b) => hd.div(a, b), args: () => [u(k1, [3, 2]), u(k2, [2], 0.5, 2)] },
  { name: "pow", f: (a, b) => hd.pow(a, b), args: () => [u(k1, [4], 0.5, 2), u(k2, [4], 0.5, 3)] },
  { name: "maximum", f: (a, b) => hd.maximum(a, b), args: () => [u(k1, [6]), u(k2, [6])] },
  { name: "minimum", f: (a, b) => hd.minimum(a, b), args: () => [u(k1, [6]), u(k2, [6])] },
  { name: "where", f: (a, b) => hd.where(hd.greater(a, 0), a, b), args: () => [u(k1, [6]), u(k2, [6])] },
  { name: "sum (axes)", f: (x) => hd.sum(x, [0, 2]), args: () => [u(k1, [2, 3, 2])] },
  { name: "max (axes)", f: (x) => hd.max(x, 1), args: () => [u(k1, [3, 4])] },
  // m = max of x itself (no ties in random x): zero derivative in x, linear in t.
  {
    name: "maxScatter",
    f: (x, t) => maxScatter(x, hd.max(x, [0, 2]), t, [0, 2]),
    args: () => [u(k1, [2, 3, 3]), u(k2, [3])],
  },
  {
    name: "maxGather",
    f: (x, s) => maxGather(x, hd.max(x, [0, 2]), s, [0, 2]),
    args: () => [u(k1, [2, 3, 3]), u(k2, [2, 3, 3])],
  },
  { name: "reshape", f: (x) => hd.reshape(x, [3, 2]), args: () => [u(k1, [2, 3])] },
  { name: "broadcastTo", f: (x) => hd.broadcastTo(x, [2, 3, 2]), args: () => [u(k1, [3, 1])] },
  { name: "transpose", f: (x) => hd.transpose(x, [1, 2, 0]), args: () => [u(k1, [2, 3, 2])] },
  { name: "slice", f: (x) => hd.slice(x, [1, 0], [2, 2]), args: () => [u(k1, [3, 3])] },
  {
    name: "pad",
    f: (x) =>
      hd.pad(x, [
        [1, 0],
        [0, 2],
      ]),
    args: () => [u(k1, [2, 2])],
  },
  { name: "concat", f: (a, b) => hd.concat([a, b], 1), args: () => [u(k1, [2, 2]), u(k2, [2, 3])] },
  { name: "reverse", f: (x) => hd.reverse(x, [0]), args: () => [u(k1, [3, 2])] },
  { name: "matmul", f: (a, b) => hd.matmul(a, b), args: () => [u(k1, [3, 4]), u(k2, [4, 2])] },
  { name: "matmul (batched)", f: (a, b) => hd.matmul(a, b), args: () => [u(k1, [2, 3, 4]), u(k2, [2, 4, 2])] },
  { name: "matmul (vector)", f: (a, b) => hd.matmul(a, b), args: () => [u(k1, [4]), u(k2, [4, 2])] },
  // matmulP's transpose flags: op(a)·op(b) with a stored [4, 3] / b stored [2, 4] where flagged.
  { name: "matmul aᵀ·b", f: (a, b) => matmulT(a, b, true, false), args: () => [u(k1, [4, 3]), u(k2, [4, 2])] },
  { name: "matmul a·bᵀ", f: (a, b) => matmulT(a, b, false, true), args: () => [u(k1, [3, 4]), u(k2, [2, 4])] },
  {
    name: "matmul aᵀ·bᵀ (batched)",
    f: (a, b) => matmulT(a, b, true, true),
    args: () => [u(k1, [2, 4, 3]), u(k2, [2, 2, 4])],
  },
  {
    name: "conv2d valid",
    f: (x, w) => hd.conv2d(x, w),
    args: () => [u(k1, [2, 5, 5, 2]), u(k2, [3, 3, 2, 3])],
  },
  {
    name: "conv2d same, strided",
    f: (x, w) => hd.conv2d(x, w, { padding: "same", strides: 2 }),
    args: () => [u(k1, [1, 6, 5, 2]), u(k2, [3, 2, 2, 2])],
  },
  {
    name: "conv2d dilated",
    f: (x, w) =>
      hd.conv2d(x, w, {
        dilations: 2,
        padding: [
          [1, 0],
          [0, 1],
        ],
      }),
    args: () => [u(k1, [1, 6, 6, 1]), u(k2, [2, 2, 1, 2])],
  },
  // conv2d's filter gradient (bilinear in x and the cotangent ct): valid 3×3; strided 3×2 with asymmetric padding.
  {
    name: "convFilter valid",
    f: convFilter({
      strides: [1, 1],
      padding: [
        [0, 0],
        [0, 0],
      ],
      dilations: [1, 1],
      filter: [3, 3],
    }),
    args: () => [u(k1, [2, 5, 5, 2]), u(k2, [2, 3, 3, 3])],
  },
  {
    name: "convFilter strided, padded",
    f: convFilter({
      strides: [2, 2],
      padding: [
        [1, 1],
        [0, 1],
      ],
      dilations: [1, 1],
      filter: [3, 2],
    }),
    args: () => [u(k1, [1, 6, 5, 2]), u(k2, [1, 3, 3, 2])],
  },
  { name: "maxPool", f: (x) => hd.maxPool(x, { window: 2 }), args: () => [u(k1, [1, 4, 4, 2])] },
  {
    name: "maxPool overlapping same",
    f: (x) => hd.maxPool(x, { window: 3, strides: 2, padding: "same" }),
    args: () => [u(k1, [1, 5, 5, 1])],
  },
  {
    name: "avgPool same",
    f: (x) => hd.avgPool(x, { window: 2, strides: 1, padding: "same" }),
    args: () => [u(k1, [1, 3, 3, 2])],
  },
  { name: "logSoftmax", f: (x) => hd.logSoftmax(x), args: () => [u(k1, [2, 4])] },
  { name: "softmax", f: (x) => hd.softmax(x, 0), args: () => [u(k1, [3, 2])] },
  { name: "elu", f: (x) => hd.elu(x), args: () => [u(k3, [8])] },
  { name: "sigmoid", f: (x) => hd.sigmoid(x), args: () => [u(k4, [5], -3, 3)] },
  { name: "mean", f: (x) => hd.mean(x, 0, true), args: () => [u(k1, [3, 2])] },
];
