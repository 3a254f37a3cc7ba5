// Row-wise steps of the reference decoder that run between the dense layers: RMSNorm and the
// rounding of fp32 rows to bf16 (q for the decode attention, K and V into bf16 caches). They are
// small, but a decode step runs them a few times a layer, and as Java loops over direct buffers
// they took about 3.6 ms of a 7B token and most of the first token's JIT work. The arithmetic is
// exactly that of the Java code they replace (no fused multiply-adds), so the bits are the same.
#include <cmath>

#include "fitprune.h"
#include "internal.h"

#pragma GCC optimize("fp-contract=off")

using namespace fp;

namespace {

int check_rows(const void* a, const void* b, int64_t rows, int64_t width, const char* what) {
  if (rows < 0 || width < 0) return fail(FP_ERR_ARG, "%s: rows and width must be >= 0, got %lld, %lld", what,
                                         (long long)rows, (long long)width);
  if (width > 0 && rows > INT64_MAX / 8 / width) return fail(FP_ERR_ARG, "%s: rows * width overflows", what);
  if (rows * width > 0 && (!a || !b)) return fail(FP_ERR_ARG, "%s: null pointer", what);
  return FP_OK;
}

}  // namespace

extern "C" int fp_cpu_rms_norm(const float* x, float* y, int64_t rows, int64_t width, const float* weight,
                               double eps) {
  return guarded([&]() -> int {
    if (int st = check_rows(x, y, rows, width, "fp_cpu_rms_norm")) return st;
    if (rows * width > 0 && !weight) return fail(FP_ERR_ARG, "fp_cpu_rms_norm: null weight");
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * width;
      float* yr = y + r * width;
      double ss = 0;
      for (int64_t j = 0; j < width; ++j) ss += (double)(xr[j] * xr[j]);  // float squares, summed in order
      const float inv = (float)(1.0 / std::sqrt(ss / (double)width + eps));
      for (int64_t j = 0; j < width; ++j) yr[j] = xr[j] * inv * weight[j];
    }
    return FP_OK;
  });
}

extern "C" int fp_cpu_round_bf16(const float* src, uint16_t* dst, int64_t count) {
  return guarded([&]() -> int {
    if (int st = check_rows(src, dst, 1, count, "fp_cpu_round_bf16")) return st;
    generic::round_bf16(src, dst, count);  // scalar on every path: the same bits as Bf16.fromFloat
    return FP_OK;
  });
}
