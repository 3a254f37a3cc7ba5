// Causal prefill attention forward on the tensor cores (fp16/bf16 in, fp32 accumulate), written
// the FlashAttention-2 way, and the FitPrune score pass on the same building blocks. Included by
// one .cu per element type (attention_f16.cu, attention_bf16.cu) so nvcc compiles them in parallel.
//
// Attention: one CTA per (query tile of 128 rows, or 64, head); 8 (4) warps, each owning 16 query rows whose
// Q fragments stay in registers. K/V tiles of 64 keys go through shared memory (cp.async, two
// stages, XOR-swizzled so ldmatrix is conflict-free). S = Q K^T and O += P V with
// mma.m16n8k16; online softmax in registers in base 2 (the scale is pre-multiplied by log2 e, so
// each probability is one ex2). Causal: key tiles past the tile's last row are never loaded, and a
// warp skips the tiles that lie wholly above its rows. Writes O [n,H,d] and the natural-log LSE
// [H,n] in fp32.
//
// Scores: one CTA per (query-row tile of 64 rows, or 128, inside the text or the visual span, key tile of 64
// visual keys); the heads loop inside the CTA (Q of the next head and, when the KV group changes,
// K are prefetched while this head computes). exp is monotonic, so max_h exp(s_h - lse_h) =
// exp(max_h (s_h - lse_h)): the running max of the normalised base-2 logits stays in registers and
// one ex2 per (row, key) follows the head loop; the pass is bound by the QK^T matmuls, not by
// exp. Column sums are reduced in a fixed order (quad shuffles, then warps through shared memory)
// into one partial row per (row tile, key tile): deterministic, no float atomics.
#pragma once

#include "common.cuh"

