/**
 * Loading the compiled addon (build/hodiff_native.node, made by scripts/build.mjs). Both src/ and
 * dist/ sit one level below the package root, so the same relative path serves the workspace and
 * an installed tarball.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { HeapGemm } from "@hodiff/core";

/** The addon's exports (csrc/gemm.c). */
export interface NativeAddon {
  /** For each i < batch: C_i = op(A_i)·op(B_i) on the ArrayBuffer `heap` (byte offsets); throws on bad bounds. */
  gemm: HeapGemm;
  /** openblas_set_num_threads(n), 1 ≤ n ≤ 1024. */
  setThreads(n: number): void;
  /** openblas_get_num_threads(). */
  threads(): number;
  /** openblas_get_config(): version, build options, the CPU kernel chosen. */
  config(): string;
}

/** Where the build script puts the addon, relative to this module. */
export const ADDON_URL = new URL("../build/hodiff_native.node", import.meta.url);

/**
 * The addon's file: `HODIFF_NATIVE_ADDON` where set (an addon built elsewhere; tests use it to
 * make loading fail in a worker thread), else ADDON_URL. Read when the addon is first loaded in a
 * thread (a worker thread gets a copy of the environment when it starts).
 */
export const addonPath = (): string => process.env.HODIFF_NATIVE_ADDON || fileURLToPath(ADDON_URL);

/** What to run to build the addon (one line, for error messages). */
export const HOW_TO_BUILD =
  "install a C compiler and OpenBLAS (Debian/Ubuntu: apt-get install gcc libopenblas-dev), then run " +
  "`npx -y pnpm@9.15.9 --filter @hodiff/native run build:native` in the hodiff checkout " +
  "(or `npm rebuild @hodiff/native` where it was installed from npm)";

let loaded: { addon: NativeAddon } | { error: Error } | undefined;

/** The addon, or the error that loading it gave (loaded once per thread). */
export function tryLoadAddon(): { addon: NativeAddon } | { error: Error } {
  if (loaded === undefined) {
    try {
      loaded = { addon: createRequire(import.meta.url)(addonPath()) as NativeAddon };
    } catch (e) {
      loaded = { error: e instanceof Error ? e : new Error(String(e)) };
    }
  }
  return loaded;
}

/** The addon (its `gemm`: C_i = op(A_i)·op(B_i) on a heap); throws saying how to build it where it is not built or does not load. */
export function loadAddon(): NativeAddon {
  const r = tryLoadAddon();
  if ("addon" in r) return r.addon;
  throw new Error(
    `@hodiff/native: the native addon ${addonPath()} is not usable (${r.error.message.split("\n")[0]}). To build it: ${HOW_TO_BUILD}.`,
    {
      cause: r.error,
    },
  );
}
