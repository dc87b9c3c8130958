/**
 * Usage errors and the option parsers of the command line. A `UsageError` is a mistake in the
 * command line (exit status 2); its message names the offending flag. Parsers throw commander's
 * `InvalidArgumentError`, which commander turns into `option '--epochs <n>' argument 'x' is invalid.`
 */
import { InvalidArgumentError } from "commander";

// model

/** A mistake in the command line; `flag` is the offending flag (e.g. `--hidden`). @category errors */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(message);
  }
}

/** Exit statuses: 0 success, 1 failure (missing data, I/O…), 2 usage error. @category model */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

// parsers (commander `argParser`s)

/** An integer ≥ `min`. @category parsers */
export const intAtLeast =
  (min: number) =>
  (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(`expected an integer ≥ ${min}.`);
    return n;
  };

/** Any safe integer (seeds). @category parsers */
export const anyInt = (value: string): number => {
  const n = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(n)) throw new InvalidArgumentError("expected an integer.");
  return n;
};

/** A finite number, optionally > 0 or ≥ 0. @category parsers */
export const finiteNumber =
  (constraint: "any" | "positive" | "non-negative" = "any") =>
  (value: string): number => {
    const n = Number(value);
    const ok =
      value.trim() !== "" &&
      Number.isFinite(n) &&
      (constraint === "any" || (constraint === "positive" ? n > 0 : n >= 0));
    if (!ok)
      throw new InvalidArgumentError(
        `expected a finite number${constraint === "any" ? "" : ` ${constraint === "positive" ? "> 0" : "≥ 0"}`}.`,
      );
    return n;
  };

/** A comma-separated list of positive integers, e.g. `64,32`. @category parsers */
export const intList = (value: string): number[] => {
  const parts = value.split(",").map((s) => s.trim());
  const ns = parts.map(Number);
  if (parts.some((s) => s === "") || !ns.every((n) => Number.isSafeInteger(n) && n > 0))
    throw new InvalidArgumentError("expected comma-separated positive integers, e.g. 64,32.");
  return ns;
};
