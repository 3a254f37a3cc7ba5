// CUDA backend, part 2: the C API of attention, scores and select: argument checks (the second
// line of defence after Java), dispatch by element type and head dim, the fixed-order reduction of
// the score partials, and the select wrapper.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

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

// sl: softmax_scale * log2(e) (log2_scale), for the kernels.
template <class T>
int attention_mma(const void* q, const void* k, const void* v, int n, int H, int G, int d, float sl, void* out,
                  float* lse, int rows, VarlenLaunch vl, cudaStream_t s) {
  const T *tq = static_cast<const T*>(q), *tk = static_cast<const T*>(k), *tv = static_cast<const T*>(v);
  if (d == 64) return launch_attention_mma<T, 64>(tq, tk, tv, n, H, G, sl, static_cast<T*>(out), lse, rows, vl, s);
  return launch_attention_mma<T, 128>(tq, tk, tv, n, H, G, sl, static_cast<T*>(out), lse, rows, vl, s);
}

template <class T>
int scores_mma(const void* q, const void* k, const float* lse, int n, int H, int G, int d, float sl, int P, int V,
               int tt, int vt, float* partial, int rows, VarlenLaunch vl, cudaStream_t s) {
  const T *tq = static_cast<const T*>(q), *tk = static_cast<const T*>(k);
  if (d == 64) return launch_scores_mma<T, 64>(tq, tk, lse, n, H, G, sl, P, V, tt, vt, partial, rows, vl, s);
  return launch_scores_mma<T, 128>(tq, tk, lse, n, H, G, sl, P, V, tt, vt, partial, rows, vl, s);
}

constexpr VarlenLaunch kOneSequence{nullptr, 0};

// A host table copied to a new device buffer for one launch (the copy from pageable memory has
// left the vector when cudaMemcpyAsync returns); the caller frees it with cudaFreeAsync.
template <class X>
int upload(const std::vector<X>& host, X** dev, cudaStream_t s) {
  *dev = nullptr;
  FP_CUDA(cudaMallocAsync(reinterpret_cast<void**>(dev), sizeof(X) * (host.empty() ? 1 : host.size()), s),
          "cudaMallocAsync(batch table)");
  const cudaError_t e = cudaMemcpyAsync(*dev, host.data(), sizeof(X) * host.size(), cudaMemcpyHostToDevice, s);
  if (e != cudaSuccess) {
    cudaFreeAsync(*dev, s);
    *dev = nullptr;
    return cuda_fail(e, "cudaMemcpyAsync(batch table)");
  }
  return FP_OK;
}

// Frees a stream-ordered buffer, keeping the first failure.
int release(void* p, int st, cudaStream_t s) {
  const cudaError_t e = p ? cudaFreeAsync(p, s) : cudaSuccess;
  return st == FP_OK && e != cudaSuccess ? cuda_fail(e, "cudaFreeAsync") : st;
}

int check_varlen_dtype(int32_t dtype) {
  if (dtype != FP_DTYPE_F16 && dtype != FP_DTYPE_BF16)
    return fail(FP_ERR_ARG, "packed batches on CUDA take fp16 or bf16 (the tensor-core kernels), got %s",
                dtype_name(dtype));
  return FP_OK;
}

// Per sequence, for the reduction of a packed batch's score partials (sequences with V > 0, in order).
struct VarlenReduce {
  long long out0, partial, text;
  int V, text_tiles, tiles, pad;
};

