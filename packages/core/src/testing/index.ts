/** Test helpers shared by hodiff packages. */
export { checkGrads } from "./checkGrads";
export type { CheckGradsOptions } from "./checkGrads";
export { allClose, assertAllClose } from "./allClose";
export { CONV_FILTER_CASES, bruteFilterGradient, convFilterParams, randomFloats } from "./convFilterCases";
export type { ConvFilterCase } from "./convFilterCases";
