/**
 * webgpu against cpu (`pnpm test:webgpu`): every op of core's op table — value, JVP and VJP — the
 * gradient, Hessian and HVP of the tiny MLP and CNN, and partition's summaries (ḡ, H̄, order-3
 * diagonal) on three partitions, each computed on cpu first and then on webgpu from the same
 * input numbers; every webgpu computation must leave the live tensor count unchanged.
 *
 * Runs on whatever adapter Dawn finds (a software one on CPU machines: Mesa llvmpipe through
 * OpenGL ES). Not part of `pnpm test`: it needs Dawn and a driver (see .ci/run).
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";
import * as pt from "@hodiff/partition";
import { GRAD_OPS } from "../../packages/core/src/primitives/opTable";
import { tinyCnn, tinyMlp } from "../../packages/partition/src/fixtures";

interface Frozen {
  shape: number[];
  values: number[];
}
type Results = Record<string, number[][]>;

const freeze = (x: Value): Frozen => ({ shape: hd.shapeOf(x), values: Array.from(hd.toFlat(x)) });
const thaw = (f: Frozen): Value => hd.array(Float32Array.from(f.values), { shape: f.shape });
/** A tangent or cotangent with every entry distinct and O(1): 0.3·sin(i + 1) + 0.1. */
const direction = (shape: number[]): Value => {
  const n = shape.reduce((a, b) => a * b, 1);
  return hd.array(
    Float32Array.from({ length: n }, (_, i) => 0.3 * Math.sin(i + 1) + 0.1),
    { shape },
  );
};

/** Every leaf of a pytree of arrays, read without blocking (the only way on webgpu in Node). */
const readAll = async (x: unknown): Promise<number[][]> =>
  Promise.all(hd.treeLeaves(x as hd.Tree<Value>).map(async (l) => Array.from(await hd.toFlatAsync(l))));

/** Value, JVP and VJP of op `spec` at the frozen inputs, as arrays (caller frees). */
function opResults(spec: (typeof GRAD_OPS)[number], inputs: Frozen[]): Value[] {
  const args = inputs.map(thaw);
  const value = spec.f(...args);
  const [, tangentOut] = hd.jvp(
    spec.f,
    args,
    args.map((a) => direction(hd.shapeOf(a))),
  );
  const [out, pullback] = hd.vjp(spec.f, ...args);
  const cotangents = pullback(direction(hd.shapeOf(out)));
  hd.dispose([out]);
  return [value, tangentOut, ...(cotangents as Value[])];
}

const models = { mlp: tinyMlp, cnn: tinyCnn };
const partitions = {
  canonical: (p: never) => pt.canonical(p),
  "weights-biases": (p: never) => pt.weightsBiases(p),
  "blocks-1": (p: never) => pt.blocks(p, 1),
};

/** Model computations: loss, gradient, Hessian and HVP of the flat loss (caller frees). */
function modelResults(make: () => ReturnType<typeof tinyMlp>, theta: Frozen): Value[] {
  const m = make();
  const t = thaw(theta);
  return [
    m.lossFlat(t),
    hd.grad(m.lossFlat)(t),
    hd.hessian(m.lossFlat)(t),
    hd.hvp(m.lossFlat, [t], [direction([m.size])]) as Value,
  ];
}

const cpu: {
  ops: Results;
  inputs: Record<string, Frozen[]>;
  models: Results;
  summaries: Record<string, pt.Summaries>;
  theta: Record<string, Frozen>;
} = {
  ops: {},
  inputs: {},
  models: {},
  summaries: {},
  theta: {},
};

/** float32 agreement: |a − b| ≤ atol + rtol·|b| elementwise, reporting the worst entry. */
function expectClose(name: string, got: number[], want: number[], rtol = 2e-4, atol = 2e-5): void {
  expect(got.length, `${name}: length`).toBe(want.length);
  let worst = 0;
  let at = -1;
  got.forEach((g, i) => {
    const excess = Math.abs(g - want[i]!) - (atol + rtol * Math.abs(want[i]!));
    if (excess > worst || Number.isNaN(g) !== Number.isNaN(want[i]!)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      at = i;
    }
  });
  expect(at, `${name}: entry ${at}: webgpu ${got[at]} vs cpu ${want[at]}`).toBe(-1);
}

