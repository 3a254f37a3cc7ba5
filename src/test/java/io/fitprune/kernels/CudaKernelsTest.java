package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend: argument validation and clean failure everywhere; the kernels against the CPU
 * backend where a device exists (skipped otherwise, with the reason printed).
 */
class CudaKernelsTest {
  private static final AttentionShape SHAPE = new AttentionShape(203, 4, 2, 64);
  private static final Spans SPANS = new Spans(11, 150);

  static boolean device() {
    BackendInfo info = Kernels.info();
    if (!info.cudaAvailable()) System.out.println("CUDA test skipped: " + info.cudaStatus());
    return info.cudaAvailable();
  }

  // ---- everywhere: validation before any native call ----

  @Test
  void validatesArgumentsBeforeTouchingTheDevice() {
    float[] q = new float[(int) SHAPE.qLength()], kv = new float[(int) SHAPE.kvLength()];
    var e = assertThrows(IllegalArgumentException.class,
        () -> Kernels.attention(Backend.CUDA, ElementType.FP16, new AttentionShape(10, 2, 2, 96), new float[1920], new float[1920], new float[1920]));
    assertTrue(e.getMessage().contains("headDim") && e.getMessage().contains("64 and 128"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Kernels.attention(Backend.CUDA, ElementType.BF16, SHAPE, new float[5], kv, kv));
    assertTrue(e.getMessage().startsWith("q: expected " + SHAPE.qLength()), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.attention(Backend.CUDA, ElementType.INT32, SHAPE, q, kv, kv));
    assertTrue(e.getMessage().contains("fp32, fp16 or bf16"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Kernels.scores(Backend.CUDA, ElementType.FP16, SHAPE, new Spans(100, 150), q, kv, new float[(int) SHAPE.lseLength()]));
    assertTrue(e.getMessage().contains("must be <= n"), e.getMessage());
    assertThrows(NullPointerException.class, () -> Kernels.attention(Backend.CUDA, ElementType.FP16, SHAPE, null, kv, kv));
    e = assertThrows(IllegalArgumentException.class, () -> ElementType.parseFloat("fp8"));
    assertTrue(e.getMessage().contains("fp32, fp16, bf16"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Backend.parse("tpu"));
    assertEquals(ElementType.BF16, ElementType.parseFloat("BF16"));
    assertEquals(Backend.CUDA, Backend.parse("Cuda"));
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.choose(Backend.CPU, ElementType.FP16));
    assertTrue(e.getMessage().contains("needs the CUDA backend"), e.getMessage());
  }

  /** The C API checks again (second line of defence) and fails with a status, never a crash. */
  @Test
  void nativeApiRejectsBadArguments() {
    boolean compiled = FitPruneNative.fp_cuda_compiled() == 1;
    int expected = compiled ? FitPruneNative.FP_ERR_ARG : FitPruneNative.FP_ERR_UNAVAILABLE;
    assertEquals(expected, FitPruneNative.fp_cuda_attention(null, null, null, 10, 2, 2, 64, 1, 0.125f, null, null, null));
    if (compiled) assertTrue(FitPruneNative.fp_last_error().contains("null input pointer"), FitPruneNative.fp_last_error());
    assertEquals(expected, FitPruneNative.fp_cuda_attention(null, null, null, 10, 2, 2, 96, 1, 0.125f, null, null, null));
    if (compiled) assertTrue(FitPruneNative.fp_last_error().contains("head_dim 64 and 128"), FitPruneNative.fp_last_error());
    assertEquals(expected, FitPruneNative.fp_cuda_attention(null, null, null, 10, 2, 2, 64, 7, 0.125f, null, null, null));
    if (compiled) assertTrue(FitPruneNative.fp_last_error().contains("unknown dtype"), FitPruneNative.fp_last_error());
    assertEquals(expected, FitPruneNative.fp_cuda_scores(null, null, null, 10, 2, 2, 64, 1, 0.125f, 5, 6, null, null, null));
    assertEquals(expected, FitPruneNative.fp_cuda_select_keep(null, null, 10, 0, 5, 6, null, null));
    if (compiled) assertTrue(FitPruneNative.fp_last_error().contains("drop must be in"), FitPruneNative.fp_last_error());
    assertEquals(expected, FitPruneNative.fp_cuda_gather_rows(null, -1, 4, null, 1, null, null, null));
    assertEquals(4, FitPruneNative.fp_dtype_size(FitPruneNative.FP_DTYPE_F32));
    assertEquals(2, FitPruneNative.fp_dtype_size(FitPruneNative.FP_DTYPE_BF16));
    assertEquals(0, FitPruneNative.fp_dtype_size(9));
  }

  @Test
  void withoutADeviceEveryCudaCallFailsWithOneLine() {
    assumeFalse(Kernels.cudaAvailable(), "a CUDA device is present");
    float[] q = new float[(int) SHAPE.qLength()], kv = new float[(int) SHAPE.kvLength()];
    for (Runnable r : new Runnable[] {
        () -> DeviceBuffer.allocate(ElementType.FP16, 10),
        () -> Kernels.attention(Backend.CUDA, ElementType.FP16, SHAPE, q, kv, kv),
        () -> Kernels.scores(Backend.CUDA, ElementType.FP32, SHAPE, SPANS, q, kv, new float[(int) SHAPE.lseLength()]),
        () -> Kernels.choose(Backend.CUDA, ElementType.FP32),
        () -> Kernels.selectKeep(Backend.CUDA, 20, new Spans(0, 10), new float[10], new float[10], 3)}) {
      FitPruneException e = assertThrows(FitPruneException.class, r::run);
      assertEquals(FitPruneNative.FP_ERR_UNAVAILABLE, e.status());
      assertTrue(e.getMessage().startsWith("CUDA backend unavailable: "), e.getMessage());
      assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
    assertEquals(Backend.CPU, Kernels.choose(Backend.AUTO, ElementType.FP32));
    // bf16 has a CPU path: AUTO runs it there instead of refusing.
    assertEquals(Backend.CPU, Kernels.choose(Backend.AUTO, ElementType.BF16));
    var e = assertThrows(IllegalArgumentException.class, () -> Kernels.choose(Backend.AUTO, ElementType.FP16));
    assertTrue(e.getMessage().contains("unavailable"), e.getMessage());
    // AUTO falls back to the CPU and gives its results.
    Random rnd = new Random(1);
    float[] qq = Reference.gaussian(rnd, SHAPE.qLength()), kk = Reference.gaussian(rnd, SHAPE.kvLength()),
        vv = Reference.gaussian(rnd, SHAPE.kvLength());
    assertArrayEquals(Kernels.attention(SHAPE, qq, kk, vv).out(),
        Kernels.attention(Backend.AUTO, ElementType.FP32, SHAPE, qq, kk, vv).out());
  }

  // ---- with a device ----

  private record Inputs(float[] q, float[] k, float[] v) {}

  private static Inputs inputs(AttentionShape s, long seed) {
    Random rnd = new Random(seed);
    return new Inputs(Reference.gaussian(rnd, s.qLength()), Reference.gaussian(rnd, s.kvLength()),
        Reference.gaussian(rnd, s.kvLength()));
  }

  /** Rounds to the element type through the device, so the CPU sees the values the GPU sees. */
  private static float[] rounded(float[] x, ElementType t) {
    try (DeviceBuffer b = DeviceBuffer.of(x, t)) {
      return b.toFloats();
    }
  }

  private static double rel(float[] a, float[] b) {
    double num = 0, den = 0;
    for (int i = 0; i < a.length; i++) {
      num += (double) (a[i] - b[i]) * (a[i] - b[i]);
      den += (double) b[i] * b[i];
    }
    return Math.sqrt(num / Math.max(den, 1e-300));
  }

  @Test
  void attentionAndScoresMatchTheCpu() {
    assumeTrue(device(), "no CUDA device");
    for (AttentionShape shape : new AttentionShape[] {SHAPE, new AttentionShape(300, 8, 8, 128)}) {
      Spans spans = shape == SHAPE ? SPANS : new Spans(20, 200);
      for (ElementType t : new ElementType[] {ElementType.FP32, ElementType.FP16, ElementType.BF16}) {
        Inputs in = inputs(shape, 7 + t.ordinal());
        float[] q = rounded(in.q, t), k = rounded(in.k, t), v = rounded(in.v, t);
        Kernels.AttentionOutput cpu = Kernels.attention(shape, q, k, v);
        Kernels.AttentionOutput gpu = Kernels.attention(Backend.CUDA, t, shape, q, k, v);
        double tol = t == ElementType.FP32 ? 1e-5 : t == ElementType.FP16 ? 5e-3 : 3e-2;
        String what = t + " " + shape;
        assertTrue(rel(gpu.out(), cpu.out()) < tol, what + " out rel " + rel(gpu.out(), cpu.out()));
        assertTrue(rel(gpu.lse(), cpu.lse()) < 1e-5, what + " lse rel " + rel(gpu.lse(), cpu.lse()));
        Kernels.Scores cs = Kernels.scores(shape, spans, q, k, cpu.lse());
        Kernels.Scores gs = Kernels.scores(Backend.CUDA, t, shape, spans, q, k, cpu.lse());
        assertTrue(rel(gs.self(), cs.self()) < 1e-4, what + " self rel " + rel(gs.self(), cs.self()));
        assertTrue(rel(gs.cross(), cs.cross()) < 1e-4, what + " cross rel " + rel(gs.cross(), cs.cross()));
        Kernels.Scores again = Kernels.scores(Backend.CUDA, t, shape, spans, q, k, cpu.lse());
        assertArrayEquals(gs.self(), again.self(), "deterministic");
        assertArrayEquals(gs.cross(), again.cross(), "deterministic");
      }
    }
  }

  /** fp32 has no packed CUDA kernel: the library runs the batch sequence by sequence (an empty one among them). */
  @Test
  void packedFp32MatchesTheCpu() {
    assumeTrue(device(), "no CUDA device");
    BatchShape shape = new BatchShape(Batch.ofLengths(70, 0, 1, 129), 8, 2, 64);
    Spans[] spans = {new Spans(3, 40), new Spans(0, 0), new Spans(0, 1), new Spans(10, 100)};
    AttentionShape all = shape.packed();
    Random rnd = new Random(23);
    float[] q = Reference.gaussian(rnd, all.qLength()), k = Reference.gaussian(rnd, all.kvLength()),
        v = Reference.gaussian(rnd, all.kvLength());
    Kernels.AttentionOutput cpu = Kernels.attention(shape, q, k, v);
    Kernels.AttentionOutput gpu = Kernels.attention(Backend.CUDA, ElementType.FP32, shape, q, k, v);
    assertTrue(rel(gpu.out(), cpu.out()) < 1e-5, "out rel " + rel(gpu.out(), cpu.out()));
    assertTrue(rel(gpu.lse(), cpu.lse()) < 1e-5, "lse rel " + rel(gpu.lse(), cpu.lse()));
    Kernels.Scores cs = Kernels.scores(shape, spans, q, k, cpu.lse());
    Kernels.Scores gs = Kernels.scores(Backend.CUDA, ElementType.FP32, shape, spans, q, k, cpu.lse());
    assertTrue(rel(gs.self(), cs.self()) < 1e-4, "self rel " + rel(gs.self(), cs.self()));
    assertTrue(rel(gs.cross(), cs.cross()) < 1e-4, "cross rel " + rel(gs.cross(), cs.cross()));
  }

  @Test
  void selectIsIdenticalToTheCpuOnTheSameScores() {
    assumeTrue(device(), "no CUDA device");
    Random rnd = new Random(3);
    for (int V : new int[] {1, 150, 4096, 5000}) { // 5000: the many-CTA rank path
      int P = 7, n = V + 40;
      float[] s = new float[V], c = new float[V];
      for (int j = 0; j < V; j++) {
        s[j] = j % 5 == 0 ? 0.25f : rnd.nextFloat(); // exact ties
        c[j] = j % 7 == 0 ? -0.0f : rnd.nextFloat();  // signed zeros
      }
      for (long drop : new long[] {0, V / 2, V}) {
        assertArrayEquals(Kernels.selectKeep(n, new Spans(P, V), s, c, drop),
            Kernels.selectKeep(Backend.CUDA, n, new Spans(P, V), s, c, drop), "V=" + V + " drop=" + drop);
      }
    }
    float[] s = {1, Float.NaN, 2}, c = {1, 1, 1};
    FitPruneException e = assertThrows(FitPruneException.class,
        () -> Kernels.selectKeep(Backend.CUDA, 5, new Spans(1, 3), s, c, 1));
    assertEquals(FitPruneNative.FP_ERR_VALUE, e.status());
    float[] inf = {1, 2, Float.POSITIVE_INFINITY}; // as the CPU: an overflowed score, not the highest rank
    e = assertThrows(FitPruneException.class, () -> Kernels.selectKeep(Backend.CUDA, 5, new Spans(1, 3), inf, c, 1));
    assertEquals(FitPruneNative.FP_ERR_VALUE, e.status());
    assertTrue(e.getMessage().contains("visual token 2"), e.getMessage());
  }

  /**
   * End to end, CPU and CUDA keep the same tokens except near-ties: the scores differ by rounding,
   * so a token may change sides only when its score is within a relative 1e-4 of the threshold.
   */
  @Test
  void keptTokensAgreeExceptNearTies() {
    assumeTrue(device(), "no CUDA device");
    AttentionShape shape = new AttentionShape(400, 8, 2, 128);
    Spans spans = new Spans(20, 300);
    Inputs in = inputs(shape, 11);
    Kernels.AttentionOutput cpu = Kernels.attention(shape, in.q, in.k, in.v);
    Kernels.Scores cs = Kernels.scores(shape, spans, in.q, in.k, cpu.lse());
    Kernels.AttentionOutput gpu = Kernels.attention(Backend.CUDA, ElementType.FP32, shape, in.q, in.k, in.v);
    Kernels.Scores gs = Kernels.scores(Backend.CUDA, ElementType.FP32, shape, spans, in.q, in.k, gpu.lse());
    long drop = 150;
    int[] kc = Kernels.selectKeep(400, spans, cs.self(), cs.cross(), drop);
    int[] kg = Kernels.selectKeep(Backend.CUDA, 400, spans, gs.self(), gs.cross(), drop);
    float[] prod = new float[300];
    for (int j = 0; j < 300; j++) prod[j] = cs.self()[j] * cs.cross()[j];
    float[] sorted = prod.clone();
    Arrays.sort(sorted);
    double threshold = (sorted[(int) drop - 1] + sorted[(int) drop]) / 2.0;
    Set<Integer> a = new HashSet<>(), b = new HashSet<>();
    for (int x : kc) a.add(x);
    for (int x : kg) b.add(x);
    int differing = 0;
    for (int j = 0; j < 300; j++) {
      int row = 20 + j;
      if (a.contains(row) != b.contains(row)) {
        differing++;
        assertTrue(Math.abs(prod[j] - threshold) <= 1e-4 * Math.abs(threshold),
            "token " + j + " changed sides but is not a near-tie: " + prod[j] + " vs threshold " + threshold);
      }
    }
    System.out.println("CPU vs CUDA kept tokens: " + differing + " near-tie differences of 300");
  }

  @Test
  void gatherAndBuffersRoundTrip() {
    assumeTrue(device(), "no CUDA device");
    Random rnd = new Random(5);
    int rows = 300, width = 1027;
    float[] src = Reference.gaussian(rnd, (long) rows * width);
    int[] index = {0, 3, 4, 100, 299, 17};
    for (ElementType t : new ElementType[] {ElementType.FP32, ElementType.FP16, ElementType.BF16}) {
      try (DeviceBuffer s = DeviceBuffer.of(src, t); DeviceBuffer i = DeviceBuffer.of(index);
          DeviceBuffer d = DeviceBuffer.allocate(t, (long) index.length * width)) {
        Kernels.gatherRows(s, rows, width, i, d);
        assertArrayEquals(Kernels.gatherRows(s.toFloats(), width, index), d.toFloats(), t.toString());
      }
    }
    try (DeviceBuffer s = DeviceBuffer.of(src, ElementType.FP32); DeviceBuffer i = DeviceBuffer.of(new int[] {0, 300});
        DeviceBuffer d = DeviceBuffer.allocate(ElementType.FP32, 2L * width)) {
      FitPruneException e = assertThrows(FitPruneException.class, () -> Kernels.gatherRows(s, rows, width, i, d));
      assertEquals(FitPruneNative.FP_ERR_INDEX, e.status());
    }
    float[] x = {1f, -2.5f, 65504f, 1e-3f};
    try (DeviceBuffer h = DeviceBuffer.of(x, ElementType.FP16)) {
      assertArrayEquals(new float[] {1f, -2.5f, 65504f, 0.0010004044f}, h.toFloats());
      h.close();
      assertThrows(IllegalStateException.class, h::pointer);
    }
  }
}
