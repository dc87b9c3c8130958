// The entry of the Vite build in scripts/pack-check.sh: the browser-side packages (everything but
// @hodiff/data and @hodiff/cli, which read files) bundled into a web app from their tarballs.
// pack-check.sh only builds it (tfjs's platform detection needs a real browser to run it); opened
// in a browser, the page shows ḡ checked against its closed form.
import * as hd from "@hodiff/core";
import { canonical, summaries } from "@hodiff/partition";
import { adam } from "@hodiff/optim";
import { mlp } from "@hodiff/nn";

await hd.setBackend("cpu");
type Params = { w: hd.Value; b: hd.Value };
const params: Params = { w: hd.array([0.3, -0.2]), b: hd.array(0.1) };
// L = Σᵢ tanh(wᵢ + b); along u = ∇L, ḡ_w = Σᵢ (1 − tᵢ²)², ḡ_b = (Σᵢ (1 − tᵢ²))².
const loss = (p: Params): hd.Value => hd.sum(hd.tanh(hd.add(p.w, p.b)));
const s = summaries(loss, canonical(params))(params, hd.grad(loss)(params));
const d = [0.3, -0.2].map((w) => 1 - Math.tanh(w + 0.1) ** 2);
const want = [d[0]! ** 2 + d[1]! ** 2, (d[0]! + d[1]!) ** 2];
const ok = s.gbar.every((g, i) => Math.abs(g - want[i]!) < 1e-5) && typeof adam(0.1).init === "function";
const text = `vite bundle: ḡ = [${s.gbar.map((g) => g.toFixed(6))}] ${ok ? "ok" : `expected [${want}]`}; ${typeof mlp}`;
globalThis.document?.getElementById("out")?.append(text);
console.log(text);
