// The generic path of the CPU kernels: kernels.hpp compiled with this path's flags (see build.sh).
#include <immintrin.h>

#include "internal.h"

namespace fp {
namespace generic {
#include "simd.h"
#include "kernels.hpp"
#include "decode.hpp"
#include "linear.hpp"

// fp_cpu_round_bf16: value by value through float_to_bf16, whose rounding is Bf16.fromFloat's,
// subnormals included (the vector conversion of the avx512bf16 path flushes them to zero).
void round_bf16(const float* src, uint16_t* dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i) dst[i] = float_to_bf16(src[i]);
}
}  // namespace generic
}  // namespace fp