__global__ void reduce_scores_varlen_kernel(const float* __restrict__ partial, const VarlenReduce* __restrict__ seqs,
                                            int count, long long total, float* __restrict__ self,
                                            float* __restrict__ cross) {
  const long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= total) return;
  int lo = 0, hi = count - 1;  // the last sequence whose first entry is <= j
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (seqs[mid].out0 <= j) lo = mid; else hi = mid - 1;
  }
  const VarlenReduce r = seqs[lo];
  const long long jj = j - r.out0;
  const float* p = partial + r.partial;
  double c = 0.0, s = 0.0;
  for (int b = 0; b < r.text_tiles; ++b) c += p[(int64_t)b * r.V + jj];
  for (int b = r.text_tiles; b < r.tiles; ++b) s += p[(int64_t)b * r.V + jj];
  self[j] = (float)(s / (double)r.V);
  cross[j] = r.text > 0 ? (float)(c / (double)r.text) : 0.f;
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
                      int32_t head_dim, int32_t dtype, float softmax_scale, void* out, float* lse, void* stream) {
  return guarded([&]() -> int {
    if (int st = check_common(q, k, v, n, heads, kv_heads, head_dim, dtype)) return st;
    if (int st = check_softmax_scale(softmax_scale)) return st;
    if (n > 0 && (!out || !lse)) return fail(FP_ERR_ARG, "null output pointer");
    if (dtype != FP_DTYPE_F32 && reinterpret_cast<uintptr_t>(out) % 4 != 0)
      return fail(FP_ERR_ARG, "out must be 4-byte aligned");
    if (n == 0) return FP_OK;
    const int N = (int)n, rows = g_attention_rows.load(std::memory_order_relaxed);
    const float sl = log2_scale(softmax_scale, head_dim);
    cudaStream_t s = as_stream(stream);
    switch (dtype) {
      case FP_DTYPE_F32:
        return attention_f32(static_cast<const float*>(q), static_cast<const float*>(k), static_cast<const float*>(v),
                             N, heads, kv_heads, head_dim, sl, static_cast<float*>(out), lse, s);
      case FP_DTYPE_F16:
        return attention_mma<__half>(q, k, v, N, heads, kv_heads, head_dim, sl, out, lse, rows, kOneSequence, s);
      default:
        return attention_mma<__nv_bfloat16>(q, k, v, N, heads, kv_heads, head_dim, sl, out, lse, rows, kOneSequence, s);
    }
  });
}

