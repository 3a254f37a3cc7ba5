// CUDA backend, part 1: device query, device memory, streams, conversion and row gather. The CUDA runtime is linked
// statically; it dlopens libcuda.so.1 at the first call, so on a machine without a driver every
// function here returns an error code and the rest of the library works.
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cstdio>
#include <string>

#include "common.cuh"

using namespace fp;
using namespace fp::cu;

int fp::cu::cuda_fail(cudaError_t e, const char* what) {
  cudaGetLastError();  // clear the runtime's last (non-sticky) error
  return fail(FP_ERR_CUDA, "%s: %s (%d): %s", what, cudaGetErrorName(e), (int)e, cudaGetErrorString(e));
}

namespace {

// One block per row (grid-stride over rows), threads across the row's V-sized vectors (float4
// when rows are 16-byte multiples and both pointers 16-byte aligned), unrolled so several loads
// are in flight per thread. A bad index is never read: its row is zero-filled and recorded.
template <class V>
__global__ void gather_kernel(const V* __restrict__ src, int64_t rows, int64_t vec,
                              const int32_t* __restrict__ index, int64_t count, V* __restrict__ dst,
                              int32_t* __restrict__ status) {
  for (int64_t r = blockIdx.x; r < count; r += gridDim.x) {
    const int32_t i = index[r];
    V* d = dst + r * vec;
    if (i < 0 || i >= rows) {
      if (threadIdx.x == 0) status_record(status, FP_ERR_INDEX, r);
      for (int64_t c = threadIdx.x; c < vec; c += blockDim.x) d[c] = V{};
      continue;
    }
    const V* s = src + (int64_t)i * vec;
#pragma unroll 4
    for (int64_t c = threadIdx.x; c < vec; c += blockDim.x) d[c] = s[c];
  }
}

template <class V>
void launch_gather(const void* src, int64_t rows, int64_t vec, const int32_t* index, int64_t count, void* dst,
                   int32_t* status, cudaStream_t stream) {
  int threads = (int)(vec >= 256 ? 256 : ((vec + 31) / 32) * 32);
  int blocks_cap = 132 * 16;
  int dev = 0, sms = 0;
  if (cudaGetDevice(&dev) == cudaSuccess &&
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess && sms > 0)
    blocks_cap = sms * (2048 / threads);
  const unsigned blocks = (unsigned)(count < blocks_cap ? count : blocks_cap);
  gather_kernel<V><<<blocks, threads, 0, stream>>>(static_cast<const V*>(src), rows, vec, index, count,
                                                   static_cast<V*>(dst), status);
}

// Launches the gather kernel for the widest access that row_bytes and both pointers allow.
int launch_gather_any(const void* src, int64_t rows, int64_t row_bytes, const int32_t* index, int64_t count,
                      void* dst, int32_t* status, cudaStream_t stream) {
  const uintptr_t s = reinterpret_cast<uintptr_t>(src), d = reinterpret_cast<uintptr_t>(dst);
  if (row_bytes % 16 == 0 && s % 16 == 0 && d % 16 == 0)
    launch_gather<float4>(src, rows, row_bytes / 16, index, count, dst, status, stream);
  else if (row_bytes % 8 == 0 && s % 8 == 0 && d % 8 == 0)
    launch_gather<float2>(src, rows, row_bytes / 8, index, count, dst, status, stream);
  else if (row_bytes % 4 == 0 && s % 4 == 0 && d % 4 == 0)
    launch_gather<float>(src, rows, row_bytes / 4, index, count, dst, status, stream);
  else
    launch_gather<unsigned char>(src, rows, row_bytes, index, count, dst, status, stream);
  FP_CUDA(cudaGetLastError(), "gather launch");
  return FP_OK;
}

int check_gather(const void* src, int64_t rows, int64_t row_bytes, const int32_t* index, int64_t count,
                 const void* dst) {
  if (rows < 0 || row_bytes < 0 || count < 0)
    return fail(FP_ERR_ARG, "rows, row_bytes and count must be >= 0, got %lld, %lld, %lld", (long long)rows,
                (long long)row_bytes, (long long)count);
  if (count == 0 || row_bytes == 0) return FP_OK;
  if (!src || !index || !dst) return fail(FP_ERR_ARG, "null device pointer");
  int64_t src_bytes = 0, dst_bytes = 0;
  if (__builtin_mul_overflow(rows, row_bytes, &src_bytes) || __builtin_mul_overflow(count, row_bytes, &dst_bytes))
    return fail(FP_ERR_ARG, "rows * row_bytes or count * row_bytes overflows");
  const uintptr_t s = reinterpret_cast<uintptr_t>(src), d = reinterpret_cast<uintptr_t>(dst);
  if (s == d) {
    if (count > rows)
      return fail(FP_ERR_ARG, "in-place gather: count (%lld) must be <= rows (%lld)", (long long)count,
                  (long long)rows);
  } else if (d < s + (uint64_t)src_bytes && s < d + (uint64_t)dst_bytes) {
    return fail(FP_ERR_ARG, "dst overlaps src without being src (in place needs dst == src)");
  }
  return FP_OK;
}

int gather_async(const void* src, int64_t rows, int64_t row_bytes, const int32_t* index, int64_t count, void* dst,
                 int32_t* status, cudaStream_t stream) {
  if (int st = check_gather(src, rows, row_bytes, index, count, dst)) return st;
  if (count == 0 || row_bytes == 0) return FP_OK;
  if (src != dst) return launch_gather_any(src, rows, row_bytes, index, count, dst, status, stream);
  // In place: rows may be read after they were overwritten, so gather into a stream-ordered
  // temporary and copy back; both stay on the stream, nothing waits.
  void* tmp = nullptr;
  const size_t bytes = (size_t)(count * row_bytes);
  FP_CUDA(cudaMallocAsync(&tmp, bytes, stream), "cudaMallocAsync(in-place gather)");
  int st = launch_gather_any(src, rows, row_bytes, index, count, tmp, status, stream);
  if (st == FP_OK) {
    const cudaError_t e = cudaMemcpyAsync(dst, tmp, bytes, cudaMemcpyDeviceToDevice, stream);
    if (e != cudaSuccess) st = cuda_fail(e, "cudaMemcpyAsync(in-place gather)");
  }
  const cudaError_t e = cudaFreeAsync(tmp, stream);
  if (e != cudaSuccess) {
    if (st == FP_OK) return cuda_fail(e, "cudaFreeAsync(in-place gather)");
    cudaGetLastError();
  }
  return st;
}

template <class T>
int gather(const T* src, int64_t rows, int64_t width, const int32_t* index, int64_t count, T* dst) {
  if (rows < 0 || width < 0 || count < 0)
    return fail(FP_ERR_ARG, "rows, width and count must be >= 0");
  int64_t row_bytes = 0;
  if (__builtin_mul_overflow(width, (int64_t)sizeof(T), &row_bytes)) return fail(FP_ERR_ARG, "width overflows");
  if (int st = check_gather(src, rows, row_bytes, index, count, dst)) return st;
  if (count == 0 || width == 0) return FP_OK;
  const int st = run_checked(nullptr, [&](int32_t* status) {
    return gather_async(src, rows, row_bytes, index, count, dst, status, nullptr);
  });
  if (st == FP_ERR_INDEX) return fail(FP_ERR_INDEX, "an index is outside [0, %lld)", (long long)rows);
  return st;
}

template <class S, class D>
__global__ void convert_kernel(const S* __restrict__ src, D* __restrict__ dst, int64_t count) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count; i += (int64_t)gridDim.x * blockDim.x)
    dst[i] = Elem<D>::from_float(Elem<S>::to_float(src[i]));
}

