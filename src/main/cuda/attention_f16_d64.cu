// Tensor-core attention and score kernels for __half, head dim 64 (one file per element type and head
// dim so nvcc compiles them in parallel; the kernels are in attention_mma.cuh).
#include "attention_mma.cuh"

namespace fp {
namespace cu {
template int launch_attention_mma<__half, 64>(const __half*, const __half*, const __half*, int, int, int, float, __half*, float*, int, VarlenLaunch,
                                          cudaStream_t);
template int launch_scores_mma<__half, 64>(const __half*, const __half*, const float*, int, int, int, float, int, int, int, int, float*,
                                       int, VarlenLaunch, cudaStream_t);
}  // namespace cu
}  // namespace fp
