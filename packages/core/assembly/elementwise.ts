// SIMD (f32x4) elementwise transcendental kernels for the tfjs wasm backend, in AssemblyScript.
// Built by `node packages/core/scripts/build-simd.mjs` into src/kernels/wasm/simdModule.ts.
//
// The module imports its memory: it is given the tfjs-wasm backend's own heap, so every function
// reads its input and writes its output in place, at the byte offsets tfjs allocated for the
// tensors (no copies). It therefore has no data segment, no globals and no allocator: nothing of
// its own is ever written to that memory.
//
// The functions of one float are Cephes's single-precision algorithms (S. L. Moshier, Cephes Math
// Library), vectorised: range reduction, a short polynomial, and selects for the edge cases, so
// NaN, ±Inf, ±0 and subnormal inputs give what the float64 reference rounded to float32 gives.

// exp ------------------------------------------------------------------------------------------

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375; // ln 2 = LN2_HI + LN2_LO, LN2_HI has few bits so n·LN2_HI is exact
const LN2_LO: f32 = -2.12194440e-4;

/** r·P(r) + r with eʳ ≈ 1 + (that), |r| ≤ ln2/2 (Cephes expf). */
// @ts-ignore: decorator
@inline
function expPoly(r: v128): v128 {
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  return f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r);
}

/** 2ⁿ for integer lanes n with −126 ≤ n ≤ 127, by building the exponent bits. */
// @ts-ignore: decorator
@inline
function pow2(n: v128): v128 {
  return i32x4.shl(i32x4.add(n, i32x4.splat(127)), 23);
}

// 1.5·2²³: adding it to a float of magnitude below 2²² rounds it to an integer n (to nearest, ties
// to even, as f32x4.nearest) held in the low mantissa bits, so the bits minus ROUND's bits are n as
// an integer: no nearest and trunc_sat, which V8 lowers to several x86 instructions each.
const ROUND: f32 = 12582912.0;
const ROUND_BITS: i32 = 0x4b400000;

/**
 * Clamps to [lo, hi] with pmin/pmax (one minps/maxps each; wasm's min/max take several x86
 * instructions for their NaN and signed-zero rules): pmax(x, lo) = x < lo ? lo : x and
 * pmin(·, hi) = hi < · ? hi : ·, so a NaN x comes through as NaN.
 */
// @ts-ignore: decorator
@inline
function clampv(x: v128, lo: f32, hi: f32): v128 {
  return f32x4.pmin(f32x4.pmax(x, f32x4.splat(lo)), f32x4.splat(hi));
}

/** eˣ; x is clamped to [−104, 89] (beyond it the result is 0 or +Inf) and 2ⁿ applied in two halves. */
// @ts-ignore: decorator
@inline
function expv(x: v128): v128 {
  x = clampv(x, -104.0, 89.0); // NaN stays NaN through the whole computation
  const biased = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUND));
  const fn = f32x4.sub(biased, f32x4.splat(ROUND)); // nearest(x·log₂e)
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(fn, f32x4.splat(LN2_HI))), f32x4.mul(fn, f32x4.splat(LN2_LO)));
  const p = f32x4.add(expPoly(r), f32x4.splat(1.0));
  const n = i32x4.sub(biased, i32x4.splat(ROUND_BITS)); // in [−150, 129]
  const n1 = i32x4.shr_s(n, 1);
  const n2 = i32x4.sub(n, n1);
  return f32x4.mul(f32x4.mul(p, pow2(n1)), pow2(n2));
}

/** eˣ − 1 = q·2ⁿ + (2ⁿ − 1) with q = e^r − 1 computed without adding 1, so it is exact near 0. */
// @ts-ignore: decorator
@inline
function expm1v(x: v128): v128 {
  // Below −30, eˣ − 1 rounds to −1; above 88.8 it overflows (and does here, through the ·2).
  x = clampv(x, -30.0, 88.8);
  const biased = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUND));
  const fn = f32x4.sub(biased, f32x4.splat(ROUND)); // nearest(x·log₂e)
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(fn, f32x4.splat(LN2_HI))), f32x4.mul(fn, f32x4.splat(LN2_LO)));
  const q = expPoly(r);
  const t = pow2(i32x4.sub(biased, i32x4.splat(ROUND_BITS + 1))); // 2ⁿ⁻¹, n − 1 in [−45, 127]
  // (q·t + (t − ½))·2 = q·2ⁿ + 2ⁿ − 1; below 2⁻²⁵ in magnitude eˣ − 1 rounds to x (keeps −0).
  const out = f32x4.mul(f32x4.add(f32x4.mul(q, t), f32x4.sub(t, f32x4.splat(0.5))), f32x4.splat(2.0));
  return v128.bitselect(x, out, f32x4.lt(f32x4.abs(x), f32x4.splat(2.98023224e-8)));
}

// log ------------------------------------------------------------------------------------------

/** ln x (Cephes logf): x = m·2ᵉ with m in [√½, √2), ln m by a polynomial in m − 1. */
// @ts-ignore: decorator
@inline
function logv(x: v128): v128 {
  // Subnormals: scale by 2²³ first and take 23 off the exponent.
  const sub = f32x4.lt(x, f32x4.splat(1.17549435e-38));
  const xs = v128.bitselect(f32x4.mul(x, f32x4.splat(8388608.0)), x, sub);
  const bits = xs;
  let e = f32x4.convert_i32x4_s(
    i32x4.sub(i32x4.shr_u(v128.and(bits, i32x4.splat(0x7f800000)), 23), i32x4.splat(126)),
  );
  e = f32x4.sub(e, v128.and(f32x4.splat(23.0), sub));
  let m = v128.or(v128.and(bits, i32x4.splat(0x807fffff)), i32x4.splat(0x3f000000)); // in [½, 1)
  const small = f32x4.lt(m, f32x4.splat(0.707106781186547524));
  // m < √½: use 2m − 1 and e − 1; otherwise m − 1.
  e = f32x4.sub(e, v128.and(f32x4.splat(1.0), small));
  m = f32x4.sub(f32x4.add(m, v128.and(m, small)), f32x4.splat(1.0));
  const z = f32x4.mul(m, m);
  let y = f32x4.splat(7.0376836292e-2);
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-1.151461031e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(1.167699874e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-1.2420140846e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(1.4249322787e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-1.6668057665e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(2.0000714765e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(-2.4999993993e-1));
  y = f32x4.add(f32x4.mul(y, m), f32x4.splat(3.3333331174e-1));
  y = f32x4.mul(f32x4.mul(y, m), z);
  y = f32x4.add(y, f32x4.mul(e, f32x4.splat(LN2_LO)));
  y = f32x4.sub(y, f32x4.mul(z, f32x4.splat(0.5)));
  let out = f32x4.add(f32x4.add(m, y), f32x4.mul(e, f32x4.splat(LN2_HI)));
  // x ≤ 0 or NaN → NaN; then x = ±0 → −Inf; x = +Inf → +Inf.
  out = v128.bitselect(out, f32x4.splat(NaN), f32x4.gt(x, f32x4.splat(0.0)));
  out = v128.bitselect(f32x4.splat(-Infinity), out, f32x4.eq(x, f32x4.splat(0.0)));
  return v128.bitselect(f32x4.splat(Infinity), out, f32x4.eq(x, f32x4.splat(Infinity)));
}

/** ln(1 + x) = ln(u)·x/(u − 1) with u = 1 + x rounded (the rounding error of u cancels); x where u = 1. */
// @ts-ignore: decorator
@inline
function log1pv(x: v128): v128 {
  const u = f32x4.add(x, f32x4.splat(1.0));
  let out = f32x4.mul(logv(u), f32x4.div(x, f32x4.sub(u, f32x4.splat(1.0))));
  out = v128.bitselect(x, out, f32x4.eq(u, f32x4.splat(1.0)));
  return v128.bitselect(f32x4.splat(Infinity), out, f32x4.eq(x, f32x4.splat(Infinity)));
}

// tanh -----------------------------------------------------------------------------

const SIGN: i32 = 0x80000000;
// 1.5·2²³ + 127: adding it rounds a float in (−2²², 2²²) to an integer n (round to nearest even)
// held in the low mantissa bits as 127 + n, so shifting the bits left by 23 builds 2ⁿ directly
// (no nearest/trunc_sat, which V8 lowers to several x86 instructions each).
const MAGIC: f32 = 12583039.0;
const M2LOG2E: f32 = -2.8853900817779268; // −2·log₂e
const LN2: f32 = 0.6931471805599453;

/**
 * tanh x = sign(x)·e/(2 − e) with e = 1 − e^{−2|x|} (as XNNPACK's tanh: 2ⁿ ≤ 1, so nothing
 * overflows): −2|x| = n·ln2 + t, e^{−2|x|} = s·eᵗ with s = 2ⁿ; e = (1 − s) − s·(eᵗ − 1), and
 * eᵗ − 1 = t + t²·P(t) with a degree-4 P fitted for minimax relative error of eᵗ − 1 on
 * |t| ≤ ln2/2 (Lawson's reweighted least squares in float64 on 4000 Chebyshev nodes, coefficients
 * rounded to float32: 0.28 ulps before rounding; Cephes's expPoly is one degree more). One ln2
 * constant in the reduction suffices: its error is scaled by s, small next to e. No select: at
 * subnormal and tiny x, t = −2|x| exactly and e/(2 − e) rounds back to |x|. ≤ 2 ulps (simd.test.ts).
 */
// @ts-ignore: decorator
@inline
function tanhv(x: v128): v128 {
  // tanh rounds to 1 from |x| ≈ 9.01 on: clamping at 9.1 keeps n ≥ −27. pmin (one minps) keeps a
  // NaN a, which stays NaN to the end (only its sign bit is then set from x).
  const z = f32x4.pmin(f32x4.abs(x), f32x4.splat(9.1));
  let n = f32x4.add(f32x4.mul(z, f32x4.splat(M2LOG2E)), f32x4.splat(MAGIC));
  const s = i32x4.shl(n, 23); // 2ⁿ
  n = f32x4.sub(n, f32x4.splat(MAGIC));
  const t = f32x4.add(f32x4.mul(n, f32x4.splat(-LN2)), f32x4.mul(z, f32x4.splat(-2.0)));
  let p = f32x4.splat(1.3882522471249104e-3);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(8.36651399731636e-3));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(4.166720062494278e-2));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.666654348373413e-1));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(4.999999701976776e-1));
  const ts = f32x4.mul(t, s);
  // s·(eᵗ − 1) = ts + ts·t·P(t); e ≥ +0 (x − x is +0), so or-ing x's sign bit gives sign(x)·|tanh x|.
  const sm = f32x4.add(f32x4.mul(f32x4.mul(p, t), ts), ts);
  const e = f32x4.sub(f32x4.sub(f32x4.splat(1.0), s), sm);
  const y = f32x4.div(e, f32x4.sub(f32x4.splat(2.0), e));
  return v128.or(y, v128.and(x, i32x4.splat(SIGN)));
}

/** x for x > 0, eˣ − 1 otherwise (NaN stays NaN). */
// @ts-ignore: decorator
@inline
function eluv(x: v128): v128 {
  return v128.bitselect(x, expm1v(x), f32x4.gt(x, f32x4.splat(0.0)));
}

// loops over tfjs's tensors ----------------------------------------------------------------------
// Pointers are byte offsets into the shared heap; n counts float32 elements. Whole vectors first,
// then the last n mod 4 elements one lane at a time (tfjs allocates exactly n floats: never read or
// write past them).

