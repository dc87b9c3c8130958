import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import { adam, applyUpdates } from "@hodiff/optim";
import {
  BEST_FILE,
  CHECKPOINT_FILE,
  CheckpointError,
  loadCheckpoint,
  removeUnusedBins,
  repairBest,
  saveCheckpoint,
  type CheckpointMeta,
} from "./checkpoint";
import { tempDir } from "./testing/harness";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
beforeAll(async () => {
  await hd.setBackend("wasm");
});

const meta = (step: number): CheckpointMeta => ({
  epoch: 1,
  step,
  metricsLines: 3,
  lastEpochLoss: 0.5,
  rng: { seed: 1 },
  config: { model: "mlp" },
  backend: "wasm",
});

/** float32 values with awkward bits: subnormals, ±0, ±Infinity, NaN, and random words. */
function awkwardFloats(n: number): Float32Array {
  const words = new Uint32Array(n);
  for (let i = 0; i < n; i++) words[i] = (Math.imul(i + 1, 2654435761) ^ (i << 7)) >>> 0;
  const f = new Float32Array(words.buffer);
  f.set([0, -0, Infinity, -Infinity, NaN, 1e-45, -3.4028234663852886e38], 0);
  return f;
}

const bits = (t: hd.Value) => Array.from(new Uint32Array((hd.toFlat(t) as Float32Array).slice().buffer));

