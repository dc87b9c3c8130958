/**
 * Backends. `cpu` (pure JS) is always there; `wasm` (XNNPACK, 20–300× faster on CPUs, its .wasm
 * files ship inside its npm package) is loaded on request. Choosing one is one awaited call.
 */
import { runtime } from "./kernels";
import { ArgumentError } from "./errors";
import { installSimdKernels } from "./simd/install";
import { installWebGpu, rememberAdapter, syncReadsWork, webGpuAdapter } from "./webgpu/install";

runtime.setProd();

export type BackendName = "cpu" | "wasm" | "webgpu";
export const BACKENDS: readonly BackendName[] = ["webgpu", "wasm", "cpu"];

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
  // In Node, Dawn's navigator.gpu must exist before tfjs-backend-webgpu is imported.
  if (name === "webgpu") rememberAdapter(await installWebGpu(runtime.loadWebGpu));
  const ok = await runtime.setBackend(name);
  if (!ok) throw new Error(`setBackend: backend '${name}' failed to initialise`);
  await runtime.ready();
  // SIMD transcendental kernels on wasm's heap; where they cannot load, tfjs's own kernels stay.
  if (name === "wasm") await installSimdKernels();
  if (name === "webgpu") runtime.watchWebGpuErrors();
}

/** What `useDefaultBackend` may try first. */
export interface DefaultBackendOptions {
  /**
   * Try webgpu first, and keep it only on a hardware adapter (a software rasteriser is slower
   * than wasm); then wasm, then cpu. Default false: wasm, then cpu.
   */
  preferWebGpu?: boolean;
}

/**
 * Use wasm, or cpu when wasm cannot start (calling `notice` with the reason); with
 * `{ preferWebGpu: true }`, webgpu first where a hardware adapter exists (one notice line says
 * which backend is used and why). This is what demos and the CLI do by default.
 */
export async function useDefaultBackend(
  notice: (message: string) => void = (m) => console.warn(m),
  options: DefaultBackendOptions = {},
): Promise<BackendName> {
  if (options.preferWebGpu === true) {
    let why: string;
    try {
      await setBackend("webgpu");
      if (!webGpuAdapter!.software) {
        notice(`hodiff: using webgpu (${webGpuAdapter!.description}).`);
        return "webgpu";
      }
      why = `its only adapter is a software one (${webGpuAdapter!.description})`;
    } catch (e) {
      why = (e as Error).message;
    }
    try {
      await setBackend("wasm");
      notice(`hodiff: webgpu not used: ${why}; using wasm.`);
      return "wasm";
    } catch (e) {
      notice(`hodiff: webgpu not used: ${why}; wasm could not start (${(e as Error).message}); using cpu.`);
      await setBackend("cpu");
      return "cpu";
    }
  }
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

/** The adapter under the webgpu backend (null before `setBackend('webgpu')` succeeds). */
export const getWebGpuAdapter = () => webGpuAdapter;

/**
 * Errors the webgpu device reported since the last call (cleared by the call). Shaders that fail
 * validation do not throw, they leave their outputs unwritten: check this after webgpu work.
 */
export const takeWebGpuErrors = (): string[] => runtime.webGpuErrors();

/**
 * Whether synchronous reads (`toNested`, `toFlat`, `item`) work on the active backend: everywhere
 * except webgpu, where only `toNestedAsync`, `toFlatAsync` and `itemAsync` read.
 */
export const canReadSync = (): boolean => runtime.getBackend() !== "webgpu" || syncReadsWork();

/** The name of the active backend. */
export const getBackend = (): string => runtime.getBackend();

/** Number of live tfjs tensors (for leak checks). */
export const numTensors = (): number => runtime.numTensors();
