/**
 * Demo: derivatives of a small tanh MLP on the default backend (wasm; cpu if wasm cannot start).
 * Run with `pnpm demo`.
 */
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";

async function main(): Promise<void> {
  const backend = await hd.useDefaultBackend();
  console.log(`hodiff demo — backend: ${backend}`);

  // A 20-32-16-4 tanh MLP with NLL loss on a random batch of 64.
  const sizes = [20, 32, 16, 4];
  const keys = hd.random.split(hd.random.key(0), sizes.length + 1);
  const params: Record<string, { w: Value; b: Value }> = {};
  for (let i = 0; i + 1 < sizes.length; i++) {
    params[`fc${i + 1}`] = {
      w: hd.tidy(() => hd.div(hd.random.normal(keys[i]!, [sizes[i]!, sizes[i + 1]!]), Math.sqrt(sizes[i]!))),
      b: hd.zeros([sizes[i + 1]!]),
    };
  }
  const x = hd.random.normal(keys[sizes.length - 1]!, [64, sizes[0]!]);
  const labels = hd.tidy(() => {
    const classes = hd.random.uniform(keys[sizes.length]!, [64], 0, sizes.at(-1)!);
    const ids = hd.reshape(hd.cast(hd.cast(classes, "int32"), "float32"), [64, 1]);
    const range = hd.reshape(hd.array([...Array(sizes.at(-1)!).keys()]), [1, sizes.at(-1)!]);
    return hd.cast(hd.equal(ids, range), "float32");
  });

  const loss = (p: typeof params): Value => {
    let h: Value = x;
    Object.values(p).forEach(({ w, b }, i, all) => {
      const z = hd.add(hd.matmul(h, w), b);
      h = i + 1 < all.length ? hd.tanh(z) : z;
    });
    return hd.neg(hd.mean(hd.sum(hd.mul(hd.logSoftmax(h), labels), 1)));
  };

  const [value, g] = hd.valueAndGrad(loss)(params);
  console.log(`loss L(θ) = ${hd.item(value).toFixed(6)}`);
  console.log("‖∇L‖ per parameter tensor:");
  const [leaves, def] = hd.treeFlatten(g);
  hd.treePaths(def).forEach((path, i) => {
    const norm = hd.tidy(() => hd.sqrt(hd.sum(hd.square(leaves[i] as Value))));
    console.log(`  ${path.padEnd(6)} ${hd.item(norm).toExponential(4)}`);
    hd.dispose(norm);
  });

  // Taylor terms along the gradient u = ∇L: Dᵈ L(θ)[u,…,u] by nested forward mode.
  const along = (f: (p: typeof params) => Value) => (p: typeof params) => hd.jvp(f, [p], [g])[1] as Value;
  const d1 = along(loss);
  const d2 = along(d1);
  const d3 = along(d2);
  const t = hd.tidy(() => [d1(params), d2(params), d3(params)]);
  console.log(
    `Dᵈ L(θ)[u,…,u] along u = ∇L: d=1 ${hd.item(t[0]!).toExponential(4)}, d=2 ${hd.item(t[1]!).toExponential(4)}, d=3 ${hd.item(t[2]!).toExponential(4)}`,
  );
  const gg = hd.tidy(() => hd.sum(hd.stack(leaves.map((l) => hd.sum(hd.square(l as Value))))));
  console.log(`  (check: d=1 equals ‖∇L‖² = ${hd.item(gg).toExponential(4)})`);

  // A Hessian-vector product and Cauchy's step size gᵀg / gᵀHg.
  const Hg = hd.hvp(loss, [params], [g]);
  const gHg = hd.tidy(() =>
    hd.sum(hd.stack(hd.treeLeaves(Hg).map((h, i) => hd.sum(hd.mul(h as Value, leaves[i] as Value))))),
  );
  console.log(
    `gᵀHg = ${hd.item(gHg).toExponential(4)}, Cauchy step gᵀg/gᵀHg = ${(hd.item(t[0]!) / hd.item(gHg)).toFixed(4)}`,
  );

  const t0 = performance.now();
  for (let i = 0; i < 20; i++) hd.dispose(hd.grad(loss)(params));
  console.log(`one gradient: ${((performance.now() - t0) / 20).toFixed(2)} ms on ${backend}`);
  hd.dispose([params, x, labels, value, g, t, gg, Hg, gHg]);
  console.log(`live tensors at exit: ${hd.numTensors()}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
