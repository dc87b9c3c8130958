/**
 * Layers and the sequential builder behind every model. A layer is data (its parameter shapes)
 * plus a pure forward function; a model is a list of layers. Parameters live in a pytree
 * `{ [layerName]: { w, b } }` in layer order, so `treePaths` gives `conv1.w, conv1.b, …, fc1.w, …`.
 */
import * as hd from "@hodiff/core";

// model

/** The parameters of one layer: weight and bias. @category model */
export type LayerParams = {
  readonly w: hd.Value;
  readonly b: hd.Value;
};

/** A model's parameter pytree: one `{ w, b }` per parameterised layer, in layer order. @category model */
export type Params = Readonly<Record<string, LayerParams>>;

/** An elementwise activation, by name or as a function of values. @category model */
export type Activation = "tanh" | "elu" | "relu" | "sigmoid" | ((x: hd.Value) => hd.Value);

/**
 * One parameter tensor, shape only (nothing is allocated): its dotted path, shape, and
 * initialisation `N(0,1)·std` (weights, std = σ_w/√fanIn) or zeros (biases, std = 0).
 * @category model
 */
export interface ParamSpec {
  readonly path: string;
  readonly shape: readonly number[];
  readonly fanIn: number;
  readonly std: number;
}

/**
 * A model as two pure functions: `init(key) → params` and `apply(params, x) → logits [B, C]`.
 * `x` is a batch `[B, ...inputShape]` (NHWC for images); MLPs also accept it already flattened.
 * `spec` lists every parameter tensor in flatten order without allocating anything.
 * @category model
 */
export interface Model<P = Params> {
  readonly name: string;
  /** Shape of one example: [28, 28, 1] for MNIST, [32, 32, 3] for CIFAR-10, [n] for flat vectors. */
  readonly inputShape: number[];
  readonly numClasses: number;
  readonly spec: readonly ParamSpec[];
  init(key: hd.Key): P;
  apply(params: P, x: hd.Value): hd.Value;
  /** The layers, in order (models built by `sequential`): what `applyWithTaps` walks. */
  readonly layers?: readonly Layer[];
}

/**
 * What a parameterised layer tells K-FAC: its forward pass is affine in its input (dense, or a
 * stride-1 convolution with this padding), so a tap can be added to its output. @category model
 */
export type LayerTap = { readonly kind: "dense" } | { readonly kind: "conv"; readonly padding: "same" | "valid" };

/** A layer: optional parameter shapes (`w`, `b`, fan-in) and a forward function. @category model */
export interface Layer {
  /** Key of this layer in the params tree; required when `params` is given. */
  readonly name?: string;
  readonly params?: { readonly w: readonly number[]; readonly b: readonly number[]; readonly fanIn: number };
  /** Set on dense and conv layers: the output is a pre-activation that `applyWithTaps` can tap. */
  readonly tap?: LayerTap;
  /** True for `flatten`: a model starting with it accepts any example shape of the right size. */
  readonly flattens?: boolean;
  /** Shape of one example after this layer, from the shape before it (for validation). */
  outShape(inShape: readonly number[]): number[];
  forward(x: hd.Value, p: LayerParams | undefined): hd.Value;
  /** Set on `act` layers: the activation by name or function. */
  readonly activation?: Activation;
  /**
   * tanh(forward(x, p)) in fewer kernels (dense: the bias add and tanh in one, `hd.biasTanh`);
   * models use it for this layer and an `act("tanh")` right after it.
   */
  forwardTanh?(x: hd.Value, p: LayerParams | undefined): hd.Value;
}

// constructors

const ACTIVATIONS: Readonly<Record<Exclude<Activation, (x: hd.Value) => hd.Value>, (x: hd.Value) => hd.Value>> = {
  tanh: hd.tanh,
  elu: hd.elu,
  relu: hd.relu,
  sigmoid: hd.sigmoid,
};

/** The function of an activation given by name or as a function. @category utils */
export const activationFn = (a: Activation): ((x: hd.Value) => hd.Value) =>
  typeof a === "function" ? a : ACTIVATIONS[a];

