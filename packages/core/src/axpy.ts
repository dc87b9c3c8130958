/**
 * axpy(θ, α, u, i) = θ + α_i·u: how partitioned derivatives move a parameter along its group's
 * direction. One primitive instead of slice, mul and add so that at α = 0 — where those
 * derivatives are taken, with α made by `zeros` — its value is θ itself, sharing θ's data: no
 * kernel, and a product x·θ downstream is the same product as in a pass that uses θ directly (see
 * `shareProducts`). Its rules are those of the composition θ + reshape(slice(α, i))·u, written
 * here with the primitive so that one file holds it (no jet rule: Taylor mode moves the
 * parameters themselves, not α).
 */
import { K, runtime, type Tensor } from "./kernels";
import { avalOf, bind, shapeError, type Aval, type Primitive, type Value } from "./trace/core";
import { add, mul } from "./primitives/elementwise";
import { reduceSum } from "./primitives/reduce";
import { pad, reshape, slice } from "./primitives/shape";
import { moveaxis } from "./primitives/rules";
import { defJvp } from "./rules/jvp";
import { defVjp, type Cotangent } from "./rules/vjp";
import { defVmap } from "./rules/vmap";
import { isKnownZero } from "./zeroData";

export interface AxpyParams {
  readonly index: number;
}

const fmt = (a: Aval) => `${a.dtype}[${a.shape.join(",")}]`;

export const axpyP: Primitive<AxpyParams> = {
  name: "axpy",
  impl: ([t, a, u], { index }) => {
    if (isKnownZero(a!)) return K.reshape(t!, t!.shape);
    return runtime.tidy(() => K.add(t!, K.mul(K.reshape(K.slice(a!, [index], [1]), []), u!))) as Tensor;
  },
  abstractEval: ([t, a, u], { index }) => {
    const ok =
      t!.shape.join() === u!.shape.join() &&
      t!.dtype === "float32" &&
      u!.dtype === "float32" &&
      a!.dtype === "float32" &&
      a!.shape.length === 1 &&
      Number.isInteger(index) &&
      index >= 0 &&
      index < a!.shape[0]!;
    if (!ok) {
      shapeError(
        "axpy",
        `needs θ and u of one float32 shape and α a float32 vector with an entry ${index}: got θ ${fmt(t!)}, α ${fmt(a!)}, u ${fmt(u!)}`,
      );
    }
    return { shape: t!.shape, dtype: t!.dtype };
  },
};

/** θ + α_i·u (θ and u of one shape, α a vector); at an α made by `zeros`, θ's data itself. */
export const axpy = (theta: Value, alpha: Value, u: Value, index: number): Value =>
  bind(axpyP, [theta, alpha, u], { index });

const entry = (a: Value, index: number): Value => reshape(slice(a, [index], [1]), []);

defJvp(axpyP, ([t, a, u], [dt, da, du], p) => {
  const parts: Value[] = [];
  if (dt) parts.push(dt);
  if (da) parts.push(mul(entry(da, p.index), u!));
  if (du) parts.push(mul(entry(a!, p.index), du));
  return [axpy(t!, a!, u!, p.index), parts.reduce((x, y) => add(x, y))];
});

/** The cotangent of α: ⟨ct, u⟩ at entry i, zeros elsewhere. */
const alphaCotangent = (inner: Value, a: Value, index: number): Value =>
  pad(reshape(inner, [1]), [[index, avalOf(a).shape[0]! - index - 1]]);

defVjp(
  axpyP,
  (ct, [t, a, u], _y, p, needs): Cotangent[] => {
    void t;
    return [
      needs[0] ? ct : null,
      needs[1] ? alphaCotangent(reduceSum(mul(ct, u!), [...avalOf(ct).shape.keys()]), a!, p.index) : null,
      needs[2] ? mul(entry(a!, p.index), ct) : null,
    ];
  },
  // A deferred cotangent (a matmul's or conv's weight cotangent) gives ⟨ct, u⟩ from its factors.
  (ct, [, a, u], _y, p, needs): Cotangent[] => [
    needs[0] ? ct : null,
    needs[1] ? alphaCotangent(ct.innerProduct(u!), a!, p.index) : null,
    needs[2] ? mul(entry(a!, p.index), ct.materialize()) : null,
  ],
);

defVmap(axpyP, ([t, a, u], dims, p) => {
  // Batch axes to the front; an unbatched θ or u broadcasts against the batched ones.
  const [dt = null, da = null, du = null] = dims;
  const rank = avalOf(t!).shape.length - (dt === null ? 0 : 1);
  const front = (x: Value, d: number | null) => (d === null ? x : moveaxis(x, d, 0));
  const coef =
    da === null
      ? entry(a!, p.index)
      : reshape(slice(front(a!, da), [0, p.index], [-1, 1]), [-1, ...new Array<number>(rank).fill(1)]);
  return [add(front(t!, dt), mul(coef, front(u!, du))), 0];
});
