/**
 * Partition builders on the parameter shapes of the paper's models (MLP, LeNet-5, VGG-11'), and
 * every error case: PartitionErrors that name the offending paths.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import {
  BATCHED_SCALARS,
  DISCRETE_LIMIT,
  defaultChunkSize,
  PartitionError,
  alternate,
  blocks,
  byName,
  canonical,
  discrete,
  fromGroups,
  layersOf,
  partitionedDerivative,
  summaries,
  taylorTerms,
  trivial,
  weightsBiases,
  type Partition,
} from "./index";
import { paperLeNet, paperMlp, paperVgg, type Params } from "./fixtures";

/** Leaf paths of a {layer: {w, b}} pytree, written out by hand from the layer names. */
const pathsOf = (layers: string[]) => layers.flatMap((l) => [`${l}.w`, `${l}.b`]);

const MODELS = [
  {
    name: "MLP 784-1024-200-100-10",
    make: paperMlp,
    layers: ["fc1", "fc2", "fc3", "fc4"],
    P: 784 * 1024 + 1024 + 1024 * 200 + 200 + 200 * 100 + 100 + 100 * 10 + 10,
    S: 8,
  },
  {
    name: "LeNet-5",
    make: paperLeNet,
    layers: ["conv1", "conv2", "fc1", "fc2", "fc3"],
    P: 5 * 5 * 3 * 6 + 6 + 5 * 5 * 6 * 16 + 16 + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10,
    S: 10,
  },
  {
    name: "VGG-11'",
    make: paperVgg,
    layers: ["conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "conv7", "conv8", "fc"],
    P:
      [64, 128, 256, 256, 512, 512, 512, 512].reduce((acc, c, i, cs) => acc + 9 * (i ? cs[i - 1]! : 3) * c + c, 0) +
      5130,
    S: 18,
  },
];

/** Every leaf in exactly one group; assignment agrees with the groups; sizes and labels consistent. */
function expectCovers(part: Partition, paths: string[]) {
  expect(part.leafPaths).toEqual(paths);
  expect(part.size).toBe(part.groups.length);
  const all = part.groups.flatMap((g) => g.paths);
  expect([...all].sort()).toEqual([...paths].sort());
  expect(new Set(all).size).toBe(all.length);
  for (const g of part.groups) expect(g.paths.length).toBeGreaterThan(0);
  expect(new Set(part.groups.map((g) => g.label)).size).toBe(part.size);
  part.assignment.forEach((a, i) => {
    expect(typeof a).toBe("number");
    expect(part.groups[a as number]!.paths).toContain(paths[i]);
  });
}

/** Hand-written block membership: which block each non-last layer belongs to. */
function expectBlocks(part: Partition, op: string, layers: string[], blockOf: number[], k: number) {
  const body = layers.slice(0, -1);
  const last = layers.at(-1)!;
  const want: { label: string; paths: string[] }[] = [];
  for (let b = 0; b < k; b++) {
    const members = body.filter((_, i) => blockOf[i] === b);
    want.push({ label: `${op}${b}.weights`, paths: members.map((l) => `${l}.w`) });
    want.push({ label: `${op}${b}.biases`, paths: members.map((l) => `${l}.b`) });
  }
  want.push({ label: `${last}.w`, paths: [`${last}.w`] }, { label: `${last}.b`, paths: [`${last}.b`] });
  expect(part.size).toBe(2 * k + 2);
  expect(part.groups.map((g) => ({ label: g.label, paths: [...g.paths] }))).toEqual(want);
}

for (const model of MODELS) {
  describe(`builders on ${model.name}`, () => {
    let params: Params;
    const paths = pathsOf(model.layers);
    const n = model.layers.length - 1;
    beforeAll(() => {
      params = model.make();
    });
    afterAll(() => hd.dispose(params));

    it("the fixture has the paper's parameter count", () => {
      const total = hd
        .treeLeaves(params)
        .reduce((acc: number, l) => acc + hd.shapeOf(l as Value).reduce((a, b) => a * b, 1), 0);
      expect(total).toBe(model.P);
    });

    it(`canonical: S = ${model.S}, one group per tensor labelled by its path`, () => {
      const part = canonical(params);
      expectCovers(part, paths);
      expect(part.size).toBe(model.S);
      expect(part.groups.map((g) => g.label)).toEqual(paths);
      expect(part.groups.map((g) => g.paths)).toEqual(paths.map((p) => [p]));
      expect(part.leafShapes.map((s) => [...s])).toEqual(hd.treeLeaves(params).map((l) => hd.shapeOf(l as Value)));
    });

    it("trivial: one group 'all'", () => {
      const part = trivial(params);
      expectCovers(part, paths);
      expect(part.size).toBe(1);
      expect(part.groups[0]!.label).toBe("all");
    });

    it("weightsBiases: S = 2, 'weights' and 'biases'", () => {
      const part = weightsBiases(params);
      expectCovers(part, paths);
      expect(part.groups.map((g) => ({ label: g.label, paths: [...g.paths] }))).toEqual([
        { label: "weights", paths: model.layers.map((l) => `${l}.w`) },
        { label: "biases", paths: model.layers.map((l) => `${l}.b`) },
      ]);
    });

    it("layersOf: one layer per parent path, in order", () => {
      expect(layersOf(params)).toEqual(model.layers.map((l) => ({ name: l, paths: [`${l}.w`, `${l}.b`] })));
    });

    it(`blocks(k), k = 1…${n}: consecutive, balanced blocks split into weights/biases, the last layer alone (2k + 2)`, () => {
      for (let k = 1; k <= n; k++) {
        const part = blocks(params, k);
        expectCovers(part, paths);
        // Layer i of the n before the last goes to block ⌊i·k/n⌋: consecutive blocks whose sizes differ by ≤ 1.
        const blockOf = Array.from({ length: n }, (_, i) => Math.floor((i * k) / n));
        expectBlocks(part, "block", model.layers, blockOf, k);
        const sizes = Array.from({ length: k }, (_, b) => blockOf.filter((x) => x === b).length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    });

    it(`alternate(k), k = 1…${n}: layer i in block i mod k, the last layer alone (2k + 2)`, () => {
      for (let k = 1; k <= n; k++) {
        const part = alternate(params, k);
        expectCovers(part, paths);
        expectBlocks(
          part,
          "alternate",
          model.layers,
          Array.from({ length: n }, (_, i) => i % k),
          k,
        );
      }
    });

    it("blocks / alternate with k larger than the layers before the last, or not a positive integer, throw", () => {
      for (const build of [blocks, alternate]) {
        expect(() => build(params, n + 1)).toThrow(PartitionError);
        expect(() => build(params, n + 1)).toThrow(new RegExp(`k = ${n + 1} exceeds the ${n} layers`));
        for (const k of [0, -1, 1.5, NaN])
          expect(() => build(params, k), `k = ${k}`).toThrow(/k must be a positive integer/);
      }
    });

    it("defaultChunkSize batches all S directions while S·P fits BATCHED_SCALARS, else fewer (at least 1)", () => {
      for (const part of [canonical(params), weightsBiases(params), blocks(params, 1)]) {
        const want = Math.max(1, Math.min(part.size, Math.floor(BATCHED_SCALARS / model.P)));
        expect(defaultChunkSize(part)).toBe(want);
      }
    });

    it("discrete refuses more than DISCRETE_LIMIT scalars", () => {
      expect(() => discrete(params)).toThrow(PartitionError);
      expect(() => discrete(params)).toThrow(new RegExp(`${model.P} scalars exceed the limit of ${DISCRETE_LIMIT}`));
    });
  });
}

describe("defaultChunkSize by hand", () => {
  const fake = (S: number, shapes: number[][]): Partition => ({
    size: S,
    groups: Array.from({ length: S }, (_, s) => ({ label: `g${s}`, paths: [`g${s}`] })),
    leafPaths: shapes.map((_, i) => `g${i}`),
    leafShapes: shapes,
    assignment: shapes.map((_, i) => i),
  });
  it("S when S·P ≤ BATCHED_SCALARS, ⌊BATCHED_SCALARS/P⌋ when not, 1 when P alone exceeds it", () => {
    expect(BATCHED_SCALARS).toBeGreaterThan(0);
    expect(defaultChunkSize(fake(3, [[10], [5, 2], [1]]))).toBe(3);
    const P = Math.floor(BATCHED_SCALARS / 4) + 1; // 4 directions of P scalars just exceed the budget
    expect(defaultChunkSize(fake(4, [[P - 1], [1], [0], [0]]))).toBe(3);
    expect(defaultChunkSize(fake(2, [[BATCHED_SCALARS + 1], [1]]))).toBe(1);
  });
  it("VGG-11' (≈9.2M parameters, S = 18) is batched in chunks of ⌊25M / P⌋ = 2 when BATCHED_SCALARS is 25M", () => {
    const vgg = paperVgg();
    expect(defaultChunkSize(canonical(vgg))).toBe(Math.floor(BATCHED_SCALARS / MODELS[2]!.P));
    hd.dispose(vgg);
  });
});

describe("specific blocks by hand", () => {
  it("MLP blocks(2): {fc1, fc2}, {fc3}; alternate(2): {fc1, fc3}, {fc2}; VGG blocks(3): conv1-3, conv4-6, conv7-8", () => {
    const mlp = paperMlp();
    const vgg = paperVgg();
    const members = (part: Partition) => part.groups.map((g) => g.paths.join(" "));
    expect(members(blocks(mlp, 2))).toEqual(["fc1.w fc2.w", "fc1.b fc2.b", "fc3.w", "fc3.b", "fc4.w", "fc4.b"]);
    expect(members(alternate(mlp, 2))).toEqual(["fc1.w fc3.w", "fc1.b fc3.b", "fc2.w", "fc2.b", "fc4.w", "fc4.b"]);
    expect(members(blocks(vgg, 3))).toEqual([
      "conv1.w conv2.w conv3.w",
      "conv1.b conv2.b conv3.b",
      "conv4.w conv5.w conv6.w",
      "conv4.b conv5.b conv6.b",
      "conv7.w conv8.w",
      "conv7.b conv8.b",
      "fc.w",
      "fc.b",
    ]);
    expect(members(alternate(vgg, 3))).toEqual([
      "conv1.w conv4.w conv7.w",
      "conv1.b conv4.b conv7.b",
      "conv2.w conv5.w conv8.w",
      "conv2.b conv5.b conv8.b",
      "conv3.w conv6.w",
      "conv3.b conv6.b",
      "fc.w",
      "fc.b",
    ]);
    hd.dispose([mlp, vgg]);
  });

  it("blocks on a single layer throws", () => {
    const p = { fc: { w: hd.zeros([2, 2]), b: hd.zeros([2]) } };
    expect(() => blocks(p, 1)).toThrow(/needs at least 2 layers, found 1/);
    hd.dispose(p);
  });
});

describe("byName, discrete, fromGroups", () => {
  let params: Params;
  beforeAll(() => {
    params = paperLeNet();
  });
  afterAll(() => hd.dispose(params));

  it("byName groups by globs (* within a segment, ** across) and RegExps", () => {
    const part = byName(params, { convs: "conv*.*", dense: ["fc*.w", /^fc\d\.b$/] });
    expectCovers(part, pathsOf(["conv1", "conv2", "fc1", "fc2", "fc3"]));
    expect(part.groups.map((g) => [g.label, g.paths.join(" ")])).toEqual([
      ["convs", "conv1.w conv1.b conv2.w conv2.b"],
      ["dense", "fc1.w fc1.b fc2.w fc2.b fc3.w fc3.b"],
    ]);
    expect(byName(params, { weights: "**.w", biases: "**b" }).groups.map((g) => g.paths.length)).toEqual([5, 5]);
    expect(() => byName(params, { all: "conv*", rest: "fc*.*" })).toThrow(/matching no parameter: all/);
    const nestedTree = { enc: { l1: { w: hd.zeros([1]) }, l2: { w: hd.zeros([1]) } }, head: { w: hd.zeros([1]) } };
    expect(byName(nestedTree, { enc: "enc.**", head: "head.*" }).groups.map((g) => g.paths)).toEqual([
      ["enc.l1.w", "enc.l2.w"],
      ["head.w"],
    ]);
    expect(() => byName(nestedTree, { enc: "enc.*", head: "head.*" })).toThrow(/matching no parameter: enc/);
    hd.dispose(nestedTree);
    const all = byName(params, { all: "**" });
    expect(all.size).toBe(1);
    // '*' does not cross segments: "*" alone matches no dotted path.
    expect(() => byName(params, { all: "**", top: "*" })).toThrow(/label\(s\) matching no parameter: top/);
    // '.' is literal, not a RegExp wildcard.
    expect(() => byName(params, { a: "conv1xw", rest: "**" })).toThrow(/matching no parameter: a/);
  });

  it("byName: RegExps with the stateful g / y flags match every path (lastIndex is not carried over)", () => {
    const part = byName(params, { convs: /conv/g, dense: /fc/gy });
    expect(part.groups.map((g) => g.paths.length)).toEqual([4, 6]);
    const re = /\.w$/g;
    const wb = byName(params, { weights: re, biases: /b/g });
    expect(wb.groups.map((g) => g.paths.length)).toEqual([5, 5]);
    expect(re.lastIndex).toBe(0);
  });

  it("byName: an ambiguous path and a label matching nothing are PartitionErrors naming them", () => {
    expect(() => byName(params, { first: "conv1.*", weights: "*.w", rest: "**" })).toThrow(PartitionError);
    expect(() => byName(params, { first: "conv1.*", weights: "*.w" })).toThrow(
      /matched by more than one label: conv1\.w \(matches first, weights\)/,
    );
    expect(() => byName(params, { all: "**", ghost: "lstm.*" })).toThrow(PartitionError);
    expect(() => byName(params, { all: "**", ghost: "lstm.*" })).toThrow(/label\(s\) matching no parameter: ghost/);
    // A leaf matched by no label.
    expect(() => byName(params, { convs: "conv*.*", weights: "fc*.w" })).toThrow(PartitionError);
    expect(() => byName(params, { convs: "conv*.*", weights: "fc*.w" })).toThrow(/in no group: fc1\.b, fc2\.b, fc3\.b/);
  });

  it("fromGroups: unknown, duplicated and missing paths, and empty groups, are named", () => {
    const rest = ["conv2.w", "conv2.b", "fc1.w", "fc1.b", "fc2.w", "fc2.b", "fc3.w", "fc3.b"];
    const ok = fromGroups(params, [
      { label: "first", paths: ["conv1.w", "conv1.b"] },
      { label: "rest", paths: rest },
    ]);
    expect(ok.size).toBe(2);
    const bad = (groups: { label: string; paths: string[] }[]) => () => fromGroups(params, groups);
    const unknown = bad([
      { label: "first", paths: ["conv1.w", "conv1.b", "conv9.w"] },
      { label: "rest", paths: rest },
    ]);
    expect(unknown).toThrow(PartitionError);
    expect(unknown).toThrow(/unknown parameter path\(s\): conv9\.w/);
    const dup = bad([
      { label: "first", paths: ["conv1.w", "conv1.b", "fc1.w"] },
      { label: "rest", paths: rest },
    ]);
    expect(dup).toThrow(PartitionError);
    expect(dup).toThrow(/more than one group: fc1\.w \(in 'first' and 'rest'\)/);
    const missing = bad([
      { label: "first", paths: ["conv1.w"] },
      { label: "rest", paths: rest.filter((p) => p !== "fc3.b") },
    ]);
    expect(missing).toThrow(PartitionError);
    expect(missing).toThrow(/in no group: conv1\.b, fc3\.b/);
    const empty = bad([
      { label: "first", paths: ["conv1.w", "conv1.b"] },
      { label: "nothing", paths: [] },
      { label: "rest", paths: rest },
    ]);
    expect(empty).toThrow(PartitionError);
    expect(empty).toThrow(/group 'nothing' is empty/);
    const dupLabel = bad([
      { label: "x", paths: ["conv1.w", "conv1.b"] },
      { label: "x", paths: rest },
    ]);
    expect(dupLabel).toThrow(/duplicate group label\(s\): x/);
    expect(() => fromGroups({}, [])).toThrow(/no leaves/);
  });

  it("discrete: one group per scalar, labelled path[i], at most DISCRETE_LIMIT scalars", () => {
    const small = { a: hd.zeros([2, 2]), b: hd.zeros([3]) };
    const part = discrete(small);
    expect(part.size).toBe(7);
    expect(part.groups.map((g) => g.label)).toEqual(["a[0]", "a[1]", "a[2]", "a[3]", "b[0]", "b[1]", "b[2]"]);
    expect(part.groups.map((g) => g.paths)).toEqual([["a"], ["a"], ["a"], ["a"], ["b"], ["b"], ["b"]]);
    expect(part.assignment.map((a) => Array.from(a as Int32Array))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6],
    ]);
    const atLimit = { w: hd.zeros([DISCRETE_LIMIT - 10]), b: hd.zeros([10]) };
    expect(discrete(atLimit).size).toBe(DISCRETE_LIMIT);
    const over = { w: hd.zeros([DISCRETE_LIMIT - 10]), b: hd.zeros([11]) };
    expect(() => discrete(over)).toThrow(PartitionError);
    expect(() => discrete(over)).toThrow(
      new RegExp(`${DISCRETE_LIMIT + 1} scalars exceed the limit of ${DISCRETE_LIMIT}`),
    );
    hd.dispose([small, atLimit, over]);
  });
});

describe("partitionedDerivative / summaries / taylorTerms reject params and directions that do not fit", () => {
  const f = (p: { fc1: { w: Value; b: Value }; fc2?: { w: Value; b: Value } }) => hd.sum(hd.square(p.fc1.w));
  let params: { fc1: { w: Value; b: Value } };
  let part: Partition;
  beforeAll(() => {
    params = { fc1: { w: hd.ones([2, 3]), b: hd.ones([3]) } };
    part = canonical(params);
  });
  afterAll(() => hd.dispose(params));

  it("params with other leaves: PartitionError naming both leaf lists", () => {
    const other = { fc1: { w: hd.ones([2, 3]), bias: hd.ones([3]) } };
    const call = () => partitionedDerivative(2, part)(f as never)(other as never, other as never);
    expect(call).toThrow(PartitionError);
    expect(call).toThrow(/built for leaves \[fc1\.w, fc1\.b\], but params has \[fc1\.w, fc1\.bias\]/);
    const extra = { fc1: { w: hd.ones([2, 3]), b: hd.ones([3]) }, fc2: { w: hd.ones([1]), b: hd.ones([1]) } };
    expect(() => partitionedDerivative(1, part)(f)(extra, extra)).toThrow(
      /but params has \[fc1\.w, fc1\.b, fc2\.w, fc2\.b\]/,
    );
    expect(() => summaries(f as never, part)(extra, extra)).toThrow(PartitionError);
    expect(() => summaries(f as never, part)(extra, extra)).toThrow(/^summaries: /);
    hd.dispose([other, extra]);
  });

  it("params with a leaf of another shape: PartitionError naming the path and shapes", () => {
    const reshaped = { fc1: { w: hd.ones([3, 2]), b: hd.ones([3]) } };
    const call = () => partitionedDerivative(2, part)(f)(reshaped, reshaped);
    expect(call).toThrow(PartitionError);
    expect(call).toThrow(/params\.fc1\.w has shape \[3,2\], the partition expects \[2,3\]/);
    hd.dispose(reshaped);
  });

  it("a direction of the wrong shape or structure is an error naming the path", () => {
    const badShape = { fc1: { w: hd.ones([2, 3]), b: hd.ones([4]) } };
    const call = () => partitionedDerivative(2, part)(f)(params, badShape);
    // Implementation choice: a shape mismatch between params and direction is a core ShapeError.
    expect(call).toThrow(hd.ShapeError);
    expect(call).toThrow(/differ at fc1\.b: float32\[3\] vs float32\[4\]/);
    expect(() => summaries(f as never, part)(params, badShape)).toThrow(/differ at fc1\.b/);
    const badTree = { fc1: { w: hd.ones([2, 3]) } };
    expect(() => partitionedDerivative(1, part)(f)(params, badTree as never)).toThrow(hd.HodiffError);
    expect(() => partitionedDerivative(1, part)(f)(params, badTree as never)).toThrow(/direction/);
    hd.dispose([badShape, badTree]);
  });

  it("errors leave no tensors behind", () => {
    const before = hd.numTensors();
    const badShape = { fc1: { w: hd.ones([2, 3]), b: hd.ones([4]) } };
    expect(() => partitionedDerivative(2, part)(f)(params, badShape)).toThrow();
    expect(() => taylorTerms(2)(f)(params, badShape)).toThrow();
    hd.dispose(badShape);
    expect(hd.numTensors()).toBe(before);
  });
});
