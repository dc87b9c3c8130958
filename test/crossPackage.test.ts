/** Cross-package checks: the packages fit together the way the CLI and the paper use them. */
import { describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import { MODELS, mlp, nll, paramCount, type Params } from "@hodiff/nn";
import { batches, syntheticDataset } from "@hodiff/data";
import { alternate, blocks, canonical, trivial, weightsBiases } from "@hodiff/partition";
import { applyUpdates, newtonSummary, newtonSummaryInfo } from "@hodiff/optim";

describe("partitions of the paper's models cover every parameter once", () => {
  it.each(["mlp", "lenet", "vgg11"] as const)("%s", (name) => {
    const model = MODELS[name]();
    // Zeros of each parameter's shape: partitions only look at paths and shapes.
    const params = Object.fromEntries(
      [...new Set(model.spec.map((s) => s.path.split(".")[0]!))].map((layer) => [
        layer,
        Object.fromEntries(
          model.spec
            .filter((s) => s.path.startsWith(`${layer}.`))
            .map((s) => [s.path.split(".")[1]!, hd.zeros(s.shape)]),
        ),
      ]),
    );
    const total = paramCount(model);
    const size = (p: string) => model.spec.find((s) => s.path === p)!.shape.reduce((a, b) => a * b, 1);
    for (const partition of [
      canonical(params),
      trivial(params),
      weightsBiases(params),
      blocks(params, 2),
      alternate(params, 2),
    ]) {
      const paths = partition.groups.flatMap((g) => g.paths);
      expect(new Set(paths).size).toBe(paths.length);
      expect(paths.reduce((n, p) => n + size(p), 0)).toBe(total);
    }
    expect(canonical(params).size).toBe(model.spec.length);
    hd.dispose(params);
  });
});

describe("NewtonSummary trains an @hodiff/nn model on @hodiff/data batches", () => {
  it("the loss falls and η is logged per group", () => {
    const before = hd.numTensors();
    const data = syntheticDataset({ n: 256, shape: [8], numClasses: 3, seed: 1 });
    const model = mlp([8, 12, 3], "tanh", 1, { name: "tiny", inputShape: [8] });
    let params = model.init(hd.random.key(0));
    const opt = newtonSummary({ learningRate: 0.3, period: 2, window: 1, warmup: 1 });
    let state = opt.init(params);
    const lossOn = (x: Value, y: Int32Array) => (p: Params) => nll(model.apply(p, x), y);
    const losses: number[] = [];
    for (let epoch = 0; epoch < 4; epoch++) {
      for (const batch of batches(data, { batchSize: 32, seed: 3, epoch })) {
        const x = hd.array(batch.images, { shape: batch.shape });
        const [loss, grads] = hd.valueAndGrad(lossOn(x, batch.labels))(params);
        losses.push(hd.item(loss));
        const next = opt.update(state, params, grads, { loss: lossOn(x, batch.labels) });
        const newParams = applyUpdates(params, next.updates);
        hd.dispose([x, loss, grads, next.updates, params, state]);
        params = newParams;
        state = next.state;
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-8))).toBeLessThan(0.7 * mean(losses.slice(0, 8)));
    expect(newtonSummaryInfo(state).eta).not.toBeNull();
    expect(newtonSummaryInfo(state).eta!.length).toBe(4); // fc1.w, fc1.b, fc2.w, fc2.b
    hd.dispose([params, state]);
    expect(hd.numTensors()).toBe(before);
  });
});
