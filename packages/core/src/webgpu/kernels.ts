/**
 * Workarounds for tfjs-backend-webgpu 4.22 kernels, part of core's tfjs seam (kernels.ts routes
 * the affected ops here when the webgpu backend is active). Each was found by test/webgpu's
 * parity suite; each broken kernel otherwise fails or, worse, fails shader validation
 * asynchronously and leaves zeros in its output:
 *
 * - no shader of rank above 6 ("GPU for rank 7 is not yet supported"): transpose and reductions
 *   run on an equivalent view with adjacent axes merged;
 * - Pad of rank 5 or 6 generates invalid WGSL (`vec5` indexing): pads are concatenations with zeros;
 * - conv2d with explicit (asymmetric) padding gives wrong values: the input is padded first
 *   (as above) and the convolution is 'valid';
 * - bool arrays of rank 6 make invalid WGSL (f32/i32 mismatch) in Cast: casts run on a flat view,
 *   and bool transposes as float32 (exact for 0/1).
 *
 * kernels.ts stays core's only module that imports tfjs: it hands its tfjs module over with
 * `useTfjs(tf)` when it loads, and this module names tfjs only in types.
 */
import type { Tensor, Tensor4D, Tf, TfDataType } from "../kernels";

/** The tfjs module, set by kernels.ts when it loads (before any kernel can run). */
let tf: Tf;

/** Give this module kernels.ts's tfjs (called once, by kernels.ts). */
export const useTfjs = (tfjs: Tf): void => {
  tf = tfjs;
};

/** Whether the active tfjs backend is webgpu. */
export const onWebGpu = (): boolean => tf.getBackend() === "webgpu";

/** The largest rank tfjs's webgpu shaders handle. */
const MAX_RANK = 6;

/** x padded with zeros by concatenating zero blocks along each padded axis (any rank). */
export function padByConcat(x: Tensor, paddings: ReadonlyArray<readonly [number, number]>): Tensor {
  return tf.tidy(() => {
    let y = x;
    paddings.forEach(([lo, hi], axis) => {
      if (lo === 0 && hi === 0) return;
      const block = (n: number) =>
        tf.zeros(
          y.shape.map((d, i) => (i === axis ? n : d)),
          y.dtype,
        );
      const parts = [...(lo > 0 ? [block(lo)] : []), y, ...(hi > 0 ? [block(hi)] : [])];
      y = concatAnyRank(parts, axis);
    });
    return y === x ? tf.clone(x) : y;
  });
}

/** concat along `axis` on a rank-3 view [before, axis, after] of each part (any rank). */
export function concatAnyRank(xs: Tensor[], axis: number): Tensor {
  const shape = xs[0]!.shape;
  if (shape.length <= MAX_RANK) return tf.concat(xs, axis);
  const before = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const after = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  return tf.tidy(() => {
    const out = tf.concat(
      xs.map((t) => tf.reshape(t, [before, t.shape[axis]!, after])),
      1,
    );
    return tf.reshape(out, [...shape.slice(0, axis), out.shape[1]!, ...shape.slice(axis + 1)]);
  });
}

/** conv2d with explicit padding as pad-then-'valid' convolution (NHWC, HWIO filter). */
export function conv2dPadded(
  x: Tensor,
  w: Tensor,
  strides: [number, number],
  padding: [[number, number], [number, number]],
  dilations: [number, number],
): Tensor {
  return tf.tidy(() => {
    const xp = padByConcat(x, [[0, 0], padding[0], padding[1], [0, 0]]);
    return tf.conv2d(xp as Tensor4D, w as Tensor4D, strides, "valid", "NHWC", dilations);
  });
}

