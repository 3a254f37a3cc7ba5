// K/V cache maintenance of a decode step (CPU): the paged layout's checks, shared with the paged
// decode attention and the CUDA backend, and the append of a step's K/V rows into contiguous or
// paged caches. Every destination is checked before the first row is written.
#include <cstring>

#include "fitprune.h"
#include "internal.h"

namespace fp {

namespace {

// Bytes of one cache row [G, d] of elem_bytes, or FP_ERR_ARG.
int row_bytes(int32_t kv_heads, int32_t head_dim, int32_t elem_bytes, int64_t* bytes) {
  if (kv_heads <= 0 || head_dim <= 0 || head_dim > 1024 || kv_heads > (1 << 20))
    return fail(FP_ERR_ARG, "kv_heads must be in [1, 2^20] and head_dim in [1, 1024], got G=%d d=%d", kv_heads, head_dim);
  if (elem_bytes <= 0) return fail(FP_ERR_ARG, "unknown dtype");
  *bytes = (int64_t)kv_heads * head_dim * elem_bytes;  // < 2^33
  return FP_OK;
}

int check_pool(const void* k_pool, const void* v_pool, int64_t num_blocks, int32_t block_size, int64_t row) {
  if (num_blocks < 0 || num_blocks > INT32_MAX)
    return fail(FP_ERR_ARG, "num_blocks must be in [0, 2^31), got %lld", (long long)num_blocks);
  if (block_size <= 0) return fail(FP_ERR_ARG, "block_size must be > 0, got %d", block_size);
  int64_t bytes;
  if (__builtin_mul_overflow(num_blocks * block_size, row, &bytes) || bytes > (INT64_MAX >> 2))
    return fail(FP_ERR_ARG, "the pool [num_blocks=%lld, block_size=%d, G, d] is too large", (long long)num_blocks,
                block_size);
  if (num_blocks > 0 && (!k_pool || !v_pool)) return fail(FP_ERR_ARG, "null k_pool or v_pool pointer");
  return FP_OK;
}

// Row bytes of a copy from src [n, G, d] rows into dst rows; both null-checked by the caller.
inline void copy_row(const void* src, int64_t i, void* dst, int64_t at, int64_t row) {
  std::memcpy(static_cast<char*>(dst) + at * row, static_cast<const char*>(src) + i * row, (size_t)row);
}

}  // namespace

int check_paged(const void* k_pool, const void* v_pool, int64_t num_blocks, int32_t block_size, int32_t kv_heads,
                int32_t head_dim, int32_t elem_bytes, const int32_t* block_table, int64_t max_blocks, int64_t batch,
                const int64_t* kv_len) {
  int64_t row = 0;
  if (int st = row_bytes(kv_heads, head_dim, elem_bytes, &row)) return st;
  if (int st = check_pool(k_pool, v_pool, num_blocks, block_size, row)) return st;
  if (max_blocks < 0 || max_blocks > INT32_MAX)
    return fail(FP_ERR_ARG, "max_blocks must be in [0, 2^31), got %lld", (long long)max_blocks);
  if (batch > 0 && max_blocks > 0 && !block_table) return fail(FP_ERR_ARG, "null block_table pointer");
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t used = ceil_div(kv_len[b], block_size);  // kv_len is checked to be in [0, 2^31)
    if (used > max_blocks)
      return fail(FP_ERR_ARG, "sequence %lld: kv_len=%lld needs %lld blocks of %d, the table has max_blocks=%lld",
                  (long long)b, (long long)kv_len[b], (long long)used, block_size, (long long)max_blocks);
    for (int64_t i = 0; i < used; ++i) {
      const int32_t id = block_table[b * max_blocks + i];
      if (id < 0 || id >= num_blocks)
        return fail(FP_ERR_INDEX, "block_table[%lld][%lld] = %d is outside [0, num_blocks=%lld)", (long long)b,
                    (long long)i, id, (long long)num_blocks);
    }
  }
  return FP_OK;
}

