/**
 * The paper's models (docs/math.md, "The experiments' models, data and baselines"): weights
 * N(0,1)·σ_w/√fanIn, biases 0, outputs are logits (apply log-softmax through `nll`).
 */
import * as hd from "@hodiff/core";
import { act, conv, dense, flatten, globalAvgPool, maxPool, sequential, type Activation, type Layer } from "./layers";
import type { Model, ParamSpec } from "./layers";

const MNIST: number[] = [28, 28, 1];
const CIFAR: number[] = [32, 32, 3];

// constructors

/** Options of `mlp`. @category constructors */
export interface MlpOptions {
  readonly name?: string;
  /** Shape of one example (default `[sizes[0]]`); its size must be `sizes[0]`. Input is flattened. */
  readonly inputShape?: readonly number[];
  /** Rematerialise each layer under reverse mode (`SequentialOptions.checkpoint`; default false). */
  readonly checkpoint?: boolean;
}

/**
 * mlp(sizes, σ, σ_w): x ↦ W_L·σ(… σ(W_1·flatten(x) + b_1) …) + b_L, layers `fc1 … fcL`
 * (L = sizes.length − 1, no activation after the last), weights N(0,1)·σ_w/√fanIn.
 * @example const m = mlp([4, 8, 3], "tanh", 1); const logits = m.apply(m.init(hd.random.key(0)), x)
 * @category constructors
 */
export function mlp(sizes: readonly number[], activation: Activation, sigmaW: number, options: MlpOptions = {}): Model {
  if (sizes.length < 2 || !sizes.every((n) => Number.isInteger(n) && n > 0)) {
    throw new hd.ArgumentError(`mlp: sizes must be ≥ 2 positive integers, got [${sizes}]`);
  }
  const inputShape = options.inputShape ?? [sizes[0]!];
  const layers: Layer[] = [flatten()];
  for (let i = 1; i < sizes.length; i++) {
    layers.push(dense(`fc${i}`, sizes[i - 1]!, sizes[i]!));
    if (i < sizes.length - 1) layers.push(act(activation));
  }
  return sequential(layers, {
    name: options.name ?? `mlp-${sizes.join("-")}`,
    inputShape,
    numClasses: sizes.at(-1)!,
    sigmaW,
    checkpoint: options.checkpoint ?? false,
  });
}

/** The paper's MNIST MLP: 784-1024-200-100-10, tanh, σ_w = 1 (1,029,950 parameters, S = 8). @category constructors */
export const paperMlp = (): Model => mlp([784, 1024, 200, 100, 10], "tanh", 1, { name: "mlp", inputShape: MNIST });

/**
 * LeNet-5 on CIFAR-10, tanh, σ_w = 1: conv5 3→6 (valid), tanh, maxpool 2, conv5 6→16, tanh,
 * maxpool 2, flatten 400 (h, w, c order), fc 120, tanh, fc 84, tanh, fc 10 (62,006 parameters, S = 10).
 * @category constructors
 */
export function lenet5(options: { readonly inputShape?: readonly number[] } = {}): Model {
  const inputShape = options.inputShape ?? CIFAR;
  const [h = 0, w = 0, c = 0] = inputShape;
  const flat = Math.floor((Math.floor((h - 4) / 2) - 4) / 2) * Math.floor((Math.floor((w - 4) / 2) - 4) / 2) * 16;
  return sequential(
    [
      conv("conv1", 5, c, 6, "valid"),
      act("tanh"),
      maxPool(2),
      conv("conv2", 5, 6, 16, "valid"),
      act("tanh"),
      maxPool(2),
      flatten(),
      dense("fc1", flat, 120),
      act("tanh"),
      dense("fc2", 120, 84),
      act("tanh"),
      dense("fc3", 84, 10),
    ],
    { name: "lenet", inputShape, numClasses: 10, sigmaW: 1 },
  );
}