/** x transposed by `perm`, on a view where axes that stay adjacent are merged (any rank, any dtype). */
export function transposeAnyRank(x: Tensor, perm: number[]): Tensor {
  // Runs of input axes i, i+1, … that appear consecutively in perm move as one axis.
  const runs: number[][] = [];
  for (const p of perm) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[last.length - 1]! + 1 === p) last.push(p);
    else runs.push([p]);
  }
  const byStart = [...runs].sort((a, b) => a[0]! - b[0]!);
  const viewShape = byStart.map((r) => r.reduce((n, a) => n * x.shape[a]!, 1));
  const viewPerm = runs.map((r) => byStart.indexOf(r));
  const outShape = perm.map((p) => x.shape[p]!);
  return tf.tidy(() => {
    const bool = x.dtype === "bool";
    const v = tf.reshape(bool ? tf.cast(x, "float32") : x, viewShape);
    if (viewShape.length > MAX_RANK) {
      throw new Error(
        `transpose: rank-${viewShape.length} permutation ${perm} has no rank ≤ ${MAX_RANK} view on webgpu`,
      );
    }
    const t = tf.reshape(tf.transpose(v, viewPerm), outShape);
    return bool ? tf.cast(t, "bool") : t;
  });
}

/** A reduction over `axes`, on a view where adjacent axes that are all kept or all reduced merge. */
export function reduceAnyRank(op: (x: Tensor, axes: number[]) => Tensor, x: Tensor, axes: number[]): Tensor {
  if (x.rank <= MAX_RANK) return op(x, axes);
  const reduced = new Set(axes.map((a) => (a < 0 ? a + x.rank : a)));
  const shape: number[] = [];
  const kinds: boolean[] = [];
  x.shape.forEach((d, i) => {
    const r = reduced.has(i);
    if (kinds.length > 0 && kinds[kinds.length - 1] === r) shape[shape.length - 1]! *= d;
    else {
      shape.push(d);
      kinds.push(r);
    }
  });
  const viewAxes = kinds.flatMap((r, i) => (r ? [i] : []));
  const outShape = x.shape.filter((_, i) => !reduced.has(i));
  return tf.tidy(() => tf.reshape(op(tf.reshape(x, shape), viewAxes), outShape));
}

/**
 * Cast for webgpu. tfjs-webgpu casts bool and int32 to float32 by relabelling the same buffer
 * (its Cast returns an identity), so a later Transpose shader reads i32 data as f32 and fails
 * validation; a select or an add materialises real float32 values.
 */
export function castMaterialized(x: Tensor, dtype: TfDataType): Tensor {
  if (dtype !== "float32" || x.dtype === "float32") return tf.cast(x, dtype);
  return tf.tidy(() =>
    x.dtype === "bool"
      ? whereFlat(x, tf.ones(x.shape, "float32"), tf.zeros(x.shape, "float32"))
      : tf.add(tf.cast(x, "float32"), tf.zeros(x.shape, "float32")),
  );
}

/** where(c, a, b) for operands of one shape, on flat views (tfjs-webgpu's Select stops at rank 4). */
export function whereFlat(c: Tensor, a: Tensor, b: Tensor): Tensor {
  if (a.rank <= 4) return tf.where(c, a, b);
  const n = [a.size];
  return tf.tidy(() => tf.reshape(tf.where(tf.reshape(c, n), tf.reshape(a, n), tf.reshape(b, n)), a.shape));
}

const deviceErrors: string[] = [];
let watched: unknown = null;

/**
 * Record the webgpu device's uncaptured errors. A shader that fails validation does not throw: its
 * dispatch is dropped and its output keeps whatever the buffer held (often zeros), so tests and
 * long runs check this list (`webGpuErrors`) to tell a wrong kernel from a right answer.
 */
export function watchWebGpuErrors(): void {
  const device = (tf.backend() as unknown as { device?: { onuncapturederror: unknown } }).device;
  if (device === undefined || device === watched) return;
  watched = device;
  device.onuncapturederror = (event: { error?: { message?: string } }) => {
    deviceErrors.push(event.error?.message ?? String(event));
  };
}

/** The webgpu device errors seen since the last call (and clears them). */
export function webGpuErrors(): string[] {
  return deviceErrors.splice(0);
}