template <class S>
int convert_from(const S* src, int32_t dst_dtype, void* dst, int64_t count, cudaStream_t stream) {
  const int threads = 256;
  const int64_t want = (count + threads - 1) / threads;
  const unsigned blocks = (unsigned)(want < 65535 * 4 ? want : 65535 * 4);
  switch (dst_dtype) {
    case FP_DTYPE_F32: convert_kernel<S, float><<<blocks, threads, 0, stream>>>(src, (float*)dst, count); break;
    case FP_DTYPE_F16: convert_kernel<S, __half><<<blocks, threads, 0, stream>>>(src, (__half*)dst, count); break;
    case FP_DTYPE_BF16:
      convert_kernel<S, __nv_bfloat16><<<blocks, threads, 0, stream>>>(src, (__nv_bfloat16*)dst, count);
      break;
    default: return fail(FP_ERR_ARG, "unknown destination dtype %d", dst_dtype);
  }
  FP_CUDA(cudaGetLastError(), "convert launch");
  return FP_OK;
}

const char* describe() {
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

// The status word of the asynchronous calls, read back (synchronising the stream) as a status.
int status_check(int32_t* status, void* stream) {
  if (!status) return fail(FP_ERR_ARG, "null status word");
  cudaStream_t s = as_stream(stream);
  int32_t word = 0;
  FP_CUDA(cudaMemcpyAsync(&word, status, sizeof word, cudaMemcpyDeviceToHost, s), "cudaMemcpyAsync(status word)");
  FP_CUDA(cudaStreamSynchronize(s), "cudaStreamSynchronize");  // also reports failures of work on the stream
  if (word == 0) return FP_OK;
  FP_CUDA(cudaMemsetAsync(status, 0, sizeof word, s), "cudaMemsetAsync(status word)");
  const int code = (word >> 24) & 0x7f, where = word & 0xffffff;
  switch (code) {
    case FP_ERR_VALUE: return fail(FP_ERR_VALUE, "self*cross is not finite (NaN or infinity) at visual token %d", where);
    case FP_ERR_INDEX: return fail(FP_ERR_INDEX, "a gather index is outside [0, rows) at output row %d", where);
    default: return fail(FP_ERR_INTERNAL, "status word 0x%08x holds no known status", (unsigned)word);
  }
}

}  // namespace