beforeAll(async () => {
  await hd.setBackend("cpu");
  hd.tidy(() => {
    for (const spec of GRAD_OPS) {
      const inputs = spec.args().map(freeze);
      cpu.inputs[spec.name] = inputs;
      cpu.ops[spec.name] = opResults(spec, inputs).map((v) => Array.from(hd.toFlat(v)));
    }
    for (const [name, make] of Object.entries(models)) {
      const m = make();
      const theta = freeze(
        hd.concat(
          hd.treeLeaves(m.params() as never).map((l: Value) => hd.reshape(l, [-1])),
          0,
        ),
      );
      cpu.theta[name] = theta;
      cpu.models[name] = modelResults(make, theta).map((v) => Array.from(hd.toFlat(v)));
      for (const [pname, part] of Object.entries(partitions)) {
        const params = m.treeOf(thaw(theta));
        const u = m.treeOf(direction([m.size]));
        cpu.summaries[`${name} ${pname}`] = pt.summaries(m.loss as never, part(params as never))(params, u);
      }
    }
    return [];
  });
  await hd.setBackend("webgpu");
  const adapter = hd.getWebGpuAdapter()!;
  console.log(`webgpu adapter: ${adapter.description} (${adapter.host}${adapter.software ? ", software" : ""})`);
}, 120_000);

// A shader that fails validation leaves zeros and throws nothing: every test checks the device log.
afterEach(() => {
  expect(hd.takeWebGpuErrors(), "webgpu device errors").toEqual([]);
});

describe("webgpu matches cpu", () => {
  it("synchronous reads fail with an error naming the async variant", async () => {
    const x = hd.exp(hd.array([1, 2]));
    expect(() => hd.toFlat(x)).toThrow(/toFlatAsync/);
    expect(() => hd.toNested(x)).toThrow(/toNestedAsync/);
    const s = hd.sum(x);
    expect(() => hd.item(s)).toThrow(/itemAsync/);
    hd.dispose([s]);
    expect(await hd.toNestedAsync(x)).toEqual(
      [Math.fround(Math.exp(1)), Math.fround(Math.exp(2))].map((v) => expect.closeTo(v, 5)),
    );
    hd.dispose([x]);
  });

  it.each(GRAD_OPS.map((s) => [s.name, s] as const))("%s: value, JVP and VJP; no leak", async (name, spec) => {
    const before = hd.numTensors();
    const outs = hd.tidy(() => opResults(spec, cpu.inputs[name]!));
    const got = await readAll(outs);
    hd.dispose(outs);
    expect(hd.numTensors()).toBe(before);
    const labels = ["value", "JVP", ...cpu.inputs[name]!.map((_, i) => `VJP wrt arg ${i}`)];
    labels.forEach((l, i) => expectClose(`${name} ${l}`, got[i]!, cpu.ops[name]![i]!));
  });

  it.each(Object.keys(models))("tiny %s: loss, gradient, Hessian, HVP; no leak", async (name) => {
    const before = hd.numTensors();
    const outs = hd.tidy(() => modelResults(models[name as keyof typeof models], cpu.theta[name]!));
    const got = await readAll(outs);
    hd.dispose(outs);
    expect(hd.numTensors()).toBe(before);
    ["loss", "gradient", "Hessian", "HVP"].forEach((l, i) =>
      expectClose(`${name} ${l}`, got[i]!, cpu.models[name]![i]!),
    );
  });

  const cases = Object.keys(models).flatMap((m) => Object.keys(partitions).map((p) => [m, p] as const));
  it.each(cases)("tiny %s, %s partition: summaries (ḡ, H̄, order-3 diagonal); no leak", async (mname, pname) => {
    const m = models[mname as keyof typeof models]();
    const params = m.treeOf(thaw(cpu.theta[mname]!));
    const u = m.treeOf(direction([m.size]));
    const before = hd.numTensors();
    const s = await pt.summariesAsync(m.loss as never, partitions[pname as keyof typeof partitions](params as never))(
      params,
      u,
    );
    expect(hd.numTensors()).toBe(before);
    const want = cpu.summaries[`${mname} ${pname}`]!;
    expectClose("loss", [s.loss], [want.loss]);
    expectClose("ḡ", s.gbar, want.gbar);
    expectClose("H̄", s.hbar.flat(), want.hbar.flat(), 1e-3, 1e-4);
    expectClose("order-3 diagonal", s.order3Diag, want.order3Diag, 1e-3, 1e-4);
    hd.dispose([params, u] as never);
  });
});

describe("default backend with preferWebGpu", () => {
  it("keeps webgpu only on a hardware adapter, else wasm, with one notice line naming the reason", async () => {
    expect(hd.canReadSync()).toBe(false);
    const software = hd.getWebGpuAdapter()!.software;
    const notices: string[] = [];
    const used = await hd.useDefaultBackend((m) => notices.push(m), { preferWebGpu: true });
    expect(notices).toHaveLength(1);
    if (software) {
      expect(used).toBe("wasm");
      expect(notices[0]).toMatch(/webgpu not used: its only adapter is a software one .*; using wasm/);
    } else {
      expect(used).toBe("webgpu");
      expect(notices[0]).toMatch(/using webgpu/);
    }
    await hd.setBackend("webgpu"); // the afterEach reads the device log
  });
});
