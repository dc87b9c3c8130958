/**
 * The IDX format of MNIST and Fashion-MNIST (optionally gzipped): a 4-byte magic
 * `0x00 0x00 <type> <ndim>`, `ndim` big-endian uint32 sizes, then the data in row-major order.
 * Only unsigned bytes (type 0x08) are read; every other type is reported by name.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import * as E from "fp-ts/Either";
import { badFormat, type DataError } from "./errors";

/** A decoded IDX array of unsigned bytes. @category model */
export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

const IDX_TYPES: Readonly<Record<number, string>> = {
  0x08: "unsigned byte",
  0x09: "signed byte",
  0x0b: "int16",
  0x0c: "int32",
  0x0d: "float32",
  0x0e: "float64",
};

/** True when `bytes` start with the gzip magic 0x1f 0x8b. @category utils */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parse an IDX file of unsigned bytes, gunzipping it first if it is gzipped. Checks the magic
 * number, the element type and that the file is exactly header + ∏dims bytes long.
 * `file` only names the file in error messages.
 * @example parseIdx(encodeIdx([2], Uint8Array.of(7, 3)))  // Right({dims: [2], data: [7, 3]})
 * @category parsers
 */
export function parseIdx(bytes: Uint8Array, file = "<idx>"): E.Either<DataError, IdxArray> {
  let buf = bytes;
  if (isGzip(buf)) {
    try {
      buf = new Uint8Array(gunzipSync(buf));
    } catch (e) {
      return E.left(badFormat(file, `not a valid gzip stream (${(e as Error).message})`));
    }
  }
  if (buf.length < 4) {
    return E.left(badFormat(file, `IDX file too short: ${buf.length} bytes, the header alone is 4`));
  }
  const hex = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  if (buf[0] !== 0 || buf[1] !== 0) {
    return E.left(badFormat(file, `bad IDX magic number ${hex}: must start with 00 00`));
  }
  const type = buf[2]!;
  const ndim = buf[3]!;
  if (type !== 0x08) {
    const what = IDX_TYPES[type];
    return E.left(
      badFormat(
        file,
        what === undefined
          ? `bad IDX magic number ${hex}: unknown element type 0x${type.toString(16)}`
          : `IDX element type is ${what} (0x${type.toString(16)}); only unsigned bytes (0x08) are supported`,
      ),
    );
  }
  if (ndim === 0) return E.left(badFormat(file, `bad IDX magic number ${hex}: 0 dimensions`));
  const headerBytes = 4 + 4 * ndim;
  if (buf.length < headerBytes) {
    return E.left(
      badFormat(file, `IDX header truncated: ${ndim} dimensions need ${headerBytes} bytes, file has ${buf.length}`),
    );
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + size;
  if (buf.length !== expected) {
    return E.left(
      badFormat(
        file,
        `IDX size mismatch: dims [${dims.join(", ")}] need ${expected} bytes, file has ${buf.length}` +
          (buf.length < expected ? " (truncated)" : " (trailing bytes)"),
      ),
    );
  }
  return E.right({ dims, data: buf.subarray(headerBytes) });
}

/**
 * Parse an IDX image file: exactly 3 dimensions [n, rows, cols] (magic 0x00000803).
 * @category parsers
 */
export function parseIdxImages(bytes: Uint8Array, file = "<idx images>"): E.Either<DataError, IdxArray> {
  return E.flatMap(parseIdx(bytes, file), (a) =>
    a.dims.length === 3
      ? E.right(a)
      : E.left(badFormat(file, `expected an IDX image file with 3 dimensions, got [${a.dims.join(", ")}]`)),
  );
}

/**
 * Parse an IDX label file: exactly 1 dimension [n] (magic 0x00000801).
 * @category parsers
 */
export function parseIdxLabels(bytes: Uint8Array, file = "<idx labels>"): E.Either<DataError, IdxArray> {
  return E.flatMap(parseIdx(bytes, file), (a) =>
    a.dims.length === 1
      ? E.right(a)
      : E.left(badFormat(file, `expected an IDX label file with 1 dimension, got [${a.dims.join(", ")}]`)),
  );
}

/**
 * Encode unsigned bytes as IDX (the inverse of `parseIdx`), optionally gzipped. Used to write
 * test fixtures. Throws if `data.length` is not ∏dims (a programming error, not a data error).
 * @category encoders
 */
export function encodeIdx(dims: readonly number[], data: Uint8Array, opts: { gzip?: boolean } = {}): Uint8Array {
  const size = dims.reduce((a, b) => a * b, 1);
  if (data.length !== size)
    throw new RangeError(`encodeIdx: dims [${dims.join(", ")}] need ${size} bytes, got ${data.length}`);
  if (dims.length === 0 || dims.length > 255) throw new RangeError(`encodeIdx: 1..255 dimensions, got ${dims.length}`);
  const out = new Uint8Array(4 + 4 * dims.length + size);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return opts.gzip ? new Uint8Array(gzipSync(out)) : out;
}