extern "C" {

int fp_cuda_compiled(void) { return 1; }

int fp_cuda_device_count(void) {
  return guarded([&]() -> int {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      cuda_fail(e, "cudaGetDeviceCount");
      return -1;
    }
    return count;
  });
}

const char* fp_cuda_describe(void) {
  try {
    return describe();
  } catch (...) {  // no C++ exception crosses the C API
    return "unknown: out of memory while describing the devices";
  }
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
  return guarded([&]() -> int {
    FP_CUDA(cudaFree(ptr), "cudaFree");
    return FP_OK;
  });
}

int fp_cuda_memcpy(void* dst, const void* src, int64_t bytes, int32_t kind) {
  return guarded([&]() -> int {
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
  });
}

int fp_cuda_synchronize(void) {
  return guarded([&]() -> int {
    FP_CUDA(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    return FP_OK;
  });
}

int fp_cuda_gather_rows_f32(const float* src, int64_t rows, int64_t width, const int32_t* index,
                            int64_t count, float* dst) {
  return guarded([&]() -> int {
    return gather(src, rows, width, index, count, dst);
  });
}

int fp_cuda_gather_rows_i32(const int32_t* src, int64_t rows, int64_t width, const int32_t* index,
                            int64_t count, int32_t* dst) {
  return guarded([&]() -> int {
    return gather(src, rows, width, index, count, dst);
  });
}


int fp_cuda_memset(void* dst, int32_t byte_value, int64_t bytes) {
  return guarded([&]() -> int {
    if (bytes < 0) return fail(FP_ERR_ARG, "bytes must be >= 0");
    if (bytes == 0) return FP_OK;
    if (!dst) return fail(FP_ERR_ARG, "null pointer");
    FP_CUDA(cudaMemset(dst, byte_value, (size_t)bytes), "cudaMemset");
    return FP_OK;
  });
}

int fp_cuda_stream_create(void** stream) {
  return guarded([&]() -> int {
    if (!stream) return fail(FP_ERR_ARG, "null stream out-pointer");
    cudaStream_t s = nullptr;
    FP_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
    *stream = s;
    return FP_OK;
  });
}

int fp_cuda_stream_destroy(void* stream) {
  return guarded([&]() -> int {
    if (!stream) return FP_OK;
    FP_CUDA(cudaStreamDestroy(as_stream(stream)), "cudaStreamDestroy");
    return FP_OK;
  });
}

int fp_cuda_stream_synchronize(void* stream) {
  return guarded([&]() -> int {
    FP_CUDA(cudaStreamSynchronize(as_stream(stream)), "cudaStreamSynchronize");
    return FP_OK;
  });
}

int fp_cuda_convert(const void* src, int32_t src_dtype, void* dst, int32_t dst_dtype, int64_t count, void* stream) {
  return guarded([&]() -> int {
    if (count < 0) return fail(FP_ERR_ARG, "count must be >= 0, got %lld", (long long)count);
    if (fp_dtype_size(src_dtype) == 0 || fp_dtype_size(dst_dtype) == 0)
      return fail(FP_ERR_ARG, "unknown dtype (src %d, dst %d)", src_dtype, dst_dtype);
    if (count == 0) return FP_OK;
    if (!src || !dst) return fail(FP_ERR_ARG, "null device pointer");
    cudaStream_t s = as_stream(stream);
    switch (src_dtype) {
      case FP_DTYPE_F32: return convert_from(static_cast<const float*>(src), dst_dtype, dst, count, s);
      case FP_DTYPE_F16: return convert_from(static_cast<const __half*>(src), dst_dtype, dst, count, s);
      default: return convert_from(static_cast<const __nv_bfloat16*>(src), dst_dtype, dst, count, s);
    }
  });
}

int fp_cuda_gather_rows(const void* src, int64_t rows, int64_t row_bytes, const int32_t* index, int64_t count,
                        void* dst, int32_t* status, void* stream) {
  return guarded([&]() -> int {
    return gather_async(src, rows, row_bytes, index, count, dst, status, as_stream(stream));
  });
}

int fp_cuda_status_check(int32_t* status, void* stream) {
  return guarded([&]() -> int { return status_check(status, stream); });
}

}  // extern "C"
