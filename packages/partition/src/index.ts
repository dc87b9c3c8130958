/**
 * @hodiff/partition — partitions of parameter pytrees and exact partitioned derivatives of any
 * order: ḡ, the S×S matrix H̄ of layer interactions, the order-3 diagonal, Taylor terms.
 */
export { PartitionError } from "./errors";
export {
  canonical,
  trivial,
  weightsBiases,
  blocks,
  alternate,
  byName,
  discrete,
  fromGroups,
  layersOf,
  DISCRETE_LIMIT,
} from "./partition";
export type { Partition, Group, Layer, PathPattern } from "./partition";
export { partitionedDerivative, taylorTerms, defaultChunkSize, BATCHED_SCALARS } from "./derivative";
export type { PartitionedDerivativeOptions } from "./derivative";
export { summaries, summariesAsync } from "./summaries";
export type { Summaries, SummariesOptions } from "./summaries";
export { interactionMap, normalize } from "./interaction";
export type { InteractionMap } from "./interaction";
