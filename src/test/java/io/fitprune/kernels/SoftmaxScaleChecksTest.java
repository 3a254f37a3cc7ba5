package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;

/**
 * A softmax scale that is not finite and > 0 (zero of either sign, negative, NaN, infinite) is
 * refused: in Java by the shape, naming {@code softmaxScale}, so no call can reach the native
 * library with it; by each CPU entry point of the C API with FP_ERR_ARG naming
 * {@code softmax_scale}, before it writes anything (the CUDA ones: {@link CudaBatchChecksTest}).
 */
class SoftmaxScaleChecksTest {
  static final float[] BAD = {0f, -0f, -1f, -Float.MIN_VALUE, Float.NaN, Float.POSITIVE_INFINITY,
      Float.NEGATIVE_INFINITY};

  @Test
  void shapesRefuseABadScaleNamingIt() {
    AttentionShape s = new AttentionShape(4, 2, 1, 8);
    BatchShape b = new BatchShape(Batch.ofLengths(3, 1), 2, 1, 8);
    for (float bad : BAD) {
      for (org.junit.jupiter.api.function.Executable e : new org.junit.jupiter.api.function.Executable[] {
          () -> new AttentionShape(4, 2, 1, 8, bad), () -> s.withSoftmaxScale(bad),
          () -> new BatchShape(Batch.ofLengths(3, 1), 2, 1, 8, bad), () -> b.withSoftmaxScale(bad)}) {
        var ex = assertThrows(IllegalArgumentException.class, e);
        assertEquals("softmaxScale must be finite and > 0, got " + bad, ex.getMessage());
      }
    }
    // the extremes of the valid range are shapes (and their results are checked for overflow by the kernels)
    assertEquals(Float.MIN_VALUE, s.withSoftmaxScale(Float.MIN_VALUE).softmaxScale());
    assertEquals(Float.MAX_VALUE, b.withSoftmaxScale(Float.MAX_VALUE).packed().softmaxScale());
  }

  @Test
  void theScaleTravelsWithTheShape() {
    BatchShape b = new BatchShape(Batch.ofLengths(3, 1), 2, 1, 8, 0.3f);
    assertEquals(0.3f, b.packed().softmaxScale());
    assertEquals(0.3f, b.sequence(1).softmaxScale());
    assertEquals(0.3f, BatchShape.of(b.sequence(0)).softmaxScale());
    assertEquals(AttentionShape.defaultScale(8), new BatchShape(Batch.ofLengths(2), 2, 1, 8).packed().softmaxScale());
    assertEquals(BatchShape.defaultScale(72), AttentionShape.defaultScale(72));
  }

  /** A huge valid scale overflows the logits: reported as non-finite output, not turned into an answer. */
  @Test
  void anOverflowingScaleIsReported() {
    AttentionShape s = new AttentionShape(3, 1, 1, 4).withSoftmaxScale(Float.MAX_VALUE);
    float[] q = {1, 2, 3, 4, 1, 1, 1, 1, 2, 2, 2, 2};
    var e = assertThrows(FitPruneException.class, () -> Kernels.attention(s, q, q, q));
    assertEquals(FitPruneNative.FP_ERR_VALUE, e.status());
    assertTrue(e.getMessage().contains("lse") || e.getMessage().contains("out"), e.getMessage());
  }

  @Test
  void theCApiRefusesABadScaleBeforeWritingAnything() {
    int f32 = FitPruneNative.FP_DTYPE_F32, n = 5, H = 2, G = 1, d = 8;
    long[] cu = {0, 3, 5}, spans = {0, 2, 1, 1};
    try (var q = new FloatPointer(n * H * d); var k = new FloatPointer(n * G * d); var lse = new FloatPointer(H * n);
        var out = new FloatPointer(n * H * d); var self = new FloatPointer(n); var cross = new FloatPointer(n)) {
      for (int i = 0; i < n * H * d; i++) q.put(i, 0.1f * (i % 7) + 0.05f);
      for (int i = 0; i < n * G * d; i++) k.put(i, 0.2f * (i % 5) - 0.3f);
      for (int i = 0; i < H * n; i++) lse.put(i, 1.5f);
      for (float bad : BAD) {
        for (FloatPointer o : new FloatPointer[] {out, self, cross}) o.fill(0x7f); // a byte pattern that untouched outputs keep
        int[] st = {
            FitPruneNative.fp_cpu_attention(q, k, k, n, H, G, d, f32, bad, out, f32, lse),
            FitPruneNative.fp_cpu_attention_varlen(q, k, k, cu, 2, H, G, d, f32, bad, out, f32, lse),
            FitPruneNative.fp_cpu_scores(q, k, lse, n, H, G, d, f32, bad, 1, 3, self, cross),
            FitPruneNative.fp_cpu_scores_varlen(q, k, lse, cu, 2, H, G, d, f32, bad, spans, self, cross),
            FitPruneNative.fp_cpu_attention_scores(q, k, k, n, H, G, d, f32, bad, out, f32, lse, 1, 3, self, cross),
            FitPruneNative.fp_cpu_attention_scores_varlen(q, k, k, cu, 2, H, G, d, f32, bad, out, f32, lse, spans, self,
                cross)};
        for (int i = 0; i < st.length; i++) assertEquals(FitPruneNative.FP_ERR_ARG, st[i], "entry " + i + " scale " + bad);
        assertTrue(FitPruneNative.fp_last_error().startsWith("softmax_scale must be finite and > 0"),
            FitPruneNative.fp_last_error());
        for (FloatPointer o : new FloatPointer[] {out, self, cross})
          for (long i = 0; i < o.capacity(); i++)
            assertEquals(0x7f7f7f7f, Float.floatToRawIntBits(o.get(i)), "an output was written with scale " + bad);
        // lse is an output of attention too: it kept its values
        for (int i = 0; i < H * n; i++) assertEquals(1.5f, lse.get(i));
      }
    }
  }
}
