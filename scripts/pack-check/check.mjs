// Run by scripts/pack-check.sh with plain `node`, inside a fresh project where the packed tarballs
// were installed with `npm install`: no tsx, no workspace, only what a user of the packages has.
// Every expected value is computed here in closed form with Math.*, never by hodiff.
//
// The model: θ = {w: [w₀, w₁], b}, fixed inputs x, zᵢ = wᵢxᵢ + b, L(θ) = Σᵢ tanh(zᵢ).
// With tᵢ = tanh(zᵢ): tanh' = 1 − t², tanh'' = −2t(1 − t²), tanh''' = (6t² − 2)(1 − t²).
import assert from "node:assert/strict";
import process from "node:process";
import { URL } from "node:url";
import * as hd from "@hodiff/core";
import { canonical, summaries } from "@hodiff/partition";
import { adam, applyUpdates } from "@hodiff/optim";

const log = (line) => process.stdout.write(`${line}\n`);
const names = process.argv.slice(2); // every installed @hodiff package, from the tarball list
const close = (got, want, what) => {
  const tol = 1e-5 + 1e-4 * Math.abs(want);
  assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, expected ${want} (±${tol.toExponential(1)})`);
};
const closeAll = (got, want, what) => {
  assert.equal(got.length, want.length, `${what}: length`);
  want.forEach((w, i) => close(got[i], w, `${what}[${i}]`));
};

// Every package loads from plain node (ESM, built JavaScript).
for (const name of names) {
  const mod = await import(name);
  assert.ok(Object.keys(mod).length > 0, `${name} exports nothing`);
}

// The wasm backend must find its .wasm files inside the installed tfjs-backend-wasm package.
await hd.setBackend("wasm");
assert.equal(hd.getBackend(), "wasm");
const before = hd.numTensors();

const xs = [0.5, -1.5];
const w0 = [0.3, -0.2];
const b0 = 0.1;
const x = hd.array(xs);
const loss = (p) => hd.sum(hd.tanh(hd.add(hd.mul(p.w, x), p.b)));
const t = (w, b) => xs.map((xi, i) => Math.tanh(w[i] * xi + b));

// Gradient: ∂L/∂wᵢ = (1 − tᵢ²)xᵢ, ∂L/∂b = Σᵢ(1 − tᵢ²).
const gradAt = (w, b) => {
  const ts = t(w, b);
  return { w: ts.map((ti, i) => (1 - ti * ti) * xs[i]), b: ts.reduce((s, ti) => s + 1 - ti * ti, 0) };
};
let params = { w: hd.array(w0), b: hd.array(b0) };
const g = hd.grad(loss)(params);
const g0 = gradAt(w0, b0);
closeAll(Array.from(hd.toFlat(g.w)), g0.w, "grad w");
close(hd.item(g.b), g0.b, "grad b");
hd.dispose(g);
log(`grad      ok  ∂L/∂w = [${g0.w.map((v) => v.toFixed(6))}], ∂L/∂b = ${g0.b.toFixed(6)}`);

// JVP along (u_w, u_b): Σᵢ(1 − tᵢ²)(u_wᵢxᵢ + u_b).
const uw = [1, -2];
const ub = 0.5;
const tangent = { w: hd.array(uw), b: hd.array(ub) };
const [value, dot] = hd.jvp(loss, [params], [tangent]);
const t0 = t(w0, b0);
close(
  hd.item(value),
  t0.reduce((s, ti) => s + ti, 0),
  "jvp primal",
);
const wantDot = t0.reduce((s, ti, i) => s + (1 - ti * ti) * (uw[i] * xs[i] + ub), 0);
close(hd.item(dot), wantDot, "jvp tangent");
hd.dispose([value, dot]);
log(`jvp       ok  D L(θ)[u] = ${wantDot.toFixed(6)}`);

// summaries, canonical partition (groups w, b), direction u: with dzᵢˢ the change of zᵢ along
// group s (w: u_wᵢxᵢ, b: u_b), ḡ_s = Σᵢ tanh'·dzᵢˢ, H̄_st = Σᵢ tanh''·dzᵢˢdzᵢᵗ, D̄³_sss = Σᵢ tanh'''·(dzᵢˢ)³.
const partition = canonical(params);
const dz = Object.fromEntries(
  partition.groups.map((grp) => [grp.label, grp.label === "w" ? uw.map((u, i) => u * xs[i]) : [ub, ub]]),
);
const labels = partition.groups.map((grp) => grp.label);
assert.deepEqual([...labels].sort(), ["b", "w"]);
const sumI = (fn) => t0.reduce((s, ti, i) => s + fn(ti, i), 0);
const s = summaries(loss, partition)(params, tangent);
close(
  s.loss,
  sumI((ti) => ti),
  "summaries loss",
);
closeAll(
  s.gbar,
  labels.map((a) => sumI((ti, i) => (1 - ti * ti) * dz[a][i])),
  "summaries gbar",
);
labels.forEach((a, r) =>
  closeAll(
    s.hbar[r],
    labels.map((c) => sumI((ti, i) => -2 * ti * (1 - ti * ti) * dz[a][i] * dz[c][i])),
    `summaries hbar[${r}]`,
  ),
);
closeAll(
  s.order3Diag,
  labels.map((a) => sumI((ti, i) => (6 * ti * ti - 2) * (1 - ti * ti) * dz[a][i] ** 3)),
  "summaries order3Diag",
);
hd.dispose(tangent);
log(`summaries ok  ḡ = [${s.gbar.map((v) => v.toFixed(6))}] over groups [${labels}]`);

// Two Adam steps (lr 0.1, b1 0.9, b2 0.999, eps 1e-8), each gradient in closed form at the
// current parameters: m ← b1·m + (1−b1)g, v ← b2·v + (1−b2)g², θ ← θ − lr·m̂/(√v̂ + eps).
const [lr, b1, b2, eps] = [0.1, 0.9, 0.999, 1e-8];
const opt = adam(lr, { b1, b2, eps });
let state = opt.init(params);
let [w, b] = [[...w0], b0];
let m = [0, 0, 0];
let v = [0, 0, 0];
for (let k = 1; k <= 2; k++) {
  const gk = gradAt(w, b);
  const gv = [...gk.w, gk.b];
  m = m.map((mi, i) => b1 * mi + (1 - b1) * gv[i]);
  v = v.map((vi, i) => b2 * vi + (1 - b2) * gv[i] ** 2);
  const u = m.map((mi, i) => (-lr * (mi / (1 - b1 ** k))) / (Math.sqrt(v[i] / (1 - b2 ** k)) + eps));
  [w, b] = [[w[0] + u[0], w[1] + u[1]], b + u[2]];

  const grads = hd.grad(loss)(params);
  const next = opt.update(state, params, grads);
  closeAll([...hd.toFlat(next.updates.w), hd.item(next.updates.b)], u, `adam step ${k} updates`);
  const newParams = applyUpdates(params, next.updates);
  hd.dispose([grads, next.updates, params, state]);
  [params, state] = [newParams, next.state];
}
closeAll([...hd.toFlat(params.w), hd.item(params.b)], [...w, b], "adam parameters after 2 steps");
log(`adam      ok  θ after 2 steps = [${[...w, b].map((v) => v.toFixed(6))}]`);

// Both cores: a pool of 2 threads (this one and a worker running the built dist/worker.js) over
// a batch of 5 (parts of 3 and 2): ∂/∂w mean tanh(w·xᵢ + b) = mean (1 − tᵢ²)·xᵢ, ∂/∂b = mean (1 − tᵢ²).
{
  const { createPool } = await import("@hodiff/parallel");
  const pool = await createPool({ task: new URL("./pool-task.mjs", import.meta.url), threads: 2 });
  const bx = [0.5, -1.5, 2, 0.25, -0.75];
  const [pw, pb] = [0.3, 0.1];
  const p = { w: hd.array(pw), b: hd.array(pb) };
  const bxArr = hd.array(bx);
  const r = pool.valueAndGrad(p, { x: bxArr });
  await pool.close();
  const ts = bx.map((xi) => Math.tanh(pw * xi + pb));
  const mean = (f) => ts.reduce((acc, ti, i) => acc + f(ti, i), 0) / bx.length;
  close(
    r.loss,
    mean((ti) => ti),
    "pool loss",
  );
  close(
    hd.item(r.grads.w),
    mean((ti, i) => (1 - ti * ti) * bx[i]),
    "pool ∂L/∂w",
  );
  close(
    hd.item(r.grads.b),
    mean((ti) => 1 - ti * ti),
    "pool ∂L/∂b",
  );
  hd.dispose([p, bxArr, r.grads]);
  log(`parallel  ok  a pool of 2 threads (dist/worker.js): L and ∇L of a batch of 5 in closed form`);
}

// @hodiff/native: its install hook compiled the addon here where a C compiler and OpenBLAS exist
// (CI installs them and sets HODIFF_NATIVE_REQUIRED=1: a failed build there fails here instead of
// skipping); then a 2×3·3×2 product through OpenBLAS on the wasm heap, against sums by hand.
if (names.includes("@hodiff/native")) {
  const native = await import("@hodiff/native");
  if (native.nativeGemmAvailable()) {
    const gemm = native.installNativeGemm({ threads: 1 });
    const [A, B] = [
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      [
        [7, 8],
        [9, 10],
        [11, 12],
      ],
    ];
    const [a, b] = [hd.array(A), hd.array(B)];
    const C = hd.matmul(a, b);
    const want = A.flatMap((row) => [0, 1].map((j) => row.reduce((s, a, k) => s + a * B[k][j], 0)));
    assert.ok(hd.heapGemmActive(), "installNativeGemm did not route matmuls to OpenBLAS");
    closeAll(hd.toFlat(C), want, "native gemm");
    hd.dispose([a, b, C]);
    gemm.uninstall();
    log(
      `native    ok  OpenBLAS built at install (${gemm.config.split(" ").slice(0, 2).join(" ")}): [2,3]·[3,2] by hand`,
    );
  } else if (process.env.HODIFF_NATIVE_REQUIRED === "1") {
    native.loadAddon(); // throws, saying why the addon that the install hook should have built does not load
  } else log("native    --  addon not built at install (no C compiler or OpenBLAS here): skipped");
}
hd.dispose([params, state, x]);
assert.equal(hd.numTensors(), before, "tensors leaked");
log(`plain node ok  ${names.length} packages imported, backend ${hd.getBackend()}, no tensor leaked`);