int fp_cuda_scores(const void* q, const void* k, const float* lse, int64_t n, int32_t heads, int32_t kv_heads,
                   int32_t head_dim, int32_t dtype, float softmax_scale, int64_t prefix, int64_t visual,
                   float* self_score, float* cross_score, void* stream) {
  return guarded([&]() -> int {
    if (int st = check_common(q, k, lse, n, heads, kv_heads, head_dim, dtype)) return st;
    if (int st = check_softmax_scale(softmax_scale)) return st;
    if (int st = check_spans(n, prefix, visual)) return st;
    if (visual == 0) return FP_OK;
    if (!self_score || !cross_score) return fail(FP_ERR_ARG, "null output pointer");
    const int N = (int)n, P = (int)prefix, V = (int)visual;
    const int64_t t = n - prefix - visual;
    const int bq = dtype == FP_DTYPE_F32 ? score_f32_tile_rows() : g_score_rows.load(std::memory_order_relaxed);
    const int tt = (int)((t + bq - 1) / bq), vt = (V + bq - 1) / bq;
    const float sl = log2_scale(softmax_scale, head_dim);
    cudaStream_t s = as_stream(stream);
    float* partial = nullptr;
    FP_CUDA(cudaMallocAsync(&partial, sizeof(float) * (size_t)(tt + vt) * V, s), "cudaMallocAsync(score partials)");
    int st;
    switch (dtype) {
      case FP_DTYPE_F32:
        st = scores_f32(static_cast<const float*>(q), static_cast<const float*>(k), lse, N, heads, kv_heads, head_dim,
                        sl, P, V, tt, vt, partial, s);
        break;
      case FP_DTYPE_F16:
        st = scores_mma<__half>(q, k, lse, N, heads, kv_heads, head_dim, sl, P, V, tt, vt, partial, bq, kOneSequence, s);
        break;
      default:
        st = scores_mma<__nv_bfloat16>(q, k, lse, N, heads, kv_heads, head_dim, sl, P, V, tt, vt, partial, bq,
                                       kOneSequence, s);
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


static int attention_varlen_impl(const void* q, const void* k, const void* v, const int64_t* cu_seqlens, int64_t batch,
                                 int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale,
                                 void* out, float* lse, void* stream) {
  if (int st = check_offsets("cu_seqlens", cu_seqlens, batch, 0)) return st;
  const int64_t n = cu_seqlens[batch];
  if (int st = check_common(q, k, v, n, heads, kv_heads, head_dim, dtype)) return st;
  if (int st = check_varlen_dtype(dtype)) return st;
  if (int st = check_softmax_scale(softmax_scale)) return st;
  if (n > 0 && (!out || !lse)) return fail(FP_ERR_ARG, "null output pointer");
  if (reinterpret_cast<uintptr_t>(out) % 4 != 0) return fail(FP_ERR_ARG, "out must be 4-byte aligned");
  if (n == 0) return FP_OK;
  const int rows = g_attention_rows.load(std::memory_order_relaxed);
  std::vector<VarlenTile> tiles;
  for (int64_t b = 0; b < batch; ++b) {
    const int start = (int)cu_seqlens[b], len = (int)(cu_seqlens[b + 1] - cu_seqlens[b]);
    for (int q0 = 0; q0 < len; q0 += rows) tiles.push_back(VarlenTile{start, len, q0, 0});
  }
  if (tiles.size() > 65535)
    return fail(FP_ERR_ARG, "a packed batch on CUDA takes at most 65535 query tiles of %d rows, got %zu", rows,
                tiles.size());
  // the tiles with the most keys first, so the short ones fill the tail
  std::stable_sort(tiles.begin(), tiles.end(), [&](const VarlenTile& a, const VarlenTile& b) {
    return std::min(a.q0 + rows, a.len) > std::min(b.q0 + rows, b.len);
  });
  cudaStream_t s = as_stream(stream);
  VarlenTile* dev = nullptr;
  if (int st = upload(tiles, &dev, s)) return st;
  const VarlenLaunch vl{dev, (int)tiles.size()};
  const float sl = log2_scale(softmax_scale, head_dim);
  const int st = dtype == FP_DTYPE_F16
                     ? attention_mma<__half>(q, k, v, (int)n, heads, kv_heads, head_dim, sl, out, lse, rows, vl, s)
                     : attention_mma<__nv_bfloat16>(q, k, v, (int)n, heads, kv_heads, head_dim, sl, out, lse, rows, vl, s);
  return release(dev, st, s);
}

static int scores_varlen_impl(const void* q, const void* k, const float* lse, const int64_t* cu_seqlens, int64_t batch,
                              int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale,
                              const int64_t* spans, float* self_score, float* cross_score, void* stream) {
  if (int st = check_offsets("cu_seqlens", cu_seqlens, batch, 0)) return st;
  const int64_t n = cu_seqlens[batch];
  if (int st = check_common(q, k, lse, n, heads, kv_heads, head_dim, dtype)) return st;
  if (int st = check_varlen_dtype(dtype)) return st;
  if (int st = check_softmax_scale(softmax_scale)) return st;
  if (int st = check_batch_spans(cu_seqlens, batch, spans)) return st;
  const int bq = g_score_rows.load(std::memory_order_relaxed);
  std::vector<VarlenScoreTile> tiles;
  std::vector<VarlenReduce> seqs;
  std::vector<int> cost;  // keys a tile's rows see, for the order
  long long out0 = 0, partial = 0;
  int max_visual = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int start = (int)cu_seqlens[b], len = (int)(cu_seqlens[b + 1] - cu_seqlens[b]);
    const int P = (int)spans[2 * b], V = (int)spans[2 * b + 1], t = len - P - V;
    if (V == 0) continue;
    const int tt = (t + bq - 1) / bq, vt = (V + bq - 1) / bq;
    for (int rt = 0; rt < tt + vt; ++rt) {
      tiles.push_back(VarlenScoreTile{start, len, P, V, tt, rt, partial});
      cost.push_back(rt < tt ? V : std::min(V, (rt - tt + 1) * bq));
    }
    seqs.push_back(VarlenReduce{out0, partial, t, V, tt, tt + vt, 0});
    out0 += V;
    partial += (long long)(tt + vt) * V;
    max_visual = std::max(max_visual, V);
  }
  if (out0 == 0) return FP_OK;
  if (!self_score || !cross_score) return fail(FP_ERR_ARG, "null output pointer");
  if (tiles.size() > 65535)
    return fail(FP_ERR_ARG, "a packed batch on CUDA takes at most 65535 score tiles of %d rows, got %zu", bq,
                tiles.size());
  {
    std::vector<size_t> order(tiles.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost[a] > cost[b]; });
    std::vector<VarlenScoreTile> sorted(tiles.size());
    for (size_t i = 0; i < order.size(); ++i) sorted[i] = tiles[order[i]];
    tiles.swap(sorted);
  }
  cudaStream_t s = as_stream(stream);
  VarlenScoreTile* dtiles = nullptr;
  VarlenReduce* dseqs = nullptr;
  float* dpartial = nullptr;
  int st = upload(tiles, &dtiles, s);
  if (st == FP_OK) st = upload(seqs, &dseqs, s);
  if (st == FP_OK) {
    const cudaError_t e = cudaMallocAsync(&dpartial, sizeof(float) * (size_t)partial, s);
    if (e != cudaSuccess) st = cuda_fail(e, "cudaMallocAsync(score partials)");
  }
  if (st == FP_OK) {
    const VarlenLaunch vl{dtiles, (int)tiles.size()};
    const float sl = log2_scale(softmax_scale, head_dim);
    st = dtype == FP_DTYPE_F16
             ? scores_mma<__half>(q, k, lse, (int)n, heads, kv_heads, head_dim, sl, 0, max_visual, 0, 0, dpartial, bq,
                                  vl, s)
             : scores_mma<__nv_bfloat16>(q, k, lse, (int)n, heads, kv_heads, head_dim, sl, 0, max_visual, 0, 0, dpartial,
                                         bq, vl, s);
  }
  if (st == FP_OK) {
    reduce_scores_varlen_kernel<<<(unsigned)((out0 + 255) / 256), 256, 0, s>>>(dpartial, dseqs, (int)seqs.size(), out0,
                                                                               self_score, cross_score);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) st = cuda_fail(e, "score reduction launch");
  }
  st = release(dpartial, st, s);
  st = release(dseqs, st, s);
  return release(dtiles, st, s);
}

// Decode over contiguous caches (k_cache, v_cache: per-sequence device pointers) or paged pools
// (block_table set; checked on the host by check_paged).
static int decode_attention_impl(const void* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads,
                                 int32_t head_dim, int32_t dtype, float softmax_scale, const void* const* k_cache,
                                 const void* const* v_cache, const void* k_pool, const void* v_pool,
                                 int64_t num_blocks, int32_t block_size, const int32_t* block_table,
                                 int64_t max_blocks, const int64_t* kv_len, void* out, float* lse, void* stream) {
  if (int st = check_offsets("cu_q", cu_q, batch, 1)) return st;
  const int64_t nq = cu_q[batch];
  if (int st = check_common(q, q, q, nq, heads, kv_heads, head_dim, dtype)) return st;
  if (int st = check_softmax_scale(softmax_scale)) return st;
  int64_t max_rows = 0;
  if (int st = check_decode_lengths(cu_q, batch, heads / kv_heads, kv_len, &max_rows)) return st;
  const bool paged = k_cache == nullptr && v_cache == nullptr;
  if (paged) {
    if (int st = check_paged(k_pool, v_pool, num_blocks, block_size, kv_heads, head_dim, fp_dtype_size(dtype),
                             block_table, max_blocks, batch, kv_len))
      return st;
  }
  if (nq == 0) return FP_OK;
  if (!out) return fail(FP_ERR_ARG, "null output pointer");
  if (!paged) {
    if (int st = check_decode_caches(cu_q, batch, heads / kv_heads, k_cache, v_cache, kv_len, &max_rows)) return st;
  }
  if (max_rows > INT32_MAX) return fail(FP_ERR_ARG, "too many new tokens in one sequence (%lld rows)", (long long)max_rows);
  cudaStream_t s = as_stream(stream);
  int32_t* dtable = nullptr;
  if (paged) {
    if (int st = upload(std::vector<int32_t>(block_table, block_table + batch * max_blocks), &dtable, s)) return st;
  }
  std::vector<DecodeSeq> seqs(batch);
  for (int64_t b = 0; b < batch; ++b)
    seqs[b] = DecodeSeq{paged ? k_pool : k_cache[b], paged ? v_pool : v_cache[b], paged ? dtable + b * max_blocks : nullptr,
                        (int)cu_q[b], (int)(cu_q[b + 1] - cu_q[b]), (int)kv_len[b], 0};
  DecodeSeq* dev = nullptr;
  int st = upload(seqs, &dev, s);
  if (st == FP_OK)
    st = decode_attention(q, dev, (int)batch, heads, kv_heads, head_dim, dtype, (int)nq, (int)max_rows,
                          log2_scale(softmax_scale, head_dim), paged ? block_size : 1, out, lse, s);
  st = release(dev, st, s);
  return release(dtable, st, s);
}

// Prefill over a cached prefix: the decode kernel with sequence b's cache at rows cu_k[b] of the
// packed k and v, kv_len = k_len_b (query t then sees keys [0, k_len_b - q_len_b + t]).
static int attention_varlen_kv_impl(const void* q, const void* k, const void* v, const int64_t* cu_q, const int64_t* cu_k,
                                    int64_t batch, int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t dtype,
                                    float softmax_scale, void* out, int32_t out_dtype, float* lse, void* stream) {
  if (int st = check_offsets("cu_seqlens_q", cu_q, batch, 0)) return st;
  if (int st = check_offsets("cu_seqlens_k", cu_k, batch, 0)) return st;
  if (int st = check_common(q, k, v, std::max(cu_q[batch], cu_k[batch]), heads, kv_heads, head_dim, dtype)) return st;
  if (int st = check_softmax_scale(softmax_scale)) return st;
  if (out_dtype != dtype)
    return fail(FP_ERR_ARG, "out_dtype must be dtype (%s) on CUDA, got %d", dtype_name(dtype), out_dtype);
  const int64_t group = heads / kv_heads;
  int64_t max_rows = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t qn = cu_q[b + 1] - cu_q[b], kn = cu_k[b + 1] - cu_k[b];
    if (kn < qn)
      return fail(FP_ERR_ARG, "sequence %lld has %lld keys for %lld queries (its keys end with the queries' own)",
                  (long long)b, (long long)kn, (long long)qn);
    max_rows = std::max(max_rows, qn * group);
  }
  if (cu_q[batch] == 0) return FP_OK;
  if (!out || !lse) return fail(FP_ERR_ARG, "null out or lse pointer");
  if (max_rows > INT32_MAX) return fail(FP_ERR_ARG, "too many queries in one sequence (%lld rows)", (long long)max_rows);
  const int64_t row = (int64_t)kv_heads * head_dim * fp_dtype_size(dtype);
  std::vector<DecodeSeq> seqs(batch);
  for (int64_t b = 0; b < batch; ++b)
    seqs[b] = DecodeSeq{static_cast<const char*>(k) + cu_k[b] * row, static_cast<const char*>(v) + cu_k[b] * row,
                        nullptr, (int)cu_q[b], (int)(cu_q[b + 1] - cu_q[b]), (int)(cu_k[b + 1] - cu_k[b]), 0};
  cudaStream_t s = as_stream(stream);
  DecodeSeq* dev = nullptr;
  int st = upload(seqs, &dev, s);
  if (st == FP_OK)
    st = decode_attention(q, dev, (int)batch, heads, kv_heads, head_dim, dtype, (int)cu_q[batch], (int)max_rows,
                          log2_scale(softmax_scale, head_dim), 1, out, lse, s);
  return release(dev, st, s);
}

