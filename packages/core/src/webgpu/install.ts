/**
 * Making `@tensorflow/tfjs-backend-webgpu` usable. It registers itself only if `navigator.gpu`
 * exists when it is imported, so in Node a `navigator.gpu` from the npm package `webgpu` (Dawn's
 * Node bindings) is installed first. Browsers have their own `navigator.gpu`.
 *
 * Dawn in Node tries its default backend first (Vulkan, Metal or D3D12: real GPUs); when that
 * offers no adapter it tries OpenGL ES at WebGPU's compatibility feature level, which on a
 * CPU-only Linux machine is Mesa's llvmpipe through EGL (`EGL_PLATFORM=surfaceless`, set here
 * when unset). `HODIFF_WEBGPU_DAWN=backend=vulkan,adapter=…` passes Dawn options instead.
 */

interface DawnModule {
  create: (options: string[]) => GpuLike;
  globals: Record<string, unknown>;
}
interface AdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string; device?: string };
}
interface GpuLike {
  requestAdapter: (options?: Record<string, unknown>) => Promise<AdapterLike | null>;
  getPreferredCanvasFormat?: () => string;
  wgslLanguageFeatures?: unknown;
}

/** What the webgpu backend runs on, for notices and reports. */
export interface WebGpuAdapterInfo {
  /** "browser" or "dawn-node". */
  readonly host: string;
  /** The adapter's own description (e.g. "OpenGL ES 3.2 Mesa 22.3.6", "NVIDIA H100"). */
  readonly description: string;
  /** Whether the adapter is a CPU rasteriser (llvmpipe, lavapipe, SwiftShader). */
  readonly software: boolean;
}

const isNode = (): boolean =>
  typeof process !== "undefined" && typeof process.versions === "object" && process.versions.node !== undefined;

const describe = (a: AdapterLike): string =>
  [a.info?.vendor, a.info?.architecture, a.info?.device, a.info?.description].filter((s) => s).join(" ") ||
  "unknown adapter";

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe|software/i;

let installed: Promise<WebGpuAdapterInfo> | null = null;

/** Dawn's options lists to try in order: `HODIFF_WEBGPU_DAWN` alone, else default then OpenGL ES. */
function dawnAttempts(): Array<{ options: string[]; compat: boolean }> {
  const env = process.env.HODIFF_WEBGPU_DAWN;
  if (env !== undefined && env !== "") return [{ options: env.split(","), compat: /opengl/.test(env) }];
  return [
    { options: [], compat: false },
    { options: ["backend=opengles"], compat: true },
  ];
}

/** Install Dawn's `navigator.gpu` in Node; resolves to the adapter found, rejects if none. */
async function installDawn(): Promise<WebGpuAdapterInfo> {
  process.env.EGL_PLATFORM ??= "surfaceless";
  // A specifier in a variable keeps bundlers (Vite) from pulling a native Node addon into a page.
  const specifier = "webgpu";
  let dawn: DawnModule;
  try {
    dawn = (await import(/* @vite-ignore */ specifier)) as DawnModule;
  } catch (e) {
    throw new Error(`the npm package 'webgpu' (Dawn for Node) could not load: ${(e as Error).message}`);
  }
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(dawn.globals)) if (g[k] === undefined) g[k] = v;
  const tried: string[] = [];
  for (const { options, compat } of dawnAttempts()) {
    const gpu = dawn.create(options);
    const request = (o: Record<string, unknown> = {}) =>
      gpu.requestAdapter(compat ? { ...o, featureLevel: "compatibility" } : o);
    const adapter = await request().catch(() => null);
    tried.push(options.length ? options.join(",") : "default backend");
    if (adapter === null) continue;
    // tfjs asks navigator.gpu for the adapter itself: hand it the same choice.
    const shim = {
      requestAdapter: request,
      getPreferredCanvasFormat: () => "rgba8unorm",
      wgslLanguageFeatures: gpu.wgslLanguageFeatures,
    };
    const nav = (g.navigator ?? {}) as Record<string, unknown>;
    Object.defineProperty(nav, "gpu", { value: shim, configurable: true });
    if (g.navigator === undefined) Object.defineProperty(g, "navigator", { value: nav, configurable: true });
    const description = describe(adapter);
    // Dawn's GL adapter names only the driver: Mesa with no render node is llvmpipe.
    const { existsSync } = await import(/* @vite-ignore */ "node:fs");
    const cpuMesa = compat && /Mesa/.test(description) && !existsSync("/dev/dri");
    return { host: "dawn-node", description, software: SOFTWARE.test(description) || cpuMesa };
  }
  throw new Error(
    `no WebGPU adapter (Dawn tried: ${tried.join("; ")}). On Linux without a GPU, install Mesa ` +
      `(apt-get install libegl-mesa0 libgles2) for the OpenGL ES path, or set HODIFF_WEBGPU_DAWN`,
  );
}

async function browserAdapter(): Promise<WebGpuAdapterInfo> {
  const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
  if (gpu === undefined) throw new Error("this browser has no navigator.gpu (WebGPU)");
  const adapter = await gpu.requestAdapter();
  if (adapter === null) throw new Error("navigator.gpu.requestAdapter() found no adapter");
  const description = describe(adapter);
  return { host: "browser", description, software: SOFTWARE.test(description) };
}

/**
 * Make `navigator.gpu` available (Dawn in Node), then register tfjs's webgpu backend.
 * Resolves to the adapter; rejects with the reason when there is none. Runs once.
 */
export function installWebGpu(loadBackend: () => Promise<unknown>): Promise<WebGpuAdapterInfo> {
  installed ??= (async () => {
    const hasGpu = (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== undefined;
    const info = !hasGpu && isNode() ? await installDawn() : await browserAdapter();
    await loadBackend();
    return info;
  })();
  return installed;
}

/** The adapter the webgpu backend uses, once `setBackend('webgpu')` has succeeded (else null). */
export let webGpuAdapter: WebGpuAdapterInfo | null = null;
export const rememberAdapter = (info: WebGpuAdapterInfo): void => {
  webGpuAdapter = info;
};

/**
 * Whether synchronous reads (`dataSync`) work on the active webgpu backend: no. tfjs reads
 * synchronously through an OffscreenCanvas, which Node lacks, and in a page (Chromium 156,
 * SwiftShader) that read loses the device: the next asynchronous read fails with "A valid external
 * Instance reference no longer exists". A clear error naming the async variant is better than both.
 */
export const syncReadsWork = (): boolean => false;
