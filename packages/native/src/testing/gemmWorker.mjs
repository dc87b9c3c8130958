// A worker thread for threads.test.ts: loads the addon in its own thread (Node-API: a context-aware
// module, one instance per thread) and runs sgemm on its own ArrayBuffer, `rounds` times over
// `shapes`, once alone (the reference bits) and then while the other workers do the same.
// Plain JavaScript: a worker thread starts without the TypeScript loader.
import { createRequire } from "node:module";
import { parentPort, workerData } from "node:worker_threads";

const { addonPath, seed, shapes, rounds, blasThreads, barrier } = workerData;
const addon = createRequire(import.meta.url)(addonPath);
addon.setThreads(blasThreads);

let s = seed >>> 0;
const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;

/** One product per shape, laid out in one heap: A (m×k) | B (k×n) | C (m×n), and a float64 truth. */
const cases = shapes.map(([m, n, k]) => {
  const heap = new ArrayBuffer(4 * (m * k + k * n + m * n));
  const f = new Float32Array(heap);
  for (let i = 0; i < m * k + k * n; i++) f[i] = next();
  const truth = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let acc = 0;
      let abs = 0;
      for (let l = 0; l < k; l++) {
        const p = f[i * k + l] * f[m * k + l * n + j];
        acc += p;
        abs += Math.abs(p);
      }
      truth[i * n + j] = acc;
      scale[i * n + j] = abs;
    }
  return { m, n, k, heap, f, truth, scale };
});

const run = (c) => {
  c.f.fill(NaN, c.m * c.k + c.k * c.n);
  addon.gemm(c.heap, 0, 4 * c.m * c.k, 4 * (c.m * c.k + c.k * c.n), 1, c.m, c.n, c.k, false, false);
  return c.f.slice(c.m * c.k + c.k * c.n);
};

// The bits of each product computed with no other thread in OpenBLAS.
const alone = cases.map(run);
// Wait until every worker is ready, then all start together.
Atomics.add(barrier, 0, 1);
Atomics.notify(barrier, 0);
while (Atomics.load(barrier, 0) < barrier[1]) Atomics.wait(barrier, 0, Atomics.load(barrier, 0), 50);

let worstError = 0; // |C − truth| / (Σ|aᵢbᵢ| · k · 2⁻²⁴), the worst over every product
let bitDiffs = 0; // products whose bits differ from the same product computed alone
for (let r = 0; r < rounds; r++)
  cases.forEach((c, i) => {
    const out = run(c);
    let differs = false;
    for (let e = 0; e < out.length; e++) {
      if (out[e] !== alone[i][e]) differs = true;
      const err = Math.abs(out[e] - c.truth[e]) / (c.scale[e] * c.k * 2 ** -24 + 1e-30);
      if (!(err <= worstError)) worstError = Number.isNaN(err) ? Infinity : Math.max(worstError, err);
    }
    if (differs) bitDiffs++;
  });
parentPort.postMessage({ worstError, bitDiffs, products: rounds * cases.length, threads: addon.threads() });
