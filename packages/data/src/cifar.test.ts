import * as E from "fp-ts/Either";
import pngjs from "pngjs";
import { describe, expect, it } from "vitest";
import { decodeCifarPng, encodeCifarPng, parseCifarLabels } from "./cifar";
import type { DataError } from "./errors";

const { PNG } = pngjs;

const leftOf = <A>(r: E.Either<DataError, A>): DataError => {
  if (E.isRight(r)) throw new Error("expected Left, got Right");
  return r.left;
};

/** The value the test writes at image i, pixel (r, c), channel ch. */
const value = (i: number, r: number, c: number, ch: number): number => (i * 101 + r * 7 + c * 3 + ch * 50) % 256;

/** A 2-image CIFAR strip written directly with pngjs in the docs/data.md layout (row = image,
 * column = r·32 + c, RGB), independent of `encodeCifarPng`. */
function twoImagePng(colorType: 2 | 6): Uint8Array {
  const png = new PNG({ width: 1024, height: 2 });
  for (let i = 0; i < 2; i++) {
    for (let r = 0; r < 32; r++) {
      for (let c = 0; c < 32; c++) {
        const p = (i * 1024 + r * 32 + c) * 4;
        for (let ch = 0; ch < 3; ch++) png.data[p + ch] = value(i, r, c, ch);
        png.data[p + 3] = 255;
      }
    }
  }
  return new Uint8Array(PNG.sync.write(png, { colorType }));
}

describe("CIFAR PNG", () => {
  it("decodes a generated 2-image PNG into NHWC uint8", () => {
    for (const colorType of [2, 6] as const) {
      const r = decodeCifarPng(twoImagePng(colorType), "batch.png");
      expect(E.isRight(r)).toBe(true);
      if (E.isLeft(r)) return;
      expect(r.right.count).toBe(2);
      expect(r.right.images.length).toBe(2 * 32 * 32 * 3);
      const at = (i: number, row: number, col: number, ch: number): number =>
        r.right.images[((i * 32 + row) * 32 + col) * 3 + ch]!;
      for (const [i, row, col, ch] of [
        [0, 0, 0, 0],
        [0, 0, 1, 2],
        [0, 1, 0, 1],
        [1, 31, 31, 2],
        [1, 5, 17, 0],
      ] as const) {
        expect(at(i, row, col, ch)).toBe(value(i, row, col, ch));
      }
    }
  });

  it("encodeCifarPng is the inverse of decodeCifarPng", () => {
    const images = Uint8Array.from({ length: 3 * 3072 }, (_, k) => (k * 31) % 251);
    const r = decodeCifarPng(encodeCifarPng(images));
    expect(E.isRight(r) && Array.from(r.right.images)).toEqual(Array.from(images));
  });

  it("rejects a PNG of the wrong width, a grayscale PNG and non-PNG bytes", () => {
    const narrow = new PNG({ width: 32, height: 32 });
    expect(leftOf(decodeCifarPng(new Uint8Array(PNG.sync.write(narrow)), "x.png")).message).toMatch(
      /^x.png: CIFAR PNG must be 1024 px wide .* got 32×32/,
    );
    const gray = new PNG({ width: 1024, height: 1 });
    const grayBytes = new Uint8Array(PNG.sync.write(gray, { colorType: 0 }));
    expect(leftOf(decodeCifarPng(grayBytes)).message).toMatch(/must be RGB/);
    expect(leftOf(decodeCifarPng(Uint8Array.of(1, 2, 3), "junk.png")).message).toMatch(/^junk.png: not a valid PNG/);
  });
});

describe("CIFAR labels JSON", () => {
  it("reads class indices and one-hot rows", () => {
    expect(parseCifarLabels("[6, 9, 9, 4]")).toEqual(E.right(Uint8Array.of(6, 9, 9, 4)));
    const oneHot = JSON.stringify([3, 0].map((k) => Array.from({ length: 10 }, (_, j) => (j === k ? 1 : 0))));
    expect(parseCifarLabels(oneHot)).toEqual(E.right(Uint8Array.of(3, 0)));
  });

  it("rejects bad JSON, out-of-range labels and malformed rows", () => {
    expect(leftOf(parseCifarLabels("{", "l.json")).message).toMatch(/^l.json: not valid JSON/);
    expect(leftOf(parseCifarLabels('{"a":1}')).message).toMatch(/must be an array/);
    expect(leftOf(parseCifarLabels("[1, 10]")).message).toMatch(/labels\[1\] = 10 is not a class in \[0, 10\)/);
    expect(leftOf(parseCifarLabels("[1.5]")).message).toMatch(/labels\[0\] = 1.5/);
    expect(leftOf(parseCifarLabels('["3"]')).message).toMatch(/labels\[0\] must be a class index/);
    expect(leftOf(parseCifarLabels(JSON.stringify([[1, 1, 0, 0, 0, 0, 0, 0, 0, 0]]))).message).toMatch(/not one-hot/);
  });
});
