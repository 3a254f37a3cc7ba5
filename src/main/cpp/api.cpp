// The C API of the CPU backend: argument checks (second line of defence after Java), workspace,
// instruction-set dispatch, and the conversion of C++ failures into status codes.
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
    default: return false;
  }
}

int best_isa() {
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
    case FP_ISA_AVX512: avx512::fn(args); break;       \
    case FP_ISA_AVX2: avx2::fn(args); break;           \
    default: generic::fn(args); break;                 \
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
  if (isa != FP_ISA_GENERIC && isa != FP_ISA_AVX2 && isa != FP_ISA_AVX512)
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

int fp_cpu_attention_f32(const float* q, const float* k, const float* v, int64_t n, int32_t heads,
                         int32_t kv_heads, int32_t head_dim, float* out, float* lse) {
  return guarded([&]() -> int {
    if (int st = check_shape(q, k, v, n, heads, kv_heads, head_dim)) return st;
    if (n > 0 && (!out || !lse)) return fail(FP_ERR_ARG, "null output pointer");
    if (n == 0) return FP_OK;
    const int workers = max_workers();
    const int64_t packed = packed_k_floats(n, kv_heads, head_dim);
    float* ws = static_cast<float*>(tls_workspace.get(
        sizeof(float) * (packed + (int64_t)workers * attention_scratch_floats(head_dim))));
    AttentionArgs a{q, k, v, n, heads, kv_heads, head_dim, out, lse, ws, ws + packed};
    tls_workers = workers;
    FP_DISPATCH(attention, a);
    // Non-finite inputs, almost free: a bad q row makes its LSE non-finite and a bad v reaches the
    // last output row (it attends to every key); NaN or -Inf in k would only mask that key, so k is
    // scanned. The error path then finds the first bad element.
    const int64_t qd = (int64_t)heads * head_dim, kd = (int64_t)kv_heads * head_dim;
    if (first_nonfinite(k, n * kd) >= 0 || first_nonfinite(lse, (int64_t)heads * n) >= 0 ||
        first_nonfinite(out + (n - 1) * qd, qd) >= 0) {
      const int64_t qs[3] = {n, heads, head_dim}, ks[3] = {n, kv_heads, head_dim};
      int64_t at;
      if ((at = first_nonfinite(q, n * qd)) >= 0) return nonfinite_error("q", q, at, "[n,H,d]", 3, qs);
      if ((at = first_nonfinite(k, n * kd)) >= 0) return nonfinite_error("k", k, at, "[n,G,d]", 3, ks);
      if ((at = first_nonfinite(v, n * kd)) >= 0) return nonfinite_error("v", v, at, "[n,G,d]", 3, ks);
      return fail(FP_ERR_VALUE, "attention overflowed float32 although q, k and v are finite (q*k too large)");
    }
    return FP_OK;
  });
}

int fp_cpu_scores_f32(const float* q, const float* k, const float* lse, int64_t n, int32_t heads,
                      int32_t kv_heads, int32_t head_dim, int64_t prefix, int64_t visual,
                      float* self_score, float* cross_score) {
  return guarded([&]() -> int {
    if (int st = check_shape(q, k, lse, n, heads, kv_heads, head_dim)) return st;
    if (int st = check_spans(n, prefix, visual)) return st;
    if (visual == 0) return FP_OK;
    if (!self_score || !cross_score) return fail(FP_ERR_ARG, "null output pointer");
    const int workers = max_workers();
    const int64_t packed = packed_k_floats(visual, kv_heads, head_dim);
    const int64_t scratch = (int64_t)workers * scores_scratch_floats(head_dim, visual);
    const int64_t text_blocks = score_text_blocks(n, prefix, visual);
    const int64_t blocks = score_row_blocks(n, prefix, visual);
    const int64_t partial = blocks * visual;  // doubles
    char* ws = static_cast<char*>(
        tls_workspace.get(sizeof(double) * partial + sizeof(float) * (packed + scratch)));
    // (After the workspace, so an impossible size fails before any input is read.)
    // Non-finite q or k shows in the LSE of attention (which refuses them); check it is that LSE.
    if (int64_t at = first_nonfinite(lse, (int64_t)heads * n); at >= 0) {
      const int64_t ls[2] = {heads, n};
      return nonfinite_error("lse", lse, at, "[H,n]", 2, ls);
    }
    double* acc = reinterpret_cast<double*>(ws);
    float* fws = reinterpret_cast<float*>(ws + sizeof(double) * partial);
    std::memset(acc, 0, sizeof(double) * partial);
    ScoreArgs a{q, k, lse, n, heads, kv_heads, head_dim, prefix, visual, fws, fws + packed, acc};
    tls_workers = workers;
    FP_DISPATCH(scores, a);
    const int64_t text = n - prefix - visual;
    for (int64_t j = 0; j < visual; ++j) {
      double s = 0.0, c = 0.0;
      for (int64_t b = 0; b < text_blocks; ++b) c += acc[b * visual + j];
      for (int64_t b = text_blocks; b < blocks; ++b) s += acc[b * visual + j];
      self_score[j] = (float)(s / (double)visual);
      cross_score[j] = text > 0 ? (float)(c / (double)text) : 0.f;
    }
    return FP_OK;
  });
}

}  // extern "C"
