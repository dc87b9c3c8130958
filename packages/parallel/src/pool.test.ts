import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as hd from "@hodiff/core";
import { canonical, summaries, type Summaries } from "@hodiff/partition";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, type Pool } from "./pool";
import type { TestInit, TestModel } from "./testing/models";
import { relDiff, setup } from "./testing/batch";
import type { Params, TaskBatch } from "./task";

const TASK = new URL("./testing/models.ts", import.meta.url);

/** relDiff of the pool's gradient against one thread's on this batch (both freed). */
function gradDiff(pool: Pool, params: Params, batch: TaskBatch): number {
  const got = pool.valueAndGrad(params, batch);
  const [wantLoss, want] = hd.valueAndGrad((p: Params) => pool.loss(p, batch))(params);
  const diff = relDiff(got.grads, want);
  hd.dispose([got.grads, wantLoss, want]);
  return diff;
}

function expectSummariesClose(got: Summaries, want: Summaries, rtol: number) {
  const flat = (s: Summaries) => [s.loss, ...s.gbar, ...s.hbar.flat(), ...s.order3Diag];
  const g = flat(got);
  const w = flat(want);
  const scale = Math.max(...w.map(Math.abs));
  w.forEach((v, i) => expect(Math.abs(g[i]! - v)).toBeLessThanOrEqual(rtol * scale));
}

describe.each<[TestModel, number, number]>([
  ["tiny-mlp", 7, 2], // 7 = 4 + 3
  ["tiny-mlp", 7, 3], // 3 + 2 + 2
  ["tiny-cnn", 5, 2],
  ["mlp", 100, 2], // the paper's MLP at its batch size
])("pool(%s, B = %i, threads = %i) equals one thread", (name, B, threads) => {
  let pool: Pool;
  const init: TestInit = { model: name };
  beforeAll(async () => {
    await hd.setBackend("wasm");
    pool = await createPool({ task: TASK, init, threads });
  });
  afterAll(() => pool.close());

  it("loss and gradient", () => {
    const { params, x, labels } = setup(name, B, 3);
    const before = hd.numTensors();
    const got = pool.valueAndGrad(params, { x, labels });
    expect(hd.numTensors() - before).toBe(hd.treeLeaves(got.grads).length); // only the result
    const [wantLoss, want] = hd.valueAndGrad((p: Params) => pool.loss(p, { x, labels }))(params);
    expect(Math.abs(got.loss - hd.item(wantLoss))).toBeLessThanOrEqual(1e-5 * Math.abs(hd.item(wantLoss)));
    expect(relDiff(got.grads, want)).toBeLessThan(1e-5);
    expect(hd.treePaths(hd.treeFlatten(got.grads)[1])).toEqual(hd.treePaths(hd.treeFlatten(params)[1]));
    hd.dispose([got.grads, wantLoss, want, params, x]);
  });

  it("summaries (L, ḡ, H̄, order-3 diagonal) along a direction", () => {
    const { params, x, labels, u } = setup(name, B, 5);
    const partition = canonical(params);
    const before = hd.numTensors();
    const got = pool.summaries(params, u, { x, labels }, partition);
    expect(hd.numTensors()).toBe(before);
    const want = summaries((p: never) => pool.loss(p, { x, labels }), partition)(params, u);
    expectSummariesClose(got, want, 1e-4);
    hd.dispose([params, x, u]);
  });
});

describe.each<[TestModel, number]>([
  ["tiny-mlp", 7],
  ["tiny-cnn", 5],
])("pool(%s, B = %i, threads = 2, jit: true)", (name, B) => {
  beforeAll(() => hd.setBackend("wasm"));

  it("equals one thread's eager gradient; later calls leave only their result; close frees the plans", async () => {
    const start = hd.numTensors();
    const pool = await createPool({ task: TASK, init: { model: name }, threads: 2, jit: true, split: "even" });
    const { params, x, labels, u } = setup(name, B, 4);
    const [wantLoss, want] = hd.valueAndGrad((p: Params) => pool.loss(p, { x, labels }))(params);
    for (let call = 0; call < 3; call++) {
      const before = hd.numTensors();
      const got = pool.valueAndGrad(params, { x, labels });
      // the first call compiles this thread's plan, whose constants stay until close
      if (call > 0) expect(hd.numTensors() - before).toBe(hd.treeLeaves(got.grads).length);
      expect(Math.abs(got.loss - hd.item(wantLoss))).toBeLessThanOrEqual(1e-5 * Math.abs(hd.item(wantLoss)));
      expect(relDiff(got.grads, want)).toBeLessThan(1e-5);
      hd.dispose(got.grads);
    }
    // other labels, same shape: the plans take labels as arguments (a constant would keep the first call's)
    const other = labels.map((c, i) => (c + 1 + i) % 3);
    const g2 = pool.valueAndGrad(params, { x, labels: other });
    const [l2, w2] = hd.valueAndGrad((p: Params) => pool.loss(p, { x, labels: other }))(params);
    expect(relDiff(g2.grads, w2)).toBeLessThan(1e-5);
    expect(relDiff(g2.grads, want)).toBeGreaterThan(1e-3);
    hd.dispose([g2.grads, l2, w2]);
    // a smaller batch: new plans in every thread, the same gradient
    const small = setup(name, 3, 6);
    const got = pool.valueAndGrad(small.params, { x: small.x, labels: small.labels });
    const [l, w] = hd.valueAndGrad((p: Params) => pool.loss(p, { x: small.x, labels: small.labels }))(small.params);
    expect(relDiff(got.grads, w)).toBeLessThan(1e-5);
    hd.dispose([got.grads, l, w, small.params, small.x, small.u, wantLoss, want, params, x, u]);
    await pool.close();
    expect(hd.numTensors()).toBe(start);
  });
});

