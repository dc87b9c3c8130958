/**
 * The statistics K-FAC reads (the contract between a model and `scaleByKfac`) and the Kronecker
 * factors computed from them: `A = E[ā āᵀ]` over a layer's inputs (homogeneous: a column of ones
 * appended when the layer has a bias) and `G = E[g gᵀ]` over the gradients of its pre-activations,
 * for dense layers (K-FAC, Martens & Grosse 2015) and stride-1 convolutions (KFC, Grosse & Martens
 * 2016), with the scalings of alecwangcq/KFAC-Pytorch (`ComputeCovA`, `ComputeCovG`).
 */
import * as hd from "@hodiff/core";

// model ---------------------------------------------------------------------------------------

/** Padding of a convolution: `'valid'`, `'same'` (TF rule, stride 1) or `[[top, bottom], [left, right]]`. @category kfac */
export type KfacPadding = "valid" | "same" | readonly [readonly [number, number], readonly [number, number]];

/**
 * A dense layer `z = a·w + b` (`w` `[in, out]`): `a` its inputs `[B, in]`, `g` the gradients of the
 * (batch-mean) loss with respect to its pre-activations `z`, `[B, out]`.
 * @category kfac
 */
export interface KfacDenseStats {
  readonly kind: "dense";
  readonly a: hd.Value;
  readonly g: hd.Value;
}

/**
 * A stride-1 convolution `z = conv2d(a, w) + b` (NHWC, `w` HWIO): `a` its input `[B, H, W, cin]`,
 * `g` the gradients of the (batch-mean) loss with respect to `z`, `[B, H', W', cout]`.
 * @category kfac
 */
export interface KfacConvStats {
  readonly kind: "conv";
  readonly a: hd.Value;
  readonly g: hd.Value;
  readonly padding: KfacPadding;
}

/** One layer's statistics. @category kfac */
export type KfacLayerStats = KfacDenseStats | KfacConvStats;

/**
 * The statistics of one training step, by layer path (the path of the `{ w, b? }` subtree of the
 * parameters, e.g. `fc1`), passed to `update` as `extras.kfac`. `@hodiff/nn`'s `kfacStats` builds it.
 * @category kfac
 */
export type KfacStats = Readonly<Record<string, KfacLayerStats>>;

// utils ---------------------------------------------------------------------------------------

const fmt = (s: readonly number[]) => `[${s.join(",")}]`;
const fail = (message: string): never => {
  throw new hd.ShapeError(`scaleByKfac: ${message}`);
};

/** Explicit padding of a stride-1 convolution with a kh×kw kernel. @internal */
export function resolveKfacPadding(padding: KfacPadding, kh: number, kw: number): [[number, number], [number, number]] {
  if (padding === "valid")
    return [
      [0, 0],
      [0, 0],
    ];
  if (padding === "same") {
    const half = (k: number): [number, number] => [Math.floor((k - 1) / 2), k - 1 - Math.floor((k - 1) / 2)];
    return [half(kh), half(kw)];
  }
  return [
    [padding[0][0], padding[0][1]],
    [padding[1][0], padding[1][1]],
  ];
}

/**
 * The patches of a stride-1 convolution: x `[B, H, W, C]` → `[B·H'·W', kh·kw·C]`, row
 * `(b, i, j)` = the window under output position `(i, j)` flattened in (kh, kw, C) order, the order
 * of an HWIO filter reshaped to `[kh·kw·C, cout]` (slices of the zero-padded input).
 * @category kfac
 */
