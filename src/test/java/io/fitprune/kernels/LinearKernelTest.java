package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The small-M dense layer of decode ({@link Kernels#linear}) on every ISA path this machine runs,
 * against a float64 reference on fresh random inputs: odd sizes, one row and more rows than a row
 * group, several matrices of different stored types in one pass, accumulation. Bound: a sum of k
 * products accumulated in fp32 is within {@code (k + 16) * 2^-24 * sum |x w|} of the exact sum of
 * the same operands (x rounded to bf16 for BF16 weights, as libtorch's bf16 linear rounds it); and
 * against the unrounded inputs, no worse than libtorch's bf16 {@code linear}, which also rounds
 * its output to bf16.
 */
class LinearKernelTest {
  @AfterEach
  void restoreIsa() {
    Kernels.useIsa(null);
  }

  static float[] gaussian(Random r, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
    return a;
  }

  /** A weight tensor of the given type holding random values; {@code values} receives them exactly. */
  static Tensor weightTensor(Random r, int out, int in, torch.ScalarType type, float[] values) {
    float[] g = gaussian(r, out * in);
    try (Tensor f = io.fitprune.decoder.Tensors.of(g, out, in)) {
      Tensor t = f.to(type);
      try (Tensor back = t.to(torch.ScalarType.Float).contiguous()) {
        back.data_ptr_float().capacity(values.length).get(values);
      }
      return t;
    }
  }

  static final torch.ScalarType[] TYPES = {torch.ScalarType.BFloat16, torch.ScalarType.Float, torch.ScalarType.Half};

  @Test
  void matchesFloat64OnEveryPathForOddSizesAndMixedTypes() {
    int[][] cases = { // rows, in, outs...
        {1, 1, 1}, {1, 7, 5, 3, 9}, {3, 33, 17}, {5, 100, 40, 8}, {16, 257, 70, 70, 33}, {17, 64, 37},
        {2, 4096, 12}, {7, 31, 1, 2, 3, 4, 5, 6, 7, 8},
        // weight rows around a work block's edge: every shape of the spread tiles' short last column
        {2, 40, 61, 62, 63, 64, 65, 66, 67, 129},
        // a full row tile and a shorter one in the same group of 16 (8 + 4 and 8 + 7 on AVX-512)
        {12, 70, 33, 9}, {15, 33, 5, 17},
        // enough rows for the largest work blocks (256), the last one short
        {3, 40, 2100},
        // five to eight rows of x against BF16 weights (the four-rows-a-vector layout on the
        // vdpbf16ps path): several blocks, k with and without a scalar tail, accumulation
        {6, 96, 257}, {8, 1000, 70, 700}, {7, 200, 9, 9, 130}, {5, 33, 4, 101}};
    long seed = System.nanoTime();
    for (Isa isa : Kernels.supportedIsas()) {
      Kernels.useIsa(isa);
      Random r = new Random(seed + isa.ordinal());
      for (int[] cs : cases) {
        int rows = cs[0], in = cs[1], count = cs.length - 2;
        float[] x = gaussian(r, rows * in);
        Weight[] w = new Weight[count];
        float[][] wv = new float[count][], y = new float[count][], y0 = new float[count][];
        Tensor[] keep = new Tensor[count];
        for (int i = 0; i < count; i++) {
          int out = cs[2 + i];
          wv[i] = new float[out * in];
          keep[i] = weightTensor(r, out, in, TYPES[(i + rows) % TYPES.length], wv[i]);
          w[i] = TorchData.weight("w" + i, keep[i]);
          y0[i] = gaussian(r, rows * out);
          y[i] = y0[i].clone();
        }
        boolean accumulate = (rows & 1) == 1;
        Data[] yd = new Data[count];
        for (int i = 0; i < count; i++) yd[i] = Data.of(y[i]);
        Kernels.linear(Data.of(x), rows, w, yd, accumulate);
        for (int i = 0; i < count; i++) {
          boolean bf16 = w[i].type() == ElementType.BF16;
          int out = cs[2 + i];
          for (int m = 0; m < rows; m++)
            for (int j = 0; j < out; j++) {
              double exact = 0, mag = 0;
              for (int t = 0; t < in; t++) {
                double xv = bf16 ? Bf16.toFloat(Bf16.fromFloat(x[m * in + t])) : x[m * in + t];
                exact += xv * wv[i][j * in + t];
                mag += Math.abs(xv * wv[i][j * in + t]);
              }
              double base = accumulate ? y0[i][m * out + j] : 0;
              double got = y[i][m * out + j] - base; // the addition of y's old value is one more fp32 rounding
              double bound = (in + 16) * 0x1p-24 * mag + (accumulate ? 0x1p-23 * Math.abs(y[i][m * out + j]) : 0);
              assertTrue(Math.abs(got - exact) <= bound + 1e-30,
                  isa + " rows=" + rows + " in=" + in + " " + w[i] + " [" + m + "," + j + "]: " + got + " vs " + exact
                      + " (bound " + bound + ", seed " + seed + ")");
            }
          keep[i].close();
        }
      }
    }
  }

  @Test
  void noWorseThanLibtorchsBf16Linear() {
    Random r = new Random(System.nanoTime());
    int rows = 8, in = 1000, out = 300;
    float[] x = gaussian(r, rows * in), wv = new float[out * in];
    Tensor wt = weightTensor(r, out, in, torch.ScalarType.BFloat16, wv);
    float[] ours = new float[rows * out];
    Kernels.linear(Data.of(x), rows, TorchData.weight("w", wt), Data.of(ours));
    float[] theirs = new float[rows * out];
    try (Tensor xt = io.fitprune.decoder.Tensors.of(x, rows, in); Tensor xb = xt.to(torch.ScalarType.BFloat16);
        Tensor yt = torch.linear(xb, wt); Tensor yf = yt.to(torch.ScalarType.Float).contiguous()) {
      yf.data_ptr_float().capacity(theirs.length).get(theirs);
    }
    double errOurs = 0, errTorch = 0;
    for (int m = 0; m < rows; m++)
      for (int j = 0; j < out; j++) {
        double exact = 0, mag = 0;
        for (int t = 0; t < in; t++) {
          exact += (double) x[m * in + t] * wv[j * in + t];
          mag += Math.abs((double) x[m * in + t] * wv[j * in + t]);
        }
        errOurs = Math.max(errOurs, Math.abs(ours[m * out + j] - exact) / mag);
        errTorch = Math.max(errTorch, Math.abs(theirs[m * out + j] - exact) / mag);
      }
    assertTrue(errOurs <= errTorch, "ours " + errOurs + ", libtorch bf16 linear " + errTorch);
    assertTrue(errOurs > 0 && errOurs < 0x1p-8, "x is rounded to bf16, as libtorch does: " + errOurs);
    wt.close();
  }

  /** silu(x gate^T) * (x up^T) in one call, on every path, against float64 on the same products' operands. */
  @Test
  void swigluMatchesFloat64OnEveryPath() {
    long seed = System.nanoTime();
    for (Isa isa : Kernels.supportedIsas()) {
      Kernels.useIsa(isa);
      Random r = new Random(seed + isa.ordinal());
      int rows = 3, in = 70, out = 45;
      float[] x = gaussian(r, rows * in), gv = new float[out * in], uv = new float[out * in];
      for (int i = 0; i < x.length; i++) x[i] *= 2; // gate values well into both tails of silu
      Tensor gt = weightTensor(r, out, in, torch.ScalarType.BFloat16, gv), ut = weightTensor(r, out, in, torch.ScalarType.Float, uv);
      float[] y = new float[rows * out], upOut = new float[rows * out];
      Kernels.linearSwiglu(Data.of(x), rows, TorchData.weight("gate", gt), TorchData.weight("up", ut), Data.of(y),
          Data.of(upOut));
      for (int m = 0; m < rows; m++)
        for (int j = 0; j < out; j++) {
          double g = 0, u = 0, gm = 0, um = 0;
          for (int t = 0; t < in; t++) {
            double xb = Bf16.toFloat(Bf16.fromFloat(x[m * in + t]));
            g += xb * gv[j * in + t];
            gm += Math.abs(xb * gv[j * in + t]);
            u += (double) x[m * in + t] * uv[j * in + t];
            um += Math.abs((double) x[m * in + t] * uv[j * in + t]);
          }
          double want = g / (1 + Math.exp(-g)) * u;
          // the products' fp32 error (dsilu/dg <= 1.1), then a few roundings and the exp approximation
          double bound = (in + 16) * 0x1p-24 * (1.1 * gm * Math.abs(u) + Math.abs(g) * um) + 1e-6 * Math.abs(want);
          assertTrue(Math.abs(y[m * out + j] - want) <= bound,
              isa + " [" + m + "," + j + "]: " + y[m * out + j] + " vs " + want + " (seed " + seed + ")");
        }
      gt.close();
      ut.close();
    }
    Weight a = TorchData.weight("gate", torch.ones(4, 3)), b = TorchData.weight("up", torch.ones(5, 3));
    var e = assertThrows(IllegalArgumentException.class, () -> Kernels.linearSwiglu(Data.of(new float[3]), 1, a, b,
        Data.of(new float[4]), Data.of(new float[5])));
    assertTrue(e.getMessage().startsWith("swiglu:"), e.getMessage());
  }

  /** A 152k-row LM head of 8192 columns (2.5 GB of bf16): offsets past 2^31 elements must work. */
  @Test
  void aLargeLmHeadIsReadToItsLastRow() {
    long out = 152064, in = 8192, elems = out * in;
    BytePointer mem = new BytePointer(Pointer0.calloc(elems * 2));
    try {
      ShortPointer w = new ShortPointer(mem).capacity(elems);
      float[] x = new float[(int) in];
      for (int t = 0; t < in; t++) x[t] = 1 + t % 3;
      for (int t = 0; t < in; t++) w.put((out - 1) * in + t, Bf16.fromFloat(0.5f)); // the last row
      w.put(0, Bf16.fromFloat(2f));
      float[] y = new float[(int) out];
      Kernels.linear(Data.of(x), 1, Weight.of("lm_head", w, ElementType.BF16, out, in), Data.of(y));
      double last = 0;
      for (int t = 0; t < in; t++) last += 0.5 * x[t];
      assertEquals(last, y[(int) out - 1], 0);
      assertEquals(2f, y[0], 0);
      assertEquals(0f, y[(int) out / 2], 0);
    } finally {
      org.bytedeco.javacpp.Pointer.free(mem);
    }
  }

  /** Zeroed native memory that is not touched until read (calloc of a large block maps zero pages). */
  private static final class Pointer0 {
    static org.bytedeco.javacpp.Pointer calloc(long bytes) {
      org.bytedeco.javacpp.Pointer p = org.bytedeco.javacpp.Pointer.calloc(bytes, 1);
      if (p == null || p.isNull()) throw new org.opentest4j.TestAbortedException("cannot allocate " + bytes + " bytes");
      return p;
    }
  }

  @Test
  void badInputIsRefusedNamingTheTensor() {
    Random r = new Random(3);
    float[] wv = new float[6 * 4];
    Tensor wt = weightTensor(r, 6, 4, torch.ScalarType.BFloat16, wv), wt2 = weightTensor(r, 6, 5, torch.ScalarType.Float, new float[30]);
    Weight w = TorchData.weight("layer 0 q_proj", wt), w5 = TorchData.weight("layer 0 k_proj", wt2);
    Data x = Data.of(new float[8]), y = Data.of(new float[12]);
    var e = assertThrows(IllegalArgumentException.class, () -> Kernels.linear(x, 2, new Weight[] {w, w5},
        new Data[] {y, Data.of(new float[12])}, false));
    assertTrue(e.getMessage().contains("w[1] layer 0 k_proj"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.linear(Data.of(new float[7]), 2, w, y));
    assertTrue(e.getMessage().startsWith("x:"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.linear(x, 2, w, Data.of(new float[11])));
    assertTrue(e.getMessage().contains("layer 0 q_proj"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.linear(x, 2, new Weight[9], new Data[9], false));
    assertTrue(e.getMessage().contains("1 to 8"), e.getMessage());
    try (Tensor ints = torch.ones(3, 4).to(torch.ScalarType.Int)) {
      e = assertThrows(IllegalArgumentException.class, () -> TorchData.weight("layer 2 o_proj", ints));
      assertTrue(e.getMessage().startsWith("layer 2 o_proj: weights must be"), e.getMessage());
    }
    e = assertThrows(IllegalArgumentException.class,
        () -> Weight.of("tiny", new FloatPointer(4), ElementType.FP32, 2, 4));
    assertTrue(e.getMessage().contains("tiny") && e.getMessage().contains("needs 32 bytes"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Weight.of("idx", new FloatPointer(4), ElementType.INT32, 2, 2));
    assertTrue(e.getMessage().contains("idx"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Weight.of("huge", new FloatPointer(4), ElementType.BF16, Long.MAX_VALUE / 2, 4));
    assertTrue(e.getMessage().contains("huge"), e.getMessage());
    // an output over the input
    FloatPointer shared = new FloatPointer(8 + 12);
    Data xs = Data.of(new FloatPointer(shared).capacity(8).limit(8)),
        ys = Data.of(new FloatPointer(shared).position(4).limit(16));
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.linear(xs, 2, w, ys));
    assertTrue(e.getMessage().contains("overlaps x"), e.getMessage());
    wt.close();
    wt2.close();
  }

  @Test
  void readBandwidthIsPositive() {
    BytePointer buf = new BytePointer(64L << 20);
    try {
      assertTrue(Kernels.readBandwidth(buf, buf.capacity(), 0) > 0);
      assertTrue(Kernels.readBandwidth(buf, 1000, 1) > 0);
      assertThrows(IllegalArgumentException.class, () -> Kernels.readBandwidth(buf, buf.capacity() + 1, 1));
      Weight[] ws = {Weight.of("a", buf, ElementType.BF16, 1024, 1024), Weight.of("b", buf, ElementType.FP32, 3, 5)};
      assertTrue(Kernels.readBandwidth(ws, 0) > 0);
    } finally {
      buf.deallocate();
    }
  }
}
