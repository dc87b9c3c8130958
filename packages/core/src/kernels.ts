/**
 * The one seam between hodiff and TensorFlow.js kernels. Primitive implementations call these
 * functions and nothing else from tfjs, so the kernel layer can be swapped or extended without
 * touching tracing or derivative rules.
 */
import * as tf from "@tensorflow/tfjs-core";

export type Tensor = tf.Tensor;
export type DType = "float32" | "int32" | "bool";

export const K = {
  add: (a: Tensor, b: Tensor) => tf.add(a, b),
  sub: (a: Tensor, b: Tensor) => tf.sub(a, b),
  mul: (a: Tensor, b: Tensor) => tf.mul(a, b),
  div: (a: Tensor, b: Tensor) => tf.div(a, b),
  pow: (a: Tensor, b: Tensor) => tf.pow(a, b),
  maximum: (a: Tensor, b: Tensor) => tf.maximum(a, b),
  minimum: (a: Tensor, b: Tensor) => tf.minimum(a, b),
  neg: (a: Tensor) => tf.neg(a),
  exp: (a: Tensor) => tf.exp(a),
  log: (a: Tensor) => tf.log(a),
  log1p: (a: Tensor) => tf.log1p(a),
  expm1: (a: Tensor) => tf.expm1(a),
  sin: (a: Tensor) => tf.sin(a),
  cos: (a: Tensor) => tf.cos(a),
  tanh: (a: Tensor) => tf.tanh(a),
  sqrt: (a: Tensor) => tf.sqrt(a),
  greater: (a: Tensor, b: Tensor) => tf.greater(a, b),
  less: (a: Tensor, b: Tensor) => tf.less(a, b),
  equal: (a: Tensor, b: Tensor) => tf.equal(a, b),
  where: (c: Tensor, a: Tensor, b: Tensor) => tf.where(c, a, b),
  sum: (a: Tensor, axes: number[]) => tf.sum(a, axes),
  max: (a: Tensor, axes: number[]) => tf.max(a, axes),
  reshape: (a: Tensor, shape: number[]) => tf.reshape(a, shape),
  broadcastTo: (a: Tensor, shape: number[]) => tf.broadcastTo(a, shape),
  transpose: (a: Tensor, perm: number[]) => tf.transpose(a, perm),
  slice: (a: Tensor, begin: number[], size: number[]) => tf.slice(a, begin, size),
  concat: (xs: Tensor[], axis: number) => tf.concat(xs, axis),
  pad: (a: Tensor, paddings: Array<[number, number]>) => tf.pad(a, paddings),
  reverse: (a: Tensor, axes: number[]) => tf.reverse(a, axes),
  cast: (a: Tensor, dtype: DType) => tf.cast(a, dtype),
  /** Batched matmul without transpose flags (flags are 10–20× slower on wasm). */
  matmul3: (a: Tensor, b: Tensor) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
  matmul2: (a: Tensor, b: Tensor) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
  conv2d: (
    x: Tensor,
    w: Tensor,
    strides: [number, number],
    padding: [[number, number], [number, number]],
    dilations: [number, number],
  ) =>
    tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, strides, [[0, 0], padding[0], padding[1], [0, 0]], "NHWC", dilations),
  zeros: (shape: number[], dtype: DType) => tf.zeros(shape, dtype),
  fill: (shape: number[], value: number, dtype: DType) => tf.fill(shape, value, dtype),
  scalar: (value: number, dtype: DType) => tf.scalar(value, dtype),
  tensor: (values: tf.TensorLike, shape: number[] | undefined, dtype: DType) => tf.tensor(values, shape, dtype),
};