describe("checkpoints", () => {
  it("round-trip tensors bit for bit and plain values exactly (±Infinity, NaN, −0, undefined, typed arrays, $-keys)", async () => {
    const dir = tmp.path("roundtrip");
    mkdirSync(dir);
    const floats = hd.array(awkwardFloats(37), { shape: [37] });
    const ints = hd.array(Int32Array.from([-2147483648, 0, 7, 2147483647]), { dtype: "int32", shape: [2, 2] });
    const bools = hd.array([true, false, true], { dtype: "bool" });
    const scalar = hd.array(3.25);
    const params = { fc1: { w: floats, b: scalar } };
    const state = [
      { count: 7, best: Infinity, worst: -Infinity, nan: NaN, negZero: -0, missing: undefined, none: null },
      { trace: ints, flags: bools, eta: Float64Array.from([0.1, 1 / 3, -1e-300]), case: "indefinite", ok: true },
      { $weird: 1, nested: [[1, 2], []] },
    ];
    await saveCheckpoint(dir, meta(5), params, state);
    const ck = loadCheckpoint(dir);
    try {
      expect([ck.epoch, ck.step, ck.metricsLines, ck.lastEpochLoss, ck.backend]).toEqual([1, 5, 3, 0.5, "wasm"]);
      expect(ck.rng).toEqual({ seed: 1 });
      const p = ck.params as typeof params;
      expect(bits(p.fc1.w)).toEqual(bits(floats));
      expect(hd.shapeOf(p.fc1.w)).toEqual([37]);
      expect(hd.shapeOf(p.fc1.b)).toEqual([]);
      expect(hd.item(p.fc1.b)).toBe(3.25);
      const s = ck.optState as typeof state;
      expect(s[0]).toEqual(state[0]);
      expect(Object.is((s[0] as { negZero: number }).negZero, -0)).toBe(true);
      expect("missing" in s[0]!).toBe(true);
      const s1 = s[1] as { trace: hd.Value; flags: hd.Value; eta: Float64Array };
      expect(hd.dtypeOf(s1.trace)).toBe("int32");
      expect(hd.toNested(s1.trace)).toEqual(hd.toNested(ints));
      expect(hd.dtypeOf(s1.flags)).toBe("bool");
      expect(Array.from(hd.toFlat(s1.flags))).toEqual([1, 0, 1]);
      expect(s1.eta).toBeInstanceOf(Float64Array);
      expect(Array.from(s1.eta)).toEqual([0.1, 1 / 3, -1e-300]);
      expect(s[1]).toMatchObject({ case: "indefinite", ok: true });
      expect(s[2]).toEqual({ $weird: 1, nested: [[1, 2], []] });
      // state containers come back frozen, like @hodiff/optim's states
      expect(Object.isFrozen(s) && Object.isFrozen(s[0])).toBe(true);
    } finally {
      hd.dispose([ck.params as hd.Value[], ck.optState as hd.Value[], floats, ints, bools, scalar]);
    }
  });

  it("an optimizer continues identically from a loaded state", async () => {
    const dir = tmp.path("adam");
    mkdirSync(dir);
    const opt = adam(0.1);
    const p0 = { w: hd.array([1, -2, 3]) };
    const g = { w: hd.array([0.5, 0.25, -1]) };
    const s0 = opt.init(p0);
    const r1 = opt.update(s0, p0, g);
    await saveCheckpoint(dir, meta(1), p0, r1.state);
    const ck = loadCheckpoint(dir);
    const a = opt.update(r1.state, p0, g);
    const b = opt.update(ck.optState as typeof r1.state, ck.params as typeof p0, g);
    const pa = applyUpdates(p0, a.updates);
    const pb = applyUpdates(ck.params as typeof p0, b.updates);
    expect(bits(pb.w)).toEqual(bits(pa.w));
    hd.dispose([p0, g, s0, r1, a, b, pa, pb, ck.params as hd.Value, ck.optState as hd.Value]);
  });

  it("writes atomically: no temporary files remain, older tensor files are removed", async () => {
    const dir = tmp.path("atomic");
    mkdirSync(dir);
    const w = hd.array([1, 2]);
    await saveCheckpoint(dir, meta(1), { w }, []);
    await saveCheckpoint(dir, meta(2), { w }, []);
    expect(readdirSync(dir).sort()).toEqual([CHECKPOINT_FILE, "ckpt-00000002.bin"]);
    hd.dispose(w);
  });

  it("keeps the last and the best: best.json's tensor file stays until a better epoch replaces it", async () => {
    const dir = tmp.path("best");
    mkdirSync(dir);
    const save = async (step: number, value: number, best: boolean) => {
      const w = hd.array([step, value]);
      const m = { ...meta(step), epoch: step, best: { epoch: best ? step : 1, metric: "val_loss", value } };
      await saveCheckpoint(dir, m, { w }, [], { best });
      hd.dispose(w);
    };
    const values = (file: string) => {
      const ck = loadCheckpoint(dir, file);
      const v = Array.from(hd.toFlat((ck.params as { w: hd.Value }).w));
      hd.dispose(ck.params as hd.Value[]);
      return v;
    };
    await save(1, 0.5, true);
    await save(2, 0.7, false); // worse: checkpoint.json moves on, best.json stays at step 1
    expect(readdirSync(dir).sort()).toEqual([BEST_FILE, CHECKPOINT_FILE, "ckpt-00000001.bin", "ckpt-00000002.bin"]);
    expect([values(CHECKPOINT_FILE), values(BEST_FILE)]).toEqual([
      [2, expect.closeTo(0.7, 6)],
      [1, 0.5],
    ]);
    await save(3, 0.25, true); // better: both name step 3, the others go
    expect(readdirSync(dir).sort()).toEqual([BEST_FILE, CHECKPOINT_FILE, "ckpt-00000003.bin"]);
    expect(readFileSync(`${dir}/${BEST_FILE}`, "utf8")).toBe(readFileSync(`${dir}/${CHECKPOINT_FILE}`, "utf8"));
    // a stray tensor file (a crash before its manifest) is removed; so is a lost best.json re-made
    writeFileSync(`${dir}/ckpt-00000004.bin`, "partial");
    rmSync(`${dir}/${BEST_FILE}`);
    repairBest(dir);
    expect(removeUnusedBins(dir)).toEqual(["ckpt-00000004.bin"]);
    expect(values(BEST_FILE)).toEqual([3, 0.25]);
    // an unreadable manifest: nothing is removed (its tensor file may be worth recovering)
    writeFileSync(`${dir}/${CHECKPOINT_FILE}`, "{");
    writeFileSync(`${dir}/ckpt-00000005.bin`, "stray");
    repairBest(dir);
    expect(removeUnusedBins(dir)).toEqual([]);
  });

  it("a corrupt or missing checkpoint is a CheckpointError saying what is wrong", async () => {
    const dir = tmp.path("corrupt");
    mkdirSync(dir);
    const w = hd.array([1, 2, 3]);
    await saveCheckpoint(dir, meta(4), { w }, []);
    hd.dispose(w);
    const bin = `${dir}/ckpt-00000004.bin`;
    const bytes = readFileSync(bin);
    bytes[0] = bytes[0]! ^ 1;
    writeFileSync(bin, bytes);
    const before = hd.numTensors();
    expect(() => loadCheckpoint(dir)).toThrow(CheckpointError);
    expect(() => loadCheckpoint(dir)).toThrow(
      /size or sha256 does not match checkpoint.json: the checkpoint is corrupt/,
    );
    expect(hd.numTensors()).toBe(before);
    writeFileSync(`${dir}/${CHECKPOINT_FILE}`, "{");
    expect(() => loadCheckpoint(dir)).toThrow(/not valid JSON/);
    expect(() => loadCheckpoint(tmp.path("nowhere"))).toThrow(/no checkpoint.json: not a hodiff run directory/);
  });

  it("refuses values it cannot restore, naming their path", async () => {
    const dir = tmp.path("bad");
    mkdirSync(dir);
    await expect(saveCheckpoint(dir, meta(1), {}, { f: () => 1 })).rejects.toThrow(
      /cannot save a function at optState.f/,
    );
    await expect(saveCheckpoint(dir, meta(1), {}, { m: new Map() })).rejects.toThrow(/cannot save a Map at optState.m/);
  });
});
