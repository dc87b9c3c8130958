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

/** eˣ; x is clamped to [−104, 89] (beyond it the result is 0 or +Inf) and 2ⁿ applied in two halves. */
// @ts-ignore: decorator
@inline
function expv(x: v128): v128 {
  // wasm's min/max propagate NaN, so NaN stays NaN through the whole computation.
  x = f32x4.min(f32x4.max(x, f32x4.splat(-104.0)), f32x4.splat(89.0));
  const fn = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(fn, f32x4.splat(LN2_HI))), f32x4.mul(fn, f32x4.splat(LN2_LO)));
  const p = f32x4.add(expPoly(r), f32x4.splat(1.0));
  const n = i32x4.trunc_sat_f32x4_s(fn); // in [−150, 129]
  const n1 = i32x4.shr_s(n, 1);
  const n2 = i32x4.sub(n, n1);
  return f32x4.mul(f32x4.mul(p, pow2(n1)), pow2(n2));
}

/** eˣ − 1 = q·2ⁿ + (2ⁿ − 1) with q = e^r − 1 computed without adding 1, so it is exact near 0. */
// @ts-ignore: decorator
@inline
function expm1v(x: v128): v128 {
  // Below −30, eˣ − 1 rounds to −1; above 88.8 it overflows (and does here, through the ·2).
  x = f32x4.min(f32x4.max(x, f32x4.splat(-30.0)), f32x4.splat(88.8));
  const fn = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(fn, f32x4.splat(LN2_HI))), f32x4.mul(fn, f32x4.splat(LN2_LO)));
  const q = expPoly(r);
  const t = pow2(i32x4.sub(i32x4.trunc_sat_f32x4_s(fn), i32x4.splat(1))); // 2ⁿ⁻¹, n − 1 in [−45, 127]
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

/** tanh x (Cephes tanhf): an odd polynomial for |x| < 0.625, 1 − 2/(e^{2|x|} + 1) beyond, sign of x. */
// @ts-ignore: decorator
@inline
function tanhv(x: v128): v128 {
  const a = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(2.06390887954e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-5.37397155531e-2));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(1.33314422036e-1));
  p = f32x4.add(f32x4.mul(p, z), f32x4.splat(-3.33332819422e-1));
  const small = f32x4.add(f32x4.mul(f32x4.mul(p, z), x), x);
  // tanh rounds to 1 from |x| ≈ 9.01 on; clamping at 10 keeps e^{2|x|} finite.
  const e = expv(f32x4.mul(f32x4.min(a, f32x4.splat(10.0)), f32x4.splat(2.0)));
  const big = f32x4.sub(f32x4.splat(1.0), f32x4.div(f32x4.splat(2.0), f32x4.add(e, f32x4.splat(1.0))));
  const bigSigned = v128.bitselect(x, big, i32x4.splat(SIGN));
  // NaN fails the comparison and takes the polynomial, which keeps it NaN. Below 2⁻¹², tanh x
  // rounds to x (this also keeps the sign of −0).
  const out = v128.bitselect(bigSigned, small, f32x4.ge(a, f32x4.splat(0.625)));
  return v128.bitselect(x, out, f32x4.lt(a, f32x4.splat(2.44140625e-4)));
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

/** Kernel `op` on one vector; `op` is a constant at every call, so only its branch is compiled. */
// @ts-ignore: decorator
@inline
function apply(op: i32, v: v128): v128 {
  if (op == TANH) return tanhv(v);
  if (op == EXP) return expv(v);
  if (op == EXPM1) return expm1v(v);
  if (op == LOG) return logv(v);
  return log1pv(v);
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
