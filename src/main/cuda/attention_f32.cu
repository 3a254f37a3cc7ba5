// fp32 attention and score kernels: CUDA-core FMA, exact fp32 arithmetic (accurate exp2f), for
// callers that keep float32 activations. Slower than the tensor-core fp16/bf16 path by design.
//
// Attention: one CTA per (16 query rows, head), 8 warps of 2 rows each; key tiles of 32 go through
// shared memory, lane j scores key j (K padded by one float per row: conflict-free), the warp
// does the online softmax with shuffles, then each lane accumulates its d/32 output columns.
// Scores: one CTA per (32 query rows of one span, 32 visual keys); heads loop inside, running
// max of the normalised base-2 logits in registers, one exp2 per (row, key), column sums in a
// fixed order into one partial row per row tile.
#include "common.cuh"
#include "kernels_cuda.h"

namespace fp {
namespace cu {

namespace {

constexpr int kRows = 16, kKeys = 32, kThreads = 256;

template <int D>
__global__ void __launch_bounds__(kThreads)
attention_f32_kernel(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v, int n,
                     int H, int G, float scale_log2, float* __restrict__ out, float* __restrict__ lse) {
  constexpr int C = D / 32;
  __shared__ float sQ[kRows][D];
  __shared__ float sK[kKeys][D + 1];
  __shared__ float sV[kKeys][D];
  const int h = blockIdx.x, q0 = (gridDim.y - 1 - blockIdx.y) * kRows, g = h / (H / G);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t ldq = (int64_t)H * D, ldkv = (int64_t)G * D;
  for (int i = threadIdx.x; i < kRows * D; i += kThreads) {
    const int r = i / D, c = i % D;
    sQ[r][c] = q0 + r < n ? q[(int64_t)(q0 + r) * ldq + (int64_t)h * D + c] * scale_log2 : 0.f;
  }
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, o[2][C];
#pragma unroll
  for (int r = 0; r < 2; ++r)
#pragma unroll
    for (int c = 0; c < C; ++c) o[r][c] = 0.f;
  const int q_end = min(n, q0 + kRows);
  for (int k0 = 0; k0 < q_end; k0 += kKeys) {
    __syncthreads();
    for (int i = threadIdx.x; i < kKeys * D; i += kThreads) {
      const int j = i / D, c = i % D;
      const bool ok = k0 + j < n;
      const int64_t off = (int64_t)(k0 + j) * ldkv + (int64_t)g * D + c;
      sK[j][c] = ok ? k[off] : 0.f;
      sV[j][c] = ok ? v[off] : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int rl = warp * 2 + r, row = q0 + rl;
      if (row >= n || k0 > row) continue;
      float dot = 0.f;
#pragma unroll 16
      for (int c = 0; c < D; ++c) dot = fmaf(sQ[rl][c], sK[lane][c], dot);
      const int j = k0 + lane;
      const float x = (j > row || j >= n) ? -INFINITY : dot;
      float tm = x;
#pragma unroll
      for (int s = 16; s > 0; s >>= 1) tm = fmaxf(tm, __shfl_xor_sync(0xffffffffu, tm, s));
      const float m_new = fmaxf(m[r], tm);  // finite: key k0 <= row is visible
      const float p = exp2f(x - m_new);
      const float alpha = exp2f(m[r] - m_new);
      float ps = p;
#pragma unroll
      for (int s = 16; s > 0; s >>= 1) ps += __shfl_xor_sync(0xffffffffu, ps, s);
      l[r] = l[r] * alpha + ps;
      m[r] = m_new;
#pragma unroll
      for (int c = 0; c < C; ++c) o[r][c] *= alpha;
      for (int jj = 0; jj < kKeys; ++jj) {
        const float pj = __shfl_sync(0xffffffffu, p, jj);
#pragma unroll
        for (int c = 0; c < C; ++c) o[r][c] = fmaf(pj, sV[jj][lane + 32 * c], o[r][c]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = q0 + warp * 2 + r;
    if (row >= n) continue;
    const float inv = 1.f / l[r];
#pragma unroll
    for (int c = 0; c < C; ++c) out[(int64_t)row * ldq + (int64_t)h * D + lane + 32 * c] = o[r][c] * inv;
    if (lane == 0) lse[(int64_t)h * n + row] = (m[r] + log2f(l[r])) * kLn2;
  }
}

constexpr int kSB = 32;  // score tile: 32 rows x 32 keys, 256 threads of 2 x 2 each

template <int D>
__global__ void __launch_bounds__(kThreads)
scores_f32_kernel(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ lse, int n,
                  int H, int G, int P, int V, int text_tiles, float scale_log2, float* __restrict__ partial) {
  __shared__ float sQ[kSB][D + 1];
  __shared__ float sK[kSB][D + 1];
  __shared__ float sP[kSB][kSB + 1];
  const int kt = blockIdx.x, rt = blockIdx.y;
  const bool text = rt < text_tiles;
  const int row0 = text ? P + V + rt * kSB : P + (rt - text_tiles) * kSB;
  const int row_end = text ? n : P + V;
  const int k0 = kt * kSB;
  float* dst = partial + (int64_t)rt * V;
  if (!text && k0 > row0 + kSB - 1 - P) {
    if (threadIdx.x < kSB && k0 + threadIdx.x < V) dst[k0 + threadIdx.x] = 0.f;
    return;
  }
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
  const int64_t ldq = (int64_t)H * D, ldkv = (int64_t)G * D;
  const int group = H / G;
  float mx[2][2] = {{-INFINITY, -INFINITY}, {-INFINITY, -INFINITY}};
  for (int h = 0; h < H; ++h) {
    __syncthreads();
    for (int i = threadIdx.x; i < kSB * D; i += kThreads) {
      const int r = i / D, c = i % D;
      sQ[r][c] = row0 + r < row_end ? q[(int64_t)(row0 + r) * ldq + (int64_t)h * D + c] : 0.f;
      sK[r][c] = k0 + r < V ? k[(int64_t)(P + k0 + r) * ldkv + (int64_t)(h / group) * D + c] : 0.f;
    }
    __syncthreads();
    float acc[2][2] = {{0.f, 0.f}, {0.f, 0.f}};
#pragma unroll 8
    for (int c = 0; c < D; ++c) {
      const float a0 = sQ[ty][c], a1 = sQ[ty + 16][c], b0 = sK[tx][c], b1 = sK[tx + 16][c];
      acc[0][0] = fmaf(a0, b0, acc[0][0]);
      acc[0][1] = fmaf(a0, b1, acc[0][1]);
      acc[1][0] = fmaf(a1, b0, acc[1][0]);
      acc[1][1] = fmaf(a1, b1, acc[1][1]);
    }
#pragma unroll
    for (int a = 0; a < 2; ++a) {
      const int row = row0 + ty + 16 * a;
      const float l2 = row < row_end ? lse[(int64_t)h * n + row] * kLog2e : 0.f;
#pragma unroll
      for (int b = 0; b < 2; ++b) mx[a][b] = fmaxf(mx[a][b], fmaf(acc[a][b], scale_log2, -l2));
    }
  }
#pragma unroll
  for (int a = 0; a < 2; ++a)
#pragma unroll
    for (int b = 0; b < 2; ++b) {
      const int row = row0 + ty + 16 * a, key = k0 + tx + 16 * b;
      const bool ok = row < row_end && key < V && (text || key <= row - P);
      sP[ty + 16 * a][tx + 16 * b] = ok ? exp2f(mx[a][b]) : 0.f;
    }
  __syncthreads();
  if (threadIdx.x < kSB && k0 + threadIdx.x < V) {
    float sum = 0.f;
    for (int r = 0; r < kSB; ++r) sum += sP[r][threadIdx.x];
    dst[k0 + threadIdx.x] = sum;
  }
}

}  // namespace

int score_f32_tile_rows() { return kSB; }

template <int D>
static int attention_f32_d(const float* q, const float* k, const float* v, int n, int H, int G, float scale_log2,
                           float* out, float* lse, cudaStream_t stream) {
  const dim3 grid(H, (n + kRows - 1) / kRows);
  attention_f32_kernel<D><<<grid, kThreads, 0, stream>>>(q, k, v, n, H, G, scale_log2, out, lse);
  FP_CUDA(cudaGetLastError(), "fp32 attention kernel launch");
  return FP_OK;
}

int attention_f32(const float* q, const float* k, const float* v, int n, int H, int G, int d, float scale_log2,
                  float* out, float* lse, cudaStream_t stream) {
  return d == 64 ? attention_f32_d<64>(q, k, v, n, H, G, scale_log2, out, lse, stream)
                 : attention_f32_d<128>(q, k, v, n, H, G, scale_log2, out, lse, stream);
}

int scores_f32(const float* q, const float* k, const float* lse, int n, int H, int G, int d, float scale_log2, int P,
               int V, int text_tiles, int visual_tiles, float* partial, cudaStream_t stream) {
  const dim3 grid((V + kSB - 1) / kSB, text_tiles + visual_tiles);
  if (d == 64)
    scores_f32_kernel<64><<<grid, kThreads, 0, stream>>>(q, k, lse, n, H, G, P, V, text_tiles, scale_log2, partial);
  else
    scores_f32_kernel<128><<<grid, kThreads, 0, stream>>>(q, k, lse, n, H, G, P, V, text_tiles, scale_log2, partial);
  FP_CUDA(cudaGetLastError(), "fp32 scores kernel launch");
  return FP_OK;
}

}  // namespace cu
}  // namespace fp
