// Type-checked by scripts/pack-check.sh inside the fresh project, once under
// `moduleResolution: nodenext` and once under `bundler`, against the installed .d.ts files only.
import * as hd from "@hodiff/core";
import { canonical, summaries, type Summaries } from "@hodiff/partition";
import { adam, applyUpdates, type GradientTransformation } from "@hodiff/optim";
import { mlp } from "@hodiff/nn";
import { cacheRoot } from "@hodiff/data";
import { VERSION } from "@hodiff/cli";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type IsAny<T> = 0 extends 1 & T ? true : false;

// A type alias, not an interface: pytree parameters need an index signature (Tree<Value>).
type Params = { w: hd.Value; b: hd.Value };
const params: Params = { w: hd.array([0.3, -0.2]), b: hd.array(0.1) };
const loss = (p: Params): hd.Value => hd.sum(hd.tanh(hd.add(p.w, p.b)));

// grad keeps the parameters' type. `grad` returned `any` before issue 12's typed API; any other
// type than Params fails here. grad-typed.ts holds the same assertion without the `any` escape.
const g = hd.grad(loss)(params);
const gradKeepsParams: IsAny<typeof g> extends true ? true : Equal<typeof g, Params> = true;

const s: Summaries = summaries(loss, canonical(params))(params, params);
const gbar: number[] = s.gbar;
const opt: GradientTransformation<unknown> = adam(0.1);
const next = applyUpdates(params, params);
const sameTree: Equal<typeof next, Params> = true;
const version: string = VERSION;
const root: string = cacheRoot();

export { g, next, gradKeepsParams, gbar, opt, sameTree, version, root, mlp };
