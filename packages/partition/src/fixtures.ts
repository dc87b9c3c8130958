/**
 * Test fixtures for the partition tests (not exported by the package): tiny models as pytrees
 * with a flat-vector twin of their loss, brute-force partitioned derivatives contracted in
 * float64, closed-form polynomial losses, and zero-filled parameters of the paper's models.
 */
import * as hd from "@hodiff/core";
import type { Value } from "@hodiff/core";

export type Leaves = Record<string, Value>;
export type Params = Record<string, Leaves>;

export interface TinyModel {
  /** Leaf paths in flatten order, and their shapes. */
  paths: string[];
  shapes: number[][];
  /** Total number of scalars. */
  size: number;
  /** The parameter pytree. */
  params: () => Params;
  /** The loss of the parameter pytree. */
  loss: (p: Params) => Value;
  /** The same loss of the flat parameter vector (leaves concatenated in `paths` order). */
  lossFlat: (theta: Value) => Value;
  /** A flat vector as a pytree shaped like the parameters. */
  treeOf: (theta: Value) => Params;
}

const nll = (logits: Value, labels: Value): Value => hd.neg(hd.mean(hd.sum(hd.mul(hd.logSoftmax(logits), labels), 1)));
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Split a flat vector into a two-level pytree {layer: {leaf}} in the order of `paths`. */
function unflatten(theta: Value, paths: string[], shapes: number[][]): Params {
  const out: Params = {};
  let offset = 0;
  paths.forEach((p, i) => {
    const [layer, leaf] = p.split(".") as [string, string];
    const n = numel(shapes[i]!);
    (out[layer] ??= {})[leaf] = hd.reshape(hd.slice(theta, [offset], [n]), shapes[i]!);
    offset += n;
  });
  return out;
}

function model(
  paths: string[],
  shapes: number[][],
  seed: number,
  scale: number,
  loss: (p: Params) => Value,
): TinyModel {
  const size = shapes.reduce((a, s) => a + numel(s), 0);
  return {
    paths,
    shapes,
    size,
    loss,
    lossFlat: (theta) => loss(unflatten(theta, paths, shapes)),
    treeOf: (theta) => hd.tidy(() => unflatten(theta, paths, shapes)) as Params,
    params: () =>
      hd.tidy(() => unflatten(hd.mul(hd.random.normal(hd.random.key(seed), [size]), scale), paths, shapes)) as Params,
  };
}

/** 3-4-2 tanh MLP with NLL on 5 points: {fc1: {w, b}, fc2: {w, b}}, P = 26. */
export function tinyMlp(): TinyModel {
  const x = hd.random.normal(hd.random.key(11), [5, 3]);
  const labels = hd.array([
    [1, 0],
    [0, 1],
    [1, 0],
    [1, 0],
    [0, 1],
  ]);
  return model(["fc1.w", "fc1.b", "fc2.w", "fc2.b"], [[3, 4], [4], [4, 2], [2]], 12, 0.7, (p) => {
    const h = hd.tanh(hd.add(hd.matmul(x, p.fc1!.w!), p.fc1!.b!));
    return nll(hd.add(hd.matmul(h, p.fc2!.w!), p.fc2!.b!), labels);
  });
}

/** conv 3×3 (1→2), tanh, 2×2 max pooling, dense 8→3, NLL on 2 images of 6×6: {conv1, fc1}, P = 47. */
export function tinyCnn(): TinyModel {
  const x = hd.random.normal(hd.random.key(13), [2, 6, 6, 1]);
  const labels = hd.array([
    [1, 0, 0],
    [0, 0, 1],
  ]);
  return model(["conv1.w", "conv1.b", "fc1.w", "fc1.b"], [[3, 3, 1, 2], [2], [8, 3], [3]], 14, 0.5, (p) => {
    const h = hd.maxPool(hd.tanh(hd.add(hd.conv2d(x, p.conv1!.w!), p.conv1!.b!)), { window: 2 });
    return nll(hd.add(hd.matmul(hd.reshape(h, [2, 8]), p.fc1!.w!), p.fc1!.b!), labels);
  });
}

/** The leaves of a two-level pytree concatenated in `paths` order, as float64. */
export function flatOf(tree: Params, paths: string[]): Float64Array {
  const parts = paths.map((p) => {
    const [layer, leaf] = p.split(".") as [string, string];
    return Array.from(hd.toFlat(tree[layer]![leaf]!));
  });
  return Float64Array.from(parts.flat());
}

