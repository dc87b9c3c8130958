/** Tiny models shared by the transform tests: parameters as a flat vector so Hessians are matrices. */
import * as hd from "../index";
import type { Value } from "../index";

export interface TinyModel {
  /** Loss of the flat parameter vector. */
  loss: (theta: Value) => Value;
  /** A parameter vector to evaluate at. */
  theta: () => Value;
  size: number;
}

/** Slice a flat vector into tensors of the given shapes. */
export function unflattenVector(theta: Value, shapes: number[][]): Value[] {
  let offset = 0;
  return shapes.map((s) => {
    const n = s.reduce((a, b) => a * b, 1);
    const part = hd.reshape(hd.slice(theta, [offset], [n]), s);
    offset += n;
    return part;
  });
}

const nll = (logits: Value, labels: Value): Value => hd.neg(hd.mean(hd.sum(hd.mul(hd.logSoftmax(logits), labels), 1)));

/** 3-4-2 tanh MLP with NLL on 5 points: 26 parameters. */
export function tinyMlp(): TinyModel {
  const shapes = [[3, 4], [4], [4, 2], [2]];
  const x = hd.random.normal(hd.random.key(1), [5, 3]);
  const labels = hd.array([
    [1, 0],
    [0, 1],
    [1, 0],
    [1, 0],
    [0, 1],
  ]);
  return {
    size: 26,
    theta: () => hd.mul(hd.random.normal(hd.random.key(2), [26]), 0.7),
    loss: (theta) => {
      const [w0, b0, w1, b1] = unflattenVector(theta, shapes) as [Value, Value, Value, Value];
      const h = hd.tanh(hd.add(hd.matmul(x, w0), b0));
      return nll(hd.add(hd.matmul(h, w1), b1), labels);
    },
  };
}

/** conv 3×3 (1→2), tanh, 2×2 max pooling, dense 8→3, NLL on 2 images of 6×6: 47 parameters. */
export function tinyCnn(): TinyModel {
  const shapes = [[3, 3, 1, 2], [2], [8, 3], [3]];
  const x = hd.random.normal(hd.random.key(3), [2, 6, 6, 1]);
  const labels = hd.array([
    [1, 0, 0],
    [0, 0, 1],
  ]);
  return {
    size: 47,
    theta: () => hd.mul(hd.random.normal(hd.random.key(4), [47]), 0.5),
    loss: (theta) => {
      const [w, b, w1, b1] = unflattenVector(theta, shapes) as [Value, Value, Value, Value];
      const h = hd.maxPool(hd.tanh(hd.add(hd.conv2d(x, w), b)), { window: 2 });
      return nll(hd.add(hd.matmul(hd.reshape(h, [2, 8]), w1), b1), labels);
    },
  };
}