// @ts-ignore: decorator
@inline
function loadTail(p: usize, k: i32): v128 {
  let v = f32x4.splat(0.0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (k > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (k > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

// @ts-ignore: decorator
@inline
function storeTail(p: usize, k: i32, v: v128): void {
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (k > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (k > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

const TANH = 0;
const EXP = 1;
const EXPM1 = 2;
const LOG = 3;
const LOG1P = 4;
const ELU = 5;

/** Kernel `op` on one vector; `op` is a constant at every call, so only its branch is compiled. */
// @ts-ignore: decorator
@inline
function apply(op: i32, v: v128): v128 {
  if (op == TANH) return tanhv(v);
  if (op == EXP) return expv(v);
  if (op == EXPM1) return expm1v(v);
  if (op == LOG) return logv(v);
  if (op == LOG1P) return log1pv(v);
  return eluv(v);
}

/** out[i] = op(x[i]) for i < n: four independent vectors per iteration (the CPU overlaps them), then single vectors, then the tail. */
// @ts-ignore: decorator
@inline
function mapUnary(op: i32, x: usize, out: usize, n: i32): void {
  const end16 = x + ((<usize>n >> 4) << 6);
  for (; x < end16; x += 64, out += 64) {
    const a = apply(op, v128.load(x));
    const b = apply(op, v128.load(x, 16));
    const c = apply(op, v128.load(x, 32));
    const d = apply(op, v128.load(x, 48));
    v128.store(out, a);
    v128.store(out, b, 16);
    v128.store(out, c, 32);
    v128.store(out, d, 48);
  }
  const end4 = x + ((<usize>(n & 15) >> 2) << 4);
  for (; x < end4; x += 16, out += 16) v128.store(out, apply(op, v128.load(x)));
  const k = n & 3;
  if (k) storeTail(out, k, apply(op, loadTail(x, k)));
}

export function tanh(x: usize, out: usize, n: i32): void {
  mapUnary(TANH, x, out, n);
}

export function exp(x: usize, out: usize, n: i32): void {
  mapUnary(EXP, x, out, n);
}

export function expm1(x: usize, out: usize, n: i32): void {
  mapUnary(EXPM1, x, out, n);
}

export function log(x: usize, out: usize, n: i32): void {
  mapUnary(LOG, x, out, n);
}

export function log1p(x: usize, out: usize, n: i32): void {
  mapUnary(LOG1P, x, out, n);
}

export function elu(x: usize, out: usize, n: i32): void {
  mapUnary(ELU, x, out, n);
}

/** ELU's derivative rule in one pass: out = dy·(x > 0 ? 1 : eˣ). */
export function eluGrad(x: usize, dy: usize, out: usize, n: i32): void {
  const zero = f32x4.splat(0.0);
  const one = f32x4.splat(1.0);
  const end = x + ((<usize>n >> 2) << 4);
  for (; x < end; x += 16, dy += 16, out += 16) {
    const v = v128.load(x);
    v128.store(out, f32x4.mul(v128.load(dy), v128.bitselect(one, expv(v), f32x4.gt(v, zero))));
  }
  const k = n & 3;
  if (k) {
    const v = loadTail(x, k);
    storeTail(out, k, f32x4.mul(loadTail(dy, k), v128.bitselect(one, expv(v), f32x4.gt(v, zero))));
  }
}

/** tanh's derivative rule in one pass: out = dy·(1 − y²) with y = tanh x (rounded as the unfused ops). */
export function tanhGrad(y: usize, dy: usize, out: usize, n: i32): void {
  const one = f32x4.splat(1.0);
  const end = y + ((<usize>n >> 2) << 4);
  for (; y < end; y += 16, dy += 16, out += 16) {
    const v = v128.load(y);
    v128.store(out, f32x4.mul(v128.load(dy), f32x4.sub(one, f32x4.mul(v, v))));
  }
  const k = n & 3;
  if (k) {
    const v = loadTail(y, k);
    storeTail(out, k, f32x4.mul(loadTail(dy, k), f32x4.sub(one, f32x4.mul(v, v))));
  }
}

// transpose ----------------------------------------------------------------------------------------
// out[b, j, i, k] = x[b, i, j, k] for x of shape [batch, rows, cols, chunk], 4-byte elements: every
// transpose that swaps two groups of axes (matmul gradients' Wᵀ, conv gradients' [B,H,W,C] →
// [H,W,B,C]) is one of these after merging axes. Cache-blocked; 4×4 tiles by SIMD shuffles.

/** A 4×4 tile: 4 rows of x (stride ldx bytes) become 4 rows of out (stride ldo bytes). */
// @ts-ignore: decorator
@inline
function tile4(x: usize, out: usize, ldx: usize, ldo: usize): void {
  const r0 = v128.load(x);
  const r1 = v128.load(x + ldx);
  const r2 = v128.load(x + 2 * ldx);
  const r3 = v128.load(x + 3 * ldx);
  const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
  v128.store(out, v128.shuffle<i32>(t0, t2, 0, 1, 4, 5));
  v128.store(out + ldo, v128.shuffle<i32>(t0, t2, 2, 3, 6, 7));
  v128.store(out + 2 * ldo, v128.shuffle<i32>(t1, t3, 0, 1, 4, 5));
  v128.store(out + 3 * ldo, v128.shuffle<i32>(t1, t3, 2, 3, 6, 7));
}

/** Move one chunk of `k` 4-byte elements (k ≥ 4: vectors, the last one overlapping). */
// @ts-ignore: decorator
@inline
function copyChunk(src: usize, dst: usize, k: usize): void {
  if (k >= 4) {
    const last = (k - 4) << 2;
    for (let o: usize = 0; o < last; o += 16) v128.store(dst + o, v128.load(src + o));
    v128.store(dst + last, v128.load(src + last));
  } else {
    for (let o: usize = 0; o < k << 2; o += 4) store<u32>(dst + o, load<u32>(src + o));
  }
}

/** out[b, j, i, k] = x[b, i, j, k] for x of shape [batch, rows, cols, chunk]. */
export function transpose(x: usize, out: usize, batch: i32, rows: i32, cols: i32, chunk: i32): void {
  const size = rows * cols * chunk;
  transposeNd(x, out, rows, cols, cols * chunk, rows * chunk, chunk, batch, size, size, 1, 0, 0, 1, 0, 0, 1, 0, 0);
}

// ── broadcast / layout kernels ──────────────────────────────────────────────────────────────────
// Elementwise ops where one operand repeats along the leading axes (a conv or dense layer's bias:
// [..., C] + [C]), reverse (a conv filter's flip) and transposes by any permutation. tfjs-wasm's
// broadcasting Add goes through XNNPACK's generic broadcast path (a [100,28,28,6] + [6] bias: 0.77 ms
// by minimum in `pnpm bench layout`, bench/results/2026-12-06-layout.txt); its Reverse and non-swap
// Transpose walk one element at a time.

const ADD = 0;

// @ts-ignore: decorator
@inline
function binop(op: i32, a: v128, b: v128): v128 {
  return op == ADD ? f32x4.add(a, b) : f32x4.mul(a, b);
}

// @ts-ignore: decorator
@inline
function binop1(op: i32, a: f32, b: f32): f32 {
  return op == ADD ? a + b : a * b;
}

/** Lanes b[(start + l) mod inner], l < 4: a vector of b repeated along a row of period 12. */
// @ts-ignore: decorator
@inline
function periodLanes(b: usize, inner: i32, start: i32): v128 {
  let v = f32x4.splat(load<f32>(b + (<usize>(start % inner) << 2)));
  v = f32x4.replace_lane(v, 1, load<f32>(b + (<usize>((start + 1) % inner) << 2)));
  v = f32x4.replace_lane(v, 2, load<f32>(b + (<usize>((start + 2) % inner) << 2)));
  return f32x4.replace_lane(v, 3, load<f32>(b + (<usize>((start + 3) % inner) << 2)));
}

/**
 * out[o, i] = a[o, i] ∘ b[i] for a of shape [outer, inner] (float32). inner ≥ 4: vectors along each
 * row, the last one overlapping the one before (out never aliases a or b, so writing an element
 * twice writes the same value). inner < 4 and 6: b repeated into one vector (inner 1, 2) or three
 * (inner 3, 6: period 12) and the rows streamed as one array (a 6-channel conv's bias: no vector
 * done twice per row).
 */
// @ts-ignore: decorator
@inline
function broadcastRows(op: i32, a: usize, b: usize, out: usize, outer: i32, inner: i32): void {
  const n = <usize>outer * <usize>inner;
  if (inner >= 4 && inner != 6) {
    const row = <usize>inner << 2;
    const last = row - 16;
    for (let o = 0; o < outer; o++, a += row, out += row) {
      for (let k: usize = 0; k < last; k += 16) v128.store(out + k, binop(op, v128.load(a + k), v128.load(b + k)));
      v128.store(out + last, binop(op, v128.load(a + last), v128.load(b + last)));
    }
    return;
  }
  let i: usize = 0;
  if (inner == 3 || inner == 6) {
    // Period 12 floats (three vectors): b repeated 4 or 2 times, streamed without per-row overlap.
    const p0 = periodLanes(b, inner, 0);
    const p1 = periodLanes(b, inner, 4);
    const p2 = periodLanes(b, inner, 8);
    for (; i + 12 <= n; i += 12) {
      const p = a + (i << 2);
      const q = out + (i << 2);
      v128.store(q, binop(op, v128.load(p), p0));
      v128.store(q, binop(op, v128.load(p, 16), p1), 16);
      v128.store(q, binop(op, v128.load(p, 32), p2), 32);
    }
  } else {
    // inner 1 or 2: b's period divides 4.
    const b0 = load<f32>(b);
    const b1 = inner == 2 ? load<f32>(b, 4) : b0;
    const p = f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(b0), 1, b1), 3, b1);
    for (; i + 4 <= n; i += 4) v128.store(out + (i << 2), binop(op, v128.load(a + (i << 2)), p));
  }
  // i is a multiple of inner here: the tail starts at b[0].
  for (let j = 0; i < n; i++, j = j + 1 == inner ? 0 : j + 1)
    store<f32>(out + (i << 2), binop1(op, load<f32>(a + (i << 2)), load<f32>(b + (<usize>j << 2))));
}

export function addRows(a: usize, b: usize, out: usize, outer: i32, inner: i32): void {
  broadcastRows(ADD, a, b, out, outer, inner);
}

export function mulRows(a: usize, b: usize, out: usize, outer: i32, inner: i32): void {
  broadcastRows(1, a, b, out, outer, inner);
}

/** out[o, r − 1 − k, i] = x[o, k, i] for x of shape [outer, r, inner], 4-byte elements. */
export function reverseMiddle(x: usize, out: usize, outer: i32, r: i32, inner: i32): void {
  const row = <usize>inner << 2;
  const slab = <usize>r * row;
  for (let o = 0; o < outer; o++, x += slab, out += slab) {
    if (inner == 1) {
      // Reverse a run of r floats: four at a time by a lane shuffle, then one at a time.
      let k: usize = 0;
      const r4 = <usize>r & ~3;
      for (; k < r4; k += 4) {
        const v = v128.load(x + (k << 2));
        v128.store(out + ((<usize>r - 4 - k) << 2), v128.shuffle<i32>(v, v, 3, 2, 1, 0));
      }
      for (; k < <usize>r; k++) store<u32>(out + ((<usize>r - 1 - k) << 2), load<u32>(x + (k << 2)));
    } else {
      for (let k: usize = 0; k < <usize>r; k++) copyChunk(x + k * row, out + (<usize>r - 1 - k) * row, <usize>inner);
    }
  }
}

/** A row of `cols` < 4 elements as the first lanes of a vector: exact loads, never past the row. */
// @ts-ignore: decorator
@inline
function loadNarrow(p: usize, cols: usize): v128 {
  if (cols == 1) return v128.load32_zero(p);
  const v = v128.load64_zero(p);
  return cols == 2 ? v : v128.load32_lane(p, v, 2, 8);
}

/** A 4 × cols tile, cols < 4: 4 rows of x (stride ldx bytes) become `cols` rows of out. */
// @ts-ignore: decorator
@inline
function tileNarrow(x: usize, out: usize, ldx: usize, ldo: usize, cols: usize): void {
  const r0 = loadNarrow(x, cols);
  const r1 = loadNarrow(x + ldx, cols);
  const r2 = loadNarrow(x + 2 * ldx, cols);
  const r3 = loadNarrow(x + 3 * ldx, cols);
  const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5);
  const t2 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5);
  v128.store(out, v128.shuffle<i32>(t0, t2, 0, 1, 4, 5));
  if (cols >= 2) v128.store(out + ldo, v128.shuffle<i32>(t0, t2, 2, 3, 6, 7));
  if (cols == 3) {
    const t1 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
    const t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
    v128.store(out + 2 * ldo, v128.shuffle<i32>(t1, t3, 0, 1, 4, 5));
  }
}

// ---- narrow transposes four elements at a time (helper "sumk") ----

/** Lanes of 4 rows' vectors as 4 vectors of columns (tile4's shuffles), each stored at out + (e mod cols)·ldo + (e / cols)·so, e = 4v + lane. */
// @ts-ignore: decorator
@inline
function tileNarrowVector(x: usize, out: usize, ldx: usize, ldo: usize, so: usize, cols: usize, v: usize): void {
  const r0 = v128.load(x);
  const r1 = v128.load(x + ldx);
  const r2 = v128.load(x + 2 * ldx);
  const r3 = v128.load(x + 3 * ldx);
  const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
  const e = v << 2;
  v128.store(out + (e % cols) * ldo + (e / cols) * so, v128.shuffle<i32>(t0, t2, 0, 1, 4, 5));
  v128.store(out + ((e + 1) % cols) * ldo + ((e + 1) / cols) * so, v128.shuffle<i32>(t0, t2, 2, 3, 6, 7));
  v128.store(out + ((e + 2) % cols) * ldo + ((e + 2) / cols) * so, v128.shuffle<i32>(t1, t3, 0, 1, 4, 5));
  v128.store(out + ((e + 3) % cols) * ldo + ((e + 3) / cols) * so, v128.shuffle<i32>(t1, t3, 2, 3, 6, 7));
}

/**
 * g consecutive indices of the innermost other axis at once where they run along x's rows (x
 * stride cols·4 bytes): g = 4 for cols 2, 3 and g = 2 for cols 6, so each row's g·cols floats are
 * whole vectors and a 4 × g·cols tile takes g·cols/4 4×4 SIMD transposes (whole-vector loads, no overlap)
 * where tileNarrow's narrow tiles take 8 part-vector loads and 7 shuffles per index (cols 3), and cols 6 two
 * overlapping tile4s per index.
 * LeNet-5's image [100,32,32,3] → [3,32,32,100] (g = 4) and pool1's [100,14,14,6] → [6,14,14,100]
 * (g = 2): `pnpm bench layout`, "Transpose [3,1,2,0]" and "(6 columns)".
 */
// @ts-ignore: decorator
@inline
function tileNarrow4(x: usize, out: usize, ldx: usize, ldo: usize, so: usize, cols: usize): void {
  if (cols == 6) {
    tileNarrowVector(x, out, ldx, ldo, so, 6, 0);
    tileNarrowVector(x + 16, out, ldx, ldo, so, 6, 1);
    tileNarrowVector(x + 32, out, ldx, ldo, so, 6, 2);
  } else if (cols == 3) {
    tileNarrowVector(x, out, ldx, ldo, so, 3, 0);
    tileNarrowVector(x + 16, out, ldx, ldo, so, 3, 1);
    tileNarrowVector(x + 32, out, ldx, ldo, so, 3, 2);
  } else {
    // cols 2 (never 1: see transposeStrided)
    tileNarrowVector(x, out, ldx, ldo, so, 2, 0);
    tileNarrowVector(x + 16, out, ldx, ldo, so, 2, 1);
  }
}
// ---- end narrow transposes four elements at a time ----

/**
 * Rows i0 ≤ i < iEnd of a [rows, cols] → [cols, rows] transpose, 4-byte elements, leading
 * dimensions ldx and ldo in bytes: 4×4 SIMD tiles, the last tile of a row or column overlapping
 * the one before (out never aliases x: an element written twice gets the same value), 4 × cols
 * tiles when cols < 4; one element at a time only when rows < 4. Column blocks of bj keep the out
 * lines a row block writes in L1.
 */
function transposeStrided(
  x: usize,
  out: usize,
  rows: usize,
  cols: usize,
  ldx: usize,
  ldo: usize,
  i0: usize,
  iEnd: usize,
  bj: usize,
  n: usize,
  sx: usize,
  so: usize,
  kb: usize,
): void {
  if (rows < 4) {
    for (let k: usize = 0; k < n; k++, x += sx, out += so)
      for (let i = i0; i < iEnd; i++)
        for (let j: usize = 0; j < cols; j++) store<u32>(out + j * ldo + (i << 2), load<u32>(x + i * ldx + (j << 2)));
    return;
  }
  if (cols < 4) {
    // Strips of 4 rows over blocks of kb indices (as below): 4 × cols tiles.
    for (let k0: usize = 0; k0 < n; k0 += kb) {
      const kEnd = min(k0 + kb, n);
      for (let i = i0; i < iEnd; i += 4) {
        const ii = min(i, rows - 4);
        let xk = x + k0 * sx + ii * ldx;
        let ok = out + k0 * so + (ii << 2);
        let k = k0;
        // cols ≥ 2 here: transposeNd's callers drop size-1 axes (install.ts, mergeAxes).
        if (sx == cols << 2) for (; k + 4 <= kEnd; k += 4, xk += sx << 2, ok += so << 2) tileNarrow4(xk, ok, ldx, ldo, so, cols);
        for (; k < kEnd; k++, xk += sx, ok += so) tileNarrow(xk, ok, ldx, ldo, cols);
      }
    }
    return;
  }
  if (kb > 1 && cols == 6 && sx == cols << 2) {
    // (helper "sumk") As above with tileNarrow4's pairs of indices (cols 6 only, pool1's layout;
    // cols 5 and 7 would need groups of 4 with their lanes' rows computed at run time); an index
    // left over as two overlapping 4×4 tiles.
    const g: usize = 2;
    const lastCol = (cols - 4) << 2;
    for (let k0: usize = 0; k0 < n; k0 += kb) {
      const kEnd = min(k0 + kb, n);
      for (let i = i0; i < iEnd; i += 4) {
        const ii = min(i, rows - 4);
        let xk = x + k0 * sx + ii * ldx;
        let ok = out + k0 * so + (ii << 2);
        let k = k0;
        for (; k + g <= kEnd; k += g, xk += sx * g, ok += so * g) tileNarrow4(xk, ok, ldx, ldo, so, cols);
        for (; k < kEnd; k++, xk += sx, ok += so) {
          tile4(xk, ok, ldx, ldo);
          tile4(xk + lastCol, ok + (cols - 4) * ldo, ldx, ldo);
        }
      }
    }
    return;
  }
  for (let j0: usize = 0; j0 < cols; j0 += bj) {
    // Full tiles j0 ≤ j < jFull, then (last block only) one tile ending at the last column.
    const jEnd = min(j0 + bj, cols);
    const full = (jEnd - j0) >> 2;
    const ragged = (jEnd - j0) & 3;
    const step = ldo << 2;
    if (kb == 1 && (ldo & 4095) != 0) {
      // One index at a time, tiles across x's rows.
      for (let k: usize = 0; k < n; k++) {
        const xk = x + k * sx;
        const ok = out + k * so;
        for (let i = i0; i < iEnd; i += 4) {
          const ii = min(i, rows - 4);
          let px = xk + ii * ldx + (j0 << 2);
          let po = ok + j0 * ldo + (ii << 2);
          for (let t: usize = 0; t < full; t++, px += 16, po += step) tile4(px, po, ldx, ldo);
          if (ragged) tile4(xk + ii * ldx + ((cols - 4) << 2), ok + (cols - 4) * ldo + (ii << 2), ldx, ldo);
        }
      }
      continue;
    }
    if (kb == 1) {
      // Out's rows 4 KiB apart (8 of them per block): each tile column runs down the block's rows,
      // so each out row is written in one run (`pnpm bench layout`, "Transpose [1,0], rows 4 KiB
      // apart", times this path; the order across it replaced was only timed in unsaved scratch runs).
      const rows4 = (iEnd - i0) >> 2;
      const rowStep = ldx << 2;
      for (let k: usize = 0; k < n; k++) {
        const xk = x + k * sx;
        const ok = out + k * so;
        for (let t: usize = 0; t <= full; t++) {
          if (t == full && !ragged) break;
          const j = t < full ? j0 + (t << 2) : cols - 4;
          let px = xk + i0 * ldx + (j << 2);
          let po = ok + j * ldo + (i0 << 2);
          for (let r: usize = 0; r < rows4; r++, px += rowStep, po += 16) tile4(px, po, ldx, ldo);
          if ((iEnd - i0) & 3) tile4(xk + (rows - 4) * ldx + (j << 2), ok + j * ldo + ((rows - 4) << 2), ldx, ldo);
        }
      }
      continue;
    }
    for (let k0: usize = 0; k0 < n; k0 += kb) {
      const kEnd = min(k0 + kb, n);
      for (let i = i0; i < iEnd; i += 4) {
        const ii = min(i, rows - 4);
        let xk = x + k0 * sx + ii * ldx;
        let ok = out + k0 * so + (ii << 2);
        for (let k = k0; k < kEnd; k++, xk += sx, ok += so) {
          let px = xk + (j0 << 2);
          let po = ok + j0 * ldo;
          for (let t: usize = 0; t < full; t++, px += 16, po += step) tile4(px, po, ldx, ldo);
          if (ragged) tile4(xk + ((cols - 4) << 2), ok + (cols - 4) * ldo, ldx, ldo);
        }
      }
    }
  }
}

/** Copy `bytes` (a multiple of 4): vectors, then an 8-byte and a 4-byte piece (6 floats: v128 + i64). */
// @ts-ignore: decorator
@inline
function copyRun(src: usize, dst: usize, bytes: usize): void {
  let o: usize = 0;
  for (; o + 16 <= bytes; o += 16) v128.store(dst + o, v128.load(src + o));
  if (bytes & 8) {
    store<u64>(dst + o, load<u64>(src + o));
    o += 8;
  }
  if (bytes & 4) store<u32>(dst + o, load<u32>(src + o));
}

// ---- chunks of 6, two columns at a time (helper "sumk") ----
/**
 * Columns j, j + 1 of four rows (x at src, rows ldx bytes apart), chunks of 6 floats: each row's
 * 12 floats are 3 whole vectors, and out's rows j and j + 1 (ldo apart) get their 4 chunks as 6
 * whole vectors each, formed by 8 shuffles: 12 loads and 12 stores where copyRun takes 16 of each
 * (a vector and 8 bytes per chunk). LeNet-5's conv1 cotangent [100,28,28,6] by [1,2,0,3] (eager
 * gradients): `pnpm bench layout`, "Transpose [1,2,0,3] (chunks of 6)".
 */
// @ts-ignore: decorator
@inline
function chunks6Pair(src: usize, dst: usize, ldx: usize, ldo: usize): void {
  const a0 = v128.load(src);
  const b0 = v128.load(src, 16);
  const c0 = v128.load(src, 32);
  const a1 = v128.load(src + ldx);
  const b1 = v128.load(src + ldx, 16);
  const c1 = v128.load(src + ldx, 32);
  const a2 = v128.load(src + 2 * ldx);
  const b2 = v128.load(src + 2 * ldx, 16);
  const c2 = v128.load(src + 2 * ldx, 32);
  const a3 = v128.load(src + 3 * ldx);
  const b3 = v128.load(src + 3 * ldx, 16);
  const c3 = v128.load(src + 3 * ldx, 32);
  // Row r's column j is a_r, b_r[0..1]; its column j + 1 is b_r[2..3], c_r.
  v128.store(dst, a0);
  v128.store(dst, v128.shuffle<i32>(b0, a1, 0, 1, 4, 5), 16);
  v128.store(dst, v128.shuffle<i32>(a1, b1, 2, 3, 4, 5), 32);
  v128.store(dst, a2, 48);
  v128.store(dst, v128.shuffle<i32>(b2, a3, 0, 1, 4, 5), 64);
  v128.store(dst, v128.shuffle<i32>(a3, b3, 2, 3, 4, 5), 80);
  const d = dst + ldo;
  v128.store(d, v128.shuffle<i32>(b0, c0, 2, 3, 4, 5));
  v128.store(d, v128.shuffle<i32>(c0, b1, 2, 3, 6, 7), 16);
  v128.store(d, c1, 32);
  v128.store(d, v128.shuffle<i32>(b2, c2, 2, 3, 4, 5), 48);
  v128.store(d, v128.shuffle<i32>(c2, b3, 2, 3, 6, 7), 64);
  v128.store(d, c3, 80);
}
// ---- end chunks of 6 ----

/** The same rows where each element is a chunk of k ≥ 2 4-byte values (ldx, ldo in bytes). */
function transposeChunksStrided(x: usize, out: usize, cols: usize, ldx: usize, ldo: usize, k: usize, i0: usize, iEnd: usize, bj: usize): void {
  const bytes = k << 2;
  for (let j0: usize = 0; j0 < cols; j0 += bj) {
    const n = min(j0 + bj, cols) - j0;
    let i = i0;
    // Four rows of x at a time: out gets 4 chunks in a row per column (whole lines, not pieces).
    for (; i + 4 <= iEnd; i += 4) {
      let src = x + i * ldx + j0 * bytes;
      let dst = out + j0 * ldo + i * bytes;
      let j: usize = 0;
      if (k == 6) for (; j + 2 <= n; j += 2, src += 48, dst += ldo << 1) chunks6Pair(src, dst, ldx, ldo);
      for (; j < n; j++, src += bytes, dst += ldo) {
        copyRun(src, dst, bytes);
        copyRun(src + ldx, dst + bytes, bytes);
        copyRun(src + 2 * ldx, dst + 2 * bytes, bytes);
        copyRun(src + 3 * ldx, dst + 3 * bytes, bytes);
      }
    }
    for (; i < iEnd; i++) {
      let src = x + i * ldx + j0 * bytes;
      let dst = out + j0 * ldo + i * bytes;
      for (let j: usize = 0; j < n; j++, src += bytes, dst += ldo) copyRun(src, dst, bytes);
    }
  }
}

/**
 * A transpose by any permutation (after merging axes, rank ≤ 6), 4-byte elements: out's innermost
 * axis (rows; x stride ldx) is swapped with x's innermost (cols; out stride ldo), each element a
 * chunk of `chunk` values, for every index of up to four other axes (n, x stride, out stride;
 * outermost first). Strides in elements. Blocks of rows are outermost, so x is read as a few long
 * runs at a time and out written as whole cache lines: cold data streams from memory (LeNet's
 * filter-gradient transposes read tensors the forward pass left long ago).
 */
export function transposeNd(
  x: usize,
  out: usize,
  rows: i32,
  cols: i32,
  ldx: i32,
  ldo: i32,
  chunk: i32,
  n1: i32,
  sx1: i32,
  so1: i32,
  n2: i32,
  sx2: i32,
  so2: i32,
  n3: i32,
  sx3: i32,
  so3: i32,
  n4: i32,
  sx4: i32,
  so4: i32,
): void {
  const lx = <usize>ldx << 2;
  const lo = <usize>ldo << 2;
  let bi = <usize>rows; // rows per block (out's innermost axis)
  let bj: usize = 32; // columns per block (x's innermost axis)
  let kb: usize = 1;
  if (chunk > 1) {
    // Whole runs of x up to 64 KiB: splitting LeNet's [100,784,6] rows into 6 KiB pieces was
    // slower (unsaved scratch timing; `pnpm bench layout`, "chunks of 6", times this path).
    bj = max<usize>(1, 65536 / (<usize>chunk << 2));
  } else if (cols < 8) {
    // Short runs of x (under 32 B a row): all rows at once would read `rows` streams of a few
    // bytes each. Instead strips of 4 rows (4 long streams) over blocks of 64 indices of the
    // innermost other axis: a strip leaves 16 B in each of ≤ 64·cols out lines (≤ 28 KiB), which
    // the next strip completes while they are still in L1. LeNet's [100,196,6] → [6,196,100]
    // (the export timed alone, caches flushed or not): 0.078 ms from memory, 0.020 ms from
    // cache, against 0.118 and 0.031 with all rows per index.
    kb = 64;
  } else if ((lo & 4095) == 0 || (lx & 4095) == 0) {
    // Rows a multiple of 4 KiB apart map to one cache set, and a 32×32 block evicts its own lines
    // (`pnpm bench layout` times [1024,200]ᵀ against [1000,200]ᵀ): where out's rows alias, few out rows per
    // block (8), each written 64 floats at a time; where x's alias, the reverse.
    bi = (lo & 4095) == 0 ? 64 : 8;
    bj = (lo & 4095) == 0 ? 8 : 64;
  }
  for (let i0: usize = 0; i0 < <usize>rows; i0 += bi) {
    const iEnd = min(i0 + bi, <usize>rows);
    for (let i1 = 0; i1 < n1; i1++)
      for (let i2 = 0; i2 < n2; i2++)
        for (let i3 = 0; i3 < n3; i3++) {
          const xo = x + (<usize>(i1 * sx1 + i2 * sx2 + i3 * sx3) << 2);
          const oo = out + (<usize>(i1 * so1 + i2 * so2 + i3 * so3) << 2);
          // The innermost other axis loops inside (one call, not one per index, for short rows).
          if (chunk == 1)
            transposeStrided(xo, oo, <usize>rows, <usize>cols, lx, lo, i0, iEnd, bj, <usize>n4, <usize>sx4 << 2, <usize>so4 << 2, kb);
          else
            for (let i4 = 0; i4 < n4; i4++)
              transposeChunksStrided(xo + (<usize>(i4 * sx4) << 2), oo + (<usize>(i4 * so4) << 2), <usize>cols, lx, lo, <usize>chunk, i0, iEnd, bj);
        }
  }
}

/** dst[k] += src[k] for k < n floats: vectors, then one at a time. */
// @ts-ignore: decorator
@inline
function addSpan(src: usize, dst: usize, n: usize): void {
  const end = n << 2;
  const end4 = (n & ~3) << 2;
  let o: usize = 0;
  for (; o < end4; o += 16) v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  for (; o < end; o += 4) store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
}

/**
 * The scatter half of a stride-1 convolution computed as matmul + col2im:
 * out[b, i + u·dh + p0, j + v·dw + q0, :] += cols[b, i, j, u, v, :] over positions inside out
 * ([batch, Ho, Wo, c]), for cols of shape [batch, h, w, kh, kw, c] (float32). out is zeroed first.
 * With dw = 1 the kw values of one (b, i, j, u) land side by side: one span of kw·c floats.
 */
export function col2im(
  cols: usize,
  out: usize,
  batch: i32,
  h: i32,
  w: i32,
  ho: i32,
  wo: i32,
  kh: i32,
  kw: i32,
  c: i32,
  dh: i32,
  dw: i32,
  p0: i32,
  q0: i32,
): void {
  const cb = <usize>c << 2; // bytes of one pixel
  memory.fill(out, 0, <usize>batch * <usize>ho * <usize>wo * cb);
  let src = cols;
  const patch = <usize>kh * <usize>kw * cb;
  for (let b = 0; b < batch; b++) {
    const ob = out + <usize>b * <usize>ho * <usize>wo * cb;
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++, src += patch) {
        const q = j + q0;
        for (let u = 0; u < kh; u++) {
          const p = i + u * dh + p0;
          if (p < 0 || p >= ho) continue;
          const row = ob + <usize>p * <usize>wo * cb;
          const s = src + <usize>u * <usize>kw * cb;
          if (dw == 1) {
            const v0 = max(0, -q);
            const v1 = min(kw, wo - q);
            if (v1 > v0) addSpan(s + <usize>v0 * cb, row + <usize>(q + v0) * cb, <usize>(v1 - v0) * <usize>c);
          } else {
            for (let v = 0; v < kw; v++) {
              const qv = q + v * dw;
              if (qv >= 0 && qv < wo) addSpan(s + <usize>v * cb, row + <usize>qv * cb, <usize>c);
            }
          }
        }
      }
  }
}

// reductions over a middle axis -------------------------------------------------------------------
// out[o, i] = Σ_r or max_r x[o, r, i] for x of shape [outer, r, inner] (float32). Any Sum or Max over
// a set of axes is a few of these (one per run of reduced axes) with no transpose, where tfjs-wasm
// first transposes the reduced axes to the end with its slow generic transpose.

const SUM = 0;

// @ts-ignore: decorator
@inline
function combine(op: i32, acc: v128, v: v128): v128 {
  // max as the cpu backend's `if (isNaN(v) || v > acc) acc = v`: a NaN anywhere gives NaN.
  if (op == SUM) return f32x4.add(acc, v);
  return v128.bitselect(v, acc, v128.or(f32x4.gt(v, acc), f32x4.ne(v, v)));
}

// @ts-ignore: decorator
@inline
function combine1(op: i32, acc: f32, v: f32): f32 {
  return op == SUM ? acc + v : v > acc || v != v ? v : acc;
}

/**
 * Four adjacent vector columns (byte offset `col` of each [inner] row, row stride `row` bytes) reduced
 * over r rows into dst: four independent chains, so the adds overlap (one chain waits on each add's
 * latency). Each column's rows are combined in order, as one column at a time would.
 */
// @ts-ignore: decorator
@inline
function columns4(op: i32, x: usize, dst: usize, r: i32, row: usize): void {
  let a0 = v128.load(x);
  let a1 = v128.load(x, 16);
  let a2 = v128.load(x, 32);
  let a3 = v128.load(x, 48);
  for (let k = 1, p = x + row; k < r; k++, p += row) {
    a0 = combine(op, a0, v128.load(p));
    a1 = combine(op, a1, v128.load(p, 16));
    a2 = combine(op, a2, v128.load(p, 32));
    a3 = combine(op, a3, v128.load(p, 48));
  }
  v128.store(dst, a0);
  v128.store(dst, a1, 16);
  v128.store(dst, a2, 32);
  v128.store(dst, a3, 48);
}

/** One vector column (as columns4). */
// @ts-ignore: decorator
@inline
function column1(op: i32, x: usize, dst: usize, r: i32, row: usize): void {
  let acc = v128.load(x);
  for (let k = 1, p = x + row; k < r; k++, p += row) acc = combine(op, acc, v128.load(p));
  v128.store(dst, acc);
}

/** The first `vectors` vector columns of rows `row` bytes apart: four at a time, then one. */
// @ts-ignore: decorator
@inline
function vectorColumns(op: i32, x: usize, dst: usize, r: i32, row: usize, vectors: i32): void {
  let v = 0;
  for (; v + 4 <= vectors; v += 4) columns4(op, x + (<usize>v << 4), dst + (<usize>v << 4), r, row);
  for (; v < vectors; v++) column1(op, x + (<usize>v << 4), dst + (<usize>v << 4), r, row);
}

/** out[(pos + l) mod inner] += lane l of v, l < 4 (the partial sums of one vector of a period). */
// @ts-ignore: decorator
@inline
function foldLanes(out: usize, v: v128, pos: i32, inner: i32): void {
  let c = pos % inner;
  store<f32>(out + (<usize>c << 2), load<f32>(out + (<usize>c << 2)) + f32x4.extract_lane(v, 0));
  c = c + 1 == inner ? 0 : c + 1;
  store<f32>(out + (<usize>c << 2), load<f32>(out + (<usize>c << 2)) + f32x4.extract_lane(v, 1));
  c = c + 1 == inner ? 0 : c + 1;
  store<f32>(out + (<usize>c << 2), load<f32>(out + (<usize>c << 2)) + f32x4.extract_lane(v, 2));
  c = c + 1 == inner ? 0 : c + 1;
  store<f32>(out + (<usize>c << 2), load<f32>(out + (<usize>c << 2)) + f32x4.extract_lane(v, 3));
}

/**
 * Σ_r x[o, r, i] for inner < 16 not a multiple of 4 (a conv bias's gradient: [100·28·28, 6]): q =
 * 4/gcd(inner, 4) consecutive rows are a whole number of vectors, so the rows are summed q at a time
 * as rows of q·inner floats (vector chains, four at once, instead of one scalar chain per column);
 * each vector's lanes are then added into their columns of out (zeroed first, as the cpu backend's
 * sum starts at 0), and the last r mod q rows after. Another order than row by row (a Sum's result
 * within float32 rounding); max keeps `reduceMiddle`'s order (its ±0 ties are exact there).
 */
// @ts-ignore: decorator
@inline
function sumPeriodic(xo: usize, oo: usize, r: i32, inner: i32): void {
  const q = (inner & 1) != 0 ? 4 : 2;
  const periods = r / q;
  const period = <usize>(q * inner) << 2; // bytes, a multiple of 16
  const vectors = (q * inner) >> 2;
  for (let i = 0; i < inner; i++) store<f32>(oo + (<usize>i << 2), 0);
  let v = 0;
  for (; v + 4 <= vectors; v += 4) {
    const x = xo + (<usize>v << 4);
    let a0 = v128.load(x);
    let a1 = v128.load(x, 16);
    let a2 = v128.load(x, 32);
    let a3 = v128.load(x, 48);
    for (let k = 1, p = x + period; k < periods; k++, p += period) {
      a0 = f32x4.add(a0, v128.load(p));
      a1 = f32x4.add(a1, v128.load(p, 16));
      a2 = f32x4.add(a2, v128.load(p, 32));
      a3 = f32x4.add(a3, v128.load(p, 48));
    }
    foldLanes(oo, a0, 4 * v, inner);
    foldLanes(oo, a1, 4 * v + 4, inner);
    foldLanes(oo, a2, 4 * v + 8, inner);
    foldLanes(oo, a3, 4 * v + 12, inner);
  }
  // ---- three last vectors in one pass (helper "sumk") ----
  // vectors mod 4 is 1 or 3 (vectors = inner for odd inner, inner/2 for inner ≡ 2 mod 4). Three
  // (inner 6: LeNet-5's conv1 bias gradient, all of them) in one pass with two chains each (even and
  // odd periods): one at a time read every line of x three times (`pnpm bench layout`, "Sum over
  // leading axes", times LeNet-5's [100,28,28,6] over [0,1,2]).
  if (vectors - v == 3) {
    const x = xo + (<usize>v << 4);
    let a0 = v128.load(x);
    let a1 = v128.load(x, 16);
    let a2 = v128.load(x, 32);
    let b0 = f32x4.splat(0);
    let b1 = f32x4.splat(0);
    let b2 = f32x4.splat(0);
    let k = 1;
    let p = x + period;
    for (; k + 1 < periods; k += 2, p += period << 1) {
      b0 = f32x4.add(b0, v128.load(p));
      b1 = f32x4.add(b1, v128.load(p, 16));
      b2 = f32x4.add(b2, v128.load(p, 32));
      a0 = f32x4.add(a0, v128.load(p + period));
      a1 = f32x4.add(a1, v128.load(p + period, 16));
      a2 = f32x4.add(a2, v128.load(p + period, 32));
    }
    if (k < periods) {
      b0 = f32x4.add(b0, v128.load(p));
      b1 = f32x4.add(b1, v128.load(p, 16));
      b2 = f32x4.add(b2, v128.load(p, 32));
    }
    foldLanes(oo, f32x4.add(a0, b0), 4 * v, inner);
    foldLanes(oo, f32x4.add(a1, b1), 4 * v + 4, inner);
    foldLanes(oo, f32x4.add(a2, b2), 4 * v + 8, inner);
    v = vectors;
  }
  // ---- end three last vectors ----
  // The last vector (or vectors) one at a time, each over four chains of every fourth period.
  for (; v < vectors; v++) {
    const x = xo + (<usize>v << 4);
    let a0 = v128.load(x);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let k = 1;
    let p = x + period;
    for (; k + 3 < periods; k += 4, p += period << 2) {
      a0 = f32x4.add(a0, v128.load(p));
      a1 = f32x4.add(a1, v128.load(p + period));
      a2 = f32x4.add(a2, v128.load(p + 2 * period));
      a3 = f32x4.add(a3, v128.load(p + 3 * period));
    }
    for (; k < periods; k++, p += period) a0 = f32x4.add(a0, v128.load(p));
    foldLanes(oo, f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), 4 * v, inner);
  }
  for (let k = periods * q; k < r; k++)
    for (let i = 0; i < inner; i++) {
      const o = oo + (<usize>i << 2);
      store<f32>(o, load<f32>(o) + load<f32>(xo + (<usize>(k * inner + i) << 2)));
    }
}

// @ts-ignore: decorator
@inline
function reduceMiddle(op: i32, x: usize, out: usize, outer: i32, r: i32, inner: i32): void {
  const row = <usize>inner << 2; // bytes of one [inner] row
  const inner4 = inner & ~3;
  const q = (inner & 1) != 0 ? 4 : 2;
  for (let o = 0; o < outer; o++) {
    const xo = x + <usize>o * <usize>r * row;
    const oo = out + <usize>o * row;
    if (op == SUM && inner < 16 && inner4 != inner && r >= q) {
      sumPeriodic(xo, oo, r, inner);
      continue;
    }
    vectorColumns(op, xo, oo, r, row, inner4 >> 2);
    for (let i = inner4; i < inner; i++) {
      let acc = load<f32>(xo + (<usize>i << 2));
      for (let k = 1; k < r; k++) acc = combine1(op, acc, load<f32>(xo + <usize>k * row + (<usize>i << 2)));
      store<f32>(oo + (<usize>i << 2), acc);
    }
  }
}

/** inner = 1: each output is a reduction of r contiguous floats (four partial results, then one). */
// @ts-ignore: decorator
@inline
function reduceRows(op: i32, x: usize, out: usize, outer: i32, r: i32): void {
  const r4 = r & ~3;
  for (let o = 0; o < outer; o++) {
    const xo = x + ((<usize>o * <usize>r) << 2);
    let acc: f32 = load<f32>(xo);
    let k = 0;
    if (r4 >= 4) {
      let v = v128.load(xo);
      for (k = 4; k < r4; k += 4) v = combine(op, v, v128.load(xo + (<usize>k << 2)));
      const a = combine1(op, f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1));
      const b = combine1(op, f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3));
      acc = combine1(op, a, b);
    } else {
      k = 1;
    }
    for (; k < r; k++) acc = combine1(op, acc, load<f32>(xo + (<usize>k << 2)));
    store<f32>(out + (<usize>o << 2), acc);
  }
}

