// Selection of the kept tokens on the GPU. Up to 4096 visual tokens, one CTA sorts the
// (self*cross, index) keys with a bitonic network in shared memory, drops the first `drop`, and
// writes the kept row indices of the whole sequence in ascending order. Larger spans rank every
// token against all keys on many CTAs (dropped iff rank < drop; keys are unique, so exactly
// `drop` are), then one CTA compacts the survivors chunk by chunk. The rule is the CPU one
// (fp_select_keep): the product is one fp32 multiply, ordered as a float with -0 == +0, ties
// broken by the lower index being dropped first, NaN or infinity an error (recorded in the status word).
#include "common.cuh"
#include "kernels_cuda.h"

namespace fp {
namespace cu {

namespace {

constexpr int kSelThreads = 1024, kSelMax = (int)kSelectMaxDevice, kPer = kSelMax / kSelThreads;
constexpr int kRankThreads = 256;

// Token i's sort key: the float order of self*cross (with -0 == +0) in the high word, the index
// in the low word, so keys are unique and ties drop the lower index first. NaN or infinity is recorded in
// `status` (when not null) and keyed as 0.
__device__ __forceinline__ unsigned long long select_key(const float* __restrict__ self,
                                                         const float* __restrict__ cross, int i, int32_t* status) {
  float s = self[i] * cross[i];
  if (!isfinite(s)) {  // as the CPU: an infinite score is an overflow, not a rank
    status_record(status, FP_ERR_VALUE, i);
    s = 0.f;
  }
  if (s == 0.f) s = 0.f;  // -0 orders like +0, as the CPU's float comparison does
  unsigned int u = __float_as_uint(s);
  u ^= (u >> 31) ? 0xffffffffu : 0x80000000u;  // monotone map of floats to unsigned ints
  return ((unsigned long long)u << 32) | (unsigned int)i;
}

// Inclusive scan of one int per thread over the CTA (kSelThreads threads); `scan` is shared
// scratch, and *total (when not null) receives the CTA's sum. Every thread must call it; it ends
// with the CTA synchronised, and the scratch must not be written again before every thread has
// returned (a __syncthreads() between two calls).
__device__ __forceinline__ int block_inclusive_scan(int x, int (*scan)[kSelThreads], int* total) {
  const int tid = threadIdx.x;
  scan[0][tid] = x;
  __syncthreads();
  int src = 0;
  for (int off = 1; off < kSelThreads; off <<= 1) {
    const int y = scan[src][tid] + (tid >= off ? scan[src][tid - off] : 0);
    scan[src ^ 1][tid] = y;
    src ^= 1;
    __syncthreads();
  }
  if (total != nullptr) *total = scan[src][kSelThreads - 1];
  return scan[src][tid];
}

// Prefix rows [0, P) and text rows [P+V, n) are always kept.
__device__ __forceinline__ void keep_prefix_and_text(int n, int P, int V, int drop, int32_t* __restrict__ keep) {
  for (int i = threadIdx.x; i < P; i += blockDim.x) keep[i] = i;
  for (int i = P + V + threadIdx.x; i < n; i += blockDim.x) keep[i - drop] = i;
}

__global__ void __launch_bounds__(kSelThreads)
select_kernel(const float* __restrict__ self, const float* __restrict__ cross, int n, int P, int V, int drop,
              int32_t* __restrict__ keep, int32_t* __restrict__ status) {
  __shared__ unsigned long long key[kSelMax];
  __shared__ unsigned char dropped[kSelMax];
  __shared__ int scan[2][kSelThreads];
  const int tid = threadIdx.x;
  int N = 2;
  while (N < V) N <<= 1;
  for (int i = tid; i < N; i += kSelThreads) {
    key[i] = i < V ? select_key(self, cross, i, status) : ~0ull;
    if (i < kSelMax) dropped[i] = 0;
  }
  __syncthreads();
  for (int size = 2; size <= N; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      for (int i = tid; i < N; i += kSelThreads) {
        const int j = i ^ stride;
        if (j > i) {
          const bool up = (i & size) == 0;
          const unsigned long long a = key[i], b = key[j];
          if ((a > b) == up) {
            key[i] = b;
            key[j] = a;
          }
        }
      }
      __syncthreads();
    }
  }
  for (int r = tid; r < drop; r += kSelThreads) dropped[(unsigned int)(key[r] & 0xffffffffu)] = 1;
  __syncthreads();
  // Each thread owns kPer consecutive visual tokens; an inclusive scan of the kept counts gives
  // every kept token its output slot.
  const int j0 = tid * kPer;
  int mine = 0;
#pragma unroll
  for (int e = 0; e < kPer; ++e) mine += (j0 + e < V && !dropped[j0 + e]) ? 1 : 0;
  int slot = P + block_inclusive_scan(mine, scan, nullptr) - mine;
#pragma unroll
  for (int e = 0; e < kPer; ++e)
    if (j0 + e < V && !dropped[j0 + e]) keep[slot++] = P + j0 + e;
  keep_prefix_and_text(n, P, V, drop, keep);
}

// Large spans, step 1: token j's rank is the number of keys below its own; tiles of keys pass
// through shared memory. Only the token's own key records a NaN, so each is recorded once.
__global__ void __launch_bounds__(kRankThreads)
rank_kernel(const float* __restrict__ self, const float* __restrict__ cross, int V, int drop,
            unsigned char* __restrict__ dropped, int32_t* __restrict__ status) {
  __shared__ unsigned long long tile[kRankThreads];
  const int j = blockIdx.x * kRankThreads + threadIdx.x;
  const unsigned long long mine = j < V ? select_key(self, cross, j, status) : ~0ull;
  int rank = 0;
  for (int t0 = 0; t0 < V; t0 += kRankThreads) {
    const int i = t0 + threadIdx.x;
    tile[threadIdx.x] = i < V ? select_key(self, cross, i, nullptr) : ~0ull;
    __syncthreads();
    const int m = V - t0 < kRankThreads ? V - t0 : kRankThreads;
    for (int e = 0; e < m; ++e) rank += tile[e] < mine ? 1 : 0;
    __syncthreads();
  }
  if (j < V) dropped[j] = rank < drop ? 1 : 0;
}

// Large spans, step 2: one CTA writes the survivors in order, a chunk of kSelThreads tokens at a
// time, each chunk's slots following the previous chunk's.
__global__ void __launch_bounds__(kSelThreads)
compact_kernel(const unsigned char* __restrict__ dropped, int n, int P, int V, int drop, int32_t* __restrict__ keep) {
  __shared__ int scan[2][kSelThreads];
  int base = P;  // the same in every thread: the survivors before this chunk, after the prefix
  for (int c0 = 0; c0 < V; c0 += kSelThreads) {
    const int j = c0 + threadIdx.x;
    const int mine = j < V && !dropped[j] ? 1 : 0;
    int total = 0;
    const int incl = block_inclusive_scan(mine, scan, &total);
    if (mine) keep[base + incl - 1] = P + j;
    base += total;
    __syncthreads();  // every thread has read the scratch before the next chunk writes it
  }
  keep_prefix_and_text(n, P, V, drop, keep);
}

}  // namespace

int select_keep_device(const float* self, const float* cross, int n, int P, int V, int drop, int32_t* keep,
                       int32_t* status, cudaStream_t stream) {
  if (V <= kSelMax) {
    select_kernel<<<1, kSelThreads, 0, stream>>>(self, cross, n, P, V, drop, keep, status);
    FP_CUDA(cudaGetLastError(), "select kernel launch");
    return FP_OK;
  }
  unsigned char* dropped = nullptr;
  FP_CUDA(cudaMallocAsync(reinterpret_cast<void**>(&dropped), (size_t)V, stream), "cudaMallocAsync(select flags)");
  rank_kernel<<<(V + kRankThreads - 1) / kRankThreads, kRankThreads, 0, stream>>>(self, cross, V, drop, dropped, status);
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) {
    compact_kernel<<<1, kSelThreads, 0, stream>>>(dropped, n, P, V, drop, keep);
    e = cudaGetLastError();
  }
  const cudaError_t f = cudaFreeAsync(dropped, stream);
  if (e != cudaSuccess) return cuda_fail(e, "select (large span) launch");
  if (f != cudaSuccess) return cuda_fail(f, "cudaFreeAsync(select flags)");
  return FP_OK;
}

}  // namespace cu
}  // namespace fp
