package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.testutil.AttentionCase;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.ShortBuffer;
import java.util.List;
import java.util.Random;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * bf16 attention and score pass on the CPU, on every path this machine can run, against the
 * float64 reference on the same bf16-rounded inputs. Bounds (the FlashAttention rule): the output's
 * error at most twice that of the float64 computation with only P rounded to bf16, plus 1e-5 of
 * fp32 slack (n = 1 has P = 1 exactly); LSE and scores involve no bf16 rounding beyond the inputs,
 * so they keep the fp32 bound 1e-5. "The same function on every path": identical bf16 operands,
 * fp32 accumulation in the same order per dot product; results agree to 1e-5 relative (row sums
 * are reduced in a vector-width-dependent order) and give the same kept rows.
 */
class Bf16KernelsTest {
  static final double FP32_BOUND = 1e-5;

  @AfterEach
  void restoreIsa() {
    Kernels.useIsa(null);
  }

  static List<AttentionCase> cases() {
    return List.of(
        new AttentionCase(1, 4, 2, 64, 0, 1),      // n = 1: one token, all visual
        new AttentionCase(1, 2, 2, 128, 0, 0),     // n = 1, V = 0
        new AttentionCase(9, 4, 2, 33, 2, 3),      // odd head dim: a padded element pair
        new AttentionCase(77, 8, 2, 64, 5, 40),    // odd n, GQA
        new AttentionCase(77, 4, 1, 128, 0, 77),   // no text rows
        new AttentionCase(100, 4, 4, 80, 10, 0),   // V = 0, head dim off the vector blocking
        new AttentionCase(130, 6, 3, 72, 65, 64),  // spans cut tiles mid-way, partial column vector
        new AttentionCase(301, 8, 2, 128, 35, 200));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void matchesFloat64ReferenceOnEveryPath(AttentionCase c) {
    Random rnd = new Random(7000L + 1000L * c.n() + 31L * c.d() + c.V());
    AttentionShape shape = c.shape();
    Data q = Data.roundBf16(Reference.gaussian(rnd, shape.qLength()));
    Data k = Data.roundBf16(Reference.gaussian(rnd, shape.kvLength()));
    Data v = Data.roundBf16(Reference.gaussian(rnd, shape.kvLength()));
    float[] qf = q.toFloats(), kf = k.toFloats(), vf = v.toFloats();
    Reference.Attention ref = Reference.attention(qf, kf, vf, c.n(), c.H(), c.G(), c.d());
    Reference.Attention roundedP = Reference.attention(qf, kf, vf, c.n(), c.H(), c.G(), c.d(), true);
    double yardstick = Reference.relError(toFloats(roundedP.out()), ref.out());
    double outBound = 2 * yardstick + FP32_BOUND;
    Reference.Scores rs = Reference.scores(qf, kf, c.n(), c.H(), c.G(), c.d(), c.P(), c.V());
    Spans spans = c.spans();

    float[] firstOut = null;
    Kernels.Scores firstScores = null;
    for (Isa isa : Kernels.supportedIsas()) {
      Kernels.useIsa(isa);
      float[] out = new float[Math.toIntExact(shape.qLength())], lse = new float[Math.toIntExact(shape.lseLength())];
      Kernels.attention(shape, q, k, v, Data.of(out), Data.of(lse));
      double eOut = Reference.relError(out, ref.out());
      assertTrue(eOut <= outBound, isa + ": out relative error " + eOut + " > 2 * " + yardstick + " + 1e-5");
      double eLse = Reference.lseError(lse, ref.lse());
      assertTrue(eLse <= FP32_BOUND, isa + ": lse error " + eLse);

      float[] self = new float[c.V()], cross = new float[c.V()];
      Kernels.scores(shape, spans, q, k, Data.of(lse), Data.of(self), Data.of(cross));
      double eSelf = Reference.relError(self, rs.self()), eCross = Reference.relError(cross, rs.cross());
      assertTrue(eSelf <= FP32_BOUND, isa + ": self relative error " + eSelf);
      assertTrue(eCross <= FP32_BOUND, isa + ": cross relative error " + eCross);
      if (c.n() == c.P() + c.V()) assertArrayEquals(new float[c.V()], cross, "no text rows: cross is zero");

      // bf16 output: the fp32 output rounded to nearest even, bit for bit.
      short[] outBf16 = new short[out.length];
      Kernels.attention(shape, q, k, v, Data.bf16(outBf16), Data.allocate(ElementType.FP32, shape.lseLength()));
      for (int i = 0; i < out.length; i++)
        if (outBf16[i] != Bf16.fromFloat(out[i])) throw new AssertionError(isa + ": bf16 out[" + i + "] is not rne(fp32 out)");

      if (firstOut == null) {
        firstOut = out;
        firstScores = new Kernels.Scores(self, cross);
        continue;
      }
      assertTrue(Reference.relError(out, firstOut) <= FP32_BOUND, isa + " out differs from " + Kernels.supportedIsas().get(0));
      assertTrue(Reference.relError(self, firstScores.self()) <= FP32_BOUND, isa + " self differs");
      assertTrue(Reference.relError(cross, firstScores.cross()) <= FP32_BOUND, isa + " cross differs");
      int drop = c.V() / 2;
      assertArrayEquals(Kernels.selectKeep(c.n(), spans, firstScores.self(), firstScores.cross(), drop),
          Kernels.selectKeep(c.n(), spans, self, cross, drop), isa + ": kept rows differ");
    }
  }

  /** The bf16 error is the bf16 kind (far above fp32's), and the yardstick is not vacuous. */
  @Test
  void errorIsBf16SizedAndBounded() {
    int n = 200, H = 4, G = 2, d = 64;
    Random rnd = new Random(3);
    AttentionShape shape = new AttentionShape(n, H, G, d);
    float[] q = Reference.gaussian(rnd, shape.qLength()), k = Reference.gaussian(rnd, shape.kvLength()),
        v = Reference.gaussian(rnd, shape.kvLength());
    float[] qf = Data.roundBf16(q).toFloats(), kf = Data.roundBf16(k).toFloats(), vf = Data.roundBf16(v).toFloats();
    Kernels.AttentionOutput got = Kernels.attention(Backend.CPU, ElementType.BF16, shape, q, k, v);
    Reference.Attention ref = Reference.attention(qf, kf, vf, n, H, G, d);
    double yardstick = Reference.relError(toFloats(Reference.attention(qf, kf, vf, n, H, G, d, true).out()), ref.out());
    double e = Reference.relError(got.out(), ref.out());
    assertTrue(yardstick > 1e-4, "P rounding to bf16 costs " + yardstick);
    assertTrue(e > 1e-5 && e <= 2 * yardstick, "error " + e + " vs yardstick " + yardstick);
  }

  @Test
  void autoWithBf16RunsOnTheCpuWithoutAGpu() {
    if (Kernels.cudaAvailable()) return; // AUTO is CUDA there (CudaKernelsTest covers it)
    AttentionShape shape = new AttentionShape(40, 4, 2, 64);
    Random rnd = new Random(5);
    float[] q = Reference.gaussian(rnd, shape.qLength()), k = Reference.gaussian(rnd, shape.kvLength()),
        v = Reference.gaussian(rnd, shape.kvLength());
    Kernels.AttentionOutput auto = Kernels.attention(Backend.AUTO, ElementType.BF16, shape, q, k, v);
    Kernels.AttentionOutput cpu = Kernels.attention(Backend.CPU, ElementType.BF16, shape, q, k, v);
    assertArrayEquals(cpu.out(), auto.out());
    Spans spans = new Spans(3, 20);
    assertArrayEquals(Kernels.scores(Backend.CPU, ElementType.BF16, shape, spans, q, k, cpu.lse()).self(),
        Kernels.scores(Backend.AUTO, ElementType.BF16, shape, spans, q, k, cpu.lse()).self());
    assertThrows(IllegalArgumentException.class, () -> Kernels.attention(Backend.CPU, ElementType.FP16, shape, q, k, v));
  }

  @Test
  void zeroCopyHoldersGiveTheArrayResult() {
    AttentionShape shape = new AttentionShape(50, 4, 2, 64);
    Random rnd = new Random(9);
    short[] q = Data.roundBf16(Reference.gaussian(rnd, shape.qLength())).toShorts();
    short[] k = Data.roundBf16(Reference.gaussian(rnd, shape.kvLength())).toShorts();
    short[] v = Data.roundBf16(Reference.gaussian(rnd, shape.kvLength())).toShorts();
    float[] expected = new float[Math.toIntExact(shape.qLength())];
    Kernels.attention(shape, Data.bf16(q), Data.bf16(k), Data.bf16(v), Data.of(expected),
        Data.of(new float[Math.toIntExact(shape.lseLength())]));

    try (Data qd = Data.bf16(direct(q)); Data kd = Data.bf16(new ShortPointer(k), k.length);
        Data vd = Data.bf16(new ShortPointer(v)); Data out = Data.allocate(ElementType.FP32, shape.qLength());
        Data lse = Data.allocate(ElementType.FP32, shape.lseLength())) {
      Kernels.attention(shape, qd, kd, vd, out, lse);
      assertArrayEquals(expected, out.toFloats());
    }
    // ByteDeco bf16 tensors, zero-copy, shapes checked exactly.
    Tensor qt = tensor(q, 50, 4, 64), kt = tensor(k, 50, 2, 64), vt = tensor(v, 50, 2, 64);
    Tensor ot = torch.empty(50, 4, 64).to(torch.ScalarType.BFloat16);
    Kernels.attention(shape, TorchData.bf16(qt), TorchData.bf16(kt), TorchData.bf16(vt), TorchData.bf16(ot),
        Data.allocate(ElementType.FP32, shape.lseLength()));
    short[] got = TorchData.bf16(ot).toShorts();
    for (int i = 0; i < got.length; i++) assertEquals(Bf16.fromFloat(expected[i]), got[i], "tensor out " + i);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Kernels.attention(shape,
        TorchData.bf16(kt), TorchData.bf16(kt), TorchData.bf16(vt), TorchData.bf16(ot), Data.allocate(ElementType.FP32, shape.lseLength())));
    assertTrue(e.getMessage().startsWith("q: expected a tensor of shape [n,H,d]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> TorchData.bf16(torch.zeros(4)));
    assertTrue(e.getMessage().contains("must be BFloat16"), e.getMessage());
  }

  @Test
  void badArgumentsNameTheArgument() {
    AttentionShape shape = new AttentionShape(10, 4, 2, 64);
    Data q = Data.bf16(new short[10 * 4 * 64]), kv = Data.bf16(new short[10 * 2 * 64]);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Kernels.attention(shape, q,
        Data.bf16(new short[7]), kv, Data.allocate(ElementType.FP32, shape.qLength()), Data.allocate(ElementType.FP32, shape.lseLength())));
    assertTrue(e.getMessage().startsWith("k: expected 1280 bfloat16 values"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.attention(shape, q, kv, kv,
        Data.of(new int[10 * 4 * 64]), Data.allocate(ElementType.FP32, shape.lseLength())));
    assertTrue(e.getMessage().startsWith("out: expected float32 or bfloat16"), e.getMessage());
    assertEquals(FitPruneNative.FP_ERR_UNAVAILABLE, FitPruneNative.fp_cpu_attention(null, null, null, 0, 4, 2, 64,
        FitPruneNative.FP_DTYPE_F16, 0.125f, null, FitPruneNative.FP_DTYPE_F16, null));
  }

  @Test
  void gathersBf16RowsInPlaceAndOut() {
    int rows = 9, width = 5;
    short[] src = new short[rows * width];
    for (int i = 0; i < src.length; i++) src[i] = (short) (1000 + i);
    int[] index = {0, 2, 3, 7, 8};
    short[] expected = new short[index.length * width];
    for (int r = 0; r < index.length; r++) System.arraycopy(src, index[r] * width, expected, r * width, width);

    short[] dst = new short[expected.length];
    Kernels.gatherRows(Data.bf16(src), rows, width, Data.of(index), Data.bf16(dst));
    assertArrayEquals(expected, dst);
    try (Data buf = Data.allocate(ElementType.BF16, src.length)) {
      buf.copyFrom(src);
      Kernels.gatherRows(buf, rows, width, Data.of(index), buf); // in place: compaction
      short[] got = buf.toShorts();
      assertArrayEquals(expected, java.util.Arrays.copyOf(got, expected.length));
    }
    assertThrows(FitPruneException.class,
        () -> Kernels.gatherRows(Data.bf16(src), rows, width, Data.of(new int[] {9}), Data.bf16(new short[width])));
  }

  private static ShortBuffer direct(short[] a) {
    ShortBuffer b = ByteBuffer.allocateDirect(2 * a.length).order(ByteOrder.nativeOrder()).asShortBuffer();
    b.put(a).flip();
    return b;
  }

  private static Tensor tensor(short[] bits, long... shape) {
    float[] f = new float[bits.length];
    for (int i = 0; i < f.length; i++) f[i] = Bf16.toFloat(bits[i]);
    return torch.from_blob(new org.bytedeco.javacpp.FloatPointer(f), shape).to(torch.ScalarType.BFloat16).contiguous();
  }

  private static float[] toFloats(double[] a) {
    float[] f = new float[a.length];
    for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
    return f;
  }
}
