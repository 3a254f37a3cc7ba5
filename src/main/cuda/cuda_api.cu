// CUDA backend, part 2: the C API of attention, scores and select: argument checks (the second
// line of defence after Java), dispatch by element type and head dim, the fixed-order reduction of
// the score partials, and the select wrapper.
#include <atomic>
#include <cmath>
#include <cstring>

#include "attention_mma.cuh"
#include "common.cuh"
#include "kernels_cuda.h"

using namespace fp;
using namespace fp::cu;

namespace {

// Tuning options (fp_cuda_set_option): query rows per CTA of the tensor-core kernels.
std::atomic<int> g_attention_rows{128};
std::atomic<int> g_score_rows{64};

const char* dtype_name(int32_t dtype) {
  switch (dtype) {
    case FP_DTYPE_F32: return "fp32";
    case FP_DTYPE_F16: return "fp16";
    case FP_DTYPE_BF16: return "bf16";
    default: return "unknown";
  }
}

int check_common(const void* a, const void* b, const void* c, int64_t n, int32_t H, int32_t G, int32_t d,
                 int32_t dtype) {
  if (n < 0 || n > INT32_MAX) return fail(FP_ERR_ARG, "n must be in [0, 2^31), got %lld", (long long)n);
  if (H <= 0 || G <= 0) return fail(FP_ERR_ARG, "heads and kv_heads must be > 0, got H=%d G=%d", H, G);
  if (H % G != 0) return fail(FP_ERR_ARG, "heads (%d) must be a multiple of kv_heads (%d)", H, G);
  if (d != 64 && d != 128) return fail(FP_ERR_ARG, "the CUDA kernels support head_dim 64 and 128, got %d", d);
  if (fp_dtype_size(dtype) == 0) return fail(FP_ERR_ARG, "unknown dtype %d (0 fp32, 1 fp16, 2 bf16)", dtype);
  if ((int64_t)H * d * n > ((int64_t)1 << 40)) return fail(FP_ERR_ARG, "tensor too large");
  if (n > 0 && (!a || !b || !c)) return fail(FP_ERR_ARG, "null input pointer");
  if (dtype != FP_DTYPE_F32) {
    for (const void* p : {a, b, c})
      if (reinterpret_cast<uintptr_t>(p) % 16 != 0)
        return fail(FP_ERR_ARG, "%s inputs must be 16-byte aligned device pointers", dtype_name(dtype));
  }
  return FP_OK;
}

// self[j] = sum of visual-tile partials / V, cross[j] = sum of text-tile partials / t; tiles in
// order, in double.
__global__ void reduce_scores_kernel(const float* __restrict__ partial, int V, int text_tiles, int tiles, int64_t t,
                                     float* __restrict__ self, float* __restrict__ cross) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= V) return;
  double c = 0.0, s = 0.0;
  for (int b = 0; b < text_tiles; ++b) c += partial[(int64_t)b * V + j];
  for (int b = text_tiles; b < tiles; ++b) s += partial[(int64_t)b * V + j];
  self[j] = (float)(s / (double)V);
  cross[j] = t > 0 ? (float)(c / (double)t) : 0.f;
}

int check_select(const float* self_score, const float* cross_score, int64_t n, int64_t prefix, int64_t visual,
                 int64_t drop, const int32_t* keep) {
  if (int st = ::fp::check_select(n, prefix, visual, drop)) return st;  // the CPU select's check
  if (visual > 0 && (!self_score || !cross_score)) return fail(FP_ERR_ARG, "null score pointer");
  if (n - drop > 0 && !keep) return fail(FP_ERR_ARG, "null keep pointer");
  return FP_OK;
}

template <class T>
int attention_mma(const void* q, const void* k, const void* v, int n, int H, int G, int d, void* out, float* lse,
                  cudaStream_t s) {
  const T *tq = static_cast<const T*>(q), *tk = static_cast<const T*>(k), *tv = static_cast<const T*>(v);
  const int rows = g_attention_rows.load(std::memory_order_relaxed);
  if (d == 64) return launch_attention_mma<T, 64>(tq, tk, tv, n, H, G, static_cast<T*>(out), lse, rows, s);
  return launch_attention_mma<T, 128>(tq, tk, tv, n, H, G, static_cast<T*>(out), lse, rows, s);
}

template <class T>
int scores_mma(const void* q, const void* k, const float* lse, int n, int H, int G, int d, int P, int V, int tt,
               int vt, float* partial, int rows, cudaStream_t s) {
  const T *tq = static_cast<const T*>(q), *tk = static_cast<const T*>(k);
  if (d == 64) return launch_scores_mma<T, 64>(tq, tk, lse, n, H, G, P, V, tt, vt, partial, rows, s);
  return launch_scores_mma<T, 128>(tq, tk, lse, n, H, G, P, V, tt, vt, partial, rows, s);
}

}  // namespace

