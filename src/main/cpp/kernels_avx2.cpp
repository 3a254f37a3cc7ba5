// The avx2 path of the CPU kernels: kernels.hpp compiled with this path's flags (see build.sh).
#include <immintrin.h>

#include "internal.h"

namespace fp {
namespace avx2 {
#include "simd.h"
#include "kernels.hpp"
#include "decode.hpp"
#include "linear.hpp"
}  // namespace avx2
}  // namespace fp
