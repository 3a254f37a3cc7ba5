// The C API of the CPU backend: argument checks (second line of defence after Java), workspace,
// instruction-set dispatch, and the conversion of C++ failures into status codes.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "fitprune.h"
#include "internal.h"

#ifndef FITPRUNE_VERSION
#define FITPRUNE_VERSION "dev"
#endif

namespace fp {

thread_local int tls_workers = 1;
static thread_local std::string tls_error;

int fail(int code, const char* fmt, ...) noexcept {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  try {
    tls_error = buf;
  } catch (...) {  // no memory for the message: keep the status
  }
  return code;
}

int check_spans(int64_t n, int64_t prefix, int64_t visual) noexcept {
  if (n < 0) return fail(FP_ERR_ARG, "n must be >= 0, got %lld", (long long)n);
  if (prefix < 0 || visual < 0 || prefix > n || visual > n || prefix > n - visual)
    return fail(FP_ERR_ARG, "spans must satisfy 0 <= prefix, 0 <= visual, prefix + visual <= n; got prefix=%lld visual=%lld n=%lld",
                (long long)prefix, (long long)visual, (long long)n);
  return FP_OK;
}

int check_select(int64_t n, int64_t prefix, int64_t visual, int64_t drop) noexcept {
  if (n < 0 || n > INT32_MAX) return fail(FP_ERR_ARG, "n must be in [0, 2^31), got %lld", (long long)n);
  if (int st = check_spans(n, prefix, visual)) return st;
  if (drop < 0 || drop > visual)
    return fail(FP_ERR_ARG, "drop must be in [0, visual=%lld], got %lld", (long long)visual, (long long)drop);
  return FP_OK;
}

namespace {

bool isa_supported(int isa) {
  __builtin_cpu_init();
  switch (isa) {
    case FP_ISA_GENERIC: return true;
    case FP_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FP_ISA_AVX512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FP_ISA_AVX512_BF16: return isa_supported(FP_ISA_AVX512) && __builtin_cpu_supports("avx512bf16");
    default: return false;
  }
}

int best_isa() {
  if (isa_supported(FP_ISA_AVX512_BF16)) return FP_ISA_AVX512_BF16;
  if (isa_supported(FP_ISA_AVX512)) return FP_ISA_AVX512;
  if (isa_supported(FP_ISA_AVX2)) return FP_ISA_AVX2;
  return FP_ISA_GENERIC;
}

std::atomic<int> g_isa{best_isa()};

// Grow-only scratch memory per calling thread: kernels allocate nothing per call once warm.
struct Workspace {
  void* ptr = nullptr;
  size_t bytes = 0;
  ~Workspace() { std::free(ptr); }
  void* get(size_t need) {
    if (need > bytes) {
      std::free(ptr);
      ptr = nullptr;
      bytes = 0;
      const size_t rounded = (need + 4095) & ~size_t(4095);
      ptr = std::aligned_alloc(64, rounded);
      if (!ptr) throw std::bad_alloc();
      bytes = rounded;
    }
    return ptr;
  }
};
thread_local Workspace tls_workspace;

int check_shape(const void* a, const void* b, const void* c, int64_t n, int32_t H, int32_t G, int32_t d) {
  if (n < 0) return fail(FP_ERR_ARG, "n must be >= 0, got %lld", (long long)n);
  if (H <= 0 || G <= 0 || d <= 0)
    return fail(FP_ERR_ARG, "heads, kv_heads and head_dim must be > 0, got H=%d G=%d d=%d", H, G, d);
  if (H % G != 0) return fail(FP_ERR_ARG, "heads (%d) must be a multiple of kv_heads (%d)", H, G);
  if (d > 1024) return fail(FP_ERR_ARG, "head_dim must be <= 1024, got %d", d);
  if (n > INT32_MAX) return fail(FP_ERR_ARG, "n must fit in int32, got %lld", (long long)n);
  if (n > 0 && (int64_t)H * d > (INT64_MAX / 8) / n)  // every size below is computed in int64
    return fail(FP_ERR_ARG, "n*heads*head_dim overflows: n=%lld H=%d d=%d", (long long)n, H, d);
  if (n > 0 && (!a || !b || !c)) return fail(FP_ERR_ARG, "null input pointer");
  return FP_OK;
}

#define FP_DISPATCH(fn, args)                          \
  switch (g_isa.load()) {                              \
    case FP_ISA_AVX512_BF16: avx512bf16::fn(args); break; \
    case FP_ISA_AVX512: avx512::fn(args); break;       \
    case FP_ISA_AVX2: avx2::fn(args); break;           \
    default: generic::fn(args); break;                 \
  }
#define FP_DISPATCH2(fn, a1, a2)                               \
  switch (g_isa.load()) {                                      \
    case FP_ISA_AVX512_BF16: avx512bf16::fn(a1, a2); break;    \
    case FP_ISA_AVX512: avx512::fn(a1, a2); break;             \
    case FP_ISA_AVX2: avx2::fn(a1, a2); break;                 \
    default: generic::fn(a1, a2); break;                       \
  }


int check_cpu_dtype(int32_t dtype) {
  if (dtype != FP_DTYPE_F32 && dtype != FP_DTYPE_BF16)
    return fail(FP_ERR_UNAVAILABLE, "the CPU kernels take FP_DTYPE_F32 (0) or FP_DTYPE_BF16 (2), got dtype %d", dtype);
  return FP_OK;
}

// self = sum of the visual row blocks' partials / visual, cross = the text blocks' / text, each
// reduced in block order (so independent of threads and schedule).
void reduce_partials(const double* acc, int64_t n, int64_t prefix, int64_t visual, float* self_score,
                     float* cross_score) {
  const int64_t text_blocks = score_text_blocks(n, prefix, visual);
  const int64_t blocks = score_row_blocks(n, prefix, visual);
  const int64_t text = n - prefix - visual;
  for (int64_t j = 0; j < visual; ++j) {
    double s = 0.0, c = 0.0;
    for (int64_t b = 0; b < text_blocks; ++b) c += acc[b * visual + j];
    for (int64_t b = text_blocks; b < blocks; ++b) s += acc[b * visual + j];
    self_score[j] = (float)(s / (double)visual);
    cross_score[j] = text > 0 ? (float)(c / (double)text) : 0.f;
  }
}

// Workspace: packed K (and V for bf16) in the input type, then each worker's fp32 scratch; with
// scores (visual > 0 and self_score given), the fused score buffers after them.
template <class T>
int run_attention(const T* q, const T* k, const T* v, int64_t n, int H, int G, int d, void* out,
                  bool out_f32, float* lse, int64_t prefix = 0, int64_t visual = 0,
                  float* self_score = nullptr, float* cross_score = nullptr) {
  const int workers = max_workers();
  const bool fused = self_score && visual > 0;
  const int64_t pk = packed_k_elems(n, G, d) * (int64_t)sizeof(T);
  const int64_t pv = sizeof(T) == 2 ? packed_v_elems(n, G, d) * 2 : 0;
  const int64_t scratch = (int64_t)sizeof(float) * workers * attention_scratch_floats(d);
  const int64_t ldm = fused_ldm(visual), blocks = fused ? score_row_blocks(n, prefix, visual) : 0;
  const int64_t head_max = fused ? (int64_t)sizeof(float) * (n - prefix) * ldm : 0;
  const int64_t tiles = fused ? (int64_t)sizeof(float) * workers * kBlockQ * ldm : 0;
  const int64_t partial = (int64_t)sizeof(double) * blocks * visual;
  const int64_t locks = fused ? ((int64_t)sizeof(int) * ceil_div(n, kBlockQ) + 63) / 64 * 64 : 0;
  char* ws = static_cast<char*>(tls_workspace.get(pk + pv + scratch + head_max + tiles + partial + locks));
  char* f0 = ws + pk + pv + scratch;
  FusedScores f{prefix, visual, ldm, reinterpret_cast<float*>(f0), reinterpret_cast<float*>(f0 + head_max),
                reinterpret_cast<int*>(f0 + head_max + tiles + partial),
                reinterpret_cast<double*>(f0 + head_max + tiles)};
  if (fused) {
    std::fill(f.head_max, f.head_max + (n - prefix) * ldm, -INFINITY);
    std::memset(f.locks, 0, sizeof(int) * ceil_div(n, kBlockQ));
    std::memset(f.partial, 0, partial);
  }
  AttentionArgs<T> a{q, k, v, n, H, G, d, out, out_f32, lse, reinterpret_cast<T*>(ws),
                     reinterpret_cast<T*>(ws + pk), reinterpret_cast<float*>(ws + pk + pv), fused ? &f : nullptr};
  tls_workers = workers;
  FP_DISPATCH(attention, a);
  // Non-finite inputs, almost free: a bad q row makes its LSE non-finite and a bad v reaches the
  // last output row (it attends to every key); NaN or -Inf in k would only mask that key, so k is
  // scanned. The error path then finds the first bad element.
  const int64_t qd = (int64_t)H * d, kd = (int64_t)G * d;
  const bool last_row_bad = out_f32 ? first_nonfinite(static_cast<const float*>(out) + (n - 1) * qd, qd) >= 0
                                    : first_nonfinite(static_cast<const T*>(out) + (n - 1) * qd, qd) >= 0;
  if (first_nonfinite(k, n * kd) >= 0 || first_nonfinite(lse, (int64_t)H * n) >= 0 || last_row_bad) {
    const int64_t qs[3] = {n, H, d}, ks[3] = {n, G, d};
    int64_t at;
    if ((at = first_nonfinite(q, n * qd)) >= 0) return nonfinite_error("q", q, at, "[n,H,d]", 3, qs);
    if ((at = first_nonfinite(k, n * kd)) >= 0) return nonfinite_error("k", k, at, "[n,G,d]", 3, ks);
    if ((at = first_nonfinite(v, n * kd)) >= 0) return nonfinite_error("v", v, at, "[n,G,d]", 3, ks);
    return fail(FP_ERR_VALUE, "attention overflowed float32 although q, k and v are finite (q*k too large)");
  }
  if (fused) {
    FP_DISPATCH2(fused_score_sums, f, n);
    reduce_partials(f.partial, n, prefix, visual, self_score, cross_score);
  }
  return FP_OK;
}

template <class T>
int run_scores(const T* q, const T* k, const float* lse, int64_t n, int H, int G, int d,
               int64_t prefix, int64_t visual, float* self_score, float* cross_score) {
  const int workers = max_workers();
  const int64_t blocks = score_row_blocks(n, prefix, visual);
  const int64_t partial = (int64_t)sizeof(double) * blocks * visual;
  const int64_t pk = (packed_k_elems(visual, G, d) * (int64_t)sizeof(T) + 63) / 64 * 64;
  const int64_t scratch = (int64_t)sizeof(float) * workers * scores_scratch_floats(d, visual);
  char* ws = static_cast<char*>(tls_workspace.get(partial + pk + scratch));
  // (After the workspace, so an impossible size fails before any input is read.)
  // Non-finite q or k shows in the LSE of attention (which refuses them); check it is that LSE.
  if (int64_t at = first_nonfinite(lse, (int64_t)H * n); at >= 0) {
    const int64_t ls[2] = {H, n};
    return nonfinite_error("lse", lse, at, "[H,n]", 2, ls);
  }
  double* acc = reinterpret_cast<double*>(ws);
  std::memset(acc, 0, partial);
  ScoreArgs<T> a{q, k, lse, n, H, G, d, prefix, visual, reinterpret_cast<T*>(ws + partial),
                 reinterpret_cast<float*>(ws + partial + pk), acc};
  tls_workers = workers;
  FP_DISPATCH(scores, a);
  reduce_partials(acc, n, prefix, visual, self_score, cross_score);
  return FP_OK;
}

}  // namespace
}  // namespace fp

