/**
 * `hodiff lr`: the per-group learning rates of a model at initialisation or at a checkpoint (the
 * paper's "learning rate per subset for hyperparameter tuning"): along the gradient on one batch,
 * η = H̄⁻¹ḡ (the second-order model's minimiser, paper Eq. 8) and the cubic-regularised η with
 * λ_int (paper Eq. 10) with its solver case, one row per group.
 */
import type { Command } from "commander";
import { cubicRates, groupLearningRates } from "@hodiff/optim";
import { addProbeOptions, probe, type Probe, type ProbeFlags } from "../probe";
import { finiteNumber } from "../usage";
import { selectBackend } from "./train";
import type { CommandModule } from "./types";

// model

/** The learning rates of one probe. @category model */
export interface LearningRates {
  readonly labels: string[];
  readonly groupSizes: number[];
  readonly gbar: number[];
  readonly hbarDiag: number[];
  readonly order3Diag: number[];
  /** η = H̄⁻¹ḡ, or null when H̄ is not positive definite (`linearCase` says why). */
  readonly etaLinear: number[] | null;
  readonly linearCase: string;
  /** The cubic-regularised η, or null when the cubic model is unbounded. */
  readonly etaCubic: number[] | null;
  readonly cubicCase: string;
  readonly lambdaInt: number;
}

/**
 * Both solvers of `@hodiff/optim` on a probe.
 * @category lr
 */
export function learningRates(p: Probe, lambdaInt: number): LearningRates {
  const lin = groupLearningRates(p.gbar, p.hbar);
  const cub = cubicRates(p.hbar, p.gbar, p.order3Diag, lambdaInt);
  return {
    labels: p.labels,
    groupSizes: p.groupSizes,
    gbar: p.gbar,
    hbarDiag: p.hbar.map((r, i) => r[i]!),
    order3Diag: p.order3Diag,
    etaLinear: lin.kind === "ok" ? lin.eta : null,
    linearCase: lin.kind === "ok" ? "positive-definite" : lin.kind,
    etaCubic: cub.kind === "ok" ? cub.eta : null,
    cubicCase: cub.kind === "ok" ? cub.case : cub.kind,
    lambdaInt,
  };
}

/** Columns a string takes on a terminal (combining marks, as in H̄, take none). */
const width = (s: string): number => [...s.replace(/\p{M}/gu, "")].length;

const num = (x: number | undefined): string => (x === undefined ? "—" : x.toExponential(3));

/**
 * A fixed-width table: a header line, a rule, one row per group.
 * @category lr
 */
export function formatTable(r: LearningRates): string[] {
  const header = ["group", "params", "ḡ_s", "H̄_ss", "D̄3_sss", "η = H̄⁻¹ḡ", "η cubic"];
  const rows = r.labels.map((label, s) => [
    label,
    String(r.groupSizes[s]),
    num(r.gbar[s]),
    num(r.hbarDiag[s]),
    num(r.order3Diag[s]),
    num(r.etaLinear?.[s]),
    num(r.etaCubic?.[s]),
  ]);
  const widths = header.map((h, j) => Math.max(width(h), ...rows.map((row) => width(row[j]!))));
  const pad = (c: string, w: number, left: boolean) => {
    const fill = " ".repeat(Math.max(0, w - width(c)));
    return left ? c + fill : fill + c;
  };
  const line = (cells: string[]) =>
    cells
      .map((c, j) => pad(c, widths[j]!, j === 0))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
}

// command

/** `hodiff lr`. @category commands */
export const lrCommand: CommandModule = {
  register(program, { io, setExit }) {
    const cmd = program
      .command("lr")
      .description(
        "per-group learning rates at initialisation or a checkpoint: η = H̄⁻¹ḡ and the cubic-regularised η (λ_int), along the gradient on one batch",
      );
    addProbeOptions(cmd)
      .option(
        "--lambda-int <x>",
        "λ_int of the cubic problem (default: the run's for a newton-summary checkpoint, else 1)",
        finiteNumber("positive"),
      )
      .option("--json", "print the result as JSON instead of a table");
    cmd.addHelpText(
      "after",
      "\nExamples:\n  hodiff lr --model mlp --dataset mnist --partition blocks-1\n  hodiff lr --checkpoint runs/mlp-ns --lambda-int 0.5",
    );
    cmd.action(async (f: ProbeFlags & { lambdaInt?: number; json?: boolean }, c: Command) => {
      const backend = await selectBackend(f.backend, io);
      const p = await probe(f, c, backend);
      const r = learningRates(p, f.lambdaInt ?? p.runLambdaInt ?? 1);
      if (f.json === true) {
        io.out(JSON.stringify({ meta: p.meta, loss: p.loss, ...r }, null, 2));
      } else {
        const where = p.meta.checkpoint === null ? "at initialisation" : `${p.meta.checkpoint} at step ${p.meta.step}`;
        io.out(
          `${p.meta.model}, partition ${p.meta.partition} (S = ${p.labels.length}), ${where}, batch ${p.meta.batchSize}${p.meta.batches > 1 ? ` × ${p.meta.batches}` : ""}, direction = gradient: L = ${p.loss.toPrecision(6)}`,
        );
        for (const l of formatTable(r)) io.out(l);
        io.out(`η = H̄⁻¹ḡ: ${r.linearCase}`);
        io.out(`cubic (λ_int = ${r.lambdaInt}): ${r.cubicCase}`);
      }
      setExit(0);
    });
  },
};
