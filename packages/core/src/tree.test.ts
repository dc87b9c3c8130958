/** Pytrees: flatten/unflatten round trips, paths, and structure errors naming the path. */
import { describe, expect, it } from "vitest";
import * as hd from "./index";
import { treeFlattenKey } from "./tree";

describe("pytrees", () => {
  const tree = { l0: { w: 1, b: 2 }, layers: [{ w: 3 }, { w: 4, b: 5 }], none: null };

  it("flatten visits leaves in insertion and index order with dotted paths; unflatten inverts it", () => {
    const [leaves, def] = hd.treeFlatten(tree);
    expect(leaves).toEqual([1, 2, 3, 4, 5]);
    expect(hd.treePaths(def)).toEqual(["l0.w", "l0.b", "layers.0.w", "layers.1.w", "layers.1.b"]);
    expect(hd.treeUnflatten(def, leaves)).toEqual(tree);
  });

  it("treeMap over several trees matches object keys by name", () => {
    const sum = hd.treeMap((a: number, b: number) => a + b, { x: 1, y: 2 }, { y: 20, x: 10 });
    expect(sum).toEqual({ x: 11, y: 22 });
  });

  it("structure errors name the first differing path", () => {
    expect(() => hd.treeMap((a: number, b: number) => a + b, tree, { ...tree, layers: [{ w: 3 }] })).toThrow(
      /structure differs at layers: expected an array of length 2, got an array of length 1/,
    );
    expect(() => hd.treeMap((a: number) => a, tree, { ...tree, l0: { w: 1, c: 2 } })).toThrow(
      /structure differs at l0/,
    );
  });

  it("tensors are leaves, never containers", () => {
    const t = hd.zeros([2]);
    const [leaves] = hd.treeFlatten({ a: t, b: [t] });
    expect(leaves).toHaveLength(2);
    expect(hd.isLeaf(t)).toBe(true);
  });

  it("treeFlattenKey: treeFlatten's leaves, and equal keys exactly for equal structures and leaf descriptions", () => {
    // Brute force over small trees: the key must agree with comparing TreeDefs (and descriptions).
    const trees: unknown[] = [
      1,
      null,
      undefined,
      [],
      {},
      [1],
      [null],
      [undefined],
      [1, 2],
      [[1], 2],
      [1, [2]],
      [[1, 2]],
      { a: 1 },
      { b: 1 },
      { a: [1] },
      { a: 1, b: 2 },
      { b: 2, a: 1 },
      { "a,b": 1 },
      { a: { b: 1 } },
      { 'a"': 1 },
      [{}],
      [[]],
      [{ a: null }],
      "x",
      [1, "x"],
      ["x", 1],
    ];
    const describeLeaf = (l: unknown) => (typeof l === "number" ? "n" : `s[${String(l)},]`);
    for (const a of trees) {
      const [la, ka] = treeFlattenKey(a, describeLeaf);
      const [fa, da] = hd.treeFlatten(a);
      expect(la).toEqual(fa);
      for (const b of trees) {
        const [lb, kb] = treeFlattenKey(b, describeLeaf);
        const [, db] = hd.treeFlatten(b);
        const same =
          JSON.stringify(da) === JSON.stringify(db) &&
          la.map(describeLeaf).join(";") === lb.map(describeLeaf).join(";");
        expect(ka === kb, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(same);
      }
    }
  });
});