describe("pool edge cases", () => {
  beforeAll(() => hd.setBackend("wasm"));

  it("a batch smaller than the pool leaves workers idle; one example still works", async () => {
    await using pool = await createPool({ task: TASK, init: { model: "tiny-mlp" }, threads: 3 });
    const { params, x, labels } = setup("tiny-mlp", 1, 9);
    expect(gradDiff(pool, params, { x, labels })).toBeLessThan(1e-6);
    hd.dispose([params, x]);
  });

  it("threads = 1 starts no worker and computes on the calling thread", async () => {
    await using pool = await createPool({ task: TASK, init: { model: "tiny-mlp" }, threads: 1 });
    const { params, x, labels } = setup("tiny-mlp", 4, 2);
    expect(gradDiff(pool, params, { x, labels })).toBe(0);
    hd.dispose([params, x]);
  });

  it("a worker's error reaches the caller, naming the worker", async () => {
    // B = 5 on 2 threads: the worker gets 2 examples and its loss throws on a part of 2.
    await using pool = await createPool({ task: TASK, init: { model: "tiny-mlp", failOn: 2 }, threads: 2 });
    const { params, x, labels } = setup("tiny-mlp", 5, 1);
    const before = hd.numTensors();
    expect(() => pool.valueAndGrad(params, { x, labels })).toThrow(/worker 1 failed: test task: refusing a part of 2/);
    expect(hd.numTensors()).toBe(before);
    hd.dispose([params, x]);
  });

  it("after a failure on this thread's part, the next call gets its own answers (none left over)", async () => {
    // B = 5 on 2 threads: this thread's part has 3 examples, and the loss throws on a part of 3.
    // split "even": the second call must go to the worker too (a measured split may run it here alone).
    await using pool = await createPool({
      task: TASK,
      init: { model: "tiny-mlp", failOn: 3 },
      threads: 2,
      split: "even",
    });
    const { params, x, labels } = setup("tiny-mlp", 5, 1);
    expect(() => pool.valueAndGrad(params, { x, labels })).toThrow(/refusing a part of 3/);
    // B = 4: parts of 2 and 2 — the worker's answer must be this call's, not the one of B = 5.
    const x4 = hd.slice(x, [0, 0], [4, 6]);
    expect(gradDiff(pool, params, { x: x4, labels: labels.subarray(0, 4) })).toBeLessThan(1e-6);
    hd.dispose([params, x, x4]);
  });

  it("a worker that dies during a call makes the call fail, not hang", async () => {
    // B = 5 on 2 threads: the worker's part has 2 examples, and its thread exits there.
    await using pool = await createPool({ task: TASK, init: { model: "tiny-mlp", exitOn: 2 }, threads: 2 });
    const { params, x, labels } = setup("tiny-mlp", 5, 1);
    expect(() => pool.valueAndGrad(params, { x, labels })).toThrow(/worker 1 has exited/);
    hd.dispose([params, x]);
  });

  it("θ and u kept by the workers between calls are always this call's (no stale arrays)", async () => {
    // split "even": every call goes to the worker (a measured split may run some here alone).
    await using pool = await createPool({ task: TASK, init: { model: "tiny-mlp" }, threads: 2, split: "even" });
    const a = setup("tiny-mlp", 6, 1);
    const b = setup("tiny-mlp", 6, 2);
    // θ: a, a (kept), b (new values), a again (new version, the same leaves as before).
    for (const params of [a.params, a.params, b.params, a.params])
      expect(gradDiff(pool, params, { x: a.x, labels: a.labels })).toBeLessThan(1e-6);
    // u: a's, then b's, on the same θ.
    const partition = canonical(a.params);
    for (const u of [a.u, b.u, a.u]) {
      const got = pool.summaries(a.params, u, { x: a.x, labels: a.labels }, partition);
      const want = summaries((p: never) => pool.loss(p, { x: a.x, labels: a.labels }), partition)(a.params, u);
      expectSummariesClose(got, want, 1e-5);
    }
    hd.dispose([a.params, a.x, a.u, b.params, b.x, b.u]);
  });

  it("split 'even' gives the same bits on every call; 'measured' stays equal to one thread call after call", async () => {
    const { params, x, labels } = setup("tiny-mlp", 9, 4);
    await using even = await createPool({ task: TASK, init: { model: "tiny-mlp" }, threads: 2, split: "even" });
    const first = even.valueAndGrad(params, { x, labels });
    const firstFlat = hd.treeLeaves(first.grads).flatMap((g) => Array.from(hd.toFlat(g as hd.Value)));
    for (let i = 0; i < 3; i++) {
      const again = even.valueAndGrad(params, { x, labels });
      expect(again.loss).toBe(first.loss);
      expect(hd.treeLeaves(again.grads).flatMap((g) => Array.from(hd.toFlat(g as hd.Value)))).toEqual(firstFlat);
      hd.dispose(again.grads);
    }
    // Measured: calls on the pool and, where that is measured faster, on this thread alone.
    await using measured = await createPool({ task: TASK, init: { model: "tiny-mlp" }, threads: 2, trace: true });
    const threadsUsed = new Set<number>();
    for (let i = 0; i < 20; i++) {
      expect(gradDiff(measured, params, { x, labels })).toBeLessThan(1e-6);
      measured.lastTrace().forEach((e) => threadsUsed.add(e.thread));
    }
    expect(threadsUsed).toEqual(new Set([0, 1]));
    const state = measured.splitState().grad;
    expect(state.calls).toBe(20);
    expect(state.soloCalls).toBeGreaterThanOrEqual(3); // the warm-up's calls 1, 9 and 17 at least
    expect(state.shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    hd.dispose([first.grads, params, x]);
  });

  it("works on the cpu backend too: two calls with other θ and batches, each equal to one thread", async () => {
    await hd.setBackend("cpu");
    try {
      await using pool = await createPool({ task: TASK, init: { model: "tiny-mlp" }, threads: 2, split: "even" });
      const a = setup("tiny-mlp", 6, 1);
      const b = setup("tiny-mlp", 6, 2);
      const first = pool.valueAndGrad(a.params, { x: a.x, labels: a.labels });
      // The second call overwrites θ, the batch and the gradient slot in the arena; the first's result stays.
      expect(gradDiff(pool, b.params, { x: b.x, labels: b.labels })).toBeLessThan(1e-6);
      const [, want] = hd.valueAndGrad((p: Params) => pool.loss(p, { x: a.x, labels: a.labels }))(a.params);
      expect(relDiff(first.grads, want)).toBeLessThan(1e-6);
      hd.dispose([first.grads, want, a.params, a.x, b.params, b.x, a.u, b.u]);
    } finally {
      await hd.setBackend("wasm");
    }
  });

  it("trace: true records both threads' timeline of the last call", async () => {
    await using pool = await createPool({ task: TASK, init: { model: "tiny-mlp" }, threads: 2, trace: true });
    const { params, x, labels } = setup("tiny-mlp", 4, 2);
    expect(pool.lastTrace()).toEqual([]);
    hd.dispose(pool.valueAndGrad(params, { x, labels }).grads);
    const trace = pool.lastTrace();
    expect(new Set(trace.map((e) => e.thread))).toEqual(new Set([0, 1]));
    expect(trace.map((e) => e.phase)).toContain("own part computed");
    expect(trace.map((e) => e.phase)).toContain("worker: gradient computed");
    expect(trace.map((e) => e.phase)).toContain("worker: gradient written to the arena");
    trace.forEach((e, i) => i > 0 && expect(e.ms).toBeGreaterThanOrEqual(trace[i - 1]!.ms));
    hd.dispose([params, x]);
  });

  it("a closed pool refuses calls; closing twice is fine", async () => {
    const pool = await createPool({ task: TASK, init: { model: "tiny-mlp" }, threads: 2 });
    await pool.close();
    await pool.close();
    const { params, x, labels } = setup("tiny-mlp", 4, 2);
    expect(() => pool.valueAndGrad(params, { x, labels })).toThrow(/closed/);
    hd.dispose([params, x]);
  });

  it("a task module without a default export is refused clearly", async () => {
    await expect(createPool({ task: new URL("./shards.ts", import.meta.url), threads: 2 })).rejects.toThrow(
      /no default export made with defineTask/,
    );
  });
});

describe("the process ends", () => {
  // A child node process (tsx, like the CLI) that uses a pool; it must exit by itself.
  const run = (arg: string) =>
    spawnSync(
      process.execPath,
      ["--import", "tsx", fileURLToPath(new URL("./testing/exits.ts", import.meta.url)), arg],
      {
        encoding: "utf8",
        timeout: 60_000,
      },
    );
  it.each(["close", "forget"])("after a pool is used (%s)", (arg) => {
    const r = run(arg);
    expect(r.error).toBeUndefined(); // no ETIMEDOUT: nothing kept it alive
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^loss \d+\.\d{4}$/m);
  });
});
