/**
 * Where a model's gradient spends its time, by tfjs kernel: `npx tsx bench/profile.ts <model> [batch]`
 * (wasm; one warm-up, then one profiled gradient of the NLL on a random batch). Prints the wall time,
 * the kernels' total time by name and the slowest calls — what docs/results.md §6 quotes.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { MODELS, nll, type ModelName } from "@hodiff/nn";

const [name = "vgg11", batch = "32"] = process.argv.slice(2);
if (!(name in MODELS)) throw new Error(`unknown model '${name}'; available: ${Object.keys(MODELS).join(", ")}`);
await hd.setBackend("wasm");
const B = Number(batch);
const model = MODELS[name as ModelName]();
const params = model.init(hd.random.key(0));
const x = hd.random.normal(hd.random.key(1), [B, ...model.inputShape]);
const labels = Array.from({ length: B }, (_, i) => i % model.numClasses);
const gradient = () => {
  const g = hd.grad((p: typeof params) => nll(model.apply(p, x), labels))(params);
  for (const leaf of hd.treeLeaves(g)) hd.toFlat(leaf); // wait for the kernels
  hd.dispose(g);
};
gradient();
const start = performance.now();
const prof = await tf.profile(gradient);
type Kernel = Awaited<ReturnType<typeof tf.profile>>["kernels"][number];
const ms = (k: Kernel) => Number(k.kernelTimeMs);
const byName = new Map<string, number>();
for (const k of prof.kernels) byName.set(k.name, (byName.get(k.name) ?? 0) + ms(k));
console.log(
  `${name}, batch ${B}: gradient ${(performance.now() - start).toFixed(0)} ms, ${prof.kernels.length} kernels`,
);
console.log(
  [...byName]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([k, t]) => `${k} ${t.toFixed(0)} ms`)
    .join("; "),
);
for (const k of [...prof.kernels].sort((a, b) => ms(b) - ms(a)).slice(0, 5))
  console.log(
    `  ${k.name} ${JSON.stringify(k.inputShapes)} → ${JSON.stringify(k.outputShapes)}: ${ms(k).toFixed(0)} ms`,
  );
hd.dispose([params, x]);
