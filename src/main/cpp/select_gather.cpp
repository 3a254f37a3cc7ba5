// Selection of the tokens to keep, and row gathers that compact tensors to the kept rows.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <vector>

#include "fitprune.h"
#include "internal.h"

using namespace fp;

extern "C" int fp_select_keep(const float* self_score, const float* cross_score, int64_t n,
                              int64_t prefix, int64_t visual, int64_t drop, int32_t* keep) {
  return guarded([&]() -> int {
    if (int st = check_select(n, prefix, visual, drop)) return st;
    if (visual > 0 && (!self_score || !cross_score)) return fail(FP_ERR_ARG, "null score pointer");
    if (n - drop > 0 && !keep) return fail(FP_ERR_ARG, "null keep pointer");
    std::vector<float> score(visual);
    for (int64_t j = 0; j < visual; ++j) {
      score[j] = self_score[j] * cross_score[j];
      if (!std::isfinite(score[j]))  // scores are means of probabilities: infinity is an overflow, not a rank
        return fail(FP_ERR_VALUE, "self*cross is not finite (NaN or infinity) at visual token %lld", (long long)j);
    }
    // Total order (score, index): the `drop` smallest are dropped, lower index first on ties.
    std::vector<int32_t> order(visual);
    for (int64_t j = 0; j < visual; ++j) order[j] = (int32_t)j;
    std::nth_element(order.begin(), order.begin() + drop, order.end(), [&](int32_t a, int32_t b) {
      return score[a] < score[b] || (score[a] == score[b] && a < b);
    });
    std::vector<char> dropped(visual, 0);
    for (int64_t r = 0; r < drop; ++r) dropped[order[r]] = 1;
    int64_t out = 0;
    for (int64_t i = 0; i < prefix; ++i) keep[out++] = (int32_t)i;
    for (int64_t j = 0; j < visual; ++j)
      if (!dropped[j]) keep[out++] = (int32_t)(prefix + j);
    for (int64_t i = prefix + visual; i < n; ++i) keep[out++] = (int32_t)i;
    return FP_OK;
  });
}

namespace {

template <class T>
int gather_rows(const T* src, int64_t rows, int64_t width, const int32_t* index, int64_t count, T* dst) {
  if (rows < 0 || width < 0 || count < 0)
    return fail(FP_ERR_ARG, "rows, width and count must be >= 0, got %lld, %lld, %lld",
                (long long)rows, (long long)width, (long long)count);
  if (count == 0 || width == 0) return FP_OK;
  if (!src || !index || !dst) return fail(FP_ERR_ARG, "null pointer");
  const int64_t max_width = INT64_MAX / (int64_t)sizeof(T);
  if (width > max_width || rows > max_width / width || count > max_width / width)
    return fail(FP_ERR_ARG, "rows*width or count*width overflows (rows %lld, count %lld, width %lld)",
                (long long)rows, (long long)count, (long long)width);
  for (int64_t r = 0; r < count; ++r)
    if (index[r] < 0 || index[r] >= rows)
      return fail(FP_ERR_INDEX, "index[%lld] = %d is outside [0, %lld)", (long long)r, index[r], (long long)rows);
  const size_t row_bytes = sizeof(T) * (size_t)width;
  const char* s0 = reinterpret_cast<const char*>(src);
  char* d0 = reinterpret_cast<char*>(dst);
  const bool overlap = d0 < s0 + row_bytes * rows && s0 < d0 + row_bytes * count;
  if (overlap) {
    // In-place compaction: safe in order when every row moves to the same place or earlier.
    if (d0 != s0) return fail(FP_ERR_ARG, "dst overlaps src without starting at it");
    for (int64_t r = 0; r < count; ++r) {
      if (index[r] < r || (r > 0 && index[r] <= index[r - 1]))
        return fail(FP_ERR_ARG, "in-place gather needs strictly ascending indices (index[%lld] = %d)", (long long)r, index[r]);
    }
    for (int64_t r = 0; r < count; ++r)
      if (index[r] != r) std::memmove(d0 + row_bytes * r, s0 + row_bytes * index[r], row_bytes);
    return FP_OK;
  }
  // Chunks of about 256 KiB, so small gathers stay on the calling thread.
  const int64_t per = std::max<int64_t>(1, (int64_t)((256 << 10) / std::max<size_t>(row_bytes, 1)));
  auto body = [&](int64_t item, int) {
    const int64_t end = std::min(count, (item + 1) * per);
    for (int64_t r = item * per; r < end; ++r)
      std::memcpy(d0 + row_bytes * r, s0 + row_bytes * index[r], row_bytes);
  };
  tls_workers = max_workers();
  parallel_items(ceil_div(count, per), body);
  return FP_OK;
}

}  // namespace

extern "C" int fp_cpu_gather_rows_f32(const float* src, int64_t rows, int64_t width,
                                      const int32_t* index, int64_t count, float* dst) {
  return guarded([&] { return gather_rows(src, rows, width, index, count, dst); });
}

extern "C" int fp_cpu_gather_rows_i32(const int32_t* src, int64_t rows, int64_t width,
                                      const int32_t* index, int64_t count, int32_t* dst) {
  return guarded([&] { return gather_rows(src, rows, width, index, count, dst); });
}

extern "C" int fp_cpu_gather_rows(const void* src, int64_t rows, int64_t row_bytes, const int32_t* index,
                                  int64_t count, void* dst) {
  return guarded([&] {
    return gather_rows(static_cast<const char*>(src), rows, row_bytes, index, count, static_cast<char*>(dst));
  });
}