// The appends' host-side checks are the CPU backend's (check_append, check_append_paged): the same
// arguments are refused with the same messages on either backend.
static int kv_append_impl(const void* k, const void* v, const int64_t* cu_q, int64_t batch, int32_t kv_heads,
                          int32_t head_dim, int32_t dtype, void* const* k_cache, void* const* v_cache,
                          const int64_t* capacity, const int64_t* kv_len, void* stream) {
  int64_t row;
  if (int st = check_append(k, v, cu_q, batch, kv_heads, head_dim, dtype, k_cache, v_cache, capacity, kv_len, &row))
    return st;
  cudaStream_t s = as_stream(stream);
  for (int64_t b = 0; b < batch; ++b) {  // one copy per sequence and tensor: its rows are adjacent on both sides
    const size_t bytes = (size_t)((cu_q[b + 1] - cu_q[b]) * row);
    if (bytes == 0) continue;
    FP_CUDA(cudaMemcpyAsync(static_cast<char*>(k_cache[b]) + kv_len[b] * row, static_cast<const char*>(k) + cu_q[b] * row,
                            bytes, cudaMemcpyDeviceToDevice, s), "cudaMemcpyAsync(k append)");
    FP_CUDA(cudaMemcpyAsync(static_cast<char*>(v_cache[b]) + kv_len[b] * row, static_cast<const char*>(v) + cu_q[b] * row,
                            bytes, cudaMemcpyDeviceToDevice, s), "cudaMemcpyAsync(v append)");
  }
  return FP_OK;
}

