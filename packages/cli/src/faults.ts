/**
 * Fault injection for the fault-tolerance tests, driven by the environment variable
 * `HODIFF_FAULT` (read when a run starts; unset, it costs one string test per write). A
 * comma-separated list of:
 *
 *   crash-at:<label>:<stage>[:<n>]   die by SIGKILL at the n-th (default 1st) time the write of
 *                                    <label> (config, bin, manifest, best, metrics) reaches <stage>:
 *                                    partial (half of its bytes written), written (temp file
 *                                    complete and fsynced, not renamed), renamed (in place)
 *   enospc-at:<bytes>                every write fails with ENOSPC once the run has written <bytes>
 *                                    bytes (the failing write first writes what fits, as a full
 *                                    disk does)
 *   nan-at:<quantity>:<step>         make the loss, gradient or update of update <step> (1-based) NaN
 *
 * A crash is a real `kill -9` of the process: no `finally`, no exit handler runs, so the tests see
 * exactly the files a power cut or the OOM killer leaves.
 */

// model

/** A quantity the non-finite guard checks. @category model */
export type NonFiniteQuantity = "loss" | "gradient" | "update" | "optimizer state";

interface Faults {
  readonly crash: readonly { readonly label: string; readonly stage: string; readonly nth: number }[];
  readonly enospcAt: number | null;
  readonly nan: readonly { readonly quantity: string; readonly step: number }[];
}

/** The environment variable of the hooks. @category model */
export const FAULT_ENV = "HODIFF_FAULT";

const NONE: Faults = { crash: [], enospcAt: null, nan: [] };

let faults: Faults = NONE;
let written = 0;
const reached = new Map<string, number>();

/** Parse `HODIFF_FAULT`; an unknown entry is an error (a typo must not silently test nothing). */
function parse(spec: string | undefined): Faults {
  if (spec === undefined || spec.trim() === "") return NONE;
  const crash: { label: string; stage: string; nth: number }[] = [];
  const nan: { quantity: string; step: number }[] = [];
  let enospcAt: number | null = null;
  for (const entry of spec.split(",").map((s) => s.trim())) {
    const [kind, ...args] = entry.split(":");
    if (kind === "crash-at" && (args.length === 2 || args.length === 3))
      crash.push({ label: args[0]!, stage: args[1]!, nth: args[2] === undefined ? 1 : Number(args[2]) });
    else if (kind === "enospc-at" && args.length === 1) enospcAt = Number(args[0]);
    else if (kind === "nan-at" && args.length === 2) nan.push({ quantity: args[0]!, step: Number(args[1]) });
    else throw new Error(`${FAULT_ENV}: cannot read "${entry}"`);
  }
  return { crash, enospcAt, nan };
}

// run

/** Read `HODIFF_FAULT` again and reset the counters (called when a run starts). @category faults */
export function resetFaults(): void {
  faults = parse(process.env[FAULT_ENV]);
  written = 0;
  reached.clear();
}

/** Die by SIGKILL, as a kill -9 would. @category faults */
export const crashNow = (): void => void process.kill(process.pid, "SIGKILL");

/** Count that the write of `label` reached `stage`; true when a crash is injected at this occurrence. */
function reaches(label: string, stage: string): boolean {
  if (faults.crash.length === 0) return false;
  const key = `${label}:${stage}`;
  const n = (reached.get(key) ?? 0) + 1;
  reached.set(key, n);
  return faults.crash.some((c) => c.label === label && c.stage === stage && c.nth === n);
}

/** Die by SIGKILL if a crash is injected at this stage of the write of `label`. @category faults */
export function faultPoint(label: string, stage: "written" | "renamed"): void {
  if (reaches(label, stage)) crashNow();
}

/** True when the process is to die half-way through this write of `label` (stage `partial`). @category faults */
export const crashesMidWrite = (label: string): boolean => reaches(label, "partial");

/**
 * How many of the `bytes` about to be written fit before the injected full disk (all of them
 * when no full disk is injected); counts them as written.
 * @category faults
 */
export function bytesThatFit(bytes: number): number {
  if (faults.enospcAt === null) return bytes;
  const fit = Math.max(0, Math.min(bytes, faults.enospcAt - written));
  written += fit;
  return fit;
}

/** The error a full disk gives (what Node's fs throws). @category faults */
export function enospc(path: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`ENOSPC: no space left on device, write '${path}'`);
  e.code = "ENOSPC";
  e.syscall = "write";
  e.path = path;
  return e;
}

/** True when the `quantity` of update `step` (1-based) is to be made NaN. @category faults */
export const injectsNaN = (quantity: NonFiniteQuantity, step: number): boolean =>
  faults.nan.some((f) => f.quantity === quantity && f.step === step);