const fail = (op: string, message: string): never => {
  throw new hd.ShapeError(`${op}: ${message}`);
};

/** dense: y = x·w + b, w ∈ R^{in×out}, b ∈ R^{out}. @category constructors */
export function dense(name: string, nIn: number, nOut: number): Layer {
  return {
    name,
    params: { w: [nIn, nOut], b: [nOut], fanIn: nIn },
    tap: { kind: "dense" },
    outShape: (s) => (s.length === 1 && s[0] === nIn ? [nOut] : fail(name, `expects [${nIn}] per example, got [${s}]`)),
    forward: (x, p) => hd.add(hd.matmul(x, p!.w), p!.b),
    forwardTanh: (x, p) => hd.biasTanh(hd.matmul(x, p!.w), p!.b),
  };
}

/**
 * conv: y = conv2d(x, w) + b with x NHWC, w ∈ R^{k×k×cin×cout} (HWIO), stride 1, fan-in k²·cin.
 * @category constructors
 */
export function conv(name: string, k: number, cIn: number, cOut: number, padding: "same" | "valid"): Layer {
  return {
    name,
    params: { w: [k, k, cIn, cOut], b: [cOut], fanIn: k * k * cIn },
    tap: { kind: "conv", padding },
    outShape: (s) => {
      if (s.length !== 3 || s[2] !== cIn) fail(name, `expects [H, W, ${cIn}] per example, got [${s}]`);
      const [h, w] = s as [number, number, number];
      const out = padding === "same" ? [h, w, cOut] : [h - k + 1, w - k + 1, cOut];
      return out[0]! >= 1 && out[1]! >= 1 ? out : fail(name, `a ${k}×${k} 'valid' window does not fit [${s}]`);
    },
    forward: (x, p) => hd.conv2d(x, p!.w, { padding, bias: p!.b }),
  };
}

/** act: y = σ(x) elementwise. @category constructors */
export const act = (a: Activation): Layer => {
  const f = activationFn(a);
  return { outShape: (s) => [...s], forward: (x) => f(x), activation: a };
};

/** maxPool: y[i, j] = max of x over the non-overlapping k×k window (i, j) (floor division). @category constructors */
export const maxPool = (k: number): Layer => ({
  outShape: (s) => {
    const [h, w, c] = s as [number, number, number];
    return h >= k && w >= k ? [Math.floor(h / k), Math.floor(w / k), c] : fail("maxPool", `${k}×${k} > [${s}]`);
  },
  forward: (x) => hd.maxPool(x, { window: k }),
});

/** globalAvgPool: y[c] = mean over (h, w) of x[h, w, c]. @category constructors */
export const globalAvgPool = (): Layer => ({
  outShape: (s) => (s.length === 3 ? [s[2]!] : fail("globalAvgPool", `expects [H, W, C], got [${s}]`)),
  forward: (x) => hd.mean(x, [1, 2]),
});

/** flatten: [B, d1, …, dk] → [B, d1·…·dk] in row-major (NHWC: h, then w, then c) order. @category constructors */
export const flatten = (): Layer => ({
  flattens: true,
  outShape: (s) => [s.reduce((a, b) => a * b, 1)],
  forward: (x) => {
    const s = hd.shapeOf(x);
    return s.length === 2 ? x : hd.reshape(x, [s[0]!, -1]);
  },
});

// utils

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Options of `sequential`. @category model */
export interface SequentialOptions {
  readonly name: string;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  /** σ_w: weights are N(0,1)·σ_w/√fanIn. */
  readonly sigmaW: number;
  /**
   * Rematerialise each block — a parameterised layer with the parameter-free layers after it —
   * with `hd.checkpoint` (default false): reverse mode keeps only block inputs and recomputes the
   * rest, so forward-over-reverse on deep nets fits the wasm heap, for one more forward pass.
   */
  readonly checkpoint?: boolean;
}

