/**
 * A jaxpr compiled for concrete inputs: equations become a flat list of kernel calls over slots,
 * with each intermediate freed right after its last use (memory planning), so a jitted call holds
 * at most the live set of its program instead of every intermediate until the end. Equations on
 * small arrays run as host kernels in JS (`host.ts`), where a tfjs call would cost mostly
 * dispatch (in plans with large arrays, equations on scalars only: `hostPlacement`); values move
 * between host and tensors only where a step needs the other side. Some pairs of equations run as
 * one fused kernel (`fuse.ts`).
 */
import { K, type Tensor } from "../kernels";
import { Literal, Var, type Jaxpr } from "./jaxpr";
import type { AnyPrimitive, Aval, Value } from "../trace/core";
import { runtime } from "../kernels";
import { hostKernel, hostPlacement, type HostArray, type HostKernel, type HostData } from "./host";
import { cse, dce, inlineCalls } from "./optimize";
import { fuse } from "./fuse";

interface Step {
  readonly prim: AnyPrimitive;
  readonly params: unknown;
  readonly inputs: readonly number[];
  readonly out: number;
  /** Slots whose last use is this step. */
  readonly frees: readonly number[];
  /** Set when the step runs in JS. */
  readonly host: HostKernel | undefined;
  readonly outAval: Aval;
}

const download = (t: Tensor): HostArray => ({
  data: t.dataSync() as HostData,
  shape: t.shape,
  dtype: t.dtype as HostArray["dtype"],
});
const upload = (h: HostArray): Tensor => K.tensor(h.data, [...h.shape], h.dtype);

export class Plan {
  private readonly steps: Step[] = [];
  private readonly nConsts: number;
  private readonly nIns: number;
  private readonly nSlots: number;
  private readonly outs: readonly number[];
  /** Literal scalars, in slots after the constants. */
  private readonly literals: Literal[] = [];
  /** Host copies of constants, made on first use (constants never change). */
  private readonly constHost: (HostArray | undefined)[];

  private readonly consts: readonly Tensor[];

  constructor(
    nested: Jaxpr,
    nestedConsts: readonly Tensor[],
    /** Run small equations as host kernels (default true). */
    useHost = true,
  ) {
    // Calls are inlined: the plan is one flat program (CSE and DCE again across call boundaries).
    let jaxpr = inlineCalls(nested);
    let consts = nestedConsts;
    if (jaxpr !== nested) [jaxpr, consts] = dce(cse(jaxpr), consts) as [Jaxpr, Tensor[]];
    // Kernel fusion last: it sees the whole program, after differentiation (fuse.ts).
    jaxpr = fuse(jaxpr);
    this.consts = consts;
    const slot = new Map<Var, number>();
    // Slots: consts and literals first (never freed), then inputs, then equation outputs.
    const litIndex = new Map<string, number>();
    for (const e of jaxpr.eqns) {
      for (const a of e.inputs) {
        if (a instanceof Literal) {
          const key = `${a.value}:${a.aval.dtype}`;
          if (!litIndex.has(key)) {
            litIndex.set(key, this.literals.length);
            this.literals.push(a);
          }
        }
      }
    }
    jaxpr.constvars.forEach((v) => slot.set(v, slot.size));
    const litBase = slot.size;
    this.nConsts = litBase + this.literals.length;
    this.constHost = new Array(this.nConsts);
    this.literals.forEach((l, i) => {
      const data =
        l.aval.dtype === "float32"
          ? new Float32Array(1)
          : l.aval.dtype === "int32"
            ? new Int32Array(1)
            : new Uint8Array(1);
      data[0] = l.value;
      this.constHost[litBase + i] = { data, shape: [], dtype: l.aval.dtype };
    });
    jaxpr.invars.forEach((v, i) => slot.set(v, this.nConsts + i));
    this.nIns = jaxpr.invars.length;
    let next = this.nConsts + this.nIns;
    for (const e of jaxpr.eqns) slot.set(e.outs[0]!, next++);
    this.nSlots = next;
    const at = (a: Var | Literal): number =>
      a instanceof Literal ? litBase + litIndex.get(`${a.value}:${a.aval.dtype}`)! : slot.get(a)!;
    this.outs = jaxpr.outs.map(at);
    // Last use of each intermediate; outputs are never freed, unused results are freed at once.
    const lastUse = new Map<number, number>();
    jaxpr.eqns.forEach((e, i) => e.inputs.forEach((a) => lastUse.set(at(a), i)));
    const firstIntermediate = this.nConsts + this.nIns;
    const frees: number[][] = jaxpr.eqns.map(() => []);
    for (const [s, i] of lastUse) if (s >= firstIntermediate && !this.outs.includes(s)) frees[i]!.push(s);
    const onHost = hostPlacement(jaxpr);
    jaxpr.eqns.forEach((e, i) => {
      const prim = e.prim as AnyPrimitive; // calls were inlined above
      const out = slot.get(e.outs[0]!)!;
      if (!lastUse.has(out) && !this.outs.includes(out)) frees[i]!.push(out);
      const host = useHost && onHost(e) ? hostKernel(prim) : undefined;
      this.steps.push({
        prim,
        params: e.params,
        inputs: e.inputs.map(at),
        out,
        frees: frees[i]!,
        host,
        outAval: e.outs[0]!.aval,
      });
    });
  }

