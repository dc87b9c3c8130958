/**
 * @hodiff/cli — the `hodiff` command (fetch, train, inspect, lr, report) and its parts,
 * usable from code: the program, the training loop, checkpoints, metrics and the registries.
 */
export { run, buildProgram, COMMANDS, VERSION } from "./program";
export type { CommandContext, CommandModule } from "./commands/types";
export { fetchCommand } from "./commands/fetch";
export { trainCommand, selectBackend } from "./commands/train";
export {
  inspectCommand,
  heatmapSvgs,
  heatmapTitle,
  HEATMAP_FILES,
  INSPECT_FILE,
  type InspectOutput,
} from "./commands/inspect";
export { lrCommand, formatTable, learningRates, type LearningRates } from "./commands/lr";
export { reportCommand, readRuns, renderReport, runCharts, type RunSummary } from "./commands/report";
export { addProbeOptions, probe, type Probe, type ProbeFlags, type ProbeMeta } from "./probe";
export {
  heatmapSpec,
  lineSpec,
  renderSvg,
  svgToPng,
  NORMALISED,
  type Heatmap,
  type LineChart,
  type Point,
} from "./charts";
export {
  train,
  RunError,
  NonFiniteError,
  RunInterrupted,
  type RunOptions,
  type StopRequest,
  type TrainConfig,
  type TrainResult,
} from "./trainer";
export { acquireRunLock, LOCK_FILE, RunLockedError, type LockHolder, type RunLock } from "./lock";
export { appendDurable, removeDeadTemps } from "./durable";
export { describeError, resumeCommand, RunFailed } from "./failures";
export { FAULT_ENV, type NonFiniteQuantity } from "./faults";
export {
  BEST_FILE,
  CHECKPOINT_FILE,
  CheckpointError,
  removeUnusedBins,
  repairBest,
  hasCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  writeFileAtomic,
  type Checkpoint,
  type CheckpointMeta,
  type Json,
  type TensorEntry,
} from "./checkpoint";
export { METRICS_FILE, MetricsError, MetricsLog, formatRecord, readMetrics, type MetricsRecord } from "./metrics";
export {
  OPTIMIZERS,
  OPTIMIZER_NAMES,
  PARTITION_PATTERN,
  allHyperFlags,
  partitionBuilder,
  camel,
  kfacEntry,
  newtonEntry,
  type BuildContext,
  type Gradients,
  type HyperSpec,
  type HyperValue,
  type OptimizerEntry,
  type OptimizerName,
  type StepContext,
  type TrainOptimizer,
} from "./optimizers";
export {
  describeExecution,
  FASTEST,
  JIT_FASTEST,
  MEASURED_CORES,
  recordedExecution,
  resolveExecution,
  resumedRequest,
  type Execution,
  type ExecutionRequest,
  type Fastest,
  type JitFastest,
} from "./execution";
export { MODEL_NAMES, buildModel, defaultInputShape, type ModelOptions } from "./models";
export { DATASET_CHOICES, loadRunData, type DatasetChoice, type RunData, type RunDataOptions } from "./datasets";
export { processIo, type Io } from "./io";
export { epochProgress, type EpochProgress } from "./progress";
export { EXIT, UsageError, anyInt, finiteNumber, intAtLeast, intList } from "./usage";