/**
 * sequential(layers): apply(θ, x) = layer_n(… layer_1(x)), init draws each weight from its own
 * key (`random.split(key, #layers)`) as N(0,1)·σ_w/√fanIn, biases 0. Shapes are checked here,
 * once, so a wrong architecture fails when it is built, not in the first forward pass.
 * @category constructors
 */
export function sequential(layers: readonly Layer[], options: SequentialOptions): Model<Params> {
  const { name, sigmaW, numClasses } = options;
  const inputShape = [...options.inputShape];
  let shape: readonly number[] = inputShape;
  const names = new Set<string>();
  const spec: ParamSpec[] = [];
  for (const layer of layers) {
    shape = layer.outShape(shape);
    if (!layer.params) continue;
    if (layer.name === undefined || names.has(layer.name)) fail(name, `layer name '${layer.name}' missing or repeated`);
    names.add(layer.name!);
    const { w, b, fanIn } = layer.params;
    spec.push({ path: `${layer.name}.w`, shape: [...w], fanIn, std: sigmaW / Math.sqrt(fanIn) });
    spec.push({ path: `${layer.name}.b`, shape: [...b], fanIn, std: 0 });
  }
  if (shape.length !== 1 || shape[0] !== numClasses) fail(name, `outputs [${shape}] per example, not [${numClasses}]`);
  const withParams = layers.filter((l) => l.params);

  const init = (key: hd.Key): Params => {
    const keys = hd.random.split(key, withParams.length);
    const params: Record<string, LayerParams> = {};
    withParams.forEach((layer, i) => {
      const { w, b, fanIn } = layer.params!;
      params[layer.name!] = {
        w: hd.tidy(() => hd.mul(hd.random.normal(keys[i]!, w), sigmaW / Math.sqrt(fanIn))),
        b: hd.zeros(b),
      };
    });
    return params;
  };

  const blocks = blocksOf(name, layers, options.checkpoint ?? false);
  const apply = (params: Params, x: hd.Value): hd.Value => {
    const xs = hd.shapeOf(x);
    const exact = xs.length === inputShape.length + 1 && inputShape.every((d, i) => xs[i + 1] === d);
    const flatOk = layers[0]?.flattens === true && xs.length >= 2 && size(xs.slice(1)) === size(inputShape);
    if (!exact && !flatOk) fail(`${name}.apply`, `x must be [batch, ${inputShape}], got [${xs}]`);
    return hd.tidy(() =>
      blocks.reduce((h, block) => block.run(block.name === undefined ? undefined : params[block.name], h), x),
    );
  };

  return { name, inputShape, numClasses, spec, init, apply, layers: Object.freeze([...layers]) };
}

/** A run of layers applied as one unit: its parameterised layer (if any) and the layers after it. */
interface Block {
  readonly name: string | undefined;
  readonly run: (p: LayerParams | undefined, h: hd.Value) => hd.Value;
}

/** Split layers into blocks that start at each parameterised layer; checkpoint those with parameters. */
function blocksOf(model: string, layers: readonly Layer[], remat: boolean): Block[] {
  const groups: Layer[][] = [];
  for (const layer of layers) {
    if (layer.params || groups.length === 0) groups.push([layer]);
    else groups.at(-1)!.push(layer);
  }
  return groups.map((ls) => {
    const name = ls[0]!.params ? ls[0]!.name : undefined;
    const run = (p: LayerParams | undefined, h: hd.Value): hd.Value => {
      let acc = h;
      for (let i = 0; i < ls.length; i++) {
        const layer = ls[i]!;
        if (layer.params && !p) throw new hd.TreeError(`${model}.apply: params has no '${layer.name}'`);
        const lp = layer.params ? p : undefined;
        // A layer and the tanh after it as one step where the layer knows how (fewer kernels).
        if (layer.forwardTanh && ls[i + 1]?.activation === "tanh") {
          acc = layer.forwardTanh(acc, lp);
          i++;
        } else acc = layer.forward(acc, lp);
      }
      return acc;
    };
    return { name, run: remat && name !== undefined ? hd.checkpoint(run) : run };
  });
}