  /** Run on concrete inputs; returns fresh tensors owned by the caller. */
  run(args: readonly Tensor[]): Tensor[] {
    // One loop over precomputed steps with no closures or arrays made per step: between kernels
    // the plan's own JS is all that runs (`bench/models.ts` counts it in grad_ms − kernel_ms).
    const dev: (Tensor | undefined)[] = new Array(this.nSlots);
    const host: (HostArray | undefined)[] = new Array(this.nSlots);
    const nc = this.consts.length;
    for (let i = 0; i < nc; i++) dev[i] = this.consts[i];
    for (let i = 0; i < this.nIns; i++) dev[this.nConsts + i] = args[i];
    const firstIntermediate = this.nConsts + this.nIns;
    // Tensors made for constants, literals or inputs during this run (freed at the end).
    const made: Tensor[] = [];
    try {
      for (const s of this.steps) {
        const ins = s.inputs;
        if (s.host) {
          const xs: HostArray[] = new Array(ins.length);
          for (let k = 0; k < ins.length; k++) xs[k] = this.onHost(ins[k]!, dev, host);
          host[s.out] = s.host(xs, s.params, s.outAval);
        } else {
          const xs: Tensor[] = new Array(ins.length);
          for (let k = 0; k < ins.length; k++) xs[k] = this.onDevice(ins[k]!, dev, host, made);
          dev[s.out] = s.prim.impl(xs, s.params);
        }
        const frees = s.frees;
        for (let k = 0; k < frees.length; k++) {
          const f = frees[k]!;
          dev[f]?.dispose();
          dev[f] = undefined;
          host[f] = undefined;
        }
      }
      // Outputs that are constants, inputs or repeated get a fresh handle, so the caller owns each one.
      const outs: Tensor[] = new Array(this.outs.length);
      for (let i = 0; i < outs.length; i++) {
        const s = this.outs[i]!;
        const t = this.onDevice(s, dev, host, made);
        outs[i] = s < firstIntermediate || this.outs.indexOf(s) < i ? K.reshape(t, t.shape) : t;
      }
      return outs;
    } catch (e) {
      for (let i = firstIntermediate; i < dev.length; i++) dev[i]?.dispose();
      throw e;
    } finally {
      for (const t of made) t.dispose();
    }
  }

  /** Slot j's value in JS memory, downloaded once per run (constants once per plan). */
  private onHost(j: number, dev: (Tensor | undefined)[], host: (HostArray | undefined)[]): HostArray {
    let h = host[j] ?? (j < this.nConsts ? this.constHost[j] : undefined);
    if (h === undefined) {
      h = download(dev[j]!);
      if (j < this.consts.length) this.constHost[j] = h;
    }
    host[j] = h;
    return h;
  }

  /** Slot j's value as a tensor, uploaded once per run where it lives on the host. */
  private onDevice(j: number, dev: (Tensor | undefined)[], host: (HostArray | undefined)[], made: Tensor[]): Tensor {
    let t = dev[j];
    if (t === undefined) {
      t = upload(this.onHost(j, dev, host));
      dev[j] = t;
      if (j < this.nConsts + this.nIns) made.push(t);
    }
    return t;
  }
}

export const allConcrete = (xs: readonly Value[]): xs is Tensor[] => xs.every((x) => runtime.isTensor(x));
