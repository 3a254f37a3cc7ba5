// Tensor-core attention and score kernels, __half instantiations (one file per element type so the
// builds run in parallel; see attention_mma.cuh).
#include "attention_mma.cuh"

namespace fp {
namespace cu {
template int launch_attention_mma<__half, 64>(const __half*, const __half*, const __half*, int, int, int, __half*, float*, cudaStream_t);
template int launch_attention_mma<__half, 128>(const __half*, const __half*, const __half*, int, int, int, __half*, float*, cudaStream_t);
template int launch_scores_mma<__half, 64>(const __half*, const __half*, const float*, int, int, int, int, int, int, int, float*, cudaStream_t);
template int launch_scores_mma<__half, 128>(const __half*, const __half*, const float*, int, int, int, int, int, int, int, float*, cudaStream_t);
}  // namespace cu
}  // namespace fp