export function sumMiddle(x: usize, out: usize, outer: i32, r: i32, inner: i32): void {
  if (inner == 1) reduceRows(SUM, x, out, outer, r);
  else reduceMiddle(SUM, x, out, outer, r, inner);
}

export function maxMiddle(x: usize, out: usize, outer: i32, r: i32, inner: i32): void {
  if (inner == 1) reduceRows(1, x, out, outer, r);
  else reduceMiddle(1, x, out, outer, r, inner);
}

// ── max-pool weights ──
// The derivative of a max over axes (reduce-max's VJP: max pooling's gradient) in one kernel:
// out[i] = w[i]·t[k(i)] with w[i] = (x[i] == m[k(i)]) / #{j : k(j) = k(i), x[j] == m[k(i)]}, where
// k(i) drops the reduced axes, so ties share t equally (as JAX) and a window where no x equals m
// gets NaN. x is viewed as [a, r1, b, r2, c, r3, d] (kept and reduced runs alternating; merged
// adjacent axes), m and t as [a, b, c, d]. The values are those of the unfused ops
// (mask·(1/count))·t, which equals mask·((1/count)·t) (1/count ≤ 1 adds no overflow; 0·∞ and 0·NaN
// are NaN either way). Each window is visited with its count in a register: mask·t is written
// (right where count = 1, the usual case) and, only where some count is not 1 (ties, or no match),
// the window is written again with (1/count)·t. No scratch memory, no read-modify-write.

