package io.fitprune.kernels;

import static io.fitprune.kernels.BatchKernelsTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/**
 * The host side of the CUDA packed-batch and decode entry points, which CI runs without a GPU:
 * the C API refuses bad offsets, spans, dtypes and cache lengths before touching the device, and
 * the Java API before the native call. The kernels themselves run in benchmarks/gpu/check.py.
 */
class CudaBatchChecksTest {
  private static final Pointer FAKE = new Pointer() {
    {
      address = 1L << 20; // never dereferenced: every call below fails its argument checks first
    }
  };

  /** The expected status: the check's, or UNAVAILABLE in a build without CUDA (the stub). */
  private static void expectArg(int status, String part) {
    if (FitPruneNative.fp_cuda_compiled() == 0) {
      assertEquals(FitPruneNative.FP_ERR_UNAVAILABLE, status);
      return;
    }
    assertEquals(FitPruneNative.FP_ERR_ARG, status, FitPruneNative.fp_last_error());
    assertTrue(FitPruneNative.fp_last_error().contains(part), FitPruneNative.fp_last_error());
  }

  @Test
  void nativeChecksComeBeforeTheDevice() {
    int f16 = FitPruneNative.FP_DTYPE_F16;
    expectArg(FitPruneNative.fp_cuda_attention_varlen(FAKE, FAKE, FAKE, new long[] {0, 70, 60}, 2, 8, 2, 64, f16, 0.125f,
        FAKE, FAKE, null), "cu_seqlens");
    expectArg(FitPruneNative.fp_cuda_attention_varlen(FAKE, FAKE, FAKE, new long[] {1, 70}, 1, 8, 2, 64, f16, 0.125f,
        FAKE, FAKE, null), "cu_seqlens[0]");
    expectArg(FitPruneNative.fp_cuda_attention_varlen(FAKE, FAKE, FAKE, new long[] {0, 70}, 1, 8, 2, 64,
        FitPruneNative.FP_DTYPE_F32, 0.125f, FAKE, FAKE, null), "fp16 or bf16");
    expectArg(FitPruneNative.fp_cuda_attention_varlen(FAKE, FAKE, FAKE, new long[] {0, 70}, 1, 8, 2, 80, f16, 0.125f,
        FAKE, FAKE, null), "head_dim");
    expectArg(FitPruneNative.fp_cuda_scores_varlen(FAKE, FAKE, FAKE, new long[] {0, 10, 30}, 2, 8, 2, 64, f16, 0.125f,
        new long[] {0, 10, 15, 6}, FAKE, FAKE, null), "sequence 1");
    expectArg(FitPruneNative.fp_cuda_scores_varlen(FAKE, FAKE, FAKE, new long[] {0, 10}, 1, 8, 2, 64, f16, 0.125f,
        new long[] {Long.MAX_VALUE, 5}, FAKE, FAKE, null), "sequence 0");
    expectArg(FitPruneNative.fp_cuda_decode_attention(FAKE, new long[] {0, 1, 1}, 2, 8, 2, 64, f16, 0.125f, new long[] {1, 1},
        new long[] {1, 1}, new long[] {4, 4}, FAKE, FAKE, null), "cu_q");
    expectArg(FitPruneNative.fp_cuda_decode_attention(FAKE, new long[] {0, 1, 3}, 2, 8, 2, 64, f16, 0.125f, new long[] {1, 1},
        new long[] {1, 1}, new long[] {4, 1}, FAKE, FAKE, null), "kv_len");
    expectArg(FitPruneNative.fp_cuda_decode_attention(FAKE, new long[] {0, 1}, 1, 8, 2, 64, f16, 0.125f, new long[] {0},
        new long[] {1}, new long[] {4}, FAKE, FAKE, null), "null cache pointer");
  }

  /** Every attention-like CUDA entry checks its softmax scale on the host, before the device. */
  @Test
  void scaleChecksComeBeforeTheDevice() {
    int f16 = FitPruneNative.FP_DTYPE_F16;
    for (float bad : SoftmaxScaleChecksTest.BAD) {
      expectArg(FitPruneNative.fp_cuda_attention(FAKE, FAKE, FAKE, 70, 8, 2, 64, f16, bad, FAKE, FAKE, null),
          "softmax_scale");
      expectArg(FitPruneNative.fp_cuda_attention(FAKE, FAKE, FAKE, 70, 8, 2, 64, FitPruneNative.FP_DTYPE_F32, bad, FAKE,
          FAKE, null), "softmax_scale");
      expectArg(FitPruneNative.fp_cuda_scores(FAKE, FAKE, FAKE, 70, 8, 2, 128, f16, bad, 5, 40, FAKE, FAKE, null),
          "softmax_scale");
      expectArg(FitPruneNative.fp_cuda_attention_varlen(FAKE, FAKE, FAKE, new long[] {0, 70, 75}, 2, 8, 2, 64, f16, bad,
          FAKE, FAKE, null), "softmax_scale");
      expectArg(FitPruneNative.fp_cuda_scores_varlen(FAKE, FAKE, FAKE, new long[] {0, 10, 30}, 2, 8, 2, 64, f16, bad,
          new long[] {0, 10, 5, 6}, FAKE, FAKE, null), "softmax_scale");
    }
  }