using namespace fp;

extern "C" {

const char* fp_version(void) { return FITPRUNE_VERSION; }
const char* fp_last_error(void) { return tls_error.c_str(); }

int fp_dtype_size(int32_t dtype) {
  switch (dtype) {
    case FP_DTYPE_F32: return 4;
    case FP_DTYPE_F16: case FP_DTYPE_BF16: return 2;
    default: return 0;
  }
}

int fp_cpu_isa_supported(int isa) { return isa_supported(isa) ? 1 : 0; }
int fp_cpu_isa(void) { return g_isa.load(); }

int fp_cpu_set_isa(int isa) {
  if (isa == FP_ISA_AUTO) isa = best_isa();
  if (isa != FP_ISA_GENERIC && isa != FP_ISA_AVX2 && isa != FP_ISA_AVX512 && isa != FP_ISA_AVX512_BF16)
    return fail(FP_ERR_ARG, "unknown isa %d", isa);
  if (!isa_supported(isa)) return fail(FP_ERR_UNAVAILABLE, "this CPU cannot run isa %d", isa);
  g_isa.store(isa);
  return FP_OK;
}

const char* fp_cpu_features(void) {
  static const std::string features = [] {
    __builtin_cpu_init();
    std::string s;
    auto add = [&](bool on, const char* name) {
      if (on) s += s.empty() ? name : std::string(" ") + name;
    };
    add(__builtin_cpu_supports("sse4.2"), "sse4.2");
    add(__builtin_cpu_supports("avx"), "avx");
    add(__builtin_cpu_supports("avx2"), "avx2");
    add(__builtin_cpu_supports("fma"), "fma");
    add(__builtin_cpu_supports("avx512f"), "avx512f");
    add(__builtin_cpu_supports("avx512dq"), "avx512dq");
    add(__builtin_cpu_supports("avx512bw"), "avx512bw");
    add(__builtin_cpu_supports("avx512vl"), "avx512vl");
    add(__builtin_cpu_supports("avx512vnni"), "avx512vnni");
    add(__builtin_cpu_supports("avx512bf16"), "avx512bf16");
    return s;
  }();
  return features.c_str();
}

int fp_cpu_threads(void) { return max_workers(); }
int fp_cpu_set_threads(int threads) {
  return guarded([&]() -> int { return set_threads(threads) > 0 ? FP_OK : FP_ERR_ARG; });
}

int fp_cpu_attention(const void* q, const void* k, const void* v, int64_t n, int32_t heads,
                     int32_t kv_heads, int32_t head_dim, int32_t dtype, void* out, int32_t out_dtype,
                     float* lse) {
  return guarded([&]() -> int {
    if (int st = check_shape(q, k, v, n, heads, kv_heads, head_dim)) return st;
    if (int st = check_cpu_dtype(dtype)) return st;
    if (out_dtype != FP_DTYPE_F32 && out_dtype != dtype)
      return fail(FP_ERR_ARG, "out_dtype must be FP_DTYPE_F32 or dtype (%d), got %d", dtype, out_dtype);
    if (n > 0 && (!out || !lse)) return fail(FP_ERR_ARG, "null output pointer");
    if (n == 0) return FP_OK;
    return dtype == FP_DTYPE_BF16
               ? run_attention(static_cast<const bf16*>(q), static_cast<const bf16*>(k),
                               static_cast<const bf16*>(v), n, heads, kv_heads, head_dim, out,
                               out_dtype == FP_DTYPE_F32, lse)
               : run_attention(static_cast<const float*>(q), static_cast<const float*>(k),
                               static_cast<const float*>(v), n, heads, kv_heads, head_dim, out, true, lse);
  });
}

int fp_cpu_attention_scores(const void* q, const void* k, const void* v, int64_t n, int32_t heads,
                            int32_t kv_heads, int32_t head_dim, int32_t dtype, void* out, int32_t out_dtype,
                            float* lse, int64_t prefix, int64_t visual, float* self_score, float* cross_score) {
  return guarded([&]() -> int {
    if (int st = check_shape(q, k, v, n, heads, kv_heads, head_dim)) return st;
    if (int st = check_cpu_dtype(dtype)) return st;
    if (out_dtype != FP_DTYPE_F32 && out_dtype != dtype)
      return fail(FP_ERR_ARG, "out_dtype must be FP_DTYPE_F32 or dtype (%d), got %d", dtype, out_dtype);
    if (int st = check_spans(n, prefix, visual)) return st;
    if (n > 0 && (!out || !lse)) return fail(FP_ERR_ARG, "null output pointer");
    if (visual > 0 && (!self_score || !cross_score)) return fail(FP_ERR_ARG, "null score pointer");
    if (n == 0) return FP_OK;
    // The fused pass keeps a head-max of (n - prefix) x visual floats; past 256 MiB (very long
    // sequences with many visual tokens) the two separate passes, whose buffers are per worker, are
    // the better trade.
    if ((double)(n - prefix) * (double)fused_ldm(visual) * sizeof(float) > 256.0 * (1 << 20)) {
      if (int st = fp_cpu_attention(q, k, v, n, heads, kv_heads, head_dim, dtype, out, out_dtype, lse)) return st;
      return fp_cpu_scores(q, k, lse, n, heads, kv_heads, head_dim, dtype, prefix, visual, self_score, cross_score);
    }
    return dtype == FP_DTYPE_BF16
               ? run_attention(static_cast<const bf16*>(q), static_cast<const bf16*>(k),
                               static_cast<const bf16*>(v), n, heads, kv_heads, head_dim, out,
                               out_dtype == FP_DTYPE_F32, lse, prefix, visual, self_score, cross_score)
               : run_attention(static_cast<const float*>(q), static_cast<const float*>(k),
                               static_cast<const float*>(v), n, heads, kv_heads, head_dim, out, true, lse,
                               prefix, visual, self_score, cross_score);
  });
}

int fp_cpu_attention_f32(const float* q, const float* k, const float* v, int64_t n, int32_t heads,
                         int32_t kv_heads, int32_t head_dim, float* out, float* lse) {
  return fp_cpu_attention(q, k, v, n, heads, kv_heads, head_dim, FP_DTYPE_F32, out, FP_DTYPE_F32, lse);
}

int fp_cpu_scores(const void* q, const void* k, const float* lse, int64_t n, int32_t heads,
                  int32_t kv_heads, int32_t head_dim, int32_t dtype, int64_t prefix, int64_t visual,
                  float* self_score, float* cross_score) {
  return guarded([&]() -> int {
    if (int st = check_shape(q, k, lse, n, heads, kv_heads, head_dim)) return st;
    if (int st = check_cpu_dtype(dtype)) return st;
    if (int st = check_spans(n, prefix, visual)) return st;
    if (visual == 0) return FP_OK;
    if (!self_score || !cross_score) return fail(FP_ERR_ARG, "null output pointer");
    return dtype == FP_DTYPE_BF16
               ? run_scores(static_cast<const bf16*>(q), static_cast<const bf16*>(k), lse, n, heads,
                            kv_heads, head_dim, prefix, visual, self_score, cross_score)
               : run_scores(static_cast<const float*>(q), static_cast<const float*>(k), lse, n, heads,
                            kv_heads, head_dim, prefix, visual, self_score, cross_score);
  });
}

int fp_cpu_scores_f32(const float* q, const float* k, const float* lse, int64_t n, int32_t heads,
                      int32_t kv_heads, int32_t head_dim, int64_t prefix, int64_t visual,
                      float* self_score, float* cross_score) {
  return fp_cpu_scores(q, k, lse, n, heads, kv_heads, head_dim, FP_DTYPE_F32, prefix, visual,
                       self_score, cross_score);
}

}  // extern "C"
