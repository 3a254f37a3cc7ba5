package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Every rejected input fails in Java, before the native call, with a message naming the argument. */
class ValidationTest {
  static final AttentionShape SHAPE = new AttentionShape(10, 4, 2, 8);
  static final float[] Q = new float[10 * 4 * 8], KV = new float[10 * 2 * 8];

  static void rejects(Class<? extends Throwable> type, String fragment, Executable call) {
    Throwable e = assertThrows(type, call);
    assertTrue(e.getMessage() != null && e.getMessage().contains(fragment),
        "message should mention '" + fragment + "': " + e.getMessage());
  }

  @Test
  void shapes() {
    rejects(IllegalArgumentException.class, "multiple of kvHeads", () -> new AttentionShape(10, 8, 3, 64));
    rejects(IllegalArgumentException.class, "heads (H) must be > 0", () -> new AttentionShape(10, 0, 1, 64));
    rejects(IllegalArgumentException.class, "tokens (n)", () -> new AttentionShape(-1, 8, 8, 64));
    rejects(IllegalArgumentException.class, "headDim (d)", () -> new AttentionShape(10, 8, 8, 0));
    rejects(IllegalArgumentException.class, "prefix (P)", () -> new Spans(-1, 3));
    rejects(IllegalArgumentException.class, "visual (V)", () -> new Spans(0, -3));
  }

  @Test
  void attentionArguments() {
    rejects(NullPointerException.class, "q", () -> Kernels.attention(SHAPE, null, KV, KV));
    rejects(IllegalArgumentException.class, "q: expected 320 float32 values for shape [n,H,d] = [10, 4, 8], got 319",
        () -> Kernels.attention(SHAPE, new float[319], KV, KV));
    rejects(IllegalArgumentException.class, "v: expected 160", () -> Kernels.attention(SHAPE, Q, KV, new float[161]));
    rejects(IllegalArgumentException.class, "lse: expected 40",
        () -> Kernels.attention(SHAPE, Data.of(Q), Data.of(KV), Data.of(KV), Data.of(new float[320]),
            Data.of(new float[39])));
  }

  @Test
  void scoreAndSelectArguments() {
    float[] lse = new float[40];
    rejects(IllegalArgumentException.class, "must be <= n (10)", () -> Kernels.scores(SHAPE, new Spans(5, 6), Q, KV, lse));
    rejects(IllegalArgumentException.class, "lse: expected 40", () -> Kernels.scores(SHAPE, new Spans(0, 5), Q, KV, new float[4]));
    rejects(IllegalArgumentException.class, "drop (k) must be in [0, V=5]",
        () -> Kernels.selectKeep(10, new Spans(0, 5), new float[5], new float[5], 6));
    rejects(IllegalArgumentException.class, "drop (k)", () -> Kernels.selectKeep(10, new Spans(0, 5), new float[5], new float[5], -1));
    rejects(IllegalArgumentException.class, "self: expected 5", () -> Kernels.selectKeep(10, new Spans(0, 5), new float[4], new float[5], 1));
    rejects(IllegalArgumentException.class, "n must be", () -> Kernels.selectKeep(-2, new Spans(0, 0), new float[0], new float[0], 0));
    rejects(IllegalArgumentException.class, "keep: expected 9",
        () -> Kernels.selectKeep(10, new Spans(0, 5), Data.of(new float[5]), Data.of(new float[5]), 1, Data.of(new int[10])));
  }

  @Test
  void gatherArguments() {
    rejects(IllegalArgumentException.class, "width must be > 0", () -> Kernels.gatherRows(new float[4], 0, new int[1]));
    rejects(IllegalArgumentException.class, "not a multiple of width", () -> Kernels.gatherRows(new float[5], 2, new int[1]));
    rejects(IllegalArgumentException.class, "rows must be >= 0",
        () -> Kernels.gatherRows(Data.of(new float[4]), -1, 2, Data.of(new int[1]), Data.of(new float[2])));
    rejects(IllegalArgumentException.class, "dst: expected at least 6",
        () -> Kernels.gatherRows(Data.of(new float[4]), 2, 2, Data.of(new int[3]), Data.of(new float[5])));
    rejects(NullPointerException.class, "index", () -> Kernels.gatherRows(new float[4], 2, null));
  }

  @Test
  void memoryKinds() {
    rejects(IllegalArgumentException.class, "direct", () -> Data.of(FloatBuffer.allocate(4)));
    rejects(IllegalArgumentException.class, "no known size", () -> Data.of(new FloatPointer(4).capacity(0).limit(0)));
    rejects(IllegalArgumentException.class, "length must be >= 0", () -> Data.allocate(ElementType.FP32, -1));
    rejects(NullPointerException.class, "null", () -> Data.of((float[]) null));
  }

  @Test
  void tensors() {
    Tensor dbl = torch.randn(10, 4, 8).to(torch.ScalarType.Double);
    rejects(IllegalArgumentException.class, "must be Float", () -> TorchData.floats(dbl));
    Tensor strided = torch.randn(4, 10, 8).permute(1, 0, 2);  // [10,4,8] but not contiguous
    rejects(IllegalArgumentException.class, "contiguous", () -> TorchData.floats(strided));
    Tensor flat = torch.randn(10, 32);  // same numel as [10,4,8], wrong shape
    rejects(IllegalArgumentException.class, "q: expected a tensor of shape [n,H,d] = [10, 4, 8], got [10, 32]",
        () -> Kernels.attention(SHAPE, TorchData.floats(flat), Data.of(KV), Data.of(KV),
            Data.of(new float[320]), Data.of(new float[40])));
    rejects(IllegalArgumentException.class, "must be Int", () -> TorchData.ints(torch.randn(3)));
  }

  @Test
  void nativeChecksBackTheJavaOnes() {
    // Straight to the binding, past the Java checks: a status code, not a crash.
    int st = FitPruneNative.fp_cpu_attention_f32(null, null, null, 10, 8, 3, 64, null, null);
    assertTrue(st == FitPruneNative.FP_ERR_ARG && FitPruneNative.fp_last_error().contains("multiple"));
    st = FitPruneNative.fp_select_keep(null, null, 10, 5, 6, 0, null);
    assertTrue(st == FitPruneNative.FP_ERR_ARG, FitPruneNative.fp_last_error());
  }
}
