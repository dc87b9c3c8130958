/** Making arrays and reading them back. */
import { K, runtime, type DType, type Tensor, type TensorLike } from "./kernels";
import { Tracer, avalOf, type Value } from "./trace/core";
import { ArgumentError } from "./errors";
import { markZero } from "./zeroData";
import { syncReadsWork } from "./webgpu/install";

/** Nested JS numbers (or booleans) of any depth. */
export type NestedNumbers = number | boolean | readonly NestedNumbers[];

export interface ArrayOptions {
  dtype?: DType;
  shape?: readonly number[];
}

const describeEntry = (x: unknown): string =>
  Array.isArray(x)
    ? `an array of length ${x.length}`
    : typeof x === "string"
      ? `a string (${JSON.stringify(x)})`
      : x === null
        ? "null"
        : typeof x === "object"
          ? "an object"
          : `a ${typeof x}`;

/**
 * The shape of nested JS data, or an ArgumentError naming the first ragged or non-numeric path
 * (tfjs would only say that a shape does not match the size, or throw a RangeError).
 */
function nestedShape(data: unknown, path = "data"): number[] {
  if (typeof data === "number" || typeof data === "boolean") return [];
  if (!Array.isArray(data)) {
    throw new ArgumentError(`array: ${path} must be a number, a boolean or an array, got ${describeEntry(data)}`);
  }
  if (data.length === 0) return [0];
  const first = nestedShape(data[0], `${path}[0]`);
  for (let i = 1; i < data.length; i++) {
    const s = nestedShape(data[i], `${path}[${i}]`);
    if (s.length !== first.length || s.some((d, k) => d !== first[k])) {
      throw new ArgumentError(
        `array: ragged nested data: ${path}[${i}] has shape [${s.join(",")}], but ${path}[0] has shape [${first.join(",")}] (every entry of a level must have the same shape)`,
      );
    }
  }
  return [data.length, ...first];
}

/** array(data, {dtype?, shape?}): a concrete array from nested numbers or a typed array. */
export function array(
  data: NestedNumbers | Float32Array | Int32Array | Uint8Array | readonly number[],
  options: ArrayOptions = {},
): Tensor {
  if (!ArrayBuffer.isView(data)) nestedShape(data);
  const dtype =
    options.dtype ?? (data instanceof Int32Array ? "int32" : typeof data === "boolean" ? "bool" : "float32");
  return K.tensor(data as TensorLike, options.shape ? [...options.shape] : undefined, dtype);
}

/** zeros(shape, dtype = float32) */
export const zeros = (shape: readonly number[], dtype: DType = "float32"): Tensor =>
  markZero(K.zeros([...shape], dtype));

/** ones(shape, dtype = float32) */
export const ones = (shape: readonly number[], dtype: DType = "float32"): Tensor => K.fill([...shape], 1, dtype);

/** An array of zeros with the shape and dtype of x. */
export const zerosLike = (x: Value): Tensor => zeros(avalOf(x).shape, avalOf(x).dtype);

/** An array of ones with the shape and dtype of x. */
export const onesLike = (x: Value): Tensor => ones(avalOf(x).shape, avalOf(x).dtype);

/** The shape of an array or tracer. */
export const shapeOf = (x: Value | number): number[] => (typeof x === "number" ? [] : [...avalOf(x).shape]);

/** The dtype of an array or tracer. */
export const dtypeOf = (x: Value): DType => avalOf(x).dtype;

function concrete(op: string, x: Value): Tensor {
  if (x instanceof Tracer) {
    throw new ArgumentError(
      `${op}: cannot read the values of a traced array (${avalOf(x).dtype}[${avalOf(x).shape.join(",")}]) inside a transform; return it instead`,
    );
  }
  if (runtime.getBackend() === "webgpu" && !syncReadsWork()) {
    throw new ArgumentError(
      `${op}: synchronous reads are not possible on the webgpu backend (tfjs reads through an OffscreenCanvas: Node has none, and in a page it loses the device); use await ${op}Async(x)`,
    );
  }
  return x;
}

/** The values of a concrete array as nested JS numbers (booleans for bool arrays). */
export function toNested(x: Value): NestedNumbers {
  return concrete("toNested", x).arraySync() as NestedNumbers;
}

/** The values of a concrete array as a flat typed array (row-major). */
export function toFlat(x: Value): Float32Array | Int32Array | Uint8Array {
  return concrete("toFlat", x).dataSync() as Float32Array | Int32Array | Uint8Array;
}

/**
 * The value of a concrete array of one element. It does not free x: read inside a scope,
 * `tidy(() => item(loss(p)))`, not `item(tidy(() => loss(p)))`, which leaves the loss array alive.
 */
export function item(x: Value): number {
  const t = concrete("item", x);
  if (t.size !== 1) throw new ArgumentError(`item: expected one element, got ${t.dtype}[${t.shape.join(",")}]`);
  return t.dataSync()[0]!;
}
