/**
 * @hodiff/cli — the `hodiff` command (fetch, train; inspect/lr/report to come) and its parts,
 * usable from code: the program, the training loop, checkpoints, metrics and the registries.
 */
export { run, buildProgram, COMMANDS, VERSION } from "./program";
export type { CommandContext, CommandModule } from "./commands/types";
export { fetchCommand } from "./commands/fetch";
export { trainCommand } from "./commands/train";
export { train, RunError, type RunOptions, type TrainConfig, type TrainResult } from "./trainer";
export {
  CHECKPOINT_FILE,
  CheckpointError,
  hasCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  writeFileAtomic,
  type Checkpoint,
  type CheckpointMeta,
  type Json,
  type TensorEntry,
} from "./checkpoint";
export { METRICS_FILE, MetricsLog, formatRecord, readMetrics, type MetricsRecord } from "./metrics";
export {
  OPTIMIZERS,
  OPTIMIZER_NAMES,
  allHyperFlags,
  camel,
  kfacEntry,
  newtonEntry,
  type BuildContext,
  type Gradients,
  type KfacFn,
  type KfacStatsFn,
  type HyperSpec,
  type HyperValue,
  type OptimizerEntry,
  type OptimizerName,
  type StepContext,
  type TrainOptimizer,
} from "./optimizers";
export { MODEL_NAMES, buildModel, defaultInputShape, type ModelOptions } from "./models";
export { DATASET_CHOICES, loadRunData, type DatasetChoice, type RunData, type RunDataOptions } from "./datasets";
export { processIo, type Io } from "./io";
export { epochProgress, type EpochProgress } from "./progress";
export { EXIT, UsageError, anyInt, finiteNumber, intAtLeast, intList } from "./usage";
