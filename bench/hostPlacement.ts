/**
 * Where a jit plan should run its small equations (`LARGE_PLAN` in packages/core/src/staging/host.ts):
 * `npx tsx bench/hostPlacement.ts [--models mlp,lenet] [--batch 100] [--calls 400] [--gemm native|wasm]`.
 * 1. The cost of a host step's transfers on wasm — a 1000-float dataSync and a 10-float tf.tensor —
 *    in a loop alone and right after a 512×512 matmul (which leaves the CPU caches cold), medians.
 * 2. Each model's jitted gradient with host kernels as the plan places them (`jit(f)`) against
 *    none (`jit(f, {hostKernels: false})`), called alternately (order flipped every call):
 *    the median of the per-pair ratios none ÷ placed (> 1: the plan's placement is faster).
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import * as hd from "@hodiff/core";
import { MODELS, nll, oneHot, type ModelName } from "@hodiff/nn";
import { median } from "./timing";

const { values } = parseArgs({
  options: {
    models: { type: "string", default: "mlp,lenet" },
    batch: { type: "string", default: "100" },
    calls: { type: "string", default: "400" },
    gemm: { type: "string", default: "native" },
  },
});
await hd.setBackend("wasm");
if (values.gemm === "native") {
  const { installNativeGemm } = await import("@hodiff/native");
  installNativeGemm({ threads: 1 });
}

const small = tf.ones([1000]);
const big = tf.ones([512, 512]);
const ten = new Float32Array(10);
for (const after of ["nothing", "a 512×512 matmul"]) {
  const reads: number[] = [];
  const writes: number[] = [];
  for (let i = 0; i < 300; i++) {
    if (after !== "nothing") tf.matMul(big, big).dispose();
    let t0 = performance.now();
    small.dataSync();
    reads.push(performance.now() - t0);
    t0 = performance.now();
    tf.tensor(ten, [10], "float32").dispose();
    writes.push(performance.now() - t0);
  }
  console.log(
    JSON.stringify({
      name: "host-transfers",
      after,
      dataSync_1000_us: +(1000 * median(reads)).toFixed(2),
      tensor_10_us: +(1000 * median(writes)).toFixed(2),
    }),
  );
}
tf.dispose([small, big]);

const batch = Number(values.batch);
for (const name of values.models!.split(",") as ModelName[]) {
  const model = MODELS[name]();
  const params = model.init(hd.random.key(0));
  const x = hd.random.normal(hd.random.key(1), [batch, ...model.inputShape]);
  const y = oneHot(
    Int32Array.from({ length: batch }, (_, i) => i % model.numClasses),
    model.numClasses,
  );
  const f = (p: unknown, xb: hd.Value) => hd.grad((q: unknown) => nll(model.apply(q as never, xb), y))(p);
  const placed = hd.jit(f);
  const none = hd.jit(f, { hostKernels: false });
  const time = (g: typeof placed): number => {
    const t0 = performance.now();
    hd.dispose(g(params, x));
    return performance.now() - t0;
  };
  for (let i = 0; i < 20; i++) [placed, none].forEach(time);
  const tp: number[] = [];
  const tn: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < Number(values.calls); i++) {
    let a: number;
    let b: number;
    if (i % 2 === 0) {
      a = time(placed);
      b = time(none);
    } else {
      b = time(none);
      a = time(placed);
    }
    tp.push(a);
    tn.push(b);
    ratios.push(b / a);
  }
  console.log(
    JSON.stringify({
      name: "host-placement",
      model: name,
      batch,
      gemm: values.gemm,
      placed_ms: +median(tp).toFixed(3),
      no_host_ms: +median(tn).toFixed(3),
      no_host_over_placed: +median(ratios).toFixed(4),
    }),
  );
  placed.dispose();
  none.dispose();
  hd.dispose([params, x, y] as never);
}
