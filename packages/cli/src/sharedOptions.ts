/** Flags that several commands share: the model and the data, and the backend. */
import { Option, type Command } from "commander";
import { DATASET_CHOICES } from "./datasets";
import { MODEL_NAMES } from "./models";
import { anyInt, intAtLeast, intList } from "./usage";

/** --model, --hidden, --dataset, --synthetic-examples, --synthetic-shape, --data-seed, --data-dir. */
export function addModelDataOptions(cmd: Command, notes: { model: string; dataset: string }): Command {
  return cmd
    .addOption(new Option("--model <name>", notes.model).choices(MODEL_NAMES).default("mlp"))
    .option("--hidden <widths>", "hidden widths of an MLP model, e.g. 64,32 (default: the paper's)", intList)
    .addOption(new Option("--dataset <name>", notes.dataset).choices([...DATASET_CHOICES]).default("mnist"))
    .option("--synthetic-examples <n>", "synthetic only: training examples", intAtLeast(1), 1024)
    .option(
      "--synthetic-shape <dims>",
      "synthetic only: shape of one example, e.g. 8 or 28,28,1 (default: the model's input shape)",
      intList,
    )
    .option("--data-seed <n>", "seed of the synthetic set and of the validation split", anyInt, 0)
    .option(
      "--data-dir <path>",
      "cache root of the real data sets (default: $HODIFF_DATA_DIR, then <repo>/.cache/hodiff-data)",
    );
}

/**
 * --backend webgpu|wasm|cpu|auto (default: wasm, cpu if wasm cannot start; auto: webgpu on a
 * hardware adapter, else wasm, else cpu).
 */
export const backendOption = (): Option =>
  new Option(
    "--backend <name>",
    "tfjs backend (default: wasm, cpu if wasm cannot start; auto: webgpu on a hardware GPU, else wasm, else cpu)",
  ).choices(["webgpu", "wasm", "cpu", "auto"]);
