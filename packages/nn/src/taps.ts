/**
 * Per-layer activations and pre-activation gradients, purely: zero-valued "taps" `t_ℓ` are added to
 * the pre-activations `z_ℓ + t_ℓ` of every dense and conv layer, so `∂L/∂t_ℓ = ∂L/∂z_ℓ` (per example,
 * since a tap has the batch axis), and the layer inputs `a_ℓ` come back as outputs. No hooks, no
 * mutable tape: `apply` is unchanged, and `kfacStats` gets loss, gradients and statistics from one
 * forward pass and one (or two, for the sampled Fisher) backward passes of `hd.vjp`.
 */
import * as hd from "@hodiff/core";
import type { KfacLayerStats, KfacStats } from "@hodiff/optim";
import type { Layer, LayerParams, Model, Params } from "./layers";
import { nll, type Labels } from "./losses";

// model ---------------------------------------------------------------------------------------

/** Taps by layer name: zeros shaped like each dense/conv layer's output `[B, ...]`. @category kfac */
export type Taps = Readonly<Record<string, hd.Value>>;

/** What {@link applyWithTaps} returns: the logits and each tapped layer's input, by layer name. @category kfac */
export interface TappedOutput {
  readonly logits: hd.Value;
  readonly activations: Readonly<Record<string, hd.Value>>;
}

/** Options of {@link kfacStats}. @category kfac */
export interface KfacStatsOptions {
  /** The loss of the logits (default `nll`); it must be a batch mean for K-FAC's scaling. */
  readonly loss?: (logits: hd.Value, labels: Labels) => hd.Value;
  /**
   * The true Fisher: the tap gradients come from the loss on targets sampled from the model
   * (`sample(key, logits)`, default: one-hot classes drawn from softmax(logits) by the Gumbel-max
   * trick), as alecwangcq/KFAC-Pytorch does; without it, from the loss on `labels` (empirical Fisher).
   */
  readonly fisher?: { readonly key: hd.Key; readonly sample?: (key: hd.Key, logits: hd.Value) => Labels };
}

/** What {@link kfacStats} returns: the loss on `labels`, its gradient, the statistics and the logits. @category kfac */
export interface KfacStatsResult<P = Params> {
  readonly loss: hd.Value;
  readonly logits: hd.Value;
  readonly grads: P;
  /** By layer name: `@hodiff/optim`'s statistics type, the contract with `scaleByKfac` (defined there once). */
  readonly stats: KfacStats;
}

// utils ---------------------------------------------------------------------------------------

const tappedLayers = (op: string, model: Model): readonly Layer[] => {
  if (!model.layers)
    throw new hd.ArgumentError(`${op}: model '${model.name}' does not list its layers (build it with sequential)`);
  return model.layers;
};

/**
 * Shapes of the taps for a batch of `batch` examples: `[batch, ...outShape]` of every dense/conv layer.
 * @category kfac
 */
export function tapShapes(model: Model, batch: number): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  let shape: readonly number[] = model.inputShape;
  for (const layer of tappedLayers("tapShapes", model)) {
    shape = layer.outShape(shape);
    if (layer.tap) shapes[layer.name!] = [batch, ...shape];
  }
  return shapes;
}

/** zeroTaps(model, B): a zero tap per dense/conv layer, by name. @category kfac */
export const zeroTaps = (model: Model, batch: number): Taps =>
  Object.fromEntries(Object.entries(tapShapes(model, batch)).map(([k, s]) => [k, hd.zeros(s)]));

// constructors --------------------------------------------------------------------------------

/**
 * applyWithTaps(θ, x, t): the forward pass of `model.apply` with `z_ℓ + t_ℓ` in place of each dense
 * or conv output `z_ℓ`, returning the logits and the layer inputs `a_ℓ`. With zero taps the logits
 * equal `model.apply(θ, x)`. Pure; differentiable in `params` and `taps`.
 * @example const { logits, activations } = applyWithTaps(model, params, x, zeroTaps(model, B));
 * @category kfac
 */
