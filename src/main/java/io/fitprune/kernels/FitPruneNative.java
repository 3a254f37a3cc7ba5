package io.fitprune.kernels;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * The JavaCPP binding of {@code src/main/cpp/fitprune.h}, one to one and nothing clever: the
 * validating, typed API is {@link Kernels}. Every {@code int} result is a status code
 * ({@link #FP_OK} or an error whose message is in {@link #fp_last_error()}).
 *
 * <p>The archives are built by {@code src/main/native/build.sh}; JavaCPP passes link names in
 * reverse order, so dependencies come first, and the trailing {@code #} keeps the loader from
 * looking for them at run time (they are static). {@link NativeLibrary} loads the library (not
 * JavaCPP's {@code Loader.load()}, see there why); when that failed, these methods throw
 * {@code UnsatisfiedLinkError}, and the typed API a {@link FitPruneException} naming the cause.
 */
@Platform(include = "fitprune.h", link = {"cudart_static#", "fitprune_cpu#", "fitprune_cuda#"})
public final class FitPruneNative {
  static {
    NativeLibrary.attempted(); // loads the library; a failure is reported by NativeLibrary, not thrown here
  }

  private FitPruneNative() {}

  public static final int FP_OK = 0, FP_ERR_ARG = 1, FP_ERR_INDEX = 2, FP_ERR_NOMEM = 3,
      FP_ERR_CUDA = 4, FP_ERR_UNAVAILABLE = 5, FP_ERR_VALUE = 6, FP_ERR_INTERNAL = 7;
  public static final int FP_ISA_AUTO = -1, FP_ISA_GENERIC = 0, FP_ISA_AVX2 = 1, FP_ISA_AVX512 = 2,
      FP_ISA_AVX512_BF16 = 3;
  public static final int FP_COPY_H2D = 1, FP_COPY_D2H = 2, FP_COPY_D2D = 3;
  public static final int FP_LINEAR_ACCUMULATE = 1, FP_LINEAR_SWIGLU = 2;

  public static native String fp_version();

  public static native String fp_last_error();

  public static native int fp_cpu_isa_supported(int isa);

  public static native int fp_cpu_isa();

  public static native int fp_cpu_set_isa(int isa);

  public static native String fp_cpu_features();

  public static native int fp_cpu_threads();

  public static native int fp_cpu_set_threads(int threads);

  public static native int fp_tune_malloc(long mmapThreshold, long trimThreshold);

  public static native int fp_prefer_passive_omp();

  public static native int fp_cpu_attention_f32(@Cast("const float*") FloatPointer q,
      @Cast("const float*") FloatPointer k, @Cast("const float*") FloatPointer v,
      @Cast("int64_t") long n, int heads, int kvHeads, int headDim, FloatPointer out, FloatPointer lse);

  public static native int fp_cpu_scores_f32(@Cast("const float*") FloatPointer q,
      @Cast("const float*") FloatPointer k, @Cast("const float*") FloatPointer lse,
      @Cast("int64_t") long n, int heads, int kvHeads, int headDim,
      @Cast("int64_t") long prefix, @Cast("int64_t") long visual,
      FloatPointer selfScore, FloatPointer crossScore);

  public static native int fp_cpu_attention(@Cast("const void*") Pointer q, @Cast("const void*") Pointer k,
      @Cast("const void*") Pointer v, @Cast("int64_t") long n, int heads, int kvHeads, int headDim, int dtype,
      float softmaxScale, Pointer out, int outDtype, @Cast("float*") Pointer lse);

  public static native int fp_cpu_scores(@Cast("const void*") Pointer q, @Cast("const void*") Pointer k,
      @Cast("const float*") Pointer lse, @Cast("int64_t") long n, int heads, int kvHeads, int headDim, int dtype,
      float softmaxScale, @Cast("int64_t") long prefix, @Cast("int64_t") long visual,
      @Cast("float*") Pointer selfScore, @Cast("float*") Pointer crossScore);

  public static native int fp_cpu_attention_scores(@Cast("const void*") Pointer q, @Cast("const void*") Pointer k,
      @Cast("const void*") Pointer v, @Cast("int64_t") long n, int heads, int kvHeads, int headDim, int dtype,
      float softmaxScale, Pointer out, int outDtype, @Cast("float*") Pointer lse, @Cast("int64_t") long prefix,
      @Cast("int64_t") long visual, @Cast("float*") Pointer selfScore, @Cast("float*") Pointer crossScore);

  public static native int fp_cpu_gather_rows(@Cast("const void*") Pointer src, @Cast("int64_t") long rows,
      @Cast("int64_t") long rowBytes, @Cast("const int32_t*") Pointer index, @Cast("int64_t") long count,
      Pointer dst);

  public static native int fp_select_keep(@Cast("const float*") FloatPointer selfScore,
      @Cast("const float*") FloatPointer crossScore, @Cast("int64_t") long n,
      @Cast("int64_t") long prefix, @Cast("int64_t") long visual, @Cast("int64_t") long drop,
      @Cast("int32_t*") IntPointer keep);

  public static native int fp_cpu_gather_rows_f32(@Cast("const float*") FloatPointer src,
      @Cast("int64_t") long rows, @Cast("int64_t") long width,
      @Cast("const int32_t*") IntPointer index, @Cast("int64_t") long count, FloatPointer dst);

  public static native int fp_cpu_gather_rows_i32(@Cast("const int32_t*") IntPointer src,
      @Cast("int64_t") long rows, @Cast("int64_t") long width,
      @Cast("const int32_t*") IntPointer index, @Cast("int64_t") long count,
      @Cast("int32_t*") IntPointer dst);

  // ---- packed batches and decode (CPU); int64 arrays are pinned for the call ----

  public static native int fp_cpu_attention_varlen(@Cast("const void*") Pointer q, @Cast("const void*") Pointer k,
      @Cast("const void*") Pointer v, @Cast("const int64_t*") long[] cuSeqlens, @Cast("int64_t") long batch, int heads,
      int kvHeads, int headDim, int dtype, float softmaxScale, Pointer out, int outDtype, @Cast("float*") Pointer lse);

  public static native int fp_cpu_attention_varlen_kv(@Cast("const void*") Pointer q, @Cast("const void*") Pointer k,
      @Cast("const void*") Pointer v, @Cast("const int64_t*") long[] cuSeqlensQ, @Cast("const int64_t*") long[] cuSeqlensK,
      @Cast("int64_t") long batch, int heads, int kvHeads, int headDim, int dtype, float softmaxScale, Pointer out,
      int outDtype, @Cast("float*") Pointer lse);

  public static native int fp_cpu_scores_varlen(@Cast("const void*") Pointer q, @Cast("const void*") Pointer k,
      @Cast("const float*") Pointer lse, @Cast("const int64_t*") long[] cuSeqlens, @Cast("int64_t") long batch,
      int heads, int kvHeads, int headDim, int dtype, float softmaxScale, @Cast("const int64_t*") long[] spans,
      @Cast("float*") Pointer selfScore, @Cast("float*") Pointer crossScore);

  public static native int fp_cpu_attention_scores_varlen(@Cast("const void*") Pointer q,
      @Cast("const void*") Pointer k, @Cast("const void*") Pointer v, @Cast("const int64_t*") long[] cuSeqlens,
      @Cast("int64_t") long batch, int heads, int kvHeads, int headDim, int dtype, float softmaxScale, Pointer out,
      int outDtype, @Cast("float*") Pointer lse, @Cast("const int64_t*") long[] spans,
      @Cast("float*") Pointer selfScore, @Cast("float*") Pointer crossScore);

  public static native int fp_select_keep_varlen(@Cast("const float*") FloatPointer selfScore,
      @Cast("const float*") FloatPointer crossScore, @Cast("const int64_t*") long[] cuSeqlens,
      @Cast("int64_t") long batch, @Cast("const int64_t*") long[] spans, @Cast("const int64_t*") long[] drop,
      @Cast("int32_t*") IntPointer keep);

  /** kCache and vCache: one native address per sequence. */
  public static native int fp_cpu_decode_attention(@Cast("const void*") Pointer q, @Cast("const int64_t*") long[] cuQ,
      @Cast("int64_t") long batch, int heads, int kvHeads, int headDim, int dtype, float softmaxScale,
      @Cast("const void* const*") long[] kCache, @Cast("const void* const*") long[] vCache,
      @Cast("const int64_t*") long[] kvLen, Pointer out, int outDtype, @Cast("float*") Pointer lse);

  /** blockTable: [batch, maxBlocks] block ids, pinned for the call. */
  public static native int fp_cpu_paged_decode_attention(@Cast("const void*") Pointer q,
      @Cast("const int64_t*") long[] cuQ, @Cast("int64_t") long batch, int heads, int kvHeads, int headDim, int dtype,
      float softmaxScale, @Cast("const void*") Pointer kPool, @Cast("const void*") Pointer vPool,
      @Cast("int64_t") long numBlocks, int blockSize, @Cast("const int32_t*") int[] blockTable,
      @Cast("int64_t") long maxBlocks, @Cast("const int64_t*") long[] kvLen, Pointer out, int outDtype,
      @Cast("float*") Pointer lse);

  /** kCache and vCache: one native address per sequence. */
  public static native int fp_cpu_kv_append(@Cast("const void*") Pointer k, @Cast("const void*") Pointer v,
      @Cast("const int64_t*") long[] cuQ, @Cast("int64_t") long batch, int kvHeads, int headDim, int dtype,
      @Cast("void* const*") long[] kCache, @Cast("void* const*") long[] vCache, @Cast("const int64_t*") long[] capacity,
      @Cast("const int64_t*") long[] kvLen);

  public static native int fp_cpu_kv_append_paged(@Cast("const void*") Pointer k, @Cast("const void*") Pointer v,
      @Cast("int64_t") long n, int kvHeads, int headDim, int dtype, Pointer kPool, Pointer vPool,
      @Cast("int64_t") long numBlocks, int blockSize, @Cast("const int64_t*") long[] slotMapping);

  /** kCache and vCache: one native address per sequence. */
  public static native int fp_cpu_decode_attention_f32(@Cast("const float*") FloatPointer q,
      @Cast("const int64_t*") long[] cuQ, @Cast("int64_t") long batch, int heads, int kvHeads, int headDim,
      @Cast("const float* const*") long[] kCache, @Cast("const float* const*") long[] vCache,
      @Cast("const int64_t*") long[] kvLen, FloatPointer out, FloatPointer lse);

  /** w and y: one native address per matrix. */
  public static native int fp_cpu_linear(@Cast("const float*") FloatPointer x, @Cast("int64_t") long rows,
      @Cast("int64_t") long k, int count, @Cast("const void* const*") long[] w, @Cast("const int32_t*") int[] wDtype,
      @Cast("const int64_t*") long[] n, @Cast("float* const*") long[] y, int accumulate);

  /** Addresses: the decoder's step buffers, norm weights and cache rows, held as raw native memory. */
  public static native int fp_cpu_rms_norm(@Cast("const float*") long x, @Cast("float*") long y,
      @Cast("int64_t") long rows, @Cast("int64_t") long width, @Cast("const float*") long weight, double eps);

  public static native int fp_cpu_round_bf16(@Cast("const float*") long src, @Cast("uint16_t*") long dst,
      @Cast("int64_t") long count);

  public static native int fp_cpu_read_stream(@Cast("const void*") Pointer p, @Cast("int64_t") long bytes, int threads,
      @Cast("uint64_t*") long[] checksum);

  public static native int fp_first_nonfinite_f32(@Cast("const float*") FloatPointer x, @Cast("int64_t") long count,
      @Cast("int64_t*") org.bytedeco.javacpp.LongPointer index);

  public static native int fp_cuda_compiled();

  public static native int fp_cuda_device_count();

  public static native String fp_cuda_describe();

  public static native Pointer fp_cuda_malloc(@Cast("int64_t") long bytes);

  public static native int fp_cuda_free(Pointer ptr);

  public static native int fp_cuda_memcpy(Pointer dst, @Cast("const void*") Pointer src,
      @Cast("int64_t") long bytes, int kind);

  public static native int fp_cuda_synchronize();

  public static final int FP_DTYPE_F32 = 0, FP_DTYPE_F16 = 1, FP_DTYPE_BF16 = 2;

  public static native int fp_dtype_size(int dtype);

  public static native int fp_cuda_memset(Pointer dst, int byteValue, @Cast("int64_t") long bytes);

  public static native int fp_cuda_stream_create(@Cast("void**") PointerPointer<?> stream);

  public static native int fp_cuda_stream_destroy(Pointer stream);

  public static native int fp_cuda_stream_synchronize(Pointer stream);

  public static native int fp_cuda_set_option(String name, int value);

  public static native int fp_cuda_convert(@Cast("const void*") Pointer src, int srcDtype, Pointer dst, int dstDtype,
      @Cast("int64_t") long count, Pointer stream);

  public static native int fp_cuda_attention(@Cast("const void*") Pointer q, @Cast("const void*") Pointer k,
      @Cast("const void*") Pointer v, @Cast("int64_t") long n, int heads, int kvHeads, int headDim, int dtype,
      float softmaxScale, Pointer out, @Cast("float*") Pointer lse, Pointer stream);

  public static native int fp_cuda_scores(@Cast("const void*") Pointer q, @Cast("const void*") Pointer k,
      @Cast("const float*") Pointer lse, @Cast("int64_t") long n, int heads, int kvHeads, int headDim, int dtype,
      float softmaxScale, @Cast("int64_t") long prefix, @Cast("int64_t") long visual,
      @Cast("float*") Pointer selfScore, @Cast("float*") Pointer crossScore, Pointer stream);

  /** cuSeqlens and spans are host arrays. */
  public static native int fp_cuda_attention_varlen(@Cast("const void*") Pointer q, @Cast("const void*") Pointer k,
      @Cast("const void*") Pointer v, @Cast("const int64_t*") long[] cuSeqlens, @Cast("int64_t") long batch, int heads,
      int kvHeads, int headDim, int dtype, float softmaxScale, Pointer out, @Cast("float*") Pointer lse,
      Pointer stream);

  public static native int fp_cuda_scores_varlen(@Cast("const void*") Pointer q, @Cast("const void*") Pointer k,
      @Cast("const float*") Pointer lse, @Cast("const int64_t*") long[] cuSeqlens, @Cast("int64_t") long batch, int heads,
      int kvHeads, int headDim, int dtype, float softmaxScale, @Cast("const int64_t*") long[] spans,
      @Cast("float*") Pointer selfScore, @Cast("float*") Pointer crossScore, Pointer stream);

  /** kCache and vCache: one device address per sequence (host arrays). */
  public static native int fp_cuda_decode_attention(@Cast("const void*") Pointer q, @Cast("const int64_t*") long[] cuQ,
      @Cast("int64_t") long batch, int heads, int kvHeads, int headDim, int dtype, float softmaxScale,
      @Cast("const void* const*") long[] kCache, @Cast("const void* const*") long[] vCache,
      @Cast("const int64_t*") long[] kvLen, Pointer out, @Cast("float*") Pointer lse, Pointer stream);

  /** kPool, vPool, q, out, lse: device memory; blockTable, cuQ, kvLen: host arrays. */
  public static native int fp_cuda_paged_decode_attention(@Cast("const void*") Pointer q,
      @Cast("const int64_t*") long[] cuQ, @Cast("int64_t") long batch, int heads, int kvHeads, int headDim, int dtype,
      float softmaxScale, @Cast("const void*") Pointer kPool, @Cast("const void*") Pointer vPool,
      @Cast("int64_t") long numBlocks, int blockSize, @Cast("const int32_t*") int[] blockTable,
      @Cast("int64_t") long maxBlocks, @Cast("const int64_t*") long[] kvLen, Pointer out, @Cast("float*") Pointer lse,
      Pointer stream);

  /** cuSeqlensQ and cuSeqlensK are host arrays. */
  public static native int fp_cuda_attention_varlen_kv(@Cast("const void*") Pointer q, @Cast("const void*") Pointer k,
      @Cast("const void*") Pointer v, @Cast("const int64_t*") long[] cuSeqlensQ, @Cast("const int64_t*") long[] cuSeqlensK,
      @Cast("int64_t") long batch, int heads, int kvHeads, int headDim, int dtype, float softmaxScale, Pointer out,
      int outDtype, @Cast("float*") Pointer lse, Pointer stream);

  /** kCache and vCache: one device address per sequence (host arrays). */
  public static native int fp_cuda_kv_append(@Cast("const void*") Pointer k, @Cast("const void*") Pointer v,
      @Cast("const int64_t*") long[] cuQ, @Cast("int64_t") long batch, int kvHeads, int headDim, int dtype,
      @Cast("void* const*") long[] kCache, @Cast("void* const*") long[] vCache, @Cast("const int64_t*") long[] capacity,
      @Cast("const int64_t*") long[] kvLen, Pointer stream);

  public static native int fp_cuda_kv_append_paged(@Cast("const void*") Pointer k, @Cast("const void*") Pointer v,
      @Cast("int64_t") long n, int kvHeads, int headDim, int dtype, Pointer kPool, Pointer vPool,
      @Cast("int64_t") long numBlocks, int blockSize, @Cast("const int64_t*") long[] slotMapping, Pointer stream);

  public static native int fp_cuda_select_keep(@Cast("const float*") Pointer selfScore,
      @Cast("const float*") Pointer crossScore, @Cast("int64_t") long n, @Cast("int64_t") long prefix,
      @Cast("int64_t") long visual, @Cast("int64_t") long drop, @Cast("int32_t*") Pointer keep, Pointer stream);

  public static native int fp_cuda_select_keep_async(@Cast("const float*") Pointer selfScore,
      @Cast("const float*") Pointer crossScore, @Cast("int64_t") long n, @Cast("int64_t") long prefix,
      @Cast("int64_t") long visual, @Cast("int64_t") long drop, @Cast("int32_t*") Pointer keep,
      @Cast("int32_t*") Pointer status, Pointer stream);

  public static native int fp_cuda_gather_rows(@Cast("const void*") Pointer src, @Cast("int64_t") long rows,
      @Cast("int64_t") long rowBytes, @Cast("const int32_t*") Pointer index, @Cast("int64_t") long count,
      Pointer dst, @Cast("int32_t*") Pointer status, Pointer stream);

  public static native int fp_cuda_status_check(@Cast("int32_t*") Pointer status, Pointer stream);

  public static native int fp_cuda_gather_rows_f32(@Cast("const float*") FloatPointer src,
      @Cast("int64_t") long rows, @Cast("int64_t") long width,
      @Cast("const int32_t*") IntPointer index, @Cast("int64_t") long count, FloatPointer dst);

  public static native int fp_cuda_gather_rows_i32(@Cast("const int32_t*") IntPointer src,
      @Cast("int64_t") long rows, @Cast("int64_t") long width,
      @Cast("const int32_t*") IntPointer index, @Cast("int64_t") long count,
      @Cast("int32_t*") IntPointer dst);
}
