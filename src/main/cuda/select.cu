// Selection of the kept tokens on the GPU: one CTA sorts the (self*cross, index) pairs of the
// visual span with a bitonic network in shared memory (V <= 4096), drops the first `drop`, and
// writes the kept row indices of the whole sequence in ascending order. The rule is the CPU one
// (fp_select_keep): the product is one fp32 multiply, ordered as a float with -0 == +0, ties
// broken by the lower index being dropped first, NaN an error.
#include <climits>

#include "common.cuh"
#include "kernels_cuda.h"

namespace fp {
namespace cu {

namespace {

constexpr int kSelThreads = 1024, kSelMax = (int)kSelectMaxDevice, kPer = kSelMax / kSelThreads;

__global__ void __launch_bounds__(kSelThreads)
select_kernel(const float* __restrict__ self, const float* __restrict__ cross, int n, int P, int V, int drop,
              int32_t* __restrict__ keep, int* __restrict__ nan_at) {
  __shared__ unsigned long long key[kSelMax];
  __shared__ unsigned char dropped[kSelMax];
  __shared__ int scan[2][kSelThreads];
  const int tid = threadIdx.x;
  int N = 2;
  while (N < V) N <<= 1;
  for (int i = tid; i < N; i += kSelThreads) {
    unsigned long long kk = ~0ull;
    if (i < V) {
      float s = self[i] * cross[i];
      if (isnan(s)) {
        atomicMin(nan_at, i);
        s = 0.f;
      }
      if (s == 0.f) s = 0.f;  // -0 orders like +0, as the CPU's float comparison does
      unsigned int u = __float_as_uint(s);
      u ^= (u >> 31) ? 0xffffffffu : 0x80000000u;  // monotone map of floats to unsigned ints
      kk = ((unsigned long long)u << 32) | (unsigned int)i;
    }
    key[i] = kk;
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
  scan[0][tid] = mine;
  __syncthreads();
  int src = 0;
  for (int off = 1; off < kSelThreads; off <<= 1) {
    const int x = scan[src][tid] + (tid >= off ? scan[src][tid - off] : 0);
    scan[src ^ 1][tid] = x;
    src ^= 1;
    __syncthreads();
  }
  int slot = P + scan[src][tid] - mine;
#pragma unroll
  for (int e = 0; e < kPer; ++e)
    if (j0 + e < V && !dropped[j0 + e]) keep[slot++] = P + j0 + e;
  for (int i = tid; i < P; i += kSelThreads) keep[i] = i;
  const int kept_v = V - drop;
  for (int i = P + V + tid; i < n; i += kSelThreads) keep[i - drop] = i;
  (void)kept_v;
}

}  // namespace

int select_keep_device(const float* self, const float* cross, int n, int P, int V, int drop, int32_t* keep,
                       int* flag, cudaStream_t stream) {
  const int init = INT_MAX;
  FP_CUDA(cudaMemcpyAsync(flag, &init, sizeof init, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync");
  select_kernel<<<1, kSelThreads, 0, stream>>>(self, cross, n, P, V, drop, keep, flag);
  FP_CUDA(cudaGetLastError(), "select kernel launch");
  return FP_OK;
}

}  // namespace cu
}  // namespace fp