namespace fp {
namespace cu {

// Packed batches (cu_seqlens): grid row y of a launch is one query tile of one sequence, from a
// table built on the host, heaviest tiles first; every tile reads its own sequence only, so a
// sequence gets the same bits alone or in any batch. A null table is the single-sequence launch.
struct VarlenTile {
  int start, len, q0, pad;  // the sequence's rows [start, start+len); the tile's first row within it
};
struct VarlenScoreTile {
  int start, len, P, V;   // the sequence and its spans
  int text_tiles, rt;     // its text tiles, and this tile's index among its row tiles
  long long partial;      // first float of the sequence's partial rows
};

// Query rows per CTA (BQ, 16 per warp) is a template parameter: 128 (8 warps) or 64 (4 warps),
// chosen at launch (fp_cuda_set_option). Keys per tile are fixed at 64.
constexpr int kAttnBK = 64, kScoreBK = 64;

template <int D, int BQ>
constexpr int attn_smem_bytes() { return (BQ * D + 4 * kAttnBK * D) * 2; }
template <int D, int BQ>
constexpr int score_smem_bytes() { return (2 * BQ * D + 2 * kScoreBK * D) * 2; }

template <class T, int D, int BQ>
__global__ void __launch_bounds__(BQ * 2, 128 / BQ)
attention_mma_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v, int n, int H,
                     int G, float scale_log2, T* __restrict__ out, float* __restrict__ lse,
                     const VarlenTile* __restrict__ tiles, int lse_ld) {
  constexpr int BK = kAttnBK, NT = BQ * 2;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sK = sQ + BQ * D;       // two stages of BK x D
  T* sV = sK + 2 * BK * D;   // two stages of BK x D

  const int h = blockIdx.x;
  int q0 = (gridDim.y - 1 - blockIdx.y) * BQ;  // the longest rows first
  if (tiles) {  // one sequence of a packed batch: rebase every tensor on its first row
    const VarlenTile t = tiles[blockIdx.y];
    q += (int64_t)t.start * H * D;
    k += (int64_t)t.start * G * D;
    v += (int64_t)t.start * G * D;
    out += (int64_t)t.start * H * D;
    lse += t.start;
    n = t.len;
    q0 = t.q0;
  }
  const int g = h / (H / G);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t ldq = (int64_t)H * D, ldkv = (int64_t)G * D;
  const T* qh = q + (int64_t)h * D;
  const T* kg = k + (int64_t)g * D;
  const T* vg = v + (int64_t)g * D;

  const int q_end = min(n, q0 + BQ);
  const int nkt = (q_end + BK - 1) / BK;
  load_tile<T, BQ, D, NT>(sQ, qh, ldq, q0, n);
  cp_async_commit();
  load_tile<T, BK, D, NT>(sK, kg, ldkv, 0, n);
  load_tile<T, BK, D, NT>(sV, vg, ldkv, 0, n);
  cp_async_commit();

  const int wr0 = q0 + warp * 16;          // first row of this warp
  const int row_a = wr0 + (lane >> 2);     // rows of accumulator elements 0,1
  const int row_b = row_a + 8;             // and 2,3
  const int tq = lane & 3;

  uint32_t qf[D / 16][4];
  float o[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

  for (int kt = 0; kt < nkt; ++kt) {
    if (kt + 1 < nkt) {
      const int st = (kt + 1) & 1;
      load_tile<T, BK, D, NT>(sK + st * BK * D, kg, ldkv, (int64_t)(kt + 1) * BK, n);
      load_tile<T, BK, D, NT>(sV + st * BK * D, vg, ldkv, (int64_t)(kt + 1) * BK, n);
    }
    cp_async_commit();
    cp_async_wait<1>();  // Q and this tile have landed
    __syncthreads();
    if (kt == 0) {
#pragma unroll
      for (int kc = 0; kc < D / 16; ++kc)
        ldmatrix_x4(qf[kc], sQ + swz<D>(warp * 16 + (lane & 15), kc * 16 + (lane >> 4) * 8));
    }
    const int k0 = kt * BK;
    const T* cK = sK + (kt & 1) * BK * D;
    const T* cV = sV + (kt & 1) * BK * D;
    if (wr0 < n && k0 <= wr0 + 15) {
      float s[BK / 8][4];
#pragma unroll
      for (int j = 0; j < BK / 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
      for (int kc = 0; kc < D / 16; ++kc) {
#pragma unroll
        for (int np = 0; np < BK / 16; ++np) {
          uint32_t b[4];
          ldmatrix_x4(b, cK + swz<D>(np * 16 + (lane >> 4) * 8 + (lane & 7), kc * 16 + ((lane >> 3) & 1) * 8));
          mma16816<T>(s[2 * np], qf[kc], b[0], b[1]);
          mma16816<T>(s[2 * np + 1], qf[kc], b[2], b[3]);
        }
      }
      const bool need_mask = k0 + BK - 1 > wr0 || k0 + BK > n;
      float tmax[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int j = 0; j < BK / 8; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float x = s[j][e] * scale_log2;
          if (need_mask) {
            const int col = k0 + 8 * j + 2 * tq + (e & 1);
            const int row = e < 2 ? row_a : row_b;
            if (col > row || col >= n) x = -INFINITY;
          }
          s[j][e] = x;
          tmax[e >> 1] = fmaxf(tmax[e >> 1], x);
        }
      }
      float alpha[2], base[2], rsum[2] = {0.f, 0.f};
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(0xffffffffu, tmax[r], 1));
        tmax[r] = fmaxf(tmax[r], __shfl_xor_sync(0xffffffffu, tmax[r], 2));
        const float m_new = fmaxf(m[r], tmax[r]);
        base[r] = m_new == -INFINITY ? 0.f : m_new;  // a row with nothing visible yet keeps p = 0
        alpha[r] = fast_exp2(m[r] - base[r]);         // exp2(-inf) = 0 on the first visible tile
        m[r] = m_new;
      }
#pragma unroll
      for (int j = 0; j < BK / 8; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const float p = fast_exp2(s[j][e] - base[e >> 1]);
          s[j][e] = p;
          rsum[e >> 1] += p;
        }
      }
#pragma unroll
      for (int r = 0; r < 2; ++r) l[r] = l[r] * alpha[r] + rsum[r];  // quad-partial; reduced at the end
#pragma unroll
      for (int i = 0; i < D / 8; ++i) {
        o[i][0] *= alpha[0]; o[i][1] *= alpha[0];
        o[i][2] *= alpha[1]; o[i][3] *= alpha[1];
      }
#pragma unroll
      for (int kc = 0; kc < BK / 16; ++kc) {
        uint32_t a[4];
        a[0] = Elem<T>::pack(s[2 * kc][0], s[2 * kc][1]);
        a[1] = Elem<T>::pack(s[2 * kc][2], s[2 * kc][3]);
        a[2] = Elem<T>::pack(s[2 * kc + 1][0], s[2 * kc + 1][1]);
        a[3] = Elem<T>::pack(s[2 * kc + 1][2], s[2 * kc + 1][3]);
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
          uint32_t b[4];
          ldmatrix_x4_trans(b, cV + swz<D>(kc * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, dp * 16 + (lane >> 4) * 8));
          mma16816<T>(o[2 * dp], a, b[0], b[1]);
          mma16816<T>(o[2 * dp + 1], a, b[2], b[3]);
        }
      }
    }
    __syncthreads();  // every warp is done with this stage before it is refilled
  }
  cp_async_wait<0>();

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
  }
  const float inv_a = l[0] > 0.f ? 1.f / l[0] : 0.f, inv_b = l[1] > 0.f ? 1.f / l[1] : 0.f;
