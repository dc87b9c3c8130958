import { gzipSync } from "node:zlib";
import * as E from "fp-ts/Either";
import { describe, expect, it } from "vitest";
import type { DataError } from "./errors";
import { encodeIdx, parseIdx, parseIdxImages, parseIdxLabels } from "./idx";

const leftOf = <A>(r: E.Either<DataError, A>): DataError => {
  if (E.isRight(r)) throw new Error("expected Left, got Right");
  return r.left;
};

describe("IDX", () => {
  const images = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 37) % 256);

  it("round-trips a 3-d image file, plain and gzipped", () => {
    for (const gzip of [false, true]) {
      const bytes = encodeIdx([2, 3, 4], images, { gzip });
      const r = parseIdxImages(bytes, "x");
      expect(E.isRight(r)).toBe(true);
      if (E.isRight(r)) {
        expect(r.right.dims).toEqual([2, 3, 4]);
        expect(Array.from(r.right.data)).toEqual(Array.from(images));
      }
    }
  });

  it("writes the official header: magic 0x00000803 then big-endian sizes", () => {
    const bytes = encodeIdx([2, 3, 4], images);
    expect(Array.from(bytes.subarray(0, 16))).toEqual([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
    expect(Array.from(encodeIdx([3], Uint8Array.of(1, 2, 3)).subarray(0, 8))).toEqual([0, 0, 8, 1, 0, 0, 0, 3]);
  });

  it("reads a hand-written label file", () => {
    const r = parseIdxLabels(Uint8Array.of(0, 0, 8, 1, 0, 0, 0, 3, 5, 0, 4), "labels");
    expect(r).toEqual(E.right({ dims: [3], data: Uint8Array.of(5, 0, 4) }));
  });

  it("rejects a bad magic number, naming the file and the bytes", () => {
    const bytes = encodeIdx([3], Uint8Array.of(1, 2, 3));
    bytes[0] = 0x12;
    const e = leftOf(parseIdx(bytes, "train-labels-idx1-ubyte"));
    expect(e._tag).toBe("bad-format");
    expect(e.message).toMatch(/^train-labels-idx1-ubyte: bad IDX magic number 12 00 08 01/);
  });

  it("names an unsupported element type and rejects unknown ones", () => {
    const bytes = encodeIdx([3], Uint8Array.of(1, 2, 3));
    bytes[2] = 0x0d;
    expect(leftOf(parseIdx(bytes)).message).toMatch(/float32 \(0xd\); only unsigned bytes/);
    bytes[2] = 0x42;
    expect(leftOf(parseIdx(bytes)).message).toMatch(/unknown element type 0x42/);
  });

  it("rejects truncated files and trailing bytes", () => {
    const bytes = encodeIdx([2, 3, 4], images);
    expect(leftOf(parseIdx(bytes.subarray(0, bytes.length - 1))).message).toMatch(
      /need 40 bytes, file has 39 \(truncated\)/,
    );
    const longer = new Uint8Array(bytes.length + 2);
    longer.set(bytes);
    expect(leftOf(parseIdx(longer)).message).toMatch(/\(trailing bytes\)/);
    expect(leftOf(parseIdx(bytes.subarray(0, 2))).message).toMatch(/too short/);
    expect(leftOf(parseIdx(bytes.subarray(0, 10))).message).toMatch(/header truncated/);
  });

  it("checks the number of dimensions of image and label files", () => {
    const labels = encodeIdx([3], Uint8Array.of(1, 2, 3));
    expect(leftOf(parseIdxImages(labels, "imgs")).message).toMatch(
      /imgs: expected an IDX image file with 3 dimensions, got \[3\]/,
    );
    expect(leftOf(parseIdxLabels(encodeIdx([2, 3, 4], images))).message).toMatch(/1 dimension, got \[2, 3, 4\]/);
  });

  it("reports a damaged gzip stream", () => {
    const gz = gzipSync(encodeIdx([3], Uint8Array.of(1, 2, 3)));
    const damaged = new Uint8Array(gz.subarray(0, gz.length - 6));
    expect(leftOf(parseIdx(damaged, "t10k.gz")).message).toMatch(/^t10k.gz: not a valid gzip stream/);
  });
});
