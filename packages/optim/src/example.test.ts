/** The README's training loop: it runs, converges, frees its tensors, and is the code of example.ts. */
import * as hd from "@hodiff/core";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fitLine } from "./example";

describe("README example (src/example.ts)", () => {
  it("fits y = 2x − 1 with momentum and leaves no tensor behind", () => {
    const before = hd.numTensors();
    const { w, b, loss } = fitLine();
    expect(w).toBeCloseTo(2, 3);
    expect(b).toBeCloseTo(-1, 3);
    expect(loss).toBeLessThan(1e-6);
    expect(hd.numTensors()).toBe(before);
  });

  it("is the code shown in the README (with the package name in the import)", () => {
    const source = readFileSync(new URL("./example.ts", import.meta.url), "utf8").replace(
      'from "./index"',
      'from "@hodiff/optim"',
    );
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const block = /<!-- example\.ts -->\s*```ts\n([\s\S]*?)```/.exec(readme);
    expect(block, "README.md needs a ```ts block right after <!-- example.ts -->").not.toBeNull();
    expect(block![1]).toBe(source);
  });
});
