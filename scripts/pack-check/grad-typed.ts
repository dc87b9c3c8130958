// The strict form of types.ts's assertion: grad(f)(params) has exactly the parameters' type.
import * as hd from "@hodiff/core";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
// A type alias, not an interface: pytree parameters need an index signature (Tree<Value>).
type Params = { w: hd.Value; b: hd.Value };
const params: Params = { w: hd.array([0.3, -0.2]), b: hd.array(0.1) };
const g = hd.grad((p: Params): hd.Value => hd.sum(hd.mul(p.w, p.b)))(params);
const gradKeepsParams: Equal<typeof g, Params> = true;
export { g, gradKeepsParams };
