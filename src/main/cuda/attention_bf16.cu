// Tensor-core attention and score kernels, __nv_bfloat16 instantiations (one file per element type so the
// builds run in parallel; see attention_mma.cuh).
#include "attention_mma.cuh"

namespace fp {
namespace cu {
template int launch_attention_mma<__nv_bfloat16, 64>(const __nv_bfloat16*, const __nv_bfloat16*, const __nv_bfloat16*, int, int, int, __nv_bfloat16*, float*, cudaStream_t);
template int launch_attention_mma<__nv_bfloat16, 128>(const __nv_bfloat16*, const __nv_bfloat16*, const __nv_bfloat16*, int, int, int, __nv_bfloat16*, float*, cudaStream_t);
template int launch_scores_mma<__nv_bfloat16, 64>(const __nv_bfloat16*, const __nv_bfloat16*, const float*, int, int, int, int, int, int, int, float*, cudaStream_t);
template int launch_scores_mma<__nv_bfloat16, 128>(const __nv_bfloat16*, const __nv_bfloat16*, const float*, int, int, int, int, int, int, int, float*, cudaStream_t);
}  // namespace cu
}  // namespace fp