#pragma unroll
  for (int i = 0; i < D / 8; ++i) {
    const int col = i * 8 + 2 * tq;
    if (row_a < n) Elem<T>::store2(out + (int64_t)row_a * ldq + (int64_t)h * D + col, o[i][0] * inv_a, o[i][1] * inv_a);
    if (row_b < n) Elem<T>::store2(out + (int64_t)row_b * ldq + (int64_t)h * D + col, o[i][2] * inv_b, o[i][3] * inv_b);
  }
  if (tq == 0) {
    if (row_a < n) lse[(int64_t)h * lse_ld + row_a] = (m[0] + __log2f(l[0])) * kLn2;
    if (row_b < n) lse[(int64_t)h * lse_ld + row_b] = (m[1] + __log2f(l[1])) * kLn2;
  }
}

// partial [(text_tiles + visual_tiles) x V]: one row per query-row tile, text tiles first.
template <class T, int D, int BQ>
__global__ void __launch_bounds__(BQ * 2)
scores_mma_kernel(const T* __restrict__ q, const T* __restrict__ k, const float* __restrict__ lse, int n, int H,
                  int G, int P, int V, int text_tiles, float scale_log2, float* __restrict__ partial,
                  const VarlenScoreTile* __restrict__ tiles, int lse_ld) {
  constexpr int BK = kScoreBK, NT = BQ * 2;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);  // two stages (heads h, h+1) of BQ x D
  T* sK = sQ + 2 * BQ * D;                 // two stages (kv groups) of BK x D
  __shared__ float red[NT / 32][BK];

  const int kt = blockIdx.x;
  int rt = blockIdx.y;
  if (tiles) {  // one sequence of a packed batch: rebase on its first row and its partial rows
    const VarlenScoreTile t = tiles[blockIdx.y];
    q += (int64_t)t.start * H * D;
    k += (int64_t)t.start * G * D;
    lse += t.start;
    partial += t.partial;
    n = t.len;
    P = t.P;
    V = t.V;
    text_tiles = t.text_tiles;
    rt = t.rt;
    if (kt * kScoreBK >= V) return;  // the grid spans the widest visual span of the batch
  }
  const bool text = rt < text_tiles;
  const int row0 = text ? P + V + rt * BQ : P + (rt - text_tiles) * BQ;  // absolute rows
  const int row_end = text ? n : P + V;
  const int k0 = kt * BK;  // visual key index
  float* dst = partial + (int64_t)rt * V;
  if (!text && k0 > row0 + BQ - 1 - P) {  // the whole tile lies above the causal diagonal
    for (int c = threadIdx.x; c < BK; c += NT)
      if (k0 + c < V) dst[k0 + c] = 0.f;
    return;
  }
  const int group = H / G;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, tq = lane & 3;
  const int64_t ldq = (int64_t)H * D, ldkv = (int64_t)G * D;
  const T* kvis = k + (int64_t)P * ldkv;
  const int wr0 = row0 + warp * 16;
  const int row_a = wr0 + (lane >> 2), row_b = row_a + 8;
  // A warp computes when it has real rows and, for visual rows, some key of the tile is visible.
  const bool active = wr0 < row_end && (text || k0 <= wr0 + 15 - P);

  load_tile<T, BQ, D, NT>(sQ, q, ldq, row0, row_end);
  load_tile<T, BK, D, NT>(sK, kvis, ldkv, k0, V);
  cp_async_commit();

  float mx[BK / 8][4];
