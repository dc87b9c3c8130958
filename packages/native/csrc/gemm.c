/*
 * @hodiff/native: OpenBLAS's sgemm on tfjs-wasm's heap, as a Node-API addon (C, no C++ runtime).
 *
 * gemm(heap, a, b, c, batch, m, n, k, transA, transB): for each i < batch,
 *   C_i = op(A_i)·op(B_i), op = transpose when its flag is set,
 * where `heap` is an ArrayBuffer (the WebAssembly.Memory's buffer), a, b, c are byte offsets into
 * it, A_i is m×k after op (stored k×m when transposed), B_i k×n after op, C_i m×n, all row-major
 * and contiguous, batches m·k, k·n and m·n floats apart. The heap is used in place: no copies.
 *
 * Every argument is checked before any write: offsets 4-byte aligned, every batch of A, B and C
 * inside the buffer, C not overlapping A or B, dimensions within BLAS's int. A failed check throws
 * a JS RangeError/TypeError and touches nothing.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <cblas.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <limits.h>
#include <stdio.h>

/* Throw `msg` as a JS error of the given kind unless an exception is already pending. */
static napi_value fail(napi_env env, bool range, const char *msg) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    if (range) napi_throw_range_error(env, "HODIFF_NATIVE_ARGS", msg);
    else napi_throw_type_error(env, "HODIFF_NATIVE_ARGS", msg);
  }
  return NULL;
}

/* A non-negative integer no larger than 2^53 (a JS number that is an exact count or offset). */
static bool get_count(napi_env env, napi_value v, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return false;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(int64_t)d) return false;
  *out = (int64_t)d;
  return true;
}

static bool get_bool(napi_env env, napi_value v, bool *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_boolean) return false;
  return napi_get_value_bool(env, v, out) == napi_ok;
}

/* Whether [off, off + bytes) lies inside a buffer of `len` bytes (all values non-negative, < 2^53). */
static bool inside(int64_t off, int64_t bytes, size_t len) {
  return off <= (int64_t)len && bytes <= (int64_t)len - off;
}

static bool overlap(int64_t a, int64_t an, int64_t b, int64_t bn) {
  return an > 0 && bn > 0 && a < b + bn && b < a + an;
}

static napi_value Gemm(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc != 10) return fail(env, false, "gemm(heap, a, b, c, batch, m, n, k, transA, transB): expected 10 arguments");
  bool is_ab = false;
  napi_is_arraybuffer(env, argv[0], &is_ab);
  if (!is_ab) return fail(env, false, "gemm: heap must be an ArrayBuffer (a WebAssembly.Memory's buffer, not shared)");
  void *data = NULL;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &len) != napi_ok) return fail(env, false, "gemm: cannot read heap");
  int64_t v[7]; /* a, b, c, batch, m, n, k */
  static const char *names[7] = {"a", "b", "c", "batch", "m", "n", "k"};
  for (int i = 0; i < 7; i++) {
    if (!get_count(env, argv[1 + i], &v[i])) {
      char msg[128];
      snprintf(msg, sizeof msg, "gemm: %s must be a non-negative integer", names[i]);
      return fail(env, false, msg);
    }
  }
  bool ta, tb;
  if (!get_bool(env, argv[8], &ta) || !get_bool(env, argv[9], &tb))
    return fail(env, false, "gemm: transA and transB must be booleans");
  int64_t a = v[0], b = v[1], c = v[2], batch = v[3], m = v[4], n = v[5], k = v[6];
  if ((a | b | c) & 3) return fail(env, true, "gemm: offsets must be multiples of 4 bytes (float32)");
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX || batch > INT_MAX)
    return fail(env, true, "gemm: a dimension exceeds BLAS's int range");
  /* Bytes per batch, computed in int64 only after bounding each factor by the buffer: no overflow
   * (with no batches the dimensions are unbounded and nothing is read or written, so sizes stay 0). */
  int64_t total = (int64_t)len, sa = 0, sb = 0, sc = 0;
  if (batch > 0) {
    if ((m > 0 && k > total / 4 / m) || (k > 0 && n > total / 4 / k) || (m > 0 && n > total / 4 / m))
      return fail(env, true, "gemm: a matrix is larger than the heap");
    sa = 4 * m * k, sb = 4 * k * n, sc = 4 * m * n;
    if ((sa > 0 && batch > total / sa) || (sb > 0 && batch > total / sb) || (sc > 0 && batch > total / sc))
      return fail(env, true, "gemm: the batches are larger than the heap");
  }
  int64_t na = batch * sa, nb = batch * sb, nc = batch * sc;
  if (!inside(a, na, len) || !inside(b, nb, len) || !inside(c, nc, len)) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "gemm: out of bounds: A [%lld, +%lld), B [%lld, +%lld), C [%lld, +%lld) in a heap of %lld bytes",
             (long long)a, (long long)na, (long long)b, (long long)nb, (long long)c, (long long)nc, (long long)len);
    return fail(env, true, msg);
  }
  if (overlap(c, nc, a, na) || overlap(c, nc, b, nb)) return fail(env, true, "gemm: C overlaps A or B");
  if (batch == 0 || m == 0 || n == 0) return NULL;
  char *heap = (char *)data;
  if (k == 0) { /* an empty sum: C = 0 (BLAS rejects lda = 0) */
    memset(heap + c, 0, (size_t)nc);
    return NULL;
  }
  const int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n);
  for (int64_t i = 0; i < batch; i++) {
    /* beta = 0: C's prior contents (uninitialised heap, maybe NaN) are not read. */
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                (int)k, 1.0f, (const float *)(heap + a + i * sa), lda, (const float *)(heap + b + i * sb), ldb, 0.0f,
                (float *)(heap + c + i * sc), (int)n);
  }
  return NULL;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t t = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc != 1 || !get_count(env, argv[0], &t) || t < 1 || t > 1024)
    return fail(env, true, "setThreads(n): n must be an integer from 1 to 1024");
  openblas_set_num_threads((int)t);
  return NULL;
}

static napi_value Threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  return napi_create_int32(env, openblas_get_num_threads(), &out) == napi_ok ? out : NULL;
}

static napi_value Config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  const char *s = openblas_get_config();
  return napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &out) == napi_ok ? out : NULL;
}

/* Context-aware (NAPI_MODULE_INIT): loadable from worker_threads too. */
NAPI_MODULE_INIT() {
  const struct { const char *name; napi_callback fn; } fns[] = {
      {"gemm", Gemm}, {"setThreads", SetThreads}, {"threads", Threads}, {"config", Config}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, fns[i].name, f) != napi_ok) return NULL;
  }
  return exports;
}