static int kv_append_paged_impl(const void* k, const void* v, int64_t n, int32_t kv_heads, int32_t head_dim,
                                int32_t dtype, void* k_pool, void* v_pool, int64_t num_blocks, int32_t block_size,
                                const int64_t* slot_mapping, void* stream) {
  int64_t row;
  if (int st = check_append_paged(k, v, n, kv_heads, head_dim, dtype, k_pool, v_pool, num_blocks, block_size,
                                  slot_mapping, &row))
    return st;
  if (n == 0) return FP_OK;
  cudaStream_t s = as_stream(stream);
  int64_t* dslot = nullptr;
  if (int st = upload(std::vector<int64_t>(slot_mapping, slot_mapping + n), &dslot, s)) return st;
  return release(dslot, append_paged(k, v, (int)n, row, k_pool, v_pool, dslot, s), s);
}

// The packed-batch and decode entry points: their host tables are std::vectors, so no exception
// may leave them (guarded).
int fp_cuda_attention_varlen(const void* q, const void* k, const void* v, const int64_t* cu_seqlens, int64_t batch,
                             int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale,
                             void* out, float* lse, void* stream) {
  return guarded([&]() -> int {
    return attention_varlen_impl(q, k, v, cu_seqlens, batch, heads, kv_heads, head_dim, dtype, softmax_scale, out, lse,
                                 stream);
  });
}