/** v·(1 − y²) where `tg` (tanh's derivative rule at y = tanh x, as tanhGrad rounds it), else v. */
// @ts-ignore: decorator
@inline
function tanhDeriv(tg: bool, v: v128, y: v128): v128 {
  return tg ? f32x4.mul(v, f32x4.sub(f32x4.splat(1.0), f32x4.mul(y, y))) : v;
}

// @ts-ignore: decorator
@inline
function tanhDeriv1(tg: bool, v: f32, y: f32): f32 {
  return tg ? v * (<f32>1.0 - y * y) : v;
}

/**
 * Four adjacent kept columns (byte offset `col` in a row of m, t and of x's rows) over the window
 * at x + base: rows base + i1·s1 + i2·s2 + i3·s3 (byte strides).
 */
// @ts-ignore: decorator
@inline
function maxColumns4(x: usize, m: usize, t: usize, out: usize, base: usize, col: usize, r1: i32, s1: usize, r2: i32, s2: usize, r3: i32, s3: usize, tg: bool): void {
  const one = f32x4.splat(1.0);
  const m4 = v128.load(m + col);
  const t4 = v128.load(t + col);
  let count = f32x4.splat(0.0);
  for (let i1 = 0, p1 = base + col; i1 < r1; i1++, p1 += s1)
    for (let i2 = 0, p2 = p1; i2 < r2; i2++, p2 += s2)
      for (let i3 = 0, p = p2; i3 < r3; i3++, p += s3) {
        const xv = v128.load(x + p);
        const mask = v128.and(f32x4.eq(xv, m4), one);
        v128.store(out + p, tanhDeriv(tg, f32x4.mul(mask, t4), xv));
        count = f32x4.add(count, mask);
      }
  if (!v128.any_true(f32x4.ne(count, one))) return;
  const scaled = f32x4.mul(f32x4.div(one, count), t4); // = t4 in lanes where count = 1
  for (let i1 = 0, p1 = base + col; i1 < r1; i1++, p1 += s1)
    for (let i2 = 0, p2 = p1; i2 < r2; i2++, p2 += s2)
      for (let i3 = 0, p = p2; i3 < r3; i3++, p += s3) {
        const xv = v128.load(x + p);
        v128.store(out + p, tanhDeriv(tg, f32x4.mul(v128.and(f32x4.eq(xv, m4), one), scaled), xv));
      }
}

