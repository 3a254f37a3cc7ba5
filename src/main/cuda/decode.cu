// Decode attention on the GPU: a few new tokens per sequence against that sequence's K/V cache
// (ragged lengths), in fp32 arithmetic on fp32/fp16/bf16 data. Decoding reads the whole cache
// once per step and computes little, so this is a plain CUDA-core kernel laid out for memory:
// one CTA per (kv head, sequence, chunk of up to 8 rows), the rows being the new tokens times the
// kv head's query heads, so each cached key and value is read once for all of them; the 4 warps
// take interleaved 32-key tiles (lane j scores key j of the tile against every row), keep their
// own online-softmax state, and are merged through shared memory at the end.
#include "common.cuh"
#include "kernels_cuda.h"

namespace fp {
namespace cu {
namespace {

constexpr int kDecodeWarps = 4, kDecodeRows = 8;

template <class T, int D>
__global__ void __launch_bounds__(kDecodeWarps * 32)
decode_kernel(const T* __restrict__ q, const DecodeSeq* __restrict__ seqs, int H, int G, int nq, float scale_log2,
              int block_size, T* __restrict__ out, float* __restrict__ lse) {
  constexpr int C = D / 32;  // output columns per lane
  __shared__ float sq[kDecodeRows][D];
  __shared__ float sm[kDecodeWarps][kDecodeRows], sl[kDecodeWarps][kDecodeRows];
  __shared__ float so[kDecodeWarps][kDecodeRows][D];

  const int g = blockIdx.x, group = H / G;
  const DecodeSeq s = seqs[blockIdx.y];
  const int rows = s.qn * group, r0 = blockIdx.z * kDecodeRows;
  if (r0 >= rows) return;  // the grid is sized for the sequence with the most rows
  const int nr = min(kDecodeRows, rows - r0);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int past = s.kv - s.qn;                    // cache rows before the first new token
  const int kv_end = past + (r0 + nr - 1) / group + 1;  // keys the last row of the chunk sees
  const int64_t ldq = (int64_t)H * D, ldkv = (int64_t)G * D;
  const T* kc = static_cast<const T*>(s.k) + (int64_t)g * D;
  const T* vc = static_cast<const T*>(s.v) + (int64_t)g * D;
  // where cache row j lies: contiguous, or row j % block_size of the sequence's block j / block_size
  auto at = [&](int j) -> int64_t {
    return (s.table ? (int64_t)s.table[j / block_size] * block_size + j % block_size : (int64_t)j) * ldkv;
  };

  // row r: new token r / group, head g*group + r % group
  for (int i = threadIdx.x; i < kDecodeRows * D; i += blockDim.x) {
    const int r = i / D, c = i % D;
    float x = 0.f;
    if (r < nr) {
      const int rr = r0 + r;
      x = Elem<T>::to_float(q[(int64_t)(s.q0 + rr / group) * ldq + (int64_t)(g * group + rr % group) * D + c]) * scale_log2;
    }
    sq[r][c] = x;
  }
  __syncthreads();

  float m[kDecodeRows], l[kDecodeRows], o[kDecodeRows][C];
#pragma unroll
  for (int r = 0; r < kDecodeRows; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.f;
#pragma unroll
    for (int c = 0; c < C; ++c) o[r][c] = 0.f;
  }

  for (int t0 = warp * 32; t0 < kv_end; t0 += kDecodeWarps * 32) {
    const int j = t0 + lane;
    float p[kDecodeRows];
#pragma unroll
    for (int r = 0; r < kDecodeRows; ++r) p[r] = 0.f;
    if (j < kv_end) {
      const T* kr = kc + at(j);
      for (int c = 0; c < D; ++c) {
        const float x = Elem<T>::to_float(kr[c]);
#pragma unroll
        for (int r = 0; r < kDecodeRows; ++r) p[r] = fmaf(sq[r][c], x, p[r]);
      }
    }
#pragma unroll
    for (int r = 0; r < kDecodeRows; ++r) {
      const bool visible = r < nr && j <= past + (r0 + r) / group;
      float x = visible ? p[r] : -INFINITY;
      float mx = x;
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
      const float m_new = fmaxf(m[r], mx);
      const float base = m_new == -INFINITY ? 0.f : m_new;  // nothing visible yet: p stays 0
      const float alpha = exp2f(m[r] - base);
      x = exp2f(x - base);
      float sum = x;
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
      l[r] = l[r] * alpha + sum;
      m[r] = m_new;
#pragma unroll
      for (int c = 0; c < C; ++c) o[r][c] *= alpha;
      p[r] = x;
    }
    const int keys = min(32, kv_end - t0);
    for (int jj = 0; jj < keys; ++jj) {
      const T* vr = vc + at(t0 + jj);
      float vv[C];
#pragma unroll
      for (int c = 0; c < C; ++c) vv[c] = Elem<T>::to_float(vr[lane + 32 * c]);
#pragma unroll
      for (int r = 0; r < kDecodeRows; ++r) {
        const float pj = __shfl_sync(0xffffffffu, p[r], jj);
#pragma unroll
        for (int c = 0; c < C; ++c) o[r][c] = fmaf(pj, vv[c], o[r][c]);
      }
    }
  }

#pragma unroll
  for (int r = 0; r < kDecodeRows; ++r) {
    if (lane == 0) {
      sm[warp][r] = m[r];
      sl[warp][r] = l[r];
    }
#pragma unroll
    for (int c = 0; c < C; ++c) so[warp][r][lane + 32 * c] = o[r][c];
  }
  __syncthreads();

  // Merge the warps: every row sees key 0, so some warp has a finite max.
  for (int i = threadIdx.x; i < nr * D; i += blockDim.x) {
    const int r = i / D, c = i % D;
    float M = -INFINITY;
    for (int w = 0; w < kDecodeWarps; ++w) M = fmaxf(M, sm[w][r]);
    float L = 0.f, O = 0.f;
    for (int w = 0; w < kDecodeWarps; ++w) {
      const float f = exp2f(sm[w][r] - M);  // 0 for a warp that saw no key
      L += sl[w][r] * f;
      O += so[w][r][c] * f;
    }
    const int rr = r0 + r, row = s.q0 + rr / group, h = g * group + rr % group;
    out[(int64_t)row * ldq + (int64_t)h * D + c] = Elem<T>::from_float(O / L);
    if (lse && c == 0) lse[(int64_t)h * nq + row] = (M + __log2f(L)) * kLn2;
  }
}

template <class T, int D>
int launch(const void* q, const DecodeSeq* seqs, int batch, int H, int G, int nq, int max_rows, float scale_log2,
           int block_size, void* out, float* lse, cudaStream_t stream) {
  const dim3 grid(G, batch, (max_rows + kDecodeRows - 1) / kDecodeRows);
  decode_kernel<T, D><<<grid, kDecodeWarps * 32, 0, stream>>>(static_cast<const T*>(q), seqs, H, G, nq,
                                                              scale_log2, block_size, static_cast<T*>(out), lse);
  FP_CUDA(cudaGetLastError(), "decode kernel launch");
  return FP_OK;
}

// One thread per 2-byte unit of a row (every dtype's rows are whole units).
__global__ void append_paged_kernel(const uint16_t* __restrict__ k, const uint16_t* __restrict__ v, int n,
                                    int64_t units, uint16_t* __restrict__ k_pool, uint16_t* __restrict__ v_pool,
                                    const int64_t* __restrict__ slot) {
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (int64_t)n * units) return;
  const int64_t row = i / units, c = i % units, at = slot[row];
  if (at < 0) return;
  k_pool[at * units + c] = k[i];
  v_pool[at * units + c] = v[i];
}

}  // namespace

int append_paged(const void* k, const void* v, int n, int64_t row_bytes, void* k_pool, void* v_pool,
                 const int64_t* slot, cudaStream_t stream) {
  const int64_t units = row_bytes / 2, total = (int64_t)n * units;
  if (total == 0) return FP_OK;
  if ((total + 255) / 256 > INT32_MAX) return fail(FP_ERR_ARG, "too many rows to append (%d)", n);
  append_paged_kernel<<<(unsigned)((total + 255) / 256), 256, 0, stream>>>(
      static_cast<const uint16_t*>(k), static_cast<const uint16_t*>(v), n, units, static_cast<uint16_t*>(k_pool),
      static_cast<uint16_t*>(v_pool), slot);
  FP_CUDA(cudaGetLastError(), "append kernel launch");
  return FP_OK;
}

int decode_attention(const void* q, const DecodeSeq* seqs, int batch, int H, int G, int d, int dtype, int nq,
                     int max_rows, float scale_log2, int block_size, void* out, float* lse, cudaStream_t stream) {
  if (max_rows > 65535 * kDecodeRows) return fail(FP_ERR_ARG, "too many new tokens in one sequence for decode (%d rows)", max_rows);
  if (batch > 65535) return fail(FP_ERR_ARG, "decode takes at most 65535 sequences per call, got %d", batch);
  switch (dtype) {
    case FP_DTYPE_F32:
      return d == 64 ? launch<float, 64>(q, seqs, batch, H, G, nq, max_rows, scale_log2, block_size, out, lse, stream)
                     : launch<float, 128>(q, seqs, batch, H, G, nq, max_rows, scale_log2, block_size, out, lse, stream);
    case FP_DTYPE_F16:
      return d == 64 ? launch<__half, 64>(q, seqs, batch, H, G, nq, max_rows, scale_log2, block_size, out, lse, stream)
                     : launch<__half, 128>(q, seqs, batch, H, G, nq, max_rows, scale_log2, block_size, out, lse, stream);
    default:
      return d == 64 ? launch<__nv_bfloat16, 64>(q, seqs, batch, H, G, nq, max_rows, scale_log2, block_size, out, lse, stream)
                     : launch<__nv_bfloat16, 128>(q, seqs, batch, H, G, nq, max_rows, scale_log2, block_size, out, lse, stream);
  }
}

}  // namespace cu
}  // namespace fp
