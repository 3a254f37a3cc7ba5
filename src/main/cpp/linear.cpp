// fp_cpu_linear: the checks, x packed (and rounded to bf16) once per call, and the dispatch to the ISA path
// (linear.hpp); fp_cpu_read_stream, the read-bandwidth probe that its efficiency is a fraction of.
#include <algorithm>
#include <cstdlib>
#include <vector>

#include "fitprune.h"
#include "internal.h"
#include "workspace.h"

using namespace fp;

namespace {

int check_linear(const float* x, int64_t rows, int64_t k, int32_t count, const void* const* w,
                 const int32_t* w_dtype, const int64_t* n, float* const* y, bool* any_bf16, bool* any_float) {
  if (rows < 0 || rows > kLinMaxRows) return fail(FP_ERR_ARG, "rows must be in [0, %d], got %lld", kLinMaxRows, (long long)rows);
  if (k < 1) return fail(FP_ERR_ARG, "k (input features) must be >= 1, got %lld", (long long)k);
  if (count < 1 || count > kLinMaxMatrices)
    return fail(FP_ERR_ARG, "count must be in [1, %d], got %d", kLinMaxMatrices, count);
  if (!w || !w_dtype || !n || !y) return fail(FP_ERR_ARG, "null w, w_dtype, n or y array");
  // x is packed into rows * k floats (for F32/F16 weights): that byte count must fit
  if (k > INT64_MAX / (int64_t)sizeof(float) / kLinMaxRows) return fail(FP_ERR_ARG, "k too large: %lld", (long long)k);
  if (rows > 0 && !x) return fail(FP_ERR_ARG, "null x");
  *any_bf16 = *any_float = false;
  for (int i = 0; i < count; ++i) {
    if (w_dtype[i] != FP_DTYPE_F32 && w_dtype[i] != FP_DTYPE_F16 && w_dtype[i] != FP_DTYPE_BF16)
      return fail(FP_ERR_ARG, "w_dtype[%d] must be FP_DTYPE_F32, F16 or BF16, got %d", i, w_dtype[i]);
    if (n[i] < 0) return fail(FP_ERR_ARG, "n[%d] must be >= 0, got %lld", i, (long long)n[i]);
    if (n[i] > (INT64_MAX / 8) / k) return fail(FP_ERR_ARG, "n[%d] * k overflows: %lld x %lld", i, (long long)n[i], (long long)k);
    if (rows > 0 && n[i] > INT64_MAX / 8 / rows) return fail(FP_ERR_ARG, "rows * n[%d] overflows", i);
    if (n[i] > 0 && (!w[i] || !y[i])) return fail(FP_ERR_ARG, "null w[%d] or y[%d]", i, i);
    *any_bf16 |= w_dtype[i] == FP_DTYPE_BF16;
    *any_float |= w_dtype[i] != FP_DTYPE_BF16;
  }
  return FP_OK;
}

// Weight rows per work item for `workers` threads (see kLinBlockMax), and each matrix's first item.
int64_t linear_blocks(int32_t count, const int64_t* n, int workers, int64_t* block0) {
  int64_t total = 0;
  for (int i = 0; i < count; ++i) total += n[i];
  int64_t block = kLinBlockMax;
  while (block > kLinBlockMin && ceil_div(total, block) < (int64_t)kLinItemsPerWorker * workers) block /= 2;
  block0[0] = 0;
  for (int i = 0; i < count; ++i) block0[i + 1] = block0[i] + ceil_div(n[i], block);
  return block;
}

// x packed as the kernel reads it (rounded to bf16, and as float), per calling thread.
thread_local Workspace tls_xb, tls_xf;

}  // namespace

extern "C" int fp_cpu_linear(const float* x, int64_t rows, int64_t k, int32_t count, const void* const* w,
                             const int32_t* w_dtype, const int64_t* n, float* const* y, int32_t flags) {
  return guarded([&]() -> int {
    int64_t block0[kLinMaxMatrices + 1];
    bool any_bf16 = false, any_float = false;
    if (int st = check_linear(x, rows, k, count, w, w_dtype, n, y, &any_bf16, &any_float)) return st;
    if (flags & ~(FP_LINEAR_ACCUMULATE | FP_LINEAR_SWIGLU)) return fail(FP_ERR_ARG, "unknown flags 0x%x", (unsigned)flags);
    const bool swiglu = (flags & FP_LINEAR_SWIGLU) != 0;
    if (swiglu && (count != 2 || n[0] != n[1] || (flags & FP_LINEAR_ACCUMULATE)))
      return fail(FP_ERR_ARG, "FP_LINEAR_SWIGLU needs two matrices (gate, up) of equal rows and no accumulation");
    const int workers = max_workers();
    const int64_t block = linear_blocks(count, n, workers, block0);
    if (rows == 0 || block0[count] == 0) return FP_OK;
    bf16* xb = any_bf16 ? static_cast<bf16*>(tls_xb.get((size_t)(std::max<int64_t>(rows, kLinQuadRows) * k) * sizeof(bf16)))
                        : nullptr;
    float* xf = any_float ? static_cast<float*>(tls_xf.get((size_t)(rows * k) * sizeof(float))) : nullptr;
    const LinearArgs a{x, xb, xf, rows, k, count, w, w_dtype, n, y,
                       (flags & FP_LINEAR_ACCUMULATE) != 0, swiglu, block0, block};
    tls_workers = workers;
    switch (fp_cpu_isa()) {
      case FP_ISA_AVX512_BF16: avx512bf16::linear(a); break;
      case FP_ISA_AVX512: avx512::linear(a); break;
      case FP_ISA_AVX2: avx2::linear(a); break;
      default: generic::linear(a); break;
    }
    return FP_OK;
  });
}

extern "C" int fp_cpu_read_stream(const void* p, int64_t bytes, int32_t threads, uint64_t* checksum) {
  return guarded([&]() -> int {
    if (bytes < 0) return fail(FP_ERR_ARG, "bytes must be >= 0, got %lld", (long long)bytes);
    if (bytes > 0 && !p) return fail(FP_ERR_ARG, "null buffer");
    if (!checksum) return fail(FP_ERR_ARG, "null checksum");
    const int workers = threads <= 0 ? max_workers() : std::min(threads, max_workers());
    // One contiguous share per worker (the fastest split measured: a dense layer's threads also
    // each stream their own rows).
    const int64_t share = (ceil_div(bytes, workers) + 63) / 64 * 64;
    std::vector<uint64_t> sums(workers, 0);
    const int isa = fp_cpu_isa();
    auto item = [&](int64_t i, int) {
      const int64_t b0 = std::min(bytes, i * share), len = std::min(bytes, b0 + share) - b0;
      const char* c = static_cast<const char*>(p) + b0;
      switch (isa) {
        case FP_ISA_AVX512_BF16: case FP_ISA_AVX512: sums[i] = avx512::read_stream(c, len); break;
        case FP_ISA_AVX2: sums[i] = avx2::read_stream(c, len); break;
        default: sums[i] = generic::read_stream(c, len); break;
      }
    };
    tls_workers = workers;
    parallel_items(workers, item);
    uint64_t s = 0;
    for (uint64_t v : sums) s ^= v;
    *checksum = s;
    return FP_OK;
  });
}