extern "C" {

int fp_cuda_set_option(const char* name, int32_t value) {
  return guarded([&]() -> int {
    if (!name) return fail(FP_ERR_ARG, "null option name");
    std::atomic<int>* opt = std::strcmp(name, "attention_rows") == 0 ? &g_attention_rows
                            : std::strcmp(name, "score_rows") == 0   ? &g_score_rows
                                                                      : nullptr;
    if (!opt) return fail(FP_ERR_ARG, "unknown option '%s' (attention_rows, score_rows)", name);
    if (value != 64 && value != 128) return fail(FP_ERR_ARG, "%s must be 64 or 128, got %d", name, value);
    opt->store(value);
    return FP_OK;
  });
}

int fp_cuda_attention(const void* q, const void* k, const void* v, int64_t n, int32_t heads, int32_t kv_heads,
                      int32_t head_dim, int32_t dtype, void* out, float* lse, void* stream) {
  return guarded([&]() -> int {
    if (int st = check_common(q, k, v, n, heads, kv_heads, head_dim, dtype)) return st;
    if (n > 0 && (!out || !lse)) return fail(FP_ERR_ARG, "null output pointer");
    if (dtype != FP_DTYPE_F32 && reinterpret_cast<uintptr_t>(out) % 4 != 0)
      return fail(FP_ERR_ARG, "out must be 4-byte aligned");
    if (n == 0) return FP_OK;
    const int N = (int)n;
    cudaStream_t s = as_stream(stream);
    switch (dtype) {
      case FP_DTYPE_F32:
        return attention_f32(static_cast<const float*>(q), static_cast<const float*>(k), static_cast<const float*>(v),
                             N, heads, kv_heads, head_dim, static_cast<float*>(out), lse, s);
      case FP_DTYPE_F16: return attention_mma<__half>(q, k, v, N, heads, kv_heads, head_dim, out, lse, s);
      default: return attention_mma<__nv_bfloat16>(q, k, v, N, heads, kv_heads, head_dim, out, lse, s);
    }
  });
}

int fp_cuda_scores(const void* q, const void* k, const float* lse, int64_t n, int32_t heads, int32_t kv_heads,
                   int32_t head_dim, int32_t dtype, int64_t prefix, int64_t visual, float* self_score,
                   float* cross_score, void* stream) {
  return guarded([&]() -> int {
    if (int st = check_common(q, k, lse, n, heads, kv_heads, head_dim, dtype)) return st;
    if (int st = check_spans(n, prefix, visual)) return st;
    if (visual == 0) return FP_OK;
    if (!self_score || !cross_score) return fail(FP_ERR_ARG, "null output pointer");
    const int N = (int)n, P = (int)prefix, V = (int)visual;
    const int64_t t = n - prefix - visual;
    const int bq = dtype == FP_DTYPE_F32 ? score_f32_tile_rows() : g_score_rows.load(std::memory_order_relaxed);
    const int tt = (int)((t + bq - 1) / bq), vt = (V + bq - 1) / bq;
    cudaStream_t s = as_stream(stream);
    float* partial = nullptr;
    FP_CUDA(cudaMallocAsync(&partial, sizeof(float) * (size_t)(tt + vt) * V, s), "cudaMallocAsync(score partials)");
    int st;
    switch (dtype) {
      case FP_DTYPE_F32:
        st = scores_f32(static_cast<const float*>(q), static_cast<const float*>(k), lse, N, heads, kv_heads, head_dim,
                        P, V, tt, vt, partial, s);
        break;
      case FP_DTYPE_F16:
        st = scores_mma<__half>(q, k, lse, N, heads, kv_heads, head_dim, P, V, tt, vt, partial, bq, s);
        break;
      default:
        st = scores_mma<__nv_bfloat16>(q, k, lse, N, heads, kv_heads, head_dim, P, V, tt, vt, partial, bq, s);
        break;
    }
    if (st == FP_OK) {
      reduce_scores_kernel<<<(V + 255) / 256, 256, 0, s>>>(partial, V, tt, tt + vt, t, self_score, cross_score);
      const cudaError_t e = cudaGetLastError();
      if (e != cudaSuccess) st = cuda_fail(e, "score reduction launch");
    }
    const cudaError_t e = cudaFreeAsync(partial, s);
    if (st == FP_OK && e != cudaSuccess) st = cuda_fail(e, "cudaFreeAsync(score partials)");
    return st;
  });
}

int fp_cuda_select_keep_async(const float* self_score, const float* cross_score, int64_t n, int64_t prefix,
                              int64_t visual, int64_t drop, int32_t* keep, int32_t* status, void* stream) {
  return guarded([&]() -> int {
    if (int st = check_select(self_score, cross_score, n, prefix, visual, drop, keep)) return st;
    if (n - drop == 0) return FP_OK;
    return select_keep_device(self_score, cross_score, (int)n, (int)prefix, (int)visual, (int)drop, keep, status,
                              as_stream(stream));
  });
}

int fp_cuda_select_keep(const float* self_score, const float* cross_score, int64_t n, int64_t prefix,
                        int64_t visual, int64_t drop, int32_t* keep, void* stream) {
  return guarded([&]() -> int {
    if (int st = check_select(self_score, cross_score, n, prefix, visual, drop, keep)) return st;
    if (n - drop == 0) return FP_OK;
    return run_checked(as_stream(stream), [&](int32_t* status) {
      return fp_cuda_select_keep_async(self_score, cross_score, n, prefix, visual, drop, keep, status, stream);
    });
  });
}

}  // extern "C"
