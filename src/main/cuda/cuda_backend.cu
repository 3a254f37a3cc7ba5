// CUDA backend, part 1: device query, device memory, and row gather. The CUDA runtime is linked
// statically; it dlopens libcuda.so.1 at the first call, so on a machine without a driver every
// function here returns an error code and the rest of the library works.
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cstdio>
#include <string>

#include "fitprune.h"
#include "internal.h"

using namespace fp;

namespace {

int cuda_fail(cudaError_t e, const char* what) {
  cudaGetLastError();  // clear the sticky-free error state
  return fail(FP_ERR_CUDA, "%s: %s (%d): %s", what, cudaGetErrorName(e), (int)e, cudaGetErrorString(e));
}

#define FP_CUDA(call, what)                        \
  do {                                             \
    cudaError_t e_ = (call);                       \
    if (e_ != cudaSuccess) return cuda_fail(e_, what); \
  } while (0)

// Rows of `vec` elements of type V (float4 when rows are 16-byte multiples and aligned).
template <class V>
__global__ void gather_kernel(const V* __restrict__ src, int64_t rows, int64_t vec,
                              const int32_t* __restrict__ index, int64_t count, V* __restrict__ dst,
                              int* __restrict__ bad) {
  const int64_t total = count * vec;
  for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < total;
       t += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = t / vec, c = t - r * vec;
    const int32_t i = index[r];
    if (i < 0 || i >= rows) {
      *bad = 1;
      continue;
    }
    dst[r * vec + c] = src[i * vec + c];
  }
}

template <class T>
int gather(const T* src, int64_t rows, int64_t width, const int32_t* index, int64_t count, T* dst) {
  if (rows < 0 || width < 0 || count < 0)
    return fail(FP_ERR_ARG, "rows, width and count must be >= 0");
  if (count == 0 || width == 0) return FP_OK;
  if (!src || !index || !dst) return fail(FP_ERR_ARG, "null device pointer");
  int* bad = nullptr;
  FP_CUDA(cudaMallocAsync(&bad, sizeof(int), 0), "cudaMallocAsync");
  FP_CUDA(cudaMemsetAsync(bad, 0, sizeof(int), 0), "cudaMemsetAsync");
  const size_t row_bytes = sizeof(T) * width;
  const bool wide = row_bytes % 16 == 0 && (reinterpret_cast<uintptr_t>(src) % 16) == 0 &&
                    (reinterpret_cast<uintptr_t>(dst) % 16) == 0;
  const int threads = 256;
  if (wide) {
    const int64_t vec = row_bytes / 16;
    const int64_t blocks = (count * vec + threads - 1) / threads;
    gather_kernel<<<(unsigned)(blocks < 65535 * 8 ? blocks : 65535 * 8), threads>>>(
        reinterpret_cast<const float4*>(src), rows, vec, index, count, reinterpret_cast<float4*>(dst), bad);
  } else {
    const int64_t blocks = (count * width + threads - 1) / threads;
    gather_kernel<<<(unsigned)(blocks < 65535 * 8 ? blocks : 65535 * 8), threads>>>(
        src, rows, width, index, count, dst, bad);
  }
  FP_CUDA(cudaGetLastError(), "gather launch");
  int host_bad = 0;
  FP_CUDA(cudaMemcpy(&host_bad, bad, sizeof(int), cudaMemcpyDeviceToHost), "cudaMemcpy");
  FP_CUDA(cudaFreeAsync(bad, 0), "cudaFreeAsync");
  if (host_bad) return fail(FP_ERR_INDEX, "an index is outside [0, %lld)", (long long)rows);
  return FP_OK;
}

}  // namespace

extern "C" {

int fp_cuda_compiled(void) { return 1; }

int fp_cuda_device_count(void) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cuda_fail(e, "cudaGetDeviceCount");
    return -1;
  }
  return count;
}

const char* fp_cuda_describe(void) {
  static thread_local std::string line;
  char buf[512];
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    void* drv = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (!drv) drv = dlopen("libcuda.so.1", RTLD_LAZY);
    const char* why = drv ? "driver present but unusable" : "driver missing (libcuda.so.1 not found)";
    if (drv) dlclose(drv);
    snprintf(buf, sizeof buf, "unavailable: %s; cudaGetDeviceCount: %s (%d): %s", why,
             cudaGetErrorName(e), (int)e, cudaGetErrorString(e));
    return (line = buf).c_str();
  }
  if (count == 0) return (line = "unavailable: no CUDA device").c_str();
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  snprintf(buf, sizeof buf, "available: %d device(s), driver %d.%d, runtime %d.%d", count,
           driver / 1000, (driver % 1000) / 10, runtime / 1000, (runtime % 1000) / 10);
  line = buf;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) == cudaSuccess) {
      snprintf(buf, sizeof buf, "; [%d] %s sm_%d%d %.1f GiB", i, p.name, p.major, p.minor,
               p.totalGlobalMem / (1024.0 * 1024.0 * 1024.0));
      line += buf;
    }
  }
  return line.c_str();
}

void* fp_cuda_malloc(int64_t bytes) {
  if (bytes <= 0) {
    fail(FP_ERR_ARG, "bytes must be > 0, got %lld", (long long)bytes);
    return nullptr;
  }
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, (size_t)bytes);
  if (e != cudaSuccess) {
    cuda_fail(e, "cudaMalloc");
    return nullptr;
  }
  return p;
}

int fp_cuda_free(void* ptr) {
  FP_CUDA(cudaFree(ptr), "cudaFree");
  return FP_OK;
}

int fp_cuda_memcpy(void* dst, const void* src, int64_t bytes, int32_t kind) {
  if (bytes < 0) return fail(FP_ERR_ARG, "bytes must be >= 0");
  if (bytes == 0) return FP_OK;
  if (!dst || !src) return fail(FP_ERR_ARG, "null pointer");
  cudaMemcpyKind k;
  switch (kind) {
    case FP_COPY_H2D: k = cudaMemcpyHostToDevice; break;
    case FP_COPY_D2H: k = cudaMemcpyDeviceToHost; break;
    case FP_COPY_D2D: k = cudaMemcpyDeviceToDevice; break;
    default: return fail(FP_ERR_ARG, "unknown copy kind %d", kind);
  }
  FP_CUDA(cudaMemcpy(dst, src, (size_t)bytes, k), "cudaMemcpy");
  return FP_OK;
}

int fp_cuda_synchronize(void) {
  FP_CUDA(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  return FP_OK;
}

int fp_cuda_gather_rows_f32(const float* src, int64_t rows, int64_t width, const int32_t* index,
                            int64_t count, float* dst) {
  return gather(src, rows, width, index, count, dst);
}

int fp_cuda_gather_rows_i32(const int32_t* src, int64_t rows, int64_t width, const int32_t* index,
                            int64_t count, int32_t* dst) {
  return gather(src, rows, width, index, count, dst);
}

}  // extern "C"
