/** Test helpers shared by hodiff packages. */
export { checkGrads } from "./checkGrads";
export type { CheckGradsOptions } from "./checkGrads";
export { allClose, assertAllClose } from "./allClose";