/**
 * maxColumns4 for a window of two rows of two (r1 = 1, r2 = r3 = 2: 2×2 pooling), straight-line: the
 * nested loops of trip count 1, 2, 2 cost more than the window's arithmetic.
 */
// @ts-ignore: decorator
@inline
function maxColumns4By22(x: usize, m: usize, t: usize, out: usize, base: usize, col: usize, s2: usize, s3: usize, tg: bool): void {
  const one = f32x4.splat(1.0);
  const m4 = v128.load(m + col);
  const t4 = v128.load(t + col);
  const p0 = base + col;
  const p2 = p0 + s2;
  const x0 = v128.load(x + p0);
  const x1 = v128.load(x + p0 + s3);
  const x2 = v128.load(x + p2);
  const x3 = v128.load(x + p2 + s3);
  const k0 = v128.and(f32x4.eq(x0, m4), one);
  const k1 = v128.and(f32x4.eq(x1, m4), one);
  const k2 = v128.and(f32x4.eq(x2, m4), one);
  const k3 = v128.and(f32x4.eq(x3, m4), one);
  v128.store(out + p0, tanhDeriv(tg, f32x4.mul(k0, t4), x0));
  v128.store(out + p0 + s3, tanhDeriv(tg, f32x4.mul(k1, t4), x1));
  v128.store(out + p2, tanhDeriv(tg, f32x4.mul(k2, t4), x2));
  v128.store(out + p2 + s3, tanhDeriv(tg, f32x4.mul(k3, t4), x3));
  // The same count (small integers: exact in any order) and rewrite as maxColumns4.
  const count = f32x4.add(f32x4.add(k0, k1), f32x4.add(k2, k3));
  if (!v128.any_true(f32x4.ne(count, one))) return;
  const scaled = f32x4.mul(f32x4.div(one, count), t4);
  v128.store(out + p0, tanhDeriv(tg, f32x4.mul(k0, scaled), x0));
  v128.store(out + p0 + s3, tanhDeriv(tg, f32x4.mul(k1, scaled), x1));
  v128.store(out + p2, tanhDeriv(tg, f32x4.mul(k2, scaled), x2));
  v128.store(out + p2 + s3, tanhDeriv(tg, f32x4.mul(k3, scaled), x3));
}