int check_append(const void* k_new, const void* v_new, const int64_t* cu_q, int64_t batch, int32_t kv_heads,
                 int32_t head_dim, int32_t dtype, void* const* k_cache, void* const* v_cache, const int64_t* capacity,
                 const int64_t* kv_len, int64_t* row) {
  if (int st = row_bytes(kv_heads, head_dim, fp_dtype_size(dtype), row)) return st;
  if (int st = check_offsets("cu_q", cu_q, batch, 0)) return st;
  if (batch > 0 && (!k_cache || !v_cache || !capacity || !kv_len))
    return fail(FP_ERR_ARG, "null k_cache, v_cache, capacity or kv_len array");
  if (cu_q[batch] > 0 && (!k_new || !v_new)) return fail(FP_ERR_ARG, "null k or v pointer");
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t qn = cu_q[b + 1] - cu_q[b];
    if (capacity[b] < 0 || kv_len[b] < 0 || kv_len[b] > capacity[b] || qn > capacity[b] - kv_len[b])
      return fail(FP_ERR_ARG, "sequence %lld: kv_len=%lld + %lld new rows must fit the capacity %lld", (long long)b,
                  (long long)kv_len[b], (long long)qn, (long long)capacity[b]);
    if (qn > 0 && (!k_cache[b] || !v_cache[b])) return fail(FP_ERR_ARG, "sequence %lld: null cache pointer", (long long)b);
  }
  return FP_OK;
}

int check_append_paged(const void* k_new, const void* v_new, int64_t n, int32_t kv_heads, int32_t head_dim,
                       int32_t dtype, const void* k_pool, const void* v_pool, int64_t num_blocks, int32_t block_size,
                       const int64_t* slot_mapping, int64_t* row) {
  if (int st = row_bytes(kv_heads, head_dim, fp_dtype_size(dtype), row)) return st;
  if (int st = check_pool(k_pool, v_pool, num_blocks, block_size, *row)) return st;
  if (n < 0 || n > INT32_MAX) return fail(FP_ERR_ARG, "n must be in [0, 2^31), got %lld", (long long)n);
  if (n > 0 && (!k_new || !v_new || !slot_mapping)) return fail(FP_ERR_ARG, "null k, v or slot_mapping pointer");
  const int64_t slots = num_blocks * block_size;
  for (int64_t i = 0; i < n; ++i)
    if (slot_mapping[i] >= slots)
      return fail(FP_ERR_INDEX, "slot_mapping[%lld] = %lld is outside [0, num_blocks*block_size=%lld)", (long long)i,
                  (long long)slot_mapping[i], (long long)slots);
  return FP_OK;
}

namespace {

int append_impl(const void* k_new, const void* v_new, const int64_t* cu_q, int64_t batch, int32_t kv_heads,
                int32_t head_dim, int32_t dtype, void* const* k_cache, void* const* v_cache, const int64_t* capacity,
                const int64_t* kv_len) {
  int64_t row = 0;
  if (int st = check_append(k_new, v_new, cu_q, batch, kv_heads, head_dim, dtype, k_cache, v_cache, capacity, kv_len,
                            &row))
    return st;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = cu_q[b]; i < cu_q[b + 1]; ++i) {
      copy_row(k_new, i, k_cache[b], kv_len[b] + i - cu_q[b], row);
      copy_row(v_new, i, v_cache[b], kv_len[b] + i - cu_q[b], row);
    }
  return FP_OK;
}

int append_paged_impl(const void* k_new, const void* v_new, int64_t n, int32_t kv_heads, int32_t head_dim,
                      int32_t dtype, void* k_pool, void* v_pool, int64_t num_blocks, int32_t block_size,
                      const int64_t* slot_mapping) {
  int64_t row = 0;
  if (int st = check_append_paged(k_new, v_new, n, kv_heads, head_dim, dtype, k_pool, v_pool, num_blocks, block_size,
                                  slot_mapping, &row))
    return st;
  for (int64_t i = 0; i < n; ++i) {
    if (slot_mapping[i] < 0) continue;  // a padding token, as vLLM marks them
    copy_row(k_new, i, k_pool, slot_mapping[i], row);
    copy_row(v_new, i, v_pool, slot_mapping[i], row);
  }
  return FP_OK;
}

}  // namespace
}  // namespace fp

using namespace fp;

extern "C" {

int fp_cpu_kv_append(const void* k, const void* v, const int64_t* cu_q, int64_t batch, int32_t kv_heads, int32_t head_dim,
                 int32_t dtype, void* const* k_cache, void* const* v_cache, const int64_t* capacity,
                 const int64_t* kv_len) {
  return guarded([&]() -> int {
    return append_impl(k, v, cu_q, batch, kv_heads, head_dim, dtype, k_cache, v_cache, capacity, kv_len);
  });
}

int fp_cpu_kv_append_paged(const void* k, const void* v, int64_t n, int32_t kv_heads, int32_t head_dim, int32_t dtype,
                       void* k_pool, void* v_pool, int64_t num_blocks, int32_t block_size, const int64_t* slot_mapping) {
  return guarded([&]() -> int {
    return append_paged_impl(k, v, n, kv_heads, head_dim, dtype, k_pool, v_pool, num_blocks, block_size, slot_mapping);
  });
}

}  // extern "C"
