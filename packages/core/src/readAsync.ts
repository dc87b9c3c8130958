/**
 * Asynchronous reads of concrete arrays. On webgpu in Node they are the only reads there are
 * (tfjs's synchronous read needs an OffscreenCanvas); on every backend they wait for the device
 * without blocking the event loop, so a page stays responsive while a GPU computes.
 */
import { runtime } from "./kernels";
import { ArgumentError } from "./errors";
import type { Value } from "./trace/core";
import type { NestedNumbers } from "./array";
import { avalOf, Tracer } from "./trace/core";

function concrete(op: string, x: Value) {
  if (x instanceof Tracer) {
    throw new ArgumentError(
      `${op}: cannot read the values of a traced array (${avalOf(x).dtype}[${avalOf(x).shape.join(",")}]) inside a transform; return it instead`,
    );
  }
  return x;
}

/** `toNested`, without blocking: the values as nested JS numbers. */
export async function toNestedAsync(x: Value): Promise<NestedNumbers> {
  return (await runtime.array(concrete("toNestedAsync", x))) as NestedNumbers;
}

/** `toFlat`, without blocking: the values as a flat typed array (row-major). */
export async function toFlatAsync(x: Value): Promise<Float32Array | Int32Array | Uint8Array> {
  return runtime.data(concrete("toFlatAsync", x));
}

/** `item`, without blocking: the value of a concrete array of one element (x is not freed). */
export async function itemAsync(x: Value): Promise<number> {
  const t = concrete("itemAsync", x);
  if (t.size !== 1) throw new ArgumentError(`itemAsync: expected one element, got ${t.dtype}[${t.shape.join(",")}]`);
  return (await runtime.data(t))[0]!;
}