/** One kept column (the same, one float at a time): rows of fewer than four kept floats. */
// @ts-ignore: decorator
@inline
function maxColumn1(x: usize, m: usize, t: usize, out: usize, base: usize, col: usize, r1: i32, s1: usize, r2: i32, s2: usize, r3: i32, s3: usize, tg: bool): void {
  const mv = load<f32>(m + col);
  const tv = load<f32>(t + col);
  let count: f32 = 0.0;
  for (let i1 = 0, p1 = base + col; i1 < r1; i1++, p1 += s1)
    for (let i2 = 0, p2 = p1; i2 < r2; i2++, p2 += s2)
      for (let i3 = 0, p = p2; i3 < r3; i3++, p += s3) {
        const xv = load<f32>(x + p);
        const mask: f32 = xv == mv ? 1.0 : 0.0;
        store<f32>(out + p, tanhDeriv1(tg, mask * tv, xv));
        count += mask;
      }
  if (count == 1.0) return;
  const scaled = (<f32>1.0 / count) * tv;
  for (let i1 = 0, p1 = base + col; i1 < r1; i1++, p1 += s1)
    for (let i2 = 0, p2 = p1; i2 < r2; i2++, p2 += s2)
      for (let i3 = 0, p = p2; i3 < r3; i3++, p += s3) {
        const xv = load<f32>(x + p);
        store<f32>(out + p, tanhDeriv1(tg, (xv == mv ? <f32>1.0 : <f32>0.0) * scaled, xv));
      }
}

/** d = 1: the window's innermost run of r3 floats is contiguous, so the vectors run along it. */
// @ts-ignore: decorator
@inline
function maxSegments(x: usize, mp: usize, tp: usize, out: usize, base: usize, r1: i32, s1: usize, r2: i32, s2: usize, r3: i32, tg: bool): void {
  const one = f32x4.splat(1.0);
  const mv = load<f32>(mp);
  const tv = load<f32>(tp);
  const m4 = f32x4.splat(mv);
  const t4 = f32x4.splat(tv);
  const bytes = <usize>r3 << 2;
  const vec = (<usize>r3 >> 2) << 4;
  let count4 = f32x4.splat(0.0);
  let count: f32 = 0.0;
  for (let i1 = 0, p1 = base; i1 < r1; i1++, p1 += s1)
    for (let i2 = 0, p = p1; i2 < r2; i2++, p += s2) {
      let o: usize = 0;
      for (; o < vec; o += 16) {
        const xv = v128.load(x + p + o);
        const mask = v128.and(f32x4.eq(xv, m4), one);
        v128.store(out + p + o, tanhDeriv(tg, f32x4.mul(mask, t4), xv));
        count4 = f32x4.add(count4, mask);
      }
      for (; o < bytes; o += 4) {
        const xv = load<f32>(x + p + o);
        const mask: f32 = xv == mv ? 1.0 : 0.0;
        store<f32>(out + p + o, tanhDeriv1(tg, mask * tv, xv));
        count += mask;
      }
    }
  // Counts are small integers: the order of these additions does not change them.
  count += f32x4.extract_lane(count4, 0) + f32x4.extract_lane(count4, 1);
  count += f32x4.extract_lane(count4, 2) + f32x4.extract_lane(count4, 3);
  if (count == 1.0) return;
  const scaled = (<f32>1.0 / count) * tv;
  for (let i1 = 0, p1 = base; i1 < r1; i1++, p1 += s1)
    for (let i2 = 0, p = p1; i2 < r2; i2++, p += s2)
      for (let o: usize = 0; o < bytes; o += 4) {
        const xv = load<f32>(x + p + o);
        store<f32>(out + p + o, tanhDeriv1(tg, (xv == mv ? <f32>1.0 : <f32>0.0) * scaled, xv));
      }
}

/**
 * out = (x == m)·t / count over x of shape [a, r1, b, r2, c, r3, d], m and t of shape [a, b, c, d].
 * Pointers are byte offsets of float32 arrays; sizes below 2³¹ elements.
 */
// @ts-ignore: decorator
@inline
function maxScatterAs(x: usize, m: usize, t: usize, out: usize, a: i32, r1: i32, b: i32, r2: i32, c: i32, r3: i32, d: i32, tg: bool): void {
  // Byte strides of x's axes r3, r2, r1 (and of kept rows).
  const s3 = <usize>d << 2;
  const s2 = <usize>c * <usize>r3 * s3;
  const s1 = <usize>b * <usize>r2 * s2;
  const row = <usize>d << 2;
  const last = <usize>(d - 4) << 2; // the last vector of a kept row overlaps the one before (d ≥ 4)
  const by22 = r1 == 1 && r2 == 2 && r3 == 2;
  let k: usize = 0; // byte offset of the kept row in m and t
  for (let ia = 0; ia < a; ia++)
    for (let ib = 0; ib < b; ib++)
      for (let ic = 0; ic < c; ic++, k += row) {
        const base = <usize>ia * <usize>r1 * s1 + <usize>ib * <usize>r2 * s2 + <usize>ic * <usize>r3 * s3;
        if (d == 1) {
          maxSegments(x, m + k, t + k, out, base, r1, s1, r2, s2, r3, tg);
        } else if (d >= 4 && by22) {
          for (let col: usize = 0; col < last; col += 16) maxColumns4By22(x, m + k, t + k, out, base, col, s2, s3, tg);
          maxColumns4By22(x, m + k, t + k, out, base, last, s2, s3, tg);
        } else if (d >= 4) {
          for (let col: usize = 0; col < last; col += 16)
            maxColumns4(x, m + k, t + k, out, base, col, r1, s1, r2, s2, r3, s3, tg);
          maxColumns4(x, m + k, t + k, out, base, last, r1, s1, r2, s2, r3, s3, tg);
        } else {
          for (let col: usize = 0; col < row; col += 4)
            maxColumn1(x, m + k, t + k, out, base, col, r1, s1, r2, s2, r3, s3, tg);
        }
      }
}

/**
 * out = (x == m)·t / count over x of shape [a, r1, b, r2, c, r3, d], m and t of shape [a, b, c, d].
 * Pointers are byte offsets of float32 arrays; sizes below 2³¹ elements.
 */
export function maxScatter(x: usize, m: usize, t: usize, out: usize, a: i32, r1: i32, b: i32, r2: i32, c: i32, r3: i32, d: i32): void {
  maxScatterAs(x, m, t, out, a, r1, b, r2, c, r3, d, false);
}

/**
 * maxScatter(x, m, t)·(1 − x²): with x = tanh's output, tanh's derivative rule applied to the
 * pooling gradient in the same pass (LeNet's tanh → max pool); each value rounded as maxScatter's
 * and then tanhGrad's (dy·(1 − y·y)), so bit-identical to the two kernels.
 */
export function maxScatterTanhGrad(x: usize, m: usize, t: usize, out: usize, a: i32, r1: i32, b: i32, r2: i32, c: i32, r3: i32, d: i32): void {
  maxScatterAs(x, m, t, out, a, r1, b, r2, c, r3, d, true);
}

/** The max of four adjacent kept columns over their window, in the window's row-major order. */
// @ts-ignore: decorator
@inline
function maxWindow4(x: usize, out: usize, base: usize, col: usize, r1: i32, s1: usize, r2: i32, s2: usize, r3: i32, s3: usize): void {
  let acc = v128.load(x + base + col);
  for (let i1 = 0, p1 = base + col; i1 < r1; i1++, p1 += s1)
    for (let i2 = 0, p2 = p1; i2 < r2; i2++, p2 += s2)
      for (let i3 = 0, p = p2; i3 < r3; i3++, p += s3) acc = combine(1, acc, v128.load(x + p));
  v128.store(out + col, acc);
}

/**
 * maxWindow4 over two rows of two (r1 = 1, r2 = r3 = 2), straight-line, in the same order.
 * (helper "sumk") pmax(acc, v) = acc < v ? v : acc is combine's v > acc ? v : acc (one maxps), so
 * ±0 ties keep the first as before; a NaN v, which combine takes, is instead noted in a mask (v ≠ v)
 * and the lane made NaN at the end (a NaN anywhere gives NaN either way, as the cpu backend).
 */
// @ts-ignore: decorator
@inline
function maxWindow4By22(x: usize, out: usize, base: usize, col: usize, s2: usize, s3: usize): void {
  const p0 = x + base + col;
  const p2 = p0 + s2;
  const x0 = v128.load(p0);
  const x1 = v128.load(p0 + s3);
  const x2 = v128.load(p2);
  const x3 = v128.load(p2 + s3);
  const acc = f32x4.pmax(f32x4.pmax(f32x4.pmax(x0, x1), x2), x3); // a NaN x0 stays: NaN < v is false
  const nan = v128.or(v128.or(f32x4.ne(x1, x1), f32x4.ne(x2, x2)), f32x4.ne(x3, x3));
  v128.store(out + col, v128.or(acc, nan)); // all-ones bits: a NaN
}

