/**
 * Reading an array's values into memory the caller owns (for example a SharedArrayBuffer), with
 * no host copy in between: on wasm straight out of tfjs-wasm's heap.
 */
import { runtime, type Tensor } from "./kernels";
import { toFlat } from "./array";
import { ArgumentError } from "./errors";
import { avalOf, type Value } from "./trace/core";

/** The parts of tfjs-wasm's BackendWasm read here (not in its public types). */
interface WasmHeap {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

/**
 * copyInto(x, out, offset): out[offset, offset + size(x)) = the values of x in row-major order.
 * Like `out.set(toFlat(x), offset)` without the intermediate host array (on wasm the values go
 * from its heap to `out` in one copy; elsewhere through toFlat).
 * @example copyInto(grad, sharedF32, 1024)
 */
export function copyInto(x: Value, out: Float32Array | Int32Array, offset = 0): void {
  const { dtype, shape } = avalOf(x);
  const n = shape.reduce((a, b) => a * b, 1);
  const want = out instanceof Float32Array ? "float32" : "int32";
  if (dtype !== want) throw new ArgumentError(`copyInto: x is ${dtype}[${shape.join(",")}], out is ${want}`);
  if (offset < 0 || offset + n > out.length)
    throw new ArgumentError(`copyInto: ${n} values from offset ${offset} do not fit in ${out.length}`);
  if (runtime.isTensor(x) && runtime.getBackend() === "wasm") {
    const backend = runtime.backend() as unknown as WasmHeap;
    const at = backend.dataIdMap.get((x as Tensor).dataId)?.memoryOffset;
    // A tensor not (yet) on this backend has no memory here: toFlat moves it.
    if (at !== undefined) {
      const heap = backend.wasm.HEAPU8;
      const view = want === "float32" ? new Float32Array(heap.buffer, at, n) : new Int32Array(heap.buffer, at, n);
      out.set(view, offset);
      return;
    }
  }
  out.set(toFlat(x) as Float32Array & Int32Array, offset);
}
