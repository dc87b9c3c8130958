/**
 * `npx tsx bench/summariesMemory.ts [hbar|diag] [--no-remat]`: peak tensor memory (tf.profile) of
 * one chunk of NewtonSummary's summaries on VGG-11' at B' = 100 — the H̄ pass (vmap of jvp of
 * grad over the default chunk of group directions) or the first Taylor-mode pass of the order-3
 * diagonal. `--no-remat` builds VGG-11' without its per-block checkpoints.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import { vgg11, nll } from "@hodiff/nn";
import { canonical, defaultChunkSize } from "@hodiff/partition";
import { alongGroups } from "../packages/partition/src/derivative";

await hd.useDefaultBackend();
const what = process.argv.includes("diag") ? "diag" : "hbar";
const remat = !process.argv.includes("--no-remat");
const B = 100;
const model = vgg11({ checkpoint: remat });
const params = model.init(hd.random.key(0));
const x = hd.random.normal(hd.random.key(1), [B, 32, 32, 3]);
const y = Int32Array.from({ length: B }, (_, i) => i % 10);
const loss = (p: typeof params) => nll(model.apply(p, x), y);
const part = canonical(params);
const S = part.size;
const chunk = defaultChunkSize(part);
const u = hd.grad(loss)(params);
const MiB = (b: number) => Math.round(b / 2 ** 20);

function hbarChunk() {
  const { g, alpha0 } = alongGroups("summaries", part, loss as never, params, u);
  const eye = Float32Array.from({ length: S * S }, (_, i) => (i % (S + 1) === 0 ? 1 : 0));
  const E = hd.slice(hd.array(eye, { shape: [S, S] }), [0, 0], [chunk, S]);
  return hd.vmap((e: Value) => hd.jvp(hd.valueAndGrad(g), [alpha0], [e]), 0, [
    [null, null],
    [0, 0],
  ])(E);
}

function diagChunk() {
  // The first pass of the order-3 diagonal: multiJet along the first `chunk` group paths.
  const [leaves, def] = hd.treeFlatten(params);
  const dirs = hd.treeLeaves(u) as Value[];
  const fl = (...ls: Value[]) => loss(hd.treeUnflatten(def, ls) as never);
  const paths = [...Array(chunk).keys()].map((s) =>
    leaves.map((_, i) => (part.assignment[i] === s ? [dirs[i]!, null, null] : [null, null, null])),
  );
  return hd.multiJet(fl, leaves as Value[], paths);
}

const t0 = performance.now();
const row = { what, model: "vgg11", B, S, chunk, remat };
try {
  const info = await tf.profile(() => {
    hd.dispose(hd.tidy(() => (what === "hbar" ? hbarChunk() : diagChunk())));
    return [] as tf.Tensor[];
  });
  const seconds = Math.round((performance.now() - t0) / 1000);
  console.log(
    JSON.stringify({ ...row, seconds, peakMiB: MiB(info.peakBytes), rssMiB: MiB(process.memoryUsage().rss) }),
  );
} catch (e) {
  const seconds = Math.round((performance.now() - t0) / 1000);
  console.log(
    JSON.stringify({ ...row, seconds, error: String(e).slice(0, 200), rssMiB: MiB(process.memoryUsage().rss) }),
  );
}
