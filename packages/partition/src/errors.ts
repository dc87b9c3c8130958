import { HodiffError } from "@hodiff/core";

/** A partition specification that drops, duplicates or invents parameters, or has empty groups. */
export class PartitionError extends HodiffError {
  override name = "PartitionError";
}
