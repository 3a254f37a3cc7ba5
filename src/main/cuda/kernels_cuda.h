// Internal interface between the CUDA sources (not part of the C API).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace fp {
namespace cu {

// Rows per query tile of the fp32 score pass (the partial buffer has one row of V floats per tile).
int score_f32_tile_rows();

// scale_log2: softmax_scale * log2(e) (log2_scale); the score pass takes the attention's.
int attention_f32(const float* q, const float* k, const float* v, int n, int H, int G, int d, float scale_log2,
                  float* out, float* lse, cudaStream_t stream);
int scores_f32(const float* q, const float* k, const float* lse, int n, int H, int G, int d, float scale_log2, int P,
               int V, int text_tiles, int visual_tiles, float* partial, cudaStream_t stream);

// Largest visual span the single-CTA sort handles; larger spans rank every token on many CTAs.
constexpr int64_t kSelectMaxDevice = 4096;
// Enqueues the selection on `stream`; a NaN self*cross is recorded in `status` (may be null).
int select_keep_device(const float* self, const float* cross, int n, int P, int V, int drop, int32_t* keep,
                       int32_t* status, cudaStream_t stream);

// Decode attention (decode.cu): sequence b of a batch, as the kernel reads it.
struct DecodeSeq {
  const void* k;  // device cache [cap, G, d] of the element type, or the paged pool [blocks, block_size, G, d]
  const void* v;
  const int32_t* table;  // paged: the sequence's row of the device block table; null for a contiguous cache
  int q0, qn, kv, pad;  // first row of q and count of new tokens; valid cache rows
};
// seqs: device table of `batch` entries; max_rows: the most new tokens times H/G of any sequence;
// scale_log2: softmax_scale * log2(e); block_size: rows per block of paged caches.
int decode_attention(const void* q, const DecodeSeq* seqs, int batch, int H, int G, int d, int dtype, int nq,
                     int max_rows, float scale_log2, int block_size, void* out, float* lse, cudaStream_t stream);
// Copies row i of k and v [n, row_bytes] to row slot[i] of the pools (slot < 0 skipped; slots checked).
int append_paged(const void* k, const void* v, int n, int64_t row_bytes, void* k_pool, void* v_pool,
                 const int64_t* slot, cudaStream_t stream);

}  // namespace cu
}  // namespace fp