/** Index ranges [start, end) of each leaf in the flat vector. */
export function leafRanges(shapes: number[][]): [number, number][] {
  let offset = 0;
  return shapes.map((s) => {
    const r: [number, number] = [offset, offset + numel(s)];
    offset += numel(s);
    return r;
  });
}

/**
 * V (P×S, as S columns): column s is u restricted to the leaves listed in `groups[s]`
 * (indices into the leaf list), zero elsewhere.
 */
export function groupColumns(u: Float64Array, ranges: [number, number][], groups: number[][]): Float64Array[] {
  return groups.map((leaves) => {
    const v = new Float64Array(u.length);
    for (const l of leaves) for (let p = ranges[l]![0]; p < ranges[l]![1]; p++) v[p] = u[p]!;
    return v;
  });
}

/** ⟨g, v_s⟩ for each column. */
export function contract1(g: Float64Array, V: Float64Array[]): number[] {
  return V.map((v) => v.reduce((acc, x, p) => acc + x * g[p]!, 0));
}

/** Vᵀ H V with H a row-major P×P array, in float64. */
export function contract2(H: Float64Array, V: Float64Array[]): number[][] {
  const P = V[0]!.length;
  const HV = V.map((v) => {
    const out = new Float64Array(P);
    for (let p = 0; p < P; p++) {
      let acc = 0;
      for (let q = 0; q < P; q++) acc += H[p * P + q]! * v[q]!;
      out[p] = acc;
    }
    return out;
  });
  return V.map((a) => HV.map((hb) => a.reduce((acc, x, p) => acc + x * hb[p]!, 0)));
}

/** T[V, V, V] with T a row-major P×P×P array, in float64. */
export function contract3(T: Float64Array, V: Float64Array[]): number[][][] {
  const P = V[0]!.length;
  // First contract the last index with every column: TV[c][p*P + q].
  const TV = V.map((v) => {
    const out = new Float64Array(P * P);
    for (let pq = 0; pq < P * P; pq++) {
      let acc = 0;
      for (let r = 0; r < P; r++) acc += T[pq * P + r]! * v[r]!;
      out[pq] = acc;
    }
    return out;
  });
  return V.map((a) => V.map((b) => TV.map((tc) => contract2(tc, [a, b])[0]![1]!)));
}

/** Largest |x| in a nested array. */
export function maxAbs(x: unknown): number {
  return Array.isArray(x) ? Math.max(0, ...x.map(maxAbs)) : Math.abs(x as number);
}

/** null when a and b (nested arrays of equal shape) agree within rtol × max|b| (+ atol), else the first mismatch. */
export function closeScaled(a: unknown, b: unknown, rtol: number, atol = 0): string | null {
  const tol = rtol * maxAbs(b) + atol;
  const go = (x: unknown, y: unknown, at: string): string | null => {
    if (Array.isArray(y)) {
      if (!Array.isArray(x) || x.length !== y.length) return `shape differs at ${at}`;
      for (let i = 0; i < y.length; i++) {
        const m = go(x[i], y[i], `${at}[${i}]`);
        if (m) return m;
      }
      return null;
    }
    const d = Math.abs((x as number) - (y as number));
    return d <= tol
      ? null
      : `at ${at || "root"}: ${x as number} vs ${y as number} (|diff| ${d.toExponential(2)} > ${tol.toExponential(2)})`;
  };
  return go(a, b, "");
}

/** A tensor as a nested array of numbers. */
export const nested = (x: Value): unknown => hd.toNested(x);

// ——— Closed-form polynomial losses ———

/** One factor Σ_i coef_i · x_i^k over a leaf. */
export interface PowerSum {
  leaf: string;
  coefs: number[];
  k: number;
}

/** L(θ) = Σ_terms Π_factors Σ_i coef_i θ_i^k: a polynomial whose partitioned derivatives have closed forms. */
export type Polynomial = PowerSum[][];

/** The polynomial as a loss of a flat pytree of 1-D leaves (k-fold products, no pow). */
export function polynomialLoss(poly: Polynomial) {
  return (p: Leaves): Value =>
    poly
      .map((term) =>
        term
          .map(({ leaf, coefs, k }) => {
            let xk: Value = p[leaf]!;
            for (let j = 1; j < k; j++) xk = hd.mul(xk, p[leaf]!);
            return hd.sum(hd.mul(hd.array(coefs), xk));
          })
          .reduce((a, b) => hd.mul(a, b)),
      )
      .reduce((a, b) => hd.add(a, b));
}