#pragma unroll
  for (int j = 0; j < BK / 8; ++j) mx[j][0] = mx[j][1] = mx[j][2] = mx[j][3] = -INFINITY;

  for (int h = 0; h < H; ++h) {
    const int g = h / group;
    if (h + 1 < H) {
      load_tile<T, BQ, D, NT>(sQ + ((h + 1) & 1) * BQ * D, q + (int64_t)(h + 1) * D, ldq, row0, row_end);
      const int g1 = (h + 1) / group;
      if (g1 != g) load_tile<T, BK, D, NT>(sK + (g1 & 1) * BK * D, kvis + (int64_t)g1 * D, ldkv, k0, V);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    if (active) {
      const T* cQ = sQ + (h & 1) * BQ * D;
      const T* cK = sK + (g & 1) * BK * D;
      float s[BK / 8][4];
#pragma unroll
      for (int j = 0; j < BK / 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
      for (int kc = 0; kc < D / 16; ++kc) {
        uint32_t a[4];
        ldmatrix_x4(a, cQ + swz<D>(warp * 16 + (lane & 15), kc * 16 + (lane >> 4) * 8));
#pragma unroll
        for (int np = 0; np < BK / 16; ++np) {
          uint32_t b[4];
          ldmatrix_x4(b, cK + swz<D>(np * 16 + (lane >> 4) * 8 + (lane & 7), kc * 16 + ((lane >> 3) & 1) * 8));
          mma16816<T>(s[2 * np], a, b[0], b[1]);
          mma16816<T>(s[2 * np + 1], a, b[2], b[3]);
        }
      }
      const float la = row_a < row_end ? lse[(int64_t)h * lse_ld + row_a] * kLog2e : 0.f;
      const float lb = row_b < row_end ? lse[(int64_t)h * lse_ld + row_b] * kLog2e : 0.f;
#pragma unroll
      for (int j = 0; j < BK / 8; ++j) {
        mx[j][0] = fmaxf(mx[j][0], fmaf(s[j][0], scale_log2, -la));
        mx[j][1] = fmaxf(mx[j][1], fmaf(s[j][1], scale_log2, -la));
        mx[j][2] = fmaxf(mx[j][2], fmaf(s[j][2], scale_log2, -lb));
        mx[j][3] = fmaxf(mx[j][3], fmaf(s[j][3], scale_log2, -lb));
      }
    }
    __syncthreads();
  }
  cp_async_wait<0>();

  // One exp2 per (row, key), the causal and span masks, then column sums in a fixed order.
  float col[BK / 8][2];
#pragma unroll
  for (int j = 0; j < BK / 8; ++j) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int key = k0 + 8 * j + 2 * tq + e;  // visual key index
      float sum = 0.f;
      if (active && key < V) {
        if (row_a < row_end && (text || key <= row_a - P)) sum += exp2f(mx[j][e]);
        if (row_b < row_end && (text || key <= row_b - P)) sum += exp2f(mx[j][2 + e]);
      }
      sum += __shfl_xor_sync(0xffffffffu, sum, 4);
      sum += __shfl_xor_sync(0xffffffffu, sum, 8);
      sum += __shfl_xor_sync(0xffffffffu, sum, 16);
      col[j][e] = sum;
    }
  }
  if (lane < 4) {
#pragma unroll
    for (int j = 0; j < BK / 8; ++j) {
      red[warp][8 * j + 2 * lane] = col[j][0];
      red[warp][8 * j + 2 * lane + 1] = col[j][1];
    }
  }
  __syncthreads();
  for (int c = threadIdx.x; c < BK; c += NT) {
    if (k0 + c >= V) continue;
    float sum = 0.f;
#pragma unroll
    for (int w = 0; w < NT / 32; ++w) sum += red[w][c];
    dst[k0 + c] = sum;
  }
}

// Launch geometry of a packed batch: `tiles` (device) holds `count` grid rows; n is then the
// batch's row count (the LSE leading dimension). Without tiles, count is unused.
struct VarlenLaunch {
  const void* tiles;
  int count;
};