// @ts-ignore: decorator
@inline
function maxWindow1(x: usize, out: usize, base: usize, col: usize, r1: i32, s1: usize, r2: i32, s2: usize, r3: i32, s3: usize): void {
  let acc = load<f32>(x + base + col);
  for (let i1 = 0, p1 = base + col; i1 < r1; i1++, p1 += s1)
    for (let i2 = 0, p2 = p1; i2 < r2; i2++, p2 += s2)
      for (let i3 = 0, p = p2; i3 < r3; i3++, p += s3) acc = combine1(1, acc, load<f32>(x + p));
  store<f32>(out + col, acc);
}

/**
 * m = max of x over its reduced axes in one pass, x of shape [a, r1, b, r2, c, r3, d] with d > 1
 * (out of shape [a, b, c, d]): max pooling's forward without the intermediate array of two
 * middle-axis passes. NaN if the window holds one (as `maxMiddle` and the cpu backend).
 */
export function maxWindows(x: usize, out: usize, a: i32, r1: i32, b: i32, r2: i32, c: i32, r3: i32, d: i32): void {
  const s3 = <usize>d << 2;
  const s2 = <usize>c * <usize>r3 * s3;
  const s1 = <usize>b * <usize>r2 * s2;
  const row = <usize>d << 2;
  const last = <usize>(d - 4) << 2;
  const by22 = r1 == 1 && r2 == 2 && r3 == 2;
  let k: usize = 0;
  for (let ia = 0; ia < a; ia++)
    for (let ib = 0; ib < b; ib++)
      for (let ic = 0; ic < c; ic++, k += row) {
        const base = <usize>ia * <usize>r1 * s1 + <usize>ib * <usize>r2 * s2 + <usize>ic * <usize>r3 * s3;
        if (d >= 4 && by22) {
          for (let col: usize = 0; col < last; col += 16) maxWindow4By22(x, out + k, base, col, s2, s3);
          maxWindow4By22(x, out + k, base, last, s2, s3);
        } else if (d >= 4) {
          for (let col: usize = 0; col < last; col += 16) maxWindow4(x, out + k, base, col, r1, s1, r2, s2, r3, s3);
          maxWindow4(x, out + k, base, last, r1, s1, r2, s2, r3, s3);
        } else {
          for (let col: usize = 0; col < row; col += 4) maxWindow1(x, out + k, base, col, r1, s1, r2, s2, r3, s3);
        }
      }
}

/**
 * Σ over the window of s·w, w = mask·(1/count), for four kept columns: reduce-max's JVP (the
 * transpose of maxScatter); NaN where the window has no match. The first pass sums mask·s, which
 * is that where count = 1; where a count is not 1, the window is summed again with the weights.
 */
// @ts-ignore: decorator
@inline
function gatherColumns4(x: usize, m: usize, s: usize, out: usize, base: usize, col: usize, r1: i32, s1: usize, r2: i32, s2: usize, r3: i32, s3: usize): void {
  const one = f32x4.splat(1.0);
  const m4 = v128.load(m + col);
  let count = f32x4.splat(0.0);
  let sum = f32x4.splat(0.0);
  for (let i1 = 0, p1 = base + col; i1 < r1; i1++, p1 += s1)
    for (let i2 = 0, p2 = p1; i2 < r2; i2++, p2 += s2)
      for (let i3 = 0, p = p2; i3 < r3; i3++, p += s3) {
        const mask = v128.and(f32x4.eq(v128.load(x + p), m4), one);
        sum = f32x4.add(sum, f32x4.mul(mask, v128.load(s + p)));
        count = f32x4.add(count, mask);
      }
  if (v128.any_true(f32x4.ne(count, one))) {
    const r = f32x4.div(one, count);
    sum = f32x4.splat(0.0);
    for (let i1 = 0, p1 = base + col; i1 < r1; i1++, p1 += s1)
      for (let i2 = 0, p2 = p1; i2 < r2; i2++, p2 += s2)
        for (let i3 = 0, p = p2; i3 < r3; i3++, p += s3) {
          const w = f32x4.mul(v128.and(f32x4.eq(v128.load(x + p), m4), one), r);
          sum = f32x4.add(sum, f32x4.mul(v128.load(s + p), w));
        }
  }
  v128.store(out + col, sum);
}

// @ts-ignore: decorator
@inline
function gatherColumn1(x: usize, m: usize, s: usize, out: usize, base: usize, col: usize, r1: i32, s1: usize, r2: i32, s2: usize, r3: i32, s3: usize): void {
  const mv = load<f32>(m + col);
  let count: f32 = 0.0;
  let sum: f32 = 0.0;
  for (let i1 = 0, p1 = base + col; i1 < r1; i1++, p1 += s1)
    for (let i2 = 0, p2 = p1; i2 < r2; i2++, p2 += s2)
      for (let i3 = 0, p = p2; i3 < r3; i3++, p += s3) {
        const mask: f32 = load<f32>(x + p) == mv ? 1.0 : 0.0;
        sum += mask * load<f32>(s + p);
        count += mask;
      }
  if (count != 1.0) {
    const r = <f32>1.0 / count;
    sum = 0.0;
    for (let i1 = 0, p1 = base + col; i1 < r1; i1++, p1 += s1)
      for (let i2 = 0, p2 = p1; i2 < r2; i2++, p2 += s2)
        for (let i3 = 0, p = p2; i3 < r3; i3++, p += s3)
          sum += load<f32>(s + p) * ((load<f32>(x + p) == mv ? <f32>1.0 : <f32>0.0) * r);
  }
  store<f32>(out + col, sum);
}

/** d = 1: vectors along the contiguous innermost run of the window. */
// @ts-ignore: decorator
@inline
function gatherSegments(x: usize, mp: usize, s: usize, op: usize, base: usize, r1: i32, s1: usize, r2: i32, s2: usize, r3: i32): void {
  const one = f32x4.splat(1.0);
  const mv = load<f32>(mp);
  const m4 = f32x4.splat(mv);
  const bytes = <usize>r3 << 2;
  const vec = (<usize>r3 >> 2) << 4;
  let count4 = f32x4.splat(0.0);
  let sum4 = f32x4.splat(0.0);
  let count: f32 = 0.0;
  let sum: f32 = 0.0;
  for (let i1 = 0, p1 = base; i1 < r1; i1++, p1 += s1)
    for (let i2 = 0, p = p1; i2 < r2; i2++, p += s2) {
      let o: usize = 0;
      for (; o < vec; o += 16) {
        const mask = v128.and(f32x4.eq(v128.load(x + p + o), m4), one);
        sum4 = f32x4.add(sum4, f32x4.mul(mask, v128.load(s + p + o)));
        count4 = f32x4.add(count4, mask);
      }
      for (; o < bytes; o += 4) {
        const mask: f32 = load<f32>(x + p + o) == mv ? 1.0 : 0.0;
        sum += mask * load<f32>(s + p + o);
        count += mask;
      }
    }
  count += f32x4.extract_lane(count4, 0) + f32x4.extract_lane(count4, 1);
  count += f32x4.extract_lane(count4, 2) + f32x4.extract_lane(count4, 3);
  sum += f32x4.extract_lane(sum4, 0) + f32x4.extract_lane(sum4, 1);
  sum += f32x4.extract_lane(sum4, 2) + f32x4.extract_lane(sum4, 3);
  if (count != 1.0) {
    const r = <f32>1.0 / count;
    sum = 0.0;
    for (let i1 = 0, p1 = base; i1 < r1; i1++, p1 += s1)
      for (let i2 = 0, p = p1; i2 < r2; i2++, p += s2)
        for (let o: usize = 0; o < bytes; o += 4)
          sum += load<f32>(s + p + o) * ((load<f32>(x + p + o) == mv ? <f32>1.0 : <f32>0.0) * r);
  }
  store<f32>(op, sum);
}

/**
 * out = Σ over the reduced axes of s·((x == m)·(1/count)): the transpose of maxScatter in its last
 * argument (reduce-max's JVP), x and s of shape [a, r1, b, r2, c, r3, d], m and out [a, b, c, d].
 */
export function maxGather(x: usize, m: usize, s: usize, out: usize, a: i32, r1: i32, b: i32, r2: i32, c: i32, r3: i32, d: i32): void {
  const s3 = <usize>d << 2;
  const s2 = <usize>c * <usize>r3 * s3;
  const s1 = <usize>b * <usize>r2 * s2;
  const row = <usize>d << 2;
  const last = <usize>(d - 4) << 2;
  let k: usize = 0;
  for (let ia = 0; ia < a; ia++)
    for (let ib = 0; ib < b; ib++)
      for (let ic = 0; ic < c; ic++, k += row) {
        const base = <usize>ia * <usize>r1 * s1 + <usize>ib * <usize>r2 * s2 + <usize>ic * <usize>r3 * s3;
        if (d == 1) {
          gatherSegments(x, m + k, s, out + k, base, r1, s1, r2, s2, r3);
        } else if (d >= 4) {
          for (let col: usize = 0; col < last; col += 16)
            gatherColumns4(x + base, m + k, s + base, out + k, 0, col, r1, s1, r2, s2, r3, s3);
          gatherColumns4(x + base, m + k, s + base, out + k, 0, last, r1, s1, r2, s2, r3, s3);
        } else {
          for (let col: usize = 0; col < row; col += 4)
            gatherColumn1(x + base, m + k, s + base, out + k, 0, col, r1, s1, r2, s2, r3, s3);
        }
      }
}

// ---- im2col ----
// The patch matrix of a convolution, so that conv2d is one matmul (K.conv2d's im2col path: with a
// native GEMM installed, or on shapes where XNNPACK's matmul beats tfjs-wasm's Conv2D):
// out[b, i, j, u, v, :] = x[b, i·sh + u·dh − t, j·sw + v·dw − l, :], 0 where that pixel is padding,
// for x of shape [batch, h, w, c] and out [batch, ho, wo, kh, kw, c] (float32). The transpose of
// col2im (above) generalised to strides. With dw = 1 the in-range v of one (b, i, j, u) are adjacent
// pixels of x: one copy of up to kw·c floats. Spans are copied by vectors (memory.copy and
// memory.fill are calls into the engine, too slow for LeNet's 20-byte spans) and a scalar tail.

/** Spans of at least this many bytes go to memory.copy / memory.fill. */
const BULK: usize = 512;

// @ts-ignore: decorator
@inline
function copyBytes(src: usize, dst: usize, n: usize): void {
  if (n >= BULK) {
    memory.copy(dst, src, n);
    return;
  }
  let o: usize = 0;
  for (; o + 16 <= n; o += 16) v128.store(dst + o, v128.load(src + o));
  for (; o < n; o += 4) store<f32>(dst + o, load<f32>(src + o));
}

// @ts-ignore: decorator
@inline
function zeroBytes(dst: usize, n: usize): void {
  if (n >= BULK) {
    memory.fill(dst, 0, n);
    return;
  }
  const z = f32x4.splat(0);
  let o: usize = 0;
  for (; o + 16 <= n; o += 16) v128.store(dst + o, z);
  for (; o < n; o += 4) store<f32>(dst + o, 0);
}