const binom = (n: number, k: number): number => (k < 0 || k > n ? 0 : k === 0 ? 1 : (binom(n - 1, k - 1) * n) / k);
const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));

/** Multivariate polynomial in α: map from exponent tuple (joined by ',') to coefficient. */
type Poly = Map<string, number>;

function mulPoly(a: Poly, b: Poly, S: number): Poly {
  const out: Poly = new Map();
  for (const [ka, ca] of a) {
    const ea = ka.split(",").map(Number);
    for (const [kb, cb] of b) {
      const eb = kb.split(",").map(Number);
      const key = Array.from({ length: S }, (_, s) => ea[s]! + eb[s]!).join(",");
      out.set(key, (out.get(key) ?? 0) + ca * cb);
    }
  }
  return out;
}

/**
 * D̄(d) of a polynomial loss by hand: with x → x + α_{group(x)} u_x each factor Σ_i c_i (x_i + α u_i)^k
 * expands to Σ_m C(k,m) α^m Σ_i c_i x_i^(k-m) u_i^m; multiplying out gives g(α) as a polynomial and
 * D̄(d)[i1…id] = (Π_s m_s!) · coef(α^m), m_s = how many of i1…id equal s. All in float64.
 */
export function polynomialDerivative(
  poly: Polynomial,
  theta: Record<string, number[]>,
  u: Record<string, number[]>,
  groupOf: Record<string, number>,
  S: number,
  order: number,
): unknown {
  const zero = Array(S).fill(0).join(",");
  const g: Poly = new Map();
  for (const term of poly) {
    let t: Poly = new Map([[zero, 1]]);
    for (const { leaf, coefs, k } of term) {
      const s = groupOf[leaf]!;
      const f: Poly = new Map();
      for (let m = 0; m <= k; m++) {
        const c =
          binom(k, m) * coefs.reduce((acc, ci, i) => acc + ci * theta[leaf]![i]! ** (k - m) * u[leaf]![i]! ** m, 0);
        const e = Array(S).fill(0);
        e[s] = m;
        f.set(e.join(","), c);
      }
      t = mulPoly(t, f, S);
    }
    for (const [key, c] of t) g.set(key, (g.get(key) ?? 0) + c);
  }
  const entry = (idx: number[]): number => {
    const m = Array(S).fill(0);
    for (const i of idx) m[i]++;
    return (g.get(m.join(",")) ?? 0) * m.reduce((acc: number, x: number) => acc * factorial(x), 1);
  };
  const build = (prefix: number[]): unknown =>
    prefix.length === order ? entry(prefix) : Array.from({ length: S }, (_, s) => build([...prefix, s]));
  return build([]);
}

// ——— The paper's models, as zero-filled parameter pytrees ———

const layer = (w: number[], b: number) => ({ w: hd.zeros(w), b: hd.zeros([b]) });

/** MLP 784-1024-200-100-10: fc1..fc4 {w, b}. */
export function paperMlp(): Params {
  const sizes = [784, 1024, 200, 100, 10];
  const p: Params = {};
  for (let i = 0; i < 4; i++) p[`fc${i + 1}`] = layer([sizes[i]!, sizes[i + 1]!], sizes[i + 1]!);
  return p;
}

/** LeNet-5: conv1 {w [5,5,3,6], b}, conv2 {w [5,5,6,16], b}, fc1 400-120, fc2 120-84, fc3 84-10. */
export function paperLeNet(): Params {
  return {
    conv1: layer([5, 5, 3, 6], 6),
    conv2: layer([5, 5, 6, 16], 16),
    fc1: layer([400, 120], 120),
    fc2: layer([120, 84], 84),
    fc3: layer([84, 10], 10),
  };
}

/** VGG-11': 8 convs 3×3 (64,128,256,256,512,512,512,512), fc 512→10. */
export function paperVgg(): Params {
  const channels = [64, 128, 256, 256, 512, 512, 512, 512];
  const p: Params = {};
  let cin = 3;
  channels.forEach((c, i) => {
    p[`conv${i + 1}`] = layer([3, 3, cin, c], c);
    cin = c;
  });
  p.fc = layer([512, 10], 10);
  return p;
}
