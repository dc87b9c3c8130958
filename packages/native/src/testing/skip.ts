/** Whether the addon is built and loads here, and the note a test needing it carries in its name where it is not. */
import { nativeGemmAvailable } from "../gemm";

export const built = nativeGemmAvailable();
/** Appended to the names of tests skipped for want of the addon: the reason and how to build it. */
export const SKIP = built
  ? ""
  : " [SKIPPED: addon not built — apt-get install libopenblas-dev; pnpm --filter @hodiff/native run build:native]";
