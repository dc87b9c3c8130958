/**
 * Installing the native GEMM into @hodiff/core: the wasm backend's float32 matmuls (tfjs's
 * BatchMatMul) then run in OpenBLAS on tfjs-wasm's heap, in place.
 */
import { setHeapGemm, type HeapGemm } from "@hodiff/core";
import { loadAddon, tryLoadAddon } from "./addon";

/** What `installNativeGemm` returns. */
export interface NativeGemm {
  /** The GEMM routed to: for each i < batch, C_i = op(A_i)·op(B_i) on `heap` (byte offsets). */
  readonly gemm: HeapGemm;
  /** OpenBLAS's build and CPU kernel (openblas_get_config), for reports. */
  readonly config: string;
  /** OpenBLAS's thread count now. */
  threads(): number;
  /** Set OpenBLAS's thread count (process-wide: every thread's GEMMs share OpenBLAS). */
  setThreads(n: number): void;
  /**
   * Give this handle up; when it was the last live one, matmuls go back to tfjs-wasm's own kernel
   * (XNNPACK). Later calls do nothing.
   */
  uninstall(): void;
  /** `uninstall`, for `using native = installNativeGemm()`. */
  [Symbol.dispose](): void;
}

/** Handles of `installNativeGemm` not yet uninstalled, in this thread. */
let liveHandles = 0;

/** Whether the addon is built and loads here: true ⇒ `installNativeGemm` will succeed. */
export function nativeGemmAvailable(): boolean {
  return "addon" in tryLoadAddon();
}

/**
 * Route the wasm backend's float32 matmuls to OpenBLAS: C = op(A)·op(B) computed by cblas_sgemm on
 * tfjs-wasm's heap (no copies), for every tfjs BatchMatMul on wasm (hodiff's matmul, dot, dense
 * layers and their derivatives). Other backends and dtypes are unaffected. `threads` sets
 * OpenBLAS's thread count (process-wide), default 1: on this project's busy 2-core machine two
 * BLAS threads were slower than one (README.md); an install nested in a live one keeps the count
 * unless given `threads`.
 * Throws, saying how to build it, where the addon is not built.
 */
export function installNativeGemm(options: { threads?: number } = {}): NativeGemm {
  const addon = loadAddon();
  if (options.threads !== undefined || liveHandles === 0) addon.setThreads(options.threads ?? 1);
  const { gemm } = addon; // a plain C function: no `this`, so no wrapper on every matmul
  setHeapGemm(gemm);
  liveHandles++;
  let installed = true;
  const uninstall = (): void => {
    if (!installed) return;
    installed = false;
    // Handles nest (a library installs inside a caller's install): only the last one switches it off.
    if (--liveHandles === 0) setHeapGemm(null);
  };
  return {
    gemm,
    config: addon.config(),
    threads: () => addon.threads(),
    setThreads: (n) => addon.setThreads(n),
    uninstall,
    [Symbol.dispose]: uninstall,
  };
}

/** OpenBLAS's configuration string (version, kernel, thread limit), or null where the addon is not built. */
export function nativeBlasConfig(): string | null {
  const r = tryLoadAddon();
  return "addon" in r ? r.addon.config() : null;
}