export function extractPatches(
  x: hd.Value,
  kh: number,
  kw: number,
  padding: KfacPadding,
): { patches: hd.Value; outH: number; outW: number } {
  const s = hd.shapeOf(x);
  if (s.length !== 4) fail(`conv activations must be [B, H, W, C], got ${fmt(s)}`);
  const [B, H, W, C] = s as [number, number, number, number];
  const [[pt, pb], [pl, pr]] = resolveKfacPadding(padding, kh, kw);
  const outH = H + pt + pb - kh + 1;
  const outW = W + pl + pr - kw + 1;
  if (outH < 1 || outW < 1) fail(`a ${kh}×${kw} window does not fit ${fmt(s)} with padding ${String(padding)}`);
  const patches = hd.tidy(() => {
    const xp =
      pt + pb + pl + pr > 0
        ? hd.pad(x, [
            [0, 0],
            [pt, pb],
            [pl, pr],
            [0, 0],
          ])
        : x;
    const views: hd.Value[] = [];
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++) views.push(hd.slice(xp, [0, i, j, 0], [B, outH, outW, C]));
    return hd.reshape(hd.stack(views, 3), [B * outH * outW, kh * kw * C]);
  });
  return { patches, outH, outW };
}

/** Layer geometry known from its weight: dense `[in, out]` or HWIO `[kh, kw, cin, cout]`. @internal */
export interface LayerShape {
  readonly w: readonly number[];
  readonly hasBias: boolean;
}

/**
 * The factors of one layer's statistics (alecwangcq's scalings, `batchAveraged`: g is the gradient
 * of a batch-mean loss, so per-example gradients are B·g):
 * - dense: `A = āᵀā / B`, `G = B·gᵀg` (or `gᵀg / B` when not batch-averaged);
 * - conv (T = H'·W' positions): `A = Σ ā āᵀ / (B·T²)` over the B·T patches, `G = (s·g)ᵀ(s·g)/(B·T)` with
 *   `s = B·T` (or `T`), so that `A ⊗ G` is `(1/T) Σ āāᵀ ⊗ Σ ggᵀ` (KFC's Ω ⊗ Γ).
 * @category kfac
 */
export function layerFactors(
  layer: string,
  stats: KfacLayerStats,
  shape: LayerShape,
  batchAveraged = true,
): { A: hd.Value; G: hd.Value } {
  const { w, hasBias } = shape;
  const as = hd.shapeOf(stats.a);
  const gs = hd.shapeOf(stats.g);
  const withOnes = (a: hd.Value, n: number) => (hasBias ? hd.concat([a, hd.ones([n, 1])], 1) : a);
  if (stats.kind === "dense") {
    if (w.length !== 2) fail(`${layer} has dense statistics but its weight is ${fmt(w)} (dense weights are [in, out])`);
    const B = as[0]!;
    if (as.length !== 2 || as[1] !== w[0]) fail(`${layer}.a must be [B, ${w[0]}], got ${fmt(as)}`);
    if (gs.length !== 2 || gs[0] !== B || gs[1] !== w[1]) fail(`${layer}.g must be [${B}, ${w[1]}], got ${fmt(gs)}`);
    return hd.tidy(() => {
      const a = withOnes(stats.a, B);
      const A = hd.div(hd.matmul(hd.transpose(a), a), B);
      const gg = hd.matmul(hd.transpose(stats.g), stats.g);
      return { A, G: batchAveraged ? hd.mul(gg, B) : hd.div(gg, B) };
    });
  }
  if (w.length !== 4) fail(`${layer} has conv statistics but its weight is ${fmt(w)} (conv filters are HWIO)`);
  const [kh, kw, cin, cout] = w as [number, number, number, number];
  if (as.length !== 4 || as[3] !== cin) fail(`${layer}.a must be [B, H, W, ${cin}], got ${fmt(as)}`);
  const B = as[0]!;
  return hd.tidy(() => {
    const { patches, outH, outW } = extractPatches(stats.a, kh, kw, stats.padding);
    if (gs.length !== 4 || gs[0] !== B || gs[1] !== outH || gs[2] !== outW || gs[3] !== cout)
      fail(`${layer}.g must be [${B}, ${outH}, ${outW}, ${cout}], got ${fmt(gs)}`);
    const T = outH * outW;
    const a = hd.div(withOnes(patches, B * T), T);
    const A = hd.div(hd.matmul(hd.transpose(a), a), B);
    const g = hd.mul(hd.reshape(stats.g, [B * T, cout]), batchAveraged ? B * T : T);
    return { A, G: hd.div(hd.matmul(hd.transpose(g), g), B * T) };
  });
}
