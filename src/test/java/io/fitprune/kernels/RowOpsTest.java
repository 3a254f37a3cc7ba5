package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The decode step's native row steps against the Java loops they replace, bit for bit, on fresh
 * random inputs of odd widths, one row and none; and against a float64 RMSNorm within float32
 * rounding; NaN and infinities through the bf16 rounding; bad input refused naming the argument.
 */
class RowOpsTest {
  static float[] gaussian(Random r, int n, double scale) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * scale);
    return a;
  }

  /** The reference decoder's RMSNorm as it was written in Java. */
  static float[] javaRmsNorm(float[] x, int rows, int width, float[] w, double eps) {
    float[] y = new float[x.length];
    for (int i = 0; i < rows; i++) {
      double ss = 0;
      for (int j = 0; j < width; j++) ss += x[i * width + j] * x[i * width + j];
      float inv = (float) (1 / Math.sqrt(ss / width + eps));
      for (int j = 0; j < width; j++) y[i * width + j] = x[i * width + j] * inv * w[j];
    }
    return y;
  }

  static FloatBuffer direct(float[] v) {
    FloatBuffer b = ByteBuffer.allocateDirect(Math.max(4, v.length * 4)).order(ByteOrder.nativeOrder()).asFloatBuffer();
    b.put(0, v);
    return b.limit(v.length);
  }

  @Test
  void rmsNormGivesTheJavaLoopsBitsAndIsCloseToFloat64() {
    long seed = System.nanoTime();
    Random r = new Random(seed);
    int[][] cases = {{1, 1}, {1, 4096}, {3, 33}, {7, 1000}, {0, 5}, {2, 0}};
    for (int[] cs : cases) {
      int rows = cs[0], width = cs[1];
      float[] x = gaussian(r, rows * width, 3), w = gaussian(r, width, 1);
      double eps = 1e-5;
      float[] got = new float[rows * width];
      Kernels.rmsNorm(Data.of(x), Data.of(got), rows, width, Data.of(w), eps);
      assertArrayEquals(javaRmsNorm(x, rows, width, w, eps), got, "rows=" + rows + " width=" + width + " seed " + seed);
      // direct buffers, y over x
      FloatBuffer xb = direct(x);
      Kernels.rmsNorm(Data.of(xb), Data.of(xb), rows, width, Data.of(direct(w)), eps);
      float[] inPlace = new float[rows * width];
      xb.get(0, inPlace);
      assertArrayEquals(got, inPlace, "in place, seed " + seed);
      for (int i = 0; i < rows; i++) {
        double ss = 0;
        for (int j = 0; j < width; j++) ss += (double) x[i * width + j] * x[i * width + j];
        double inv = 1 / Math.sqrt(ss / width + eps);
        for (int j = 0; j < width; j++) {
          double want = x[i * width + j] * inv * w[j];
          assertEquals(want, got[i * width + j], 4 * Math.ulp((float) want) + 1e-30, "float64, seed " + seed);
        }
      }
    }
  }

  @Test
  void roundBf16IsBf16FromFloatValueByValue() {
    Random r = new Random(System.nanoTime());
    float[] x = gaussian(r, 1001, 100);
    x[0] = Float.NaN;
    x[1] = Float.POSITIVE_INFINITY;
    x[2] = Float.NEGATIVE_INFINITY;
    x[3] = Float.intBitsToFloat(0x7f800001); // a signalling NaN: stays NaN
    x[4] = -0f;
    x[5] = Float.MAX_VALUE; // rounds up to infinity, as Bf16.fromFloat does
    x[6] = Float.intBitsToFloat(0x00000001); // the smallest subnormal
    x[7] = Float.intBitsToFloat(0x3f808000); // a tie: to even
    x[8] = Float.intBitsToFloat(0x807f8123); // a subnormal that stays one (a flushing conversion gives -0)
    short[] got = new short[x.length];
    Kernels.roundBf16(Data.of(x), Data.bf16(got));
    for (int i = 0; i < x.length; i++) assertEquals(Bf16.fromFloat(x[i]), got[i], "value " + i + ": " + x[i]);
    assertTrue(Float.isNaN(Bf16.toFloat(got[3])));
    Kernels.roundBf16(Data.of(new float[0]), Data.bf16(new short[0]));
  }

  @Test
  void badInputIsRefusedNamingTheArgument() {
    Data x = Data.of(new float[6]), y = Data.of(new float[6]), w = Data.of(new float[3]);
    var e = assertThrows(IllegalArgumentException.class, () -> Kernels.rmsNorm(x, Data.of(new float[5]), 2, 3, w, 1e-6));
    assertTrue(e.getMessage().startsWith("y:"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.rmsNorm(x, y, 2, 3, Data.of(new float[4]), 1e-6));
    assertTrue(e.getMessage().startsWith("weight:"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.rmsNorm(x, y, -1, 3, w, 1e-6));
    assertTrue(e.getMessage().contains("rows"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.rmsNorm(x, y, 2, 3, w, Double.NaN));
    assertTrue(e.getMessage().startsWith("eps"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.rmsNorm(Data.bf16(new short[6]), y, 2, 3, w, 1e-6));
    assertTrue(e.getMessage().startsWith("x:"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.roundBf16(x, Data.bf16(new short[5])));
    assertTrue(e.getMessage().startsWith("dst:"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.roundBf16(x, y));
    assertTrue(e.getMessage().startsWith("dst:"), e.getMessage());
    assertThrows(NullPointerException.class, () -> Kernels.roundBf16(null, y));
  }
}
