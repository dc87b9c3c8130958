import * as hd from "@hodiff/core";
import { paperMlp } from "./suites";
import { medianMs } from "./timing";
await hd.setBackend("wasm");
const m = paperMlp();
const jg = hd.jit(hd.grad(m.loss));
const eager = () => hd.grad(m.loss)(m.params);
for (let r = 0; r < 3; r++) {
  console.log("eager", medianMs(eager, 10).toFixed(1), "jit", medianMs(() => jg(m.params), 10).toFixed(1));
}
