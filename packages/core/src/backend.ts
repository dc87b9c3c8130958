/**
 * Backends. `cpu` (pure JS) is always there; `wasm` (XNNPACK, 20–300× faster on CPUs, its .wasm
 * files ship inside its npm package) is loaded on request. Choosing one is one awaited call.
 */
import { runtime } from "./kernels";
import { ArgumentError } from "./errors";
import { installSimdKernels } from "./simd/install";

runtime.setProd();

export type BackendName = "cpu" | "wasm";
export const BACKENDS: readonly BackendName[] = ["wasm", "cpu"];

let wasmLoaded: Promise<unknown> | null = null;

/** Make `name` the backend of every following op. Rejects if it cannot start. */
export async function setBackend(name: BackendName): Promise<void> {
  if (!BACKENDS.includes(name))
    throw new ArgumentError(`setBackend: unknown backend '${name}' (use ${BACKENDS.join(" or ")})`);
  if (name === "wasm") {
    // Imported lazily: registering wasm at load time would make it the default before it is ready.
    wasmLoaded ??= runtime.loadWasm();
    await wasmLoaded;
  }
  const ok = await runtime.setBackend(name);
  if (!ok) throw new Error(`setBackend: backend '${name}' failed to initialise`);
  await runtime.ready();
  // SIMD transcendental kernels on wasm's heap; where they cannot load, tfjs's own kernels stay.
  if (name === "wasm") await installSimdKernels();
}

/**
 * Use wasm, or cpu when wasm cannot start (calling `notice` with the reason).
 * This is what demos and the CLI do by default.
 */
export async function useDefaultBackend(
  notice: (message: string) => void = (m) => console.warn(m),
): Promise<BackendName> {
  try {
    await setBackend("wasm");
    return "wasm";
  } catch (e) {
    notice(
      `hodiff: the wasm backend could not start (${(e as Error).message}); falling back to cpu, which is much slower.`,
    );
    await setBackend("cpu");
    return "cpu";
  }
}

/** The name of the active backend. */
export const getBackend = (): string => runtime.getBackend();

/** Number of live tfjs tensors (for leak checks). */
export const numTensors = (): number => runtime.numTensors();
