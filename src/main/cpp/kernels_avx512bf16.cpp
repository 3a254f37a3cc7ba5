// The avx512bf16 path of the CPU kernels (avx512 plus vdpbf16ps): kernels.hpp compiled with this path's flags (see build.sh).
#include <immintrin.h>

#include "internal.h"

namespace fp {
namespace avx512bf16 {
#include "simd.h"
#include "kernels.hpp"
#include "decode.hpp"
#include "linear.hpp"
}  // namespace avx512bf16
}  // namespace fp
