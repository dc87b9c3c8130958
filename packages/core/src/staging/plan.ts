/**
 * A jaxpr compiled for concrete inputs: equations become a flat list of kernel calls over slots,
 * with each intermediate freed right after its last use (memory planning), so a jitted call holds
 * at most the live set of its program instead of every intermediate until the end.
 */
import { K, runtime, type Tensor } from "../kernels";
import { Literal, Var, type Jaxpr } from "./jaxpr";
import type { AnyPrimitive, Value } from "../trace/core";

interface Step {
  readonly prim: AnyPrimitive;
  readonly params: unknown;
  readonly inputs: readonly number[];
  readonly out: number;
  /** Slots whose last use is this step. */
  readonly frees: readonly number[];
}

export class Plan {
  private readonly steps: Step[] = [];
  private readonly nConsts: number;
  private readonly nIns: number;
  private readonly nSlots: number;
  private readonly outs: readonly number[];
  /** Literal scalars, made as tensors on each run (so a plan holds no tensor of its own). */
  private readonly literals: Literal[] = [];

  constructor(
    jaxpr: Jaxpr,
    private readonly consts: readonly Tensor[],
  ) {
    const slot = new Map<Var, number>();
    // Slots: consts and literals first (never freed), then inputs, then equation outputs.
    const literalList: Literal[] = [];
    const litIndex = new Map<string, number>();
    for (const e of jaxpr.eqns) {
      for (const a of e.inputs) {
        if (a instanceof Literal) {
          const key = `${a.value}:${a.aval.dtype}`;
          if (!litIndex.has(key)) {
            litIndex.set(key, literalList.length);
            literalList.push(a);
          }
        }
      }
    }
    this.literals.push(...literalList);
    jaxpr.constvars.forEach((v) => slot.set(v, slot.size));
    const litBase = slot.size;
    this.nConsts = litBase + literalList.length;
    jaxpr.invars.forEach((v, i) => slot.set(v, this.nConsts + i));
    this.nIns = jaxpr.invars.length;
    let next = this.nConsts + this.nIns;
    for (const e of jaxpr.eqns) slot.set(e.out, next++);
    this.nSlots = next;
    const at = (a: Var | Literal): number =>
      a instanceof Literal ? litBase + litIndex.get(`${a.value}:${a.aval.dtype}`)! : slot.get(a)!;
    this.outs = jaxpr.outs.map(at);
    // Last use of each intermediate; outputs are never freed.
    const lastUse = new Map<number, number>();
    jaxpr.eqns.forEach((e, i) => e.inputs.forEach((a) => lastUse.set(at(a), i)));
    const firstIntermediate = this.nConsts + this.nIns;
    const frees: number[][] = jaxpr.eqns.map(() => []);
    for (const [s, i] of lastUse) if (s >= firstIntermediate && !this.outs.includes(s)) frees[i]!.push(s);
    jaxpr.eqns.forEach((e, i) => {
      this.steps.push({
        prim: e.prim,
        params: e.params,
        inputs: e.inputs.map(at),
        out: slot.get(e.out)!,
        frees: frees[i]!,
      });
    });
    // Unused equation outputs (DCE removes them; kept safe anyway): free right away.
    jaxpr.eqns.forEach((e, i) => {
      const s = slot.get(e.out)!;
      if (!lastUse.has(s) && !this.outs.includes(s)) (this.steps[i]!.frees as number[]).push(s);
    });
  }

  /** Run on concrete inputs; returns fresh tensors owned by the caller. */
  run(args: readonly Tensor[]): Tensor[] {
    const env: (Tensor | undefined)[] = new Array(this.nSlots);
    this.consts.forEach((c, i) => (env[i] = c));
    const scalars = this.literals.map((l) => K.scalar(l.value, l.aval.dtype));
    scalars.forEach((t, i) => (env[this.consts.length + i] = t));
    for (let i = 0; i < this.nIns; i++) env[this.nConsts + i] = args[i];
    const firstIntermediate = this.nConsts + this.nIns;
    try {
      for (const s of this.steps) {
        env[s.out] = s.prim.impl(
          s.inputs.map((j) => env[j]!),
          s.params,
        );
        for (const f of s.frees) {
          env[f]!.dispose();
          env[f] = undefined;
        }
      }
    } catch (e) {
      for (let i = firstIntermediate; i < env.length; i++) env[i]?.dispose();
      throw e;
    } finally {
      scalars.forEach((t) => t.dispose());
    }
    // Outputs that are constants, inputs or repeated get a fresh handle, so the caller owns each one.
    const given = new Set<number>();
    return this.outs.map((s) => {
      const t = env[s]!;
      if (s < firstIntermediate || given.has(s)) return K.reshape(t, t.shape);
      given.add(s);
      return t;
    });
  }
}

export const allConcrete = (xs: readonly Value[]): xs is Tensor[] => xs.every((x) => runtime.isTensor(x));