export function applyWithTaps(model: Model, params: Params, x: hd.Value, taps: Taps): TappedOutput {
  const layers = tappedLayers("applyWithTaps", model);
  const xs = hd.shapeOf(x);
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const exact = xs.length === model.inputShape.length + 1 && model.inputShape.every((d, i) => xs[i + 1] === d);
  const flatOk = layers[0]?.flattens === true && xs.length >= 2 && size(xs.slice(1)) === size(model.inputShape);
  if (!exact && !flatOk)
    throw new hd.ShapeError(`${model.name}.applyWithTaps: x must be [batch, ${model.inputShape}], got [${xs}]`);
  return hd.tidy(() => {
    const activations: Record<string, hd.Value> = {};
    const logits = layers.reduce((h, layer) => {
      const p: LayerParams | undefined = layer.name === undefined ? undefined : params[layer.name];
      if (layer.params && !p) throw new hd.TreeError(`${model.name}.applyWithTaps: params has no '${layer.name}'`);
      if (!layer.tap) return layer.forward(h, p);
      const t = taps[layer.name!];
      if (t === undefined) throw new hd.TreeError(`${model.name}.applyWithTaps: taps has no '${layer.name}'`);
      activations[layer.name!] = h;
      const z = layer.forward(h, p);
      const zs = hd.shapeOf(z);
      const ts = hd.shapeOf(t);
      if (zs.length !== ts.length || zs.some((d, i) => d !== ts[i]))
        throw new hd.ShapeError(`${model.name}.applyWithTaps: taps.${layer.name} must be [${zs}], got [${ts}]`);
      return hd.add(z, t);
    }, x);
    return { logits, activations };
  });
}

/** One-hot classes drawn from softmax(logits) (Gumbel-max: argmax of logits + Gumbel noise). @category kfac */
export function sampleClasses(key: hd.Key, logits: hd.Value): hd.Value {
  return hd.tidy(() => {
    const u = hd.random.uniform(key, hd.shapeOf(logits), 1e-12, 1);
    const z = hd.sub(logits, hd.log(hd.neg(hd.log(u))));
    return hd.cast(hd.equal(z, hd.max(z, 1, true)), "float32");
  });
}

/**
 * kfacStats(model, θ, x, y): the loss `L(apply(θ, x), y)`, its gradient `∇θL`, and per dense/conv
 * layer the statistics `{ kind, a, g }` that `@hodiff/optim`'s `scaleByKfac` reads as `extras.kfac`
 * (`a` = layer input, `g = ∂L/∂z` from the tap; with `fisher`, `g` is for sampled targets instead).
 * One forward pass (`hd.vjp` over params and zero taps) and one backward pass per loss. Pure: `x`
 * and `params` are not kept or modified; every returned tensor is new (the caller disposes them).
 * @example const { loss, grads, stats } = kfacStats(model, params, x, labels); opt.update(s, params, grads, { kfac: stats })
 * @category kfac
 */
export function kfacStats(
  model: Model,
  params: Params,
  x: hd.Value,
  labels: Labels,
  { loss = nll, fisher }: KfacStatsOptions = {},
): KfacStatsResult {
  const batch = hd.shapeOf(x)[0]!;
  const layers = tappedLayers("kfacStats", model).filter((l) => l.tap);
  return hd.tidy(() => {
    const taps = zeroTaps(model, batch);
    const [out, pullback] = hd.vjp(
      (p: Params, t: Taps) => {
        const r = applyWithTaps(model, p, x, t);
        return [r.logits, r.activations] as const;
      },
      params,
      taps,
    );
    const [logits, activations] = out;
    const [value, dLogits] = hd.valueAndGrad((z: hd.Value) => loss(z, labels))(logits) as [hd.Value, hd.Value];
    const noActs = hd.treeMap(hd.zerosLike, activations as hd.Tree<hd.Value>);
    const [grads, tapGrads] = pullback([dLogits, noActs]) as [Params, Taps];
    let g = tapGrads;
    if (fisher) {
      const targets = (fisher.sample ?? sampleClasses)(fisher.key, logits);
      const dSampled = hd.grad((z: hd.Value) => loss(z, targets))(logits) as hd.Value;
      g = (pullback([dSampled, noActs]) as [Params, Taps])[1];
    }
    pullback.dispose();
    const stats: Record<string, KfacLayerStats> = {};
    for (const layer of layers) {
      const name = layer.name!;
      // The first layer's input may be x itself: copy it so that disposing the stats spares x.
      const a = activations[name] === x ? hd.mul(x, 1) : activations[name]!;
      const tap = layer.tap!;
      stats[name] =
        tap.kind === "dense"
          ? { kind: "dense", a, g: g[name]! }
          : { kind: "conv", a, g: g[name]!, padding: tap.padding };
    }
    return { loss: value, logits, grads, stats };
  });
}
