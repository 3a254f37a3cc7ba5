// Linked instead of src/main/cuda when the build machine has no nvcc: every CUDA entry point
// reports that the library was built without CUDA.
#include "fitprune.h"
#include "internal.h"

using namespace fp;

namespace {
int none() { return fail(FP_ERR_UNAVAILABLE, "this build of fitprune has no CUDA backend (nvcc was not found at build time)"); }
}  // namespace

extern "C" {
int fp_cuda_compiled(void) { return 0; }
int fp_cuda_device_count(void) { none(); return -1; }
const char* fp_cuda_describe(void) { return "unavailable: built without CUDA (nvcc was not found at build time)"; }
void* fp_cuda_malloc(int64_t) { none(); return nullptr; }
int fp_cuda_free(void*) { return none(); }
int fp_cuda_memcpy(void*, const void*, int64_t, int32_t) { return none(); }
int fp_cuda_synchronize(void) { return none(); }
int fp_cuda_memset(void*, int32_t, int64_t) { return none(); }
int fp_cuda_set_option(const char*, int32_t) { return none(); }
int fp_cuda_stream_create(void**) { return none(); }
int fp_cuda_stream_destroy(void*) { return none(); }
int fp_cuda_stream_synchronize(void*) { return none(); }
int fp_cuda_convert(const void*, int32_t, void*, int32_t, int64_t, void*) { return none(); }
int fp_cuda_attention(const void*, const void*, const void*, int64_t, int32_t, int32_t, int32_t, int32_t, float, void*,
                      float*, void*) { return none(); }
int fp_cuda_scores(const void*, const void*, const float*, int64_t, int32_t, int32_t, int32_t, int32_t, float, int64_t,
                   int64_t, float*, float*, void*) { return none(); }
int fp_cuda_attention_varlen(const void*, const void*, const void*, const int64_t*, int64_t, int32_t, int32_t, int32_t,
                             int32_t, float, void*, float*, void*) { return none(); }
int fp_cuda_scores_varlen(const void*, const void*, const float*, const int64_t*, int64_t, int32_t, int32_t, int32_t,
                          int32_t, float, const int64_t*, float*, float*, void*) { return none(); }
int fp_cuda_decode_attention(const void*, const int64_t*, int64_t, int32_t, int32_t, int32_t, int32_t, float,
                             const void* const*, const void* const*, const int64_t*, void*, float*, void*) { return none(); }
int fp_cuda_paged_decode_attention(const void*, const int64_t*, int64_t, int32_t, int32_t, int32_t, int32_t, float,
                                   const void*, const void*, int64_t, int32_t, const int32_t*, int64_t, const int64_t*,
                                   void*, float*, void*) { return none(); }
int fp_cuda_attention_varlen_kv(const void*, const void*, const void*, const int64_t*, const int64_t*, int64_t, int32_t,
                                int32_t, int32_t, int32_t, float, void*, int32_t, float*, void*) { return none(); }
int fp_cuda_kv_append(const void*, const void*, const int64_t*, int64_t, int32_t, int32_t, int32_t, void* const*,
                      void* const*, const int64_t*, const int64_t*, void*) { return none(); }
int fp_cuda_kv_append_paged(const void*, const void*, int64_t, int32_t, int32_t, int32_t, void*, void*, int64_t,
                            int32_t, const int64_t*, void*) { return none(); }
int fp_cuda_select_keep(const float*, const float*, int64_t, int64_t, int64_t, int64_t, int32_t*, void*) { return none(); }
int fp_cuda_select_keep_async(const float*, const float*, int64_t, int64_t, int64_t, int64_t, int32_t*, int32_t*,
                              void*) { return none(); }
int fp_cuda_gather_rows(const void*, int64_t, int64_t, const int32_t*, int64_t, void*, int32_t*, void*) { return none(); }
int fp_cuda_status_check(int32_t*, void*) { return none(); }
int fp_cuda_gather_rows_f32(const float*, int64_t, int64_t, const int32_t*, int64_t, float*) { return none(); }
int fp_cuda_gather_rows_i32(const int32_t*, int64_t, int64_t, const int32_t*, int64_t, int32_t*) { return none(); }
}
