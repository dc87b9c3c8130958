/**
 * Models by CLI name. Every model is built for the data's example shape (the image models take
 * `{ inputShape }`; the MLPs flatten it), so `--model mlp --dataset cifar10` is a 3072-input MLP.
 * `--hidden` replaces the hidden widths of the MLP family (mlp, bigmlp, vbigmlp) and keeps the
 * family's activation and σ_w: it is how the tests train a small MLP quickly.
 */
import { MODELS, lenet5, mlp, vgg11, type Activation, type Model, type ModelName } from "@hodiff/nn";
import { UsageError } from "./usage";

// model

/** The CLI names of the models, in `MODELS` order. @category registry */
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

/** The MLP family: hidden widths, activation and σ_w (what `--hidden` keeps). */
const MLP_FAMILY: Readonly<Partial<Record<ModelName, { hidden: number[]; activation: Activation; sigmaW: number }>>> = {
  mlp: { hidden: [1024, 200, 100], activation: "tanh", sigmaW: 1 },
  bigmlp: { hidden: new Array<number>(20).fill(1024), activation: "elu", sigmaW: Math.SQRT2 },
  vbigmlp: { hidden: new Array<number>(100).fill(1024), activation: "elu", sigmaW: Math.SQRT2 },
};

/** Options of `buildModel`. @category model */
export interface ModelOptions {
  /** Shape of one example (from the data set). */
  readonly inputShape: readonly number[];
  /** Hidden widths replacing the MLP family's (usage error for the convolutional models). */
  readonly hidden?: readonly number[];
}

// constructors

/** The default example shape of a model (what a synthetic data set uses when no shape is given). @category constructors */
export const defaultInputShape = (name: ModelName): readonly number[] => MODELS[name]().inputShape;

/**
 * The model `name` for examples of shape `inputShape`; `hidden` overrides an MLP's hidden widths.
 * @example buildModel("mlp", { inputShape: [8], hidden: [16] }) // 8-16-10, tanh, σ_w = 1
 * @category constructors
 */
export function buildModel(name: ModelName, opts: ModelOptions): Model {
  const family = MLP_FAMILY[name];
  if (opts.hidden !== undefined && family === undefined) {
    throw new UsageError(
      "--hidden",
      `--hidden applies only to the MLP models (${Object.keys(MLP_FAMILY).join(", ")}), not to --model ${name}`,
    );
  }
  const inputShape = [...opts.inputShape];
  if (family !== undefined) {
    const nIn = inputShape.reduce((a, b) => a * b, 1);
    return mlp([nIn, ...(opts.hidden ?? family.hidden), 10], family.activation, family.sigmaW, { name, inputShape });
  }
  return name === "lenet" ? lenet5({ inputShape }) : vgg11({ inputShape });
}
