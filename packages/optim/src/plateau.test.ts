/** reduceOnPlateau against hand-worked sequences and a transcription of PyTorch's ReduceLROnPlateau. */
import * as hd from "@hodiff/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sgd } from "./alias";
import { chain } from "./combine";
import { reduceOnPlateau, scaleByPlateau, type PlateauOptions, type PlateauState } from "./plateau";
import { expectClose, flatOf, gradFlat, makeParams } from "./fixtures";

/** Run `metrics` through a fresh plateau; the states after each step as [best, bad, cooldown, scale]. */
function run(options: PlateauOptions, metrics: number[]): number[][] {
  const p = reduceOnPlateau(options);
  let s = p.init();
  return metrics.map((m) => {
    s = p.step(s, m);
    return [s.best, s.numBadEpochs, s.cooldownCounter, s.scale];
  });
}

describe("reduceOnPlateau", () => {
  it("follows a hand-worked sequence: patience, the threshold boundary, cooldown", () => {
    // mode min, rel: better means m < best·(1 − 0.25). Reduce on the 3rd bad epoch in a row.
    const metrics = [8, 7, 6, 5.9, 5, 5, 5, 5, 5, 5, 5, 1, 1];
    expect(run({ factor: 0.5, patience: 2, threshold: 0.25, cooldown: 1 }, metrics)).toEqual([
      [8, 0, 0, 1], // first metric: better than +∞
      [8, 1, 0, 1], // 7 ≥ 8·0.75 = 6: bad
      [8, 2, 0, 1], // 6 = 6 is not below the threshold: bad (boundary)
      [5.9, 0, 0, 1], // 5.9 < 6: better
      [5.9, 1, 0, 1],
      [5.9, 2, 0, 1],
      [5.9, 0, 1, 0.5], // 3 > patience: scale × 0.5, cooldown 1
      [5.9, 0, 0, 0.5], // bad but in cooldown: not counted
      [5.9, 1, 0, 0.5],
      [5.9, 2, 0, 0.5],
      [5.9, 0, 1, 0.25],
      [1, 0, 0, 0.25], // better (and the cooldown ends)
      [1, 1, 0, 0.25],
    ]);
  });

  it("mode max with an absolute threshold; patience 0 reduces on every bad epoch", () => {
    expect(run({ mode: "max", thresholdMode: "abs", threshold: 1, patience: 0 }, [10, 11, 10.5, 12.5])).toEqual([
      [10, 0, 0, 1],
      [10, 0, 0, 0.1], // 11 > 10 + 1 fails at the boundary: bad, reduce
      [10, 0, 0, 0.010000000000000002],
      [12.5, 0, 0, 0.010000000000000002],
    ]);
  });

  it("clamps at minScale, skips reductions below eps, counts NaN as bad", () => {
    const scales = (o: PlateauOptions, ms: number[]) => run(o, ms).map((r) => r[3]);
    expect(scales({ factor: 0.5, patience: 0, minScale: 0.3 }, [1, 1, 1, 1])).toEqual([1, 0.5, 0.3, 0.3]);
    expect(scales({ factor: 0.5, patience: 0, eps: 0.6 }, [1, 1])).toEqual([1, 1]);
    expect(scales({ factor: 0.5, patience: 1 }, [1, NaN, NaN])).toEqual([1, 1, 0.5]);
  });

  it("is pure: states are frozen plain numbers and stepping one twice gives equal results", () => {
    const p = reduceOnPlateau({ patience: 0 });
    const s0 = p.init();
    expect(s0).toEqual({ count: 0, best: Infinity, numBadEpochs: 0, cooldownCounter: 0, scale: 1 });
    const a = p.step(s0, 3);
    expect(p.step(s0, 3)).toEqual(a);
    expect(s0.count).toBe(0);
    expect(Object.isFrozen(a)).toBe(true);
    expect(() => {
      (a as { scale: number }).scale = 2;
    }).toThrow(TypeError);
  });

  it("runs the README's example", () => {
    const plateau = reduceOnPlateau({ factor: 0.5, patience: 2 });
    let s = plateau.init();
    for (const valLoss of [1, 1, 1, 1]) s = plateau.step(s, valLoss);
    expect(s.scale).toBe(0.5);
  });

  it("validates its options", () => {
    expect(() => reduceOnPlateau({ factor: 1 })).toThrow("reduceOnPlateau: factor must be in (0, 1), got 1.");
    expect(() => reduceOnPlateau({ patience: 1.5 })).toThrow(hd.ArgumentError);
    expect(() => reduceOnPlateau({ thresholdMode: "x" as never })).toThrow(hd.ArgumentError);
  });

  it("agrees with a transcription of PyTorch's ReduceLROnPlateau on random sequences", () => {
    /** torch.optim.lr_scheduler.ReduceLROnPlateau.step, mutable, with lr = scale. */
    class Torch {
      best: number;
      bad = 0;
      cooldownCounter = 0;
      lr = 1;
      constructor(private o: Required<PlateauOptions>) {
        this.best = o.mode === "min" ? Infinity : -Infinity;
      }
      isBetter(a: number, best: number): boolean {
        const { mode, thresholdMode: tm, threshold: th } = this.o;
        if (mode === "min" && tm === "rel") return a < best * (1 - th);
        if (mode === "min" && tm === "abs") return a < best - th;
        if (mode === "max" && tm === "rel") return a > best * (th + 1);
        return a > best + th;
      }
      step(current: number): void {
        if (this.isBetter(current, this.best)) {
          this.best = current;
          this.bad = 0;
        } else this.bad += 1;
        if (this.cooldownCounter > 0) {
          this.cooldownCounter -= 1;
          this.bad = 0;
        }
        if (this.bad > this.o.patience) {
          const newLr = Math.max(this.lr * this.o.factor, this.o.minScale);
          if (this.lr - newLr > this.o.eps) this.lr = newLr;
          this.cooldownCounter = this.o.cooldown;
          this.bad = 0;
        }
      }
    }
    const options = fc.record({
      mode: fc.constantFrom("min" as const, "max" as const),
      thresholdMode: fc.constantFrom("rel" as const, "abs" as const),
      factor: fc.constantFrom(0.1, 0.5, 0.9),
      patience: fc.integer({ min: 0, max: 4 }),
      threshold: fc.constantFrom(0, 1e-4, 0.1, 0.5),
      cooldown: fc.integer({ min: 0, max: 3 }),
      minScale: fc.constantFrom(0, 0.01),
    });
    const metrics = fc.array(fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ min: -10, max: 10, noNaN: true })), {
      maxLength: 40,
    });
    fc.assert(
      fc.property(options, metrics, (o, ms) => {
        const p = reduceOnPlateau(o);
        const torch = new Torch(p.options);
        let s: PlateauState = p.init();
        for (const m of ms) {
          s = p.step(s, m);
          torch.step(m);
          expect([s.best, s.numBadEpochs, s.cooldownCounter, s.scale]).toEqual([
            torch.best,
            torch.bad,
            torch.cooldownCounter,
            torch.lr,
          ]);
        }
      }),
      { numRuns: 300, seed: 42 },
    );
  });
});

describe("scaleByPlateau", () => {
  it("scales the updates by the plateau's scale, stepping only when extras.value is given", () => {
    const opt = chain(sgd(1), scaleByPlateau({ factor: 0.5, patience: 0 }));
    const params = makeParams();
    const grads = makeParams(gradFlat(1));
    const neg = gradFlat(1).map((l) => l.map((x) => -x));
    let state = opt.init(params);
    const scales: number[] = [];
    for (const value of [2, undefined, 2, undefined, 1, 2]) {
      const r = opt.update(state, params, grads, value === undefined ? {} : { value });
      const s = r.state[1].plateau.scale;
      scales.push(s);
      expectClose(
        flatOf(r.updates),
        neg.map((l) => l.map((x) => s * x)),
      );
      if (value === undefined) expect(r.state[1]).toBe(state[1]);
      hd.dispose(r.updates);
      state = r.state;
    }
    // 2: best; (none); 2: bad → 0.5 now; (none); 1: better; 2: bad → 0.25.
    expect(scales).toEqual([1, 1, 0.5, 0.5, 0.5, 0.25]);
    expect(state[1].plateau.count).toBe(4);
    hd.dispose([params, grads]);
  });
});
