/**
 * convFilterP (conv2d's filter gradient) against a float64 brute-force sum and against finite
 * differences of the conv itself, on cpu and wasm (the composite route; the im2col route on the
 * native GEMM is tested in @hodiff/native with these same cases).
 */
import { afterAll, describe, expect, it } from "vitest";
import * as hd from "../index";
import type { Value } from "../index";
import { setBackend } from "../backend";
import { bind } from "../trace/core";
import { convFilterP, type ConvFilterParams } from "./linalg";
import { CONV_FILTER_CASES, bruteFilterGradient, convFilterParams } from "../testing/convFilterCases";
import { randomFloats } from "../testing/randomFloats";

const conv = (x: Value, w: Value, p: ConvFilterParams) =>
  hd.conv2d(x, w, { strides: [...p.strides], padding: p.padding.map((q) => [...q]), dilations: [...p.dilations] });

for (const backend of ["cpu", "wasm"] as const) {
  describe(`convFilter on ${backend}`, () => {
    afterAll(async () => void (await setBackend("cpu")));

    it.each(CONV_FILTER_CASES.map((c) => [c.name, c] as const))(
      "%s: brute force and conv's finite differences",
      async (_n, c) => {
        await setBackend(backend);
        const before = hd.numTensors();
        const p = convFilterParams(c);
        const xs = randomFloats(c.x, 1);
        const w0 = randomFloats(c.filter, 2);
        hd.tidy(() => {
          const x = hd.array(xs, { shape: c.x });
          const ctShape = hd.shapeOf(conv(x, hd.array(w0, { shape: c.filter }), p));
          const cts = randomFloats(ctShape, 3);
          const ct = hd.array(cts, { shape: ctShape });
          const got = hd.toFlat(bind(convFilterP, [x, ct], p));
          expect(hd.shapeOf(bind(convFilterP, [x, ct], p))).toEqual(c.filter);
          const want = bruteFilterGradient(xs, c.x, cts, ctShape, c.filter, p);
          const scale = Math.max(...want.map(Math.abs));
          want.forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThan(1e-5 * scale + 1e-6));
          // ⟨ct, conv(x, w)⟩ is linear in w: its central difference along a unit filter entry is exact
          // up to rounding, an independent check of the indexing conventions (which entry is which).
          const loss = (w: Value) => hd.toFlat(hd.sum(hd.mul(ct, conv(x, w, p))))[0]!;
          for (const i of [0, Math.floor(want.length / 2), want.length - 1]) {
            const shifted = (s: number) =>
              hd.array(
                w0.map((v, j) => (j === i ? v + s : v)),
                { shape: c.filter },
              );
            const fd = (loss(shifted(0.5)) - loss(shifted(-0.5))) / 1;
            expect(Math.abs(fd - got[i]!)).toBeLessThan(2e-4 * Math.max(1, Math.abs(fd)) * Math.sqrt(xs.length));
          }
          return [];
        });
        expect(hd.numTensors()).toBe(before);
      },
    );

    it("rejects a cotangent that is not the conv's output shape", async () => {
      await setBackend(backend);
      const p = convFilterParams(CONV_FILTER_CASES[0]!);
      hd.tidy(() => {
        const x = hd.zeros([1, 8, 8, 3]);
        expect(() => bind(convFilterP, [x, hd.zeros([1, 5, 5, 6])], p)).toThrow(/convFilter.*\[1,5,5,6\]/);
        return [];
      });
    });
  });
}
