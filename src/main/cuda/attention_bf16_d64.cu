// Tensor-core attention and score kernels for __nv_bfloat16, head dim 64 (one file per element type and head
// dim so nvcc compiles them in parallel; the kernels are in attention_mma.cuh).
#include "attention_mma.cuh"

namespace fp {
namespace cu {
template int launch_attention_mma<__nv_bfloat16, 64>(const __nv_bfloat16*, const __nv_bfloat16*, const __nv_bfloat16*, int, int, int, float, __nv_bfloat16*, float*, int, VarlenLaunch,
                                          cudaStream_t);
template int launch_scores_mma<__nv_bfloat16, 64>(const __nv_bfloat16*, const __nv_bfloat16*, const float*, int, int, int, float, int, int, int, int, float*,
                                       int, VarlenLaunch, cudaStream_t);
}  // namespace cu
}  // namespace fp
