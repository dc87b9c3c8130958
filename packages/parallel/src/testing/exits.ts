/**
 * Run by pool.test.ts in a child process: starts a pool of 2 threads, computes one gradient, and
 * closes the pool only when argv[2] is "close" — the process must end on its own either way.
 */
import * as hd from "@hodiff/core";
import { createPool } from "../pool";
import { testModel } from "./models";

await hd.setBackend("wasm");
const pool = await createPool({
  task: new URL("./models.ts", import.meta.url),
  init: { model: "tiny-mlp" },
  threads: 2,
});
const model = testModel("tiny-mlp");
const params = model.init(hd.random.key(0));
const x = hd.random.normal(hd.random.key(1), [4, ...model.inputShape]);
const { loss } = pool.valueAndGrad(params, { x, labels: Int32Array.from([0, 1, 2, 0]) });
if (process.argv[2] === "close") await pool.close();
console.log(`loss ${loss.toFixed(4)}`);
