// Shared by the CUDA sources: element types, error helpers, and the inline-PTX building blocks
// (cp.async, ldmatrix, mma.sync m16n8k16) of the tensor-core kernels. sm_80 and later.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "fitprune.h"
#include "internal.h"

namespace fp {
namespace cu {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// Clears the runtime's last error and records the failure in fp_last_error().
int cuda_fail(cudaError_t e, const char* what);

#define FP_CUDA(call, what)                                    \
  do {                                                         \
    cudaError_t e_ = (call);                                   \
    if (e_ != cudaSuccess) return ::fp::cu::cuda_fail(e_, what); \
  } while (0)

inline cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

// Records an error in a status word (see fitprune.h): code in bits 24..30, position in bits
// 0..23; the smallest nonzero word wins, so the report does not depend on thread timing.
__device__ __forceinline__ void status_record(int32_t* status, int code, int64_t where) {
  if (status == nullptr) return;
  const int32_t w = (int32_t)(((uint32_t)code << 24) | (uint32_t)(where < 0xffffff ? where : 0xffffff));
  int32_t old = *reinterpret_cast<volatile int32_t*>(status);
  while (old == 0 || w < old) {
    const int32_t seen = atomicCAS(reinterpret_cast<int*>(status), old, w);
    if (seen == old) break;
    old = seen;
  }
}

// Runs `enqueue(status)` with a temporary zeroed status word on `s` and checks it
// (fp_cuda_status_check): the synchronous form of an asynchronous call.
template <class F>
int run_checked(cudaStream_t s, F enqueue) {
  int32_t* status = nullptr;
  FP_CUDA(cudaMallocAsync(reinterpret_cast<void**>(&status), sizeof(int32_t), s), "cudaMallocAsync(status word)");
  int st = FP_OK;
  cudaError_t e = cudaMemsetAsync(status, 0, sizeof(int32_t), s);
  if (e != cudaSuccess) st = cuda_fail(e, "cudaMemsetAsync(status word)");
  if (st == FP_OK) st = enqueue(status);
  if (st == FP_OK) st = fp_cuda_status_check(status, s);
  e = cudaFreeAsync(status, s);  // stream-ordered: after the enqueued work, whatever happened
  if (e != cudaSuccess) {
    if (st == FP_OK) return cuda_fail(e, "cudaFreeAsync(status word)");
    cudaGetLastError();  // keep the first error; clear this one so a later launch check does not see it
  }
  return st;
}

// Raises a kernel's dynamic shared-memory limit once per device (cached only on success).
template <class Kernel>
inline int ensure_smem(Kernel kernel, int bytes, unsigned long long& done_devices) {
  int dev = 0;
  FP_CUDA(cudaGetDevice(&dev), "cudaGetDevice");
  const unsigned long long bit = dev < 64 ? 1ull << dev : 0ull;
  if (bit && (__atomic_load_n(&done_devices, __ATOMIC_ACQUIRE) & bit)) return FP_OK;
  FP_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes),
          "cudaFuncSetAttribute(max dynamic shared memory)");
  __atomic_fetch_or(&done_devices, bit, __ATOMIC_RELEASE);
  return FP_OK;
}

// ---- element types ----
template <class T> struct Elem;
template <> struct Elem<float> {
  static __device__ __forceinline__ float to_float(float x) { return x; }
  static __device__ __forceinline__ float from_float(float x) { return x; }
};
template <> struct Elem<__half> {
  static __device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
  static __device__ __forceinline__ __half from_float(float x) { return __float2half_rn(x); }
  // Two floats packed into one 32-bit register: lower element in the low half (mma operand order).
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
  static __device__ __forceinline__ void store2(__half* p, float a, float b) {
    *reinterpret_cast<__half2*>(p) = __floats2half2_rn(a, b);
  }
};
template <> struct Elem<__nv_bfloat16> {
  static __device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
  static __device__ __forceinline__ __nv_bfloat16 from_float(float x) { return __float2bfloat16_rn(x); }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
    __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t*>(&h);
  }
  static __device__ __forceinline__ void store2(__nv_bfloat16* p, float a, float b) {
    *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(a, b);
  }
};

// ---- async copies (16 bytes; src_bytes = 0 zero-fills the destination) ----
__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)), "l"(gmem),
               "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

// ---- ldmatrix: four 8x8 b16 matrices; lane l gives the address of row (l % 8) of matrix l / 8 ----
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(smem)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(smem)));
}

// ---- D (16x8 fp32) += A (16x16) * B (16x8), fp16 or bf16 operands ----
template <class T>
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma16816<__half>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                        uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ float fast_exp2(float x) {  // ex2.approx: exp2(-inf) = 0
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Row-major tile of b16 elements with D columns, stored as 16-byte chunks swizzled by XOR with
// (row % 8): the 8 rows one ldmatrix reads at the same column land in 8 different bank groups.
template <int D>
__device__ __forceinline__ int swz(int row, int col) {  // element offset of (row, col)
  constexpr int chunks = D / 8;
  static_assert(chunks >= 8, "swizzle needs at least 8 chunks per row");
  const int chunk = (col >> 3) ^ (row & 7);
  return row * D + chunk * 8 + (col & 7);
}

// Copies rows [row0, row0+ROWS) of a [*, ld] matrix (only rows < limit are real, others zero)
// into a swizzled ROWS x D tile, 16 bytes per cp.async, all threads of the block taking part.
template <class T, int ROWS, int D, int THREADS>
__device__ __forceinline__ void load_tile(T* tile, const T* base, int64_t ld, int64_t row0, int64_t limit) {
  constexpr int chunks = D / 8;
  for (int i = threadIdx.x; i < ROWS * chunks; i += THREADS) {
    const int r = i / chunks, c = i % chunks;
    const int64_t row = row0 + r;
    const bool ok = row < limit;
    const T* src = base + (ok ? row : 0) * ld + c * 8;
    cp_async16(tile + swz<D>(r, c * 8), src, ok);
  }
}

}  // namespace cu
}  // namespace fp