// scale_log2: softmax_scale * log2(e) (log2_scale).
template <class T, int D, int BQ>
int launch_attention_bq(const T* q, const T* k, const T* v, int n, int H, int G, float scale_log2, T* out, float* lse,
                        VarlenLaunch vl, cudaStream_t stream) {
  constexpr int smem = attn_smem_bytes<D, BQ>();
  static unsigned long long done = 0;
  if (int st = ensure_smem(attention_mma_kernel<T, D, BQ>, smem, done)) return st;
  const dim3 grid(H, vl.tiles ? vl.count : (n + BQ - 1) / BQ);
  attention_mma_kernel<T, D, BQ><<<grid, BQ * 2, smem, stream>>>(
      q, k, v, n, H, G, scale_log2, out, lse, static_cast<const VarlenTile*>(vl.tiles), n);
  FP_CUDA(cudaGetLastError(), "attention kernel launch");
  return FP_OK;
}

// rows: query rows per CTA, 64 or 128 (a packed batch's tiles must have been cut to the same).
template <class T, int D>
int launch_attention_mma(const T* q, const T* k, const T* v, int n, int H, int G, float scale_log2, T* out, float* lse,
                         int rows, VarlenLaunch vl, cudaStream_t stream) {
  return rows == 64 ? launch_attention_bq<T, D, 64>(q, k, v, n, H, G, scale_log2, out, lse, vl, stream)
                    : launch_attention_bq<T, D, 128>(q, k, v, n, H, G, scale_log2, out, lse, vl, stream);
}

// With tiles, V is the widest visual span of the batch (the grid's key tiles) and P, text_tiles,
// visual_tiles are unused. scale_log2: that of the attention call that produced lse.
template <class T, int D, int BQ>
int launch_scores_bq(const T* q, const T* k, const float* lse, int n, int H, int G, float scale_log2, int P, int V,
                     int text_tiles, int visual_tiles, float* partial, VarlenLaunch vl, cudaStream_t stream) {
  constexpr int smem = score_smem_bytes<D, BQ>();
  static unsigned long long done = 0;
  if (int st = ensure_smem(scores_mma_kernel<T, D, BQ>, smem, done)) return st;
  const dim3 grid((V + kScoreBK - 1) / kScoreBK, vl.tiles ? vl.count : text_tiles + visual_tiles);
  scores_mma_kernel<T, D, BQ><<<grid, BQ * 2, smem, stream>>>(q, k, lse, n, H, G, P, V, text_tiles, scale_log2,
                                                               partial, static_cast<const VarlenScoreTile*>(vl.tiles), n);
  FP_CUDA(cudaGetLastError(), "scores kernel launch");
  return FP_OK;
}

// rows: query rows per tile (64 or 128); text_tiles and visual_tiles are counted in such tiles.
template <class T, int D>
int launch_scores_mma(const T* q, const T* k, const float* lse, int n, int H, int G, float scale_log2, int P, int V,
                      int text_tiles, int visual_tiles, float* partial, int rows, VarlenLaunch vl,
                      cudaStream_t stream) {
  return rows == 128 ? launch_scores_bq<T, D, 128>(q, k, lse, n, H, G, scale_log2, P, V, text_tiles, visual_tiles,
                                                   partial, vl, stream)
                     : launch_scores_bq<T, D, 64>(q, k, lse, n, H, G, scale_log2, P, V, text_tiles, visual_tiles,
                                                  partial, vl, stream);
}

// Explicit instantiations live in attention_<type>.cu; these declarations stop other files
// from instantiating them again.
#define FP_MMA_EXTERN(T, D)                                                                              \
  extern template int launch_attention_mma<T, D>(const T*, const T*, const T*, int, int, int, float, T*,  \
                                                 float*, int, VarlenLaunch, cudaStream_t);                \
  extern template int launch_scores_mma<T, D>(const T*, const T*, const float*, int, int, int, float, int, \
                                              int, int, int, float*, int, VarlenLaunch, cudaStream_t);
FP_MMA_EXTERN(__half, 64)
FP_MMA_EXTERN(__half, 128)
FP_MMA_EXTERN(__nv_bfloat16, 64)
FP_MMA_EXTERN(__nv_bfloat16, 128)
#undef FP_MMA_EXTERN

}  // namespace cu
}  // namespace fp