/** VGG-11's convolution widths, "M" = 2×2 max pooling. */
const VGG11_CONFIG: readonly (number | "M")[] = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"];

/**
 * VGG-11' on CIFAR-10, ELU, σ_w = √2, no BatchNorm: 3×3 convs with padding 1 ('same')
 * 64,M,128,M,256,256,M,512,512,M,512,512,M, ELU after each conv, global average pool over the
 * remaining (1×1) map, then one linear layer fc1 512→10 (9,225,610 parameters, S = 18). Each conv
 * block is checkpointed unless `checkpoint: false` (see `SequentialOptions.checkpoint`).
 * @category constructors
 */
export function vgg11(options: { readonly inputShape?: readonly number[]; readonly checkpoint?: boolean } = {}): Model {
  const inputShape = options.inputShape ?? CIFAR;
  const layers: Layer[] = [];
  let channels = inputShape[2] ?? 0;
  let n = 0;
  for (const c of VGG11_CONFIG) {
    if (c === "M") {
      layers.push(maxPool(2));
      continue;
    }
    layers.push(conv(`conv${++n}`, 3, channels, c, "same"), act("elu"));
    channels = c;
  }
  layers.push(globalAvgPool(), dense("fc1", channels, 10));
  // Checkpointed per conv block: the summaries' forward-over-reverse at B' = 100 then fits wasm's heap.
  return sequential(layers, {
    name: "vgg11",
    inputShape,
    numClasses: 10,
    sigmaW: Math.SQRT2,
    checkpoint: options.checkpoint ?? true,
  });
}

/** `depth` hidden ELU layers of `width`, σ_w = √2, between `inputShape` (flattened) and 10 outputs. */
const deepElu = (name: string, depth: number, width: number, inputShape: readonly number[]): Model => {
  const nIn = inputShape.reduce((a, b) => a * b, 1);
  return mlp([nIn, ...new Array<number>(depth).fill(width), 10], "elu", Math.SQRT2, {
    name,
    inputShape,
    checkpoint: true,
  });
};

/** BigMLP on CIFAR-10: 3072, 20 hidden ELU layers of 1024, 10; σ_w = √2 (23,099,402 parameters, S = 42). @category constructors */
export const bigMlp = (options: { readonly inputShape?: readonly number[] } = {}): Model =>
  deepElu("bigmlp", 20, 1024, options.inputShape ?? CIFAR);

/**
 * VBigMLP (paper App. H): "100×1024" read as 100 hidden ELU layers of width 1024 (101 linear
 * layers fc1…fc101), input size from the data (default CIFAR-10, 3072), 10 outputs, σ_w = √2
 * (107,067,402 parameters ≈ 428 MB in float32, S = 202).
 * @category constructors
 */
export const vbigMlp = (options: { readonly inputShape?: readonly number[] } = {}): Model =>
  deepElu("vbigmlp", 100, 1024, options.inputShape ?? CIFAR);

// registry

/** The models by their CLI name. Builders are cheap: nothing is allocated until `init`. @category registry */
export const MODELS = {
  mlp: paperMlp,
  lenet: lenet5,
  vgg11: vgg11,
  bigmlp: bigMlp,
  vbigmlp: vbigMlp,
} as const satisfies Record<string, () => Model>;

/** A CLI model name. @category registry */
export type ModelName = keyof typeof MODELS;

// utils

/** P = Σ over tensors of their sizes, from the spec (allocates nothing). @category utils */
export const paramCount = (model: { readonly spec: readonly ParamSpec[] }): number =>
  model.spec.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);

/** Number of tensors, i.e. S of the canonical partition. @category utils */
export const leafCount = (model: { readonly spec: readonly ParamSpec[] }): number => model.spec.length;

/** Dotted paths of the parameters in flatten order (`fc1.w`, `fc1.b`, …). @category utils */
export const paramPaths = (model: { readonly spec: readonly ParamSpec[] }): string[] => model.spec.map((p) => p.path);