int fp_cuda_scores_varlen(const void* q, const void* k, const float* lse, const int64_t* cu_seqlens, int64_t batch,
                          int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale,
                          const int64_t* spans, float* self_score, float* cross_score, void* stream) {
  return guarded([&]() -> int {
    return scores_varlen_impl(q, k, lse, cu_seqlens, batch, heads, kv_heads, head_dim, dtype, softmax_scale, spans,
                              self_score, cross_score, stream);
  });
}

int fp_cuda_decode_attention(const void* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads,
                             int32_t head_dim, int32_t dtype, float softmax_scale, const void* const* k_cache,
                             const void* const* v_cache, const int64_t* kv_len, void* out, float* lse, void* stream) {
  return guarded([&]() -> int {
    if (!k_cache || !v_cache) return fail(FP_ERR_ARG, "null k_cache or v_cache array");
    return decode_attention_impl(q, cu_q, batch, heads, kv_heads, head_dim, dtype, softmax_scale, k_cache, v_cache,
                                 nullptr, nullptr, 0, 0, nullptr, 0, kv_len, out, lse, stream);
  });
}

int fp_cuda_paged_decode_attention(const void* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads,
                                   int32_t head_dim, int32_t dtype, float softmax_scale, const void* k_pool,
                                   const void* v_pool, int64_t num_blocks, int32_t block_size,
                                   const int32_t* block_table, int64_t max_blocks, const int64_t* kv_len, void* out,
                                   float* lse, void* stream) {
  return guarded([&]() -> int {
    return decode_attention_impl(q, cu_q, batch, heads, kv_heads, head_dim, dtype, softmax_scale, nullptr, nullptr,
                                 k_pool, v_pool, num_blocks, block_size, block_table, max_blocks, kv_len, out, lse,
                                 stream);
  });
}

int fp_cuda_attention_varlen_kv(const void* q, const void* k, const void* v, const int64_t* cu_seqlens_q,
                                const int64_t* cu_seqlens_k, int64_t batch, int32_t heads, int32_t kv_heads,
                                int32_t head_dim, int32_t dtype, float softmax_scale, void* out, int32_t out_dtype,
                                float* lse, void* stream) {
  return guarded([&]() -> int {
    return attention_varlen_kv_impl(q, k, v, cu_seqlens_q, cu_seqlens_k, batch, heads, kv_heads, head_dim, dtype,
                                    softmax_scale, out, out_dtype, lse, stream);
  });
}

int fp_cuda_kv_append(const void* k, const void* v, const int64_t* cu_q, int64_t batch, int32_t kv_heads,
                      int32_t head_dim, int32_t dtype, void* const* k_cache, void* const* v_cache,
                      const int64_t* capacity, const int64_t* kv_len, void* stream) {
  return guarded([&]() -> int {
    return kv_append_impl(k, v, cu_q, batch, kv_heads, head_dim, dtype, k_cache, v_cache, capacity, kv_len, stream);
  });
}

int fp_cuda_kv_append_paged(const void* k, const void* v, int64_t n, int32_t kv_heads, int32_t head_dim, int32_t dtype,
                            void* k_pool, void* v_pool, int64_t num_blocks, int32_t block_size,
                            const int64_t* slot_mapping, void* stream) {
  return guarded([&]() -> int {
    return kv_append_paged_impl(k, v, n, kv_heads, head_dim, dtype, k_pool, v_pool, num_blocks, block_size,
                                slot_mapping, stream);
  });
}

}  // extern "C"