  /** expectArg for another status code. */
  private static void expect(int code, int status, String part) {
    if (FitPruneNative.fp_cuda_compiled() == 0) {
      assertEquals(FitPruneNative.FP_ERR_UNAVAILABLE, status);
      return;
    }
    assertEquals(code, status, FitPruneNative.fp_last_error());
    assertTrue(FitPruneNative.fp_last_error().contains(part), FitPruneNative.fp_last_error());
  }

  @Test
  void kvCacheChecksComeBeforeTheDevice() {
    int f16 = FitPruneNative.FP_DTYPE_F16, arg = FitPruneNative.FP_ERR_ARG, index = FitPruneNative.FP_ERR_INDEX;
    // paged decode: a block id outside the pool, a table too narrow, a bad scale
    expect(index, FitPruneNative.fp_cuda_paged_decode_attention(FAKE, new long[] {0, 1, 2}, 2, 8, 2, 64, f16, 0.125f,
        FAKE, FAKE, 4, 16, new int[] {0, 1, 2, 4}, 2, new long[] {20, 17}, FAKE, FAKE, null), "block_table[1][1] = 4");
    expect(arg, FitPruneNative.fp_cuda_paged_decode_attention(FAKE, new long[] {0, 1}, 1, 8, 2, 64, f16, 0.125f,
        FAKE, FAKE, 4, 16, new int[] {0}, 1, new long[] {17}, FAKE, FAKE, null), "max_blocks=1");
    expect(arg, FitPruneNative.fp_cuda_paged_decode_attention(FAKE, new long[] {0, 1}, 1, 8, 2, 64, f16, Float.NaN,
        FAKE, FAKE, 4, 16, new int[] {0}, 1, new long[] {1}, FAKE, FAKE, null), "softmax_scale");
    expect(arg, FitPruneNative.fp_cuda_decode_attention(FAKE, new long[] {0, 1}, 1, 8, 2, 64, f16, -1f, new long[] {1},
        new long[] {1}, new long[] {1}, FAKE, FAKE, null), "softmax_scale");
    // appends: a slot past the pool, rows past a cache's capacity
    expect(index, FitPruneNative.fp_cuda_kv_append_paged(FAKE, FAKE, 2, 2, 64, f16, FAKE, FAKE, 4, 16,
        new long[] {-1, 64}, null), "slot_mapping[1] = 64");
    expect(arg, FitPruneNative.fp_cuda_kv_append(FAKE, FAKE, new long[] {0, 1, 3}, 2, 2, 64, f16, new long[] {1, 1},
        new long[] {1, 1}, new long[] {8, 8}, new long[] {3, 7}, null), "sequence 1");
  }

  @Test
  void javaChecksComeBeforeTheDevice() {
    BatchShape shape = new BatchShape(Batch.ofLengths(3, 5), 2, 1, 64);
    assertMessage(() -> new BatchShape(Batch.ofLengths(3), 3, 2, 64), "multiple of kvHeads");
    if (!Kernels.cudaAvailable()) System.out.println("CUDA batch calls not run: " + Kernels.info().cudaStatus());
    // Wrapped device memory needs no device (nothing is called): the checks before the device run anywhere.
    DeviceBuffer f = DeviceBuffer.wrap(1 << 20, ElementType.FP16, 1);
    assertMessage(() -> Kernels.scores(shape, new Spans[] {new Spans(0, 3)}, f, f, f, f, f),
        "spans: expected one entry per sequence");
    assertMessage(() -> Kernels.scores(shape, new Spans[] {new Spans(0, 3), new Spans(4, 2)}, f, f, f, f, f), "spans[1]");
    assertMessage(() -> Kernels.attention(new BatchShape(Batch.ofLengths(3), 2, 1, 80), f, f, f, f, f), "headDim");
  }
}
