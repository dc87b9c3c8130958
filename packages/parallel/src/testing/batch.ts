/** Shared by the pool's tests: a random batch for a test model, and the relative gap between two gradients. */
import * as hd from "@hodiff/core";
import type { Params } from "../task";
import { testModel, type TestModel } from "./models";

/** A random batch of `B` examples for `model` (labels `(i · labelStep + seed) mod classes`), its parameters and a direction u. */
export function setup(name: TestModel, B: number, seed: number, labelStep = 7) {
  const model = testModel(name);
  const params = model.init(hd.random.key(seed)) as Params;
  const x = hd.random.normal(hd.random.key(seed + 1), [B, ...model.inputShape]);
  const labels = Int32Array.from({ length: B }, (_, i) => (i * labelStep + seed) % model.numClasses);
  const u = hd.tidy(() =>
    hd.treeMap((p: hd.Value) => hd.random.normal(hd.random.key(seed + 2), hd.shapeOf(p)), params),
  ) as Params;
  return { model, params, x, labels, u };
}

/** max |a − b| over every leaf, relative to max |b| (float32 sums in another order differ by a few ulp). */
export function relDiff(a: Params, b: Params): number {
  const lb = hd.treeLeaves(b);
  let diff = 0;
  let scale = 0;
  hd.treeLeaves(a).forEach((x, i) => {
    const [xa, xb] = [hd.toFlat(x), hd.toFlat(lb[i]!)];
    for (let j = 0; j < xa.length; j++) {
      diff = Math.max(diff, Math.abs(xa[j]! - xb[j]!));
      scale = Math.max(scale, Math.abs(xb[j]!));
    }
  });
  return diff / scale;
}