export function im2col(
  x: usize,
  out: usize,
  batch: i32,
  h: i32,
  w: i32,
  c: i32,
  ho: i32,
  wo: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dw: i32,
  t: i32,
  l: i32,
): void {
  const cb = <usize>c << 2; // bytes of one pixel
  const rowBytes = <usize>w * cb;
  const span = <usize>kw * cb; // bytes of one row u of a patch
  let dst = out;
  for (let b = 0; b < batch; b++) {
    const xb = x + <usize>b * <usize>h * rowBytes;
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++) {
        const q = j * sw - l;
        for (let u = 0; u < kh; u++, dst += span) {
          const p = i * sh + u * dh - t;
          if (p < 0 || p >= h) {
            zeroBytes(dst, span);
            continue;
          }
          const row = xb + <usize>p * rowBytes;
          if (dw == 1) {
            const v0 = min(kw, max(0, -q));
            const v1 = max(v0, min(kw, w - q));
            if (v0 > 0) zeroBytes(dst, <usize>v0 * cb);
            if (v1 > v0) copyBytes(row + <usize>(q + v0) * cb, dst + <usize>v0 * cb, <usize>(v1 - v0) * cb);
            if (v1 < kw) zeroBytes(dst + <usize>v1 * cb, <usize>(kw - v1) * cb);
          } else {
            for (let v = 0; v < kw; v++) {
              const qv = q + v * dw;
              if (qv >= 0 && qv < w) copyBytes(row + <usize>qv * cb, dst + <usize>v * cb, cb);
              else zeroBytes(dst + <usize>v * cb, cb);
            }
          }
        }
      }
  }
}
// ---- end im2col ----

// ---- bias + tanh (lenetfuse) ----

/**
 * out[r, c] = tanh(x[r, c] + b[c]) for r < rows, c < cols: a layer's bias add and its tanh in one
 * pass (the same f32 add and `tanhv` as the Add and Tanh kernels: bit-identical to them).
 */
export function biasTanh(x: usize, b: usize, out: usize, rows: i32, cols: i32): void {
  const row = <usize>cols << 2;
  if ((cols & 3) == 0) {
    // Whole vectors: one flat loop, four independent vectors per iteration (as `mapUnary`), the
    // bias offset advancing a vector at a time and wrapping at the row's end.
    const end = x + <usize>rows * row;
    const end16 = x + ((((end - x) >> 6)) << 6);
    let o: usize = 0;
    for (; x < end16; x += 64, out += 64) {
      const o1 = o + 16 == row ? 0 : o + 16;
      const o2 = o1 + 16 == row ? 0 : o1 + 16;
      const o3 = o2 + 16 == row ? 0 : o2 + 16;
      const u0 = tanhv(f32x4.add(v128.load(x), v128.load(b + o)));
      const u1 = tanhv(f32x4.add(v128.load(x, 16), v128.load(b + o1)));
      const u2 = tanhv(f32x4.add(v128.load(x, 32), v128.load(b + o2)));
      const u3 = tanhv(f32x4.add(v128.load(x, 48), v128.load(b + o3)));
      v128.store(out, u0);
      v128.store(out, u1, 16);
      v128.store(out, u2, 32);
      v128.store(out, u3, 48);
      o = o3 + 16 == row ? 0 : o3 + 16;
    }
    for (; x < end; x += 16, out += 16) {
      v128.store(out, tanhv(f32x4.add(v128.load(x), v128.load(b + o))));
      o = o + 16 == row ? 0 : o + 16;
    }
    return;
  }
  const whole = <usize>(cols & ~3) << 2;
  const k = cols & 3;
  for (let r = 0; r < rows; r++, x += row, out += row) {
    let c: usize = 0;
    for (; c < whole; c += 16) v128.store(out + c, tanhv(f32x4.add(v128.load(x + c), v128.load(b + c))));
    if (k) storeTail(out + c, k, tanhv(f32x4.add(loadTail(x + c, k), loadTail(b + c, k))));
  }
}
// ---- end bias + tanh ----

// ---- max-pool + tanh gradient written as [h, w, n, c] (sumk) ----
// maxScatterTanhGrad for 2-D max pooling of an [n, h, w, c] array, with the result written in the
// layout [h, w, n, c] that conv's filter gradient reads its cotangent in (the composite route: a
// conv of x as [c, h, w, n] with the cotangent as an [h, w, n, c] filter). The same values as
// maxScatterTanhGrad followed by Transpose [1, 2, 0, 3], in one pass instead of two.

/**
 * Four adjacent channels (byte offset `col`) of one kh×kw window: x's rows at xb + p·sx2 + q·sx3,
 * out's at ob + p·so2 + q·so3 (byte strides); m and t at mt + col. As maxColumns4 with tg = true.
 */
// @ts-ignore: decorator
@inline
function hwncColumns4(x: usize, m: usize, t: usize, out: usize, xb: usize, ob: usize, col: usize, kh: i32, kw: i32, sx2: usize, sx3: usize, so2: usize, so3: usize): void {
  const one = f32x4.splat(1.0);
  const m4 = v128.load(m + col);
  const t4 = v128.load(t + col);
  let count = f32x4.splat(0.0);
  for (let p = 0, px = xb + col, po = ob + col; p < kh; p++, px += sx2, po += so2)
    for (let q = 0, qx = px, qo = po; q < kw; q++, qx += sx3, qo += so3) {
      const xv = v128.load(x + qx);
      const mask = v128.and(f32x4.eq(xv, m4), one);
      v128.store(out + qo, tanhDeriv(true, f32x4.mul(mask, t4), xv));
      count = f32x4.add(count, mask);
    }
  if (!v128.any_true(f32x4.ne(count, one))) return;
  const scaled = f32x4.mul(f32x4.div(one, count), t4); // = t4 in lanes where count = 1
  for (let p = 0, px = xb + col, po = ob + col; p < kh; p++, px += sx2, po += so2)
    for (let q = 0, qx = px, qo = po; q < kw; q++, qx += sx3, qo += so3) {
      const xv = v128.load(x + qx);
      v128.store(out + qo, tanhDeriv(true, f32x4.mul(v128.and(f32x4.eq(xv, m4), one), scaled), xv));
    }
}

/** hwncColumns4 for 2×2 windows, straight-line (as maxColumns4By22). */
// @ts-ignore: decorator
@inline
function hwncColumns4By22(x: usize, m: usize, t: usize, out: usize, xb: usize, ob: usize, col: usize, sx2: usize, sx3: usize, so2: usize, so3: usize): void {
  const one = f32x4.splat(1.0);
  const m4 = v128.load(m + col);
  const t4 = v128.load(t + col);
  const x0p = x + xb + col;
  const o0 = out + ob + col;
  const x0 = v128.load(x0p);
  const x1 = v128.load(x0p + sx3);
  const x2 = v128.load(x0p + sx2);
  const x3 = v128.load(x0p + sx2 + sx3);
  const k0 = v128.and(f32x4.eq(x0, m4), one);
  const k1 = v128.and(f32x4.eq(x1, m4), one);
  const k2 = v128.and(f32x4.eq(x2, m4), one);
  const k3 = v128.and(f32x4.eq(x3, m4), one);
  v128.store(o0, tanhDeriv(true, f32x4.mul(k0, t4), x0));
  v128.store(o0 + so3, tanhDeriv(true, f32x4.mul(k1, t4), x1));
  v128.store(o0 + so2, tanhDeriv(true, f32x4.mul(k2, t4), x2));
  v128.store(o0 + so2 + so3, tanhDeriv(true, f32x4.mul(k3, t4), x3));
  const count = f32x4.add(f32x4.add(k0, k1), f32x4.add(k2, k3));
  if (!v128.any_true(f32x4.ne(count, one))) return;
  const scaled = f32x4.mul(f32x4.div(one, count), t4);
  v128.store(o0, tanhDeriv(true, f32x4.mul(k0, scaled), x0));
  v128.store(o0 + so3, tanhDeriv(true, f32x4.mul(k1, scaled), x1));
  v128.store(o0 + so2, tanhDeriv(true, f32x4.mul(k2, scaled), x2));
  v128.store(o0 + so2 + so3, tanhDeriv(true, f32x4.mul(k3, scaled), x3));
}

/** One channel of a window, one float at a time (c < 4), as maxColumn1 with tg = true. */
// @ts-ignore: decorator
@inline
function hwncColumn1(x: usize, m: usize, t: usize, out: usize, xb: usize, ob: usize, col: usize, kh: i32, kw: i32, sx2: usize, sx3: usize, so2: usize, so3: usize): void {
  const mv = load<f32>(m + col);
  const tv = load<f32>(t + col);
  let count: f32 = 0.0;
  for (let p = 0, px = xb + col, po = ob + col; p < kh; p++, px += sx2, po += so2)
    for (let q = 0, qx = px, qo = po; q < kw; q++, qx += sx3, qo += so3) {
      const xv = load<f32>(x + qx);
      const mask: f32 = xv == mv ? 1.0 : 0.0;
      store<f32>(out + qo, tanhDeriv1(true, mask * tv, xv));
      count += mask;
    }
  if (count == 1.0) return;
  const scaled = (<f32>1.0 / count) * tv;
  for (let p = 0, px = xb + col, po = ob + col; p < kh; p++, px += sx2, po += so2)
    for (let q = 0, qx = px, qo = po; q < kw; q++, qx += sx3, qo += so3) {
      const xv = load<f32>(x + qx);
      store<f32>(out + qo, tanhDeriv1(true, (xv == mv ? <f32>1.0 : <f32>0.0) * scaled, xv));
    }
}

/**
 * out[i·kh + p, j·kw + q, b, ch] = maxScatterTanhGrad(x, m, t) at x[b, i, p, j, q, ch], x of shape
 * [n, hp, kh, wp, kw, c] (2-D max pooling's windows), m and t of shape [n, hp, wp, c], out of shape
 * [hp·kh, wp·kw, n, c]. Pointers are byte offsets of float32 arrays; sizes below 2³¹ elements.
 * Images outermost: x, m and t are read in order, and out's rows (c floats, n·c apart) fill whole
 * lines over consecutive images while those lines are still in cache.
 */
export function maxScatterTanhGradHwnc(x: usize, m: usize, t: usize, out: usize, n: i32, hp: i32, kh: i32, wp: i32, kw: i32, c: i32): void {
  const row = <usize>c << 2;
  const sx3 = row; // x's strides: q, p (bytes)
  const sx2 = <usize>wp * <usize>kw * row;
  const so2 = <usize>wp * <usize>kw * <usize>n * row; // out's: one output row (h), one column (w)
  const so3 = <usize>n * row;
  const last = <usize>(c - 4) << 2;
  const by22 = kh == 2 && kw == 2;
  let k: usize = 0; // byte offset of the window's row in m and t
  for (let b = 0; b < n; b++)
    for (let i = 0; i < hp; i++)
      for (let j = 0; j < wp; j++, k += row) {
        const xb = ((<usize>b * <usize>hp + <usize>i) * <usize>kh * <usize>wp + <usize>j) * <usize>kw * row;
        const ob = <usize>i * <usize>kh * so2 + <usize>j * <usize>kw * so3 + <usize>b * row;
        if (c >= 4 && by22) {
          for (let col: usize = 0; col < last; col += 16) hwncColumns4By22(x, m + k, t + k, out, xb, ob, col, sx2, sx3, so2, so3);
          hwncColumns4By22(x, m + k, t + k, out, xb, ob, last, sx2, sx3, so2, so3);
        } else if (c >= 4) {
          for (let col: usize = 0; col < last; col += 16) hwncColumns4(x, m + k, t + k, out, xb, ob, col, kh, kw, sx2, sx3, so2, so3);
          hwncColumns4(x, m + k, t + k, out, xb, ob, last, kh, kw, sx2, sx3, so2, so3);
        } else {
          for (let col: usize = 0; col < row; col += 4) hwncColumn1(x, m + k, t + k, out, xb, ob, col, kh, kw, sx2, sx3, so2, so3);
        }
      }
}
// ---- end max-pool + tanh gradient as [h, w, n, c] ----
