/**
 * The jaxpr: a typed, first-order IR of equations over primitives (after JAX's), closed over its
 * constants. Each equation applies one primitive to atoms (variables or literal numbers) and
 * binds one new variable. Evaluating it with `evalJaxpr` binds each primitive in turn, so a
 * jaxpr runs under any transform exactly like the function it was traced from.
 */
import {
  bind,
  bindCall,
  isCallPrimitive,
  type AnyCallPrimitive,
  type AnyPrimitive,
  type Aval,
  type Value,
} from "../trace/core";
import { K, type DType } from "../kernels";

/** A variable: bound once, by an equation, or as an input or constant of the jaxpr. */
export class Var {
  constructor(readonly aval: Aval) {}
}

/** A JS number used as an operand, kept in the IR as is (`2.0` in the printout). */
export class Literal {
  constructor(
    readonly value: number,
    readonly aval: Aval,
  ) {}
}

export type Atom = Var | Literal;

/**
 * One equation: `outs = prim[params](...inputs)`. A primitive binds one output; a call primitive
 * (`jit`) binds one per output of its sub-jaxpr.
 */
export interface Eqn {
  readonly prim: AnyPrimitive | AnyCallPrimitive;
  readonly params: unknown;
  readonly inputs: readonly Atom[];
  readonly outs: readonly Var[];
}

/** `{ lambda consts ; inputs . let eqns in (outs) }` */
export class Jaxpr {
  constructor(
    readonly constvars: readonly Var[],
    readonly invars: readonly Var[],
    readonly eqns: readonly Eqn[],
    readonly outs: readonly Atom[],
  ) {}
  toString(): string {
    return printJaxpr(this);
  }
}

/** A jaxpr with the values of its constants (concrete tensors, or tracers of enclosing transforms). */
export class ClosedJaxpr {
  constructor(
    readonly jaxpr: Jaxpr,
    readonly consts: readonly Value[],
    /** Constants this jaxpr made while tracing (and frees in dispose); the rest belong to the caller. */
    readonly owned: readonly Value[] = [],
  ) {}
  toString(): string {
    return printJaxpr(this.jaxpr);
  }
  /** Free the constants made while tracing. */
  dispose(): void {
    for (const c of this.owned) (c as { dispose(): void }).dispose();
  }
}

const DTYPE_SHORT: Record<DType, string> = { float32: "f32", int32: "i32", bool: "bool" };

/** JAX's variable names: a … z, ba … bz, ca … */
function varName(i: number): string {
  let s = "";
  let n = i;
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26);
  } while (n > 0);
  return s;
}

const typeOf = (a: Aval): string => `${DTYPE_SHORT[a.dtype]}[${a.shape.join(",")}]`;

function literalText(l: Literal): string {
  if (l.aval.dtype === "bool") return String(l.value !== 0);
  if (l.aval.dtype === "int32") return String(l.value);
  return Number.isInteger(l.value) ? l.value.toFixed(1) : String(l.value);
}

type Namer = (v: Var) => string;

/** A fresh namer: JAX's names in order of first appearance, shared by nested jaxprs. */
function namer(): Namer {
  const names = new Map<Var, string>();
  return (v) => {
    let n = names.get(v);
    if (n === undefined) {
      n = varName(names.size);
      names.set(v, n);
    }
    return n;
  };
}

/** A param's text; sub-jaxprs are printed with the enclosing namer, their lines indented by `indent`. */
function paramText(k: string, v: unknown, name: Namer, indent: string): string {
  if (v instanceof Jaxpr) return printWith(v, name, indent, true);
  if (v instanceof ClosedJaxpr) return printWith(v.jaxpr, name, indent, true);
  // A call's name is printed bare, like JAX's `name=f`.
  return k === "name" && typeof v === "string" ? v : JSON.stringify(v);
}

/**
 * One equation. Params go in brackets on one line; when a sub-jaxpr needs several lines the
 * params go one per line, like JAX prints `pjit[ name=f jaxpr={ … } ]`.
 */
function eqnText(e: Eqn, name: Namer, indent: string): string {
  const lhs = e.outs.map((v) => `${name(v)}:${typeOf(v.aval)}`).join(" ");
  const args = e.inputs.map((a) => (a instanceof Literal ? literalText(a) : name(a))).join(" ");
  const entries =
    e.params !== null && typeof e.params === "object" ? Object.entries(e.params as Record<string, unknown>) : [];
  const params = entries.map(([k, v]) => `${k}=${paramText(k, v, name, indent + "  ")}`);
  if (params.length === 0) return `${lhs} = ${e.prim.name} ${args}`.trimEnd();
  if (!params.some((p) => p.includes("\n"))) return `${lhs} = ${e.prim.name}[${params.join(" ")}] ${args}`.trimEnd();
  return [`${lhs} = ${e.prim.name}[`, ...params.map((p) => `${indent}  ${p}`), `${indent}] ${args}`]
    .join("\n")
    .trimEnd();
}

/** JAX's printout: one line when it fits in 80 columns, else one equation per line. */
export function printJaxpr(j: Jaxpr): string {
  return printWith(j, namer(), "", false);
}

/** `indent`: where continuation lines start; a nested jaxpr is one line only with at most one equation. */
function printWith(j: Jaxpr, name: Namer, indent: string, nested: boolean): string {
  const atom = (a: Atom): string => (a instanceof Literal ? literalText(a) : name(a));
  const binder = (v: Var): string => `${name(v)}:${typeOf(v.aval)}`;
  const consts = j.constvars.map(binder).join(" ");
  const ins = j.invars.map(binder).join(" ");
  const eqns = j.eqns.map((e) => eqnText(e, name, indent + "    "));
  const head = `{ lambda ${consts}; ${ins}. let`;
  const tail = `in (${j.outs.map(atom).join(", ")}) }`;
  const one = [head, ...eqns, tail].join(" ");
  const fits = nested ? eqns.length <= 1 && one.length <= 80 : indent.length + one.length <= 80;
  if (fits && !one.includes("\n")) return one;
  return [head, ...eqns.map((e) => `${indent}    ${e}`), `${indent}  ${tail}`].join("\n");
}

/** Evaluate a jaxpr by binding each primitive: works on tensors and under every transform. */
export function evalJaxpr(jaxpr: Jaxpr, consts: readonly Value[], args: readonly Value[]): Value[] {
  const env = new Map<Var, Value>();
  jaxpr.constvars.forEach((v, i) => env.set(v, consts[i]!));
  jaxpr.invars.forEach((v, i) => env.set(v, args[i]!));
  const read = (a: Atom): Value | number => (a instanceof Literal ? a.value : env.get(a)!);
  for (const e of jaxpr.eqns) {
    if (isCallPrimitive(e.prim)) {
      // Call inputs are always variables (bindCall takes arrays only).
      const outs = bindCall(
        e.prim,
        e.inputs.map((a) => env.get(a as Var)!),
        e.params,
      );
      e.outs.forEach((v, i) => env.set(v, outs[i]!));
    } else {
      env.set(e.outs[0]!, bind(e.prim, e.inputs.map(read), e.params));
    }
  }
  return jaxpr.outs.map((a) => {
    const v = read(a);
    // A literal output (f returned a number): the only place a literal becomes an array.
    return typeof v === "number" ? literalValue(a as Literal) : v;
  });
}

const literalValue = (l: Literal): Value => K.scalar(l.value, l.aval.dtype);
