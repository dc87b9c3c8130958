/**
 * @hodiff/nn — the paper's models as pure `init(key) → params` / `apply(params, x) → logits`
 * pairs over @hodiff/core values, and the losses they are trained with.
 */
export { act, activationFn, conv, dense, flatten, globalAvgPool, maxPool, sequential } from "./layers";
export type { Activation, Layer, LayerParams, LayerTap, Model, Params, ParamSpec, SequentialOptions } from "./layers";
export { MODELS, bigMlp, leafCount, lenet5, mlp, paperMlp, paramCount, paramPaths, vbigMlp, vgg11 } from "./models";
export type { MlpOptions, ModelName } from "./models";
export { accuracy, accuracyAsync, nll, oneHot, squaredError } from "./losses";
export type { Labels } from "./losses";
export { applyWithTaps, kfacStats, sampleClasses, tapShapes, zeroTaps } from "./taps";
export type { KfacStatsOptions, KfacStatsResult, TappedOutput, Taps } from "./taps";
