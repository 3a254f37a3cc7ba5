// Detection of non-finite values (NaN, +-Inf): a vectorisable scan of the exponent bits, split
// over the worker pool for large arrays, and the messages that name the tensor and position.
#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "fitprune.h"
#include "internal.h"

namespace fp {

double element_value(float x) { return x; }
double element_value(bf16 x) {
  const uint32_t b = (uint32_t)x << 16;
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

namespace {

constexpr int64_t kChunk = 1 << 16;  // elements per work item

// Exponent bits all ones: infinity or NaN. float32 and bf16 (its upper half) alike.
inline bool bad(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return (b & 0x7f800000u) == 0x7f800000u;
}
inline bool bad(bf16 x) { return (x & 0x7f80u) == 0x7f80u; }

template <class T>
bool any_nonfinite(const T* x, int64_t count) {
  unsigned found = 0;
  for (int64_t i = 0; i < count; ++i) found |= bad(x[i]);  // no early exit: the compiler vectorises it
  return found != 0;
}

template <class T>
int64_t first_of(const T* x, int64_t count) {
  if (count <= 0 || !x) return -1;
  int64_t first_chunk = -1;
  const int64_t chunks = ceil_div(count, kChunk);
  if (chunks <= 2 || max_workers() == 1) {
    for (int64_t c = 0; c < chunks && first_chunk < 0; ++c)
      if (any_nonfinite(x + c * kChunk, std::min(kChunk, count - c * kChunk))) first_chunk = c;
  } else {
    std::atomic<int64_t> found{chunks};
    auto body = [&](int64_t c, int) {
      if (c < found.load(std::memory_order_relaxed) && any_nonfinite(x + c * kChunk, std::min(kChunk, count - c * kChunk))) {
        int64_t cur = found.load();
        while (c < cur && !found.compare_exchange_weak(cur, c)) {
        }
      }
    };
    const int saved = tls_workers;
    tls_workers = max_workers();
    parallel_items(chunks, body);
    tls_workers = saved;
    if (found.load() < chunks) first_chunk = found.load();
  }
  if (first_chunk < 0) return -1;
  const int64_t end = std::min(count, (first_chunk + 1) * kChunk);
  for (int64_t i = first_chunk * kChunk; i < end; ++i)
    if (bad(x[i])) return i;
  return -1;
}

int error_at(const char* tensor, double v, int64_t index, const char* dims, int rank, const int64_t* shape) {
  int64_t pos[4] = {0, 0, 0, 0};
  int64_t rest = index;
  for (int r = rank - 1; r >= 0; --r) {
    pos[r] = shape[r] > 0 ? rest % shape[r] : 0;
    rest = shape[r] > 0 ? rest / shape[r] : 0;
  }
  char where[96];
  if (rank == 3)
    snprintf(where, sizeof where, "[%lld, %lld, %lld]", (long long)pos[0], (long long)pos[1], (long long)pos[2]);
  else
    snprintf(where, sizeof where, "[%lld, %lld]", (long long)pos[0], (long long)pos[1]);
  return fail(FP_ERR_VALUE, "%s %s is not finite at %s (%g)", tensor, dims, where, v);
}

}  // namespace

int64_t first_nonfinite(const float* x, int64_t count) { return first_of(x, count); }
int64_t first_unresolved_lse(const float* lse, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    uint32_t b;
    std::memcpy(&b, &lse[i], sizeof b);
    if ((b & 0x7f800000u) >= ((127u + 24) << 23)) return i;  // |x| >= 2^24, infinity or NaN
  }
  return -1;
}
int64_t first_nonfinite(const bf16* x, int64_t count) { return first_of(x, count); }

int nonfinite_error(const char* tensor, const float* x, int64_t index, const char* dims, int rank, const int64_t* shape) {
  return error_at(tensor, element_value(x[index]), index, dims, rank, shape);
}
int nonfinite_error(const char* tensor, const bf16* x, int64_t index, const char* dims, int rank, const int64_t* shape) {
  return error_at(tensor, element_value(x[index]), index, dims, rank, shape);
}

int output_error(const char* tensor, double v, const char* where) {
  return fail(FP_ERR_VALUE, "%s is not finite at %s (%g) although q, k and v are finite: q*k overflowed float32", tensor,
              where, v);
}

}  // namespace fp

using namespace fp;

extern "C" int fp_first_nonfinite_f32(const float* x, int64_t count, int64_t* index) {
  return guarded([&]() -> int {
    if (count < 0) return fail(FP_ERR_ARG, "count must be >= 0, got %lld", (long long)count);
    if (!index) return fail(FP_ERR_ARG, "null index pointer");
    if (count > 0 && !x) return fail(FP_ERR_ARG, "null pointer");
    *index = first_nonfinite(x, count);
    return FP_OK;
  });
}
