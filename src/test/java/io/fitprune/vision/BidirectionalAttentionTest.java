package io.fitprune.vision;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.decoder.Tensors;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * Bidirectional attention from two causal kernel calls, against a float64 softmax over every key
 * and against libtorch's scaled_dot_product_attention, for n = 1, 2 and odd sizes, in float32 and
 * bf16 (judged against the float64 result with q, k, v and the probabilities rounded to bf16).
 */
class BidirectionalAttentionTest {
  static float[] random(long seed, int len, double scale) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[len];
    for (int i = 0; i < len; i++) a[i] = (float) ((2 * r.nextDouble() - 1) * scale);
    return a;
  }

  /** softmax(q k^T / sqrt(d)) v per head over all keys; with {@code bf16}, q, k, v and the probabilities rounded. */
  static double[] reference(float[] q, float[] k, float[] v, int n, int heads, int d, boolean bf16) {
    int w = heads * d;
    double[] out = new double[n * w], s = new double[n];
    for (int h = 0; h < heads; h++)
      for (int i = 0; i < n; i++) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int j = 0; j < n; j++) {
          double dot = 0;
          for (int t = 0; t < d; t++) dot += r(q[i * w + h * d + t], bf16) * r(k[j * w + h * d + t], bf16);
          s[j] = dot / Math.sqrt(d);
          max = Math.max(max, s[j]);
        }
        for (int j = 0; j < n; j++) sum += s[j] = Math.exp(s[j] - max);
        for (int t = 0; t < d; t++) {
          double acc = 0;
          for (int j = 0; j < n; j++) acc += r(s[j] / sum, bf16) * r(v[j * w + h * d + t], bf16);
          out[i * w + h * d + t] = acc;
        }
      }
    return out;
  }

  static double r(double x, boolean bf16) {
    return bf16 ? ClipReference64.bf16(x) : x;
  }

  static double relErr(double[] want, float[] got) {
    double num = 0, den = 0;
    for (int i = 0; i < want.length; i++) {
      num += (got[i] - want[i]) * (got[i] - want[i]);
      den += want[i] * want[i];
    }
    return Math.sqrt(num / den);
  }

  static float[] run(float[] q, float[] k, float[] v, int n, int heads, int d, torch.ScalarType type) {
    int w = heads * d;
    try (Tensor qf = Tensors.of(q, n, w); Tensor kf = Tensors.of(k, n, w); Tensor vf = Tensors.of(v, n, w);
         Tensor qt = qf.to(type); Tensor kt = kf.to(type); Tensor vt = vf.to(type); Tensor out = torch.empty(n, w)) {
      BidirectionalAttention.apply(qt, kt, vt, heads, out);
      return Tensors.toArray(out);
    }
  }

  @Test
  void matchesFloat64AndLibtorchSdpaInFloat32() {
    int[][] shapes = {{1, 3, 7}, {2, 1, 5}, {3, 2, 16}, {37, 3, 15}, {65, 5, 64}, {130, 2, 33}};
    long seed = 1;
    for (int[] s : shapes) {
      int n = s[0], heads = s[1], d = s[2], len = n * heads * d;
      float[] q = random(seed++, len, 2), k = random(seed++, len, 2), v = random(seed++, len, 1);
      float[] got = run(q, k, v, n, heads, d, torch.ScalarType.Float);
      double e = relErr(reference(q, k, v, n, heads, d, false), got);
      String what = "n=" + n + " H=" + heads + " d=" + d;
      assertTrue(e < 1e-6, what + ": relative error " + e);
      try (Tensor qt = Tensors.of(q, 1, n, heads, d); Tensor kt = Tensors.of(k, 1, n, heads, d);
           Tensor vt = Tensors.of(v, 1, n, heads, d);
           Tensor o = torch.scaled_dot_product_attention(qt.transpose(1, 2), kt.transpose(1, 2), vt.transpose(1, 2))) {
        float[] sdpa = Tensors.toArray(o.transpose(1, 2).contiguous());
        double[] sd = new double[sdpa.length];
        for (int i = 0; i < sd.length; i++) sd[i] = sdpa[i];
        double vs = relErr(sd, got);
        assertTrue(vs < 1e-6, what + ": against libtorch SDPA " + vs);
      }
    }
  }

  @Test
  void bf16StaysWithinTheRoundingErrorOfBf16() {
    int n = 97, heads = 4, d = 32, len = n * heads * d;
    float[] q = random(7, len, 2), k = random(8, len, 2), v = random(9, len, 1);
    double[] exact = reference(q, k, v, n, heads, d, false);
    float[] rounded = new float[len];
    double[] rr = reference(q, k, v, n, heads, d, true);
    for (int i = 0; i < len; i++) rounded[i] = (float) rr[i];
    double rounding = relErr(exact, rounded);
    double err = relErr(exact, run(q, k, v, n, heads, d, torch.ScalarType.BFloat16));
    assertTrue(err <= 2 * rounding && rounding > 1e-4, "bf16 error " + err + ", rounding alone " + rounding);
  }

  /** Packed sequences (empty, one row, odd lengths) attend within themselves only: each as the float64 reference alone. */
  @Test
  void packedSequencesEachMatchTheirOwnReference() {
    int heads = 3, d = 16, w = heads * d;
    long[] cu = {0, 1, 1, 6, 23, 25, 88};
    int n = (int) cu[cu.length - 1];
    float[] q = random(21, n * w, 2), k = random(22, n * w, 2), v = random(23, n * w, 1);
    for (torch.ScalarType type : new torch.ScalarType[] {torch.ScalarType.Float, torch.ScalarType.BFloat16}) {
      float[] got;
      try (Tensor qf = Tensors.of(q, n, w); Tensor kf = Tensors.of(k, n, w); Tensor vf = Tensors.of(v, n, w);
           Tensor qt = qf.to(type); Tensor kt = kf.to(type); Tensor vt = vf.to(type); Tensor out = torch.empty(n, w)) {
        BidirectionalAttention.apply(qt, kt, vt, heads, cu, out);
        got = Tensors.toArray(out);
      }
      boolean bf16 = type.value == torch.ScalarType.BFloat16.value;
      for (int s = 0; s + 1 < cu.length; s++) {
        int from = (int) cu[s], len = (int) (cu[s + 1] - cu[s]);
        if (len == 0) continue;
        float[] qs = java.util.Arrays.copyOfRange(q, from * w, (from + len) * w);
        float[] ks = java.util.Arrays.copyOfRange(k, from * w, (from + len) * w);
        float[] vs = java.util.Arrays.copyOfRange(v, from * w, (from + len) * w);
        double[] want = reference(qs, ks, vs, len, heads, d, false);
        double e = relErr(want, java.util.Arrays.copyOfRange(got, from * w, (from + len) * w));
        double bound = 1e-6; // bf16: twice the error of the reference rounded where the kernel rounds
        if (bf16) {
          double[] rr = reference(qs, ks, vs, len, heads, d, true);
          float[] rounded = new float[rr.length];
          for (int i = 0; i < rr.length; i++) rounded[i] = (float) rr[i];
          bound = 2 * relErr(want, rounded);
        }
        assertTrue(e <= bound, type + " sequence " + s + " of " + len + " rows: relative error " + e + ", bound " + bound);
      }
    }
    try (Tensor q1 = torch.ones(5, 12); Tensor out = torch.empty(5, 12)) {
      IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> BidirectionalAttention.apply(q1, q1, q1, 3, new long[] {0, 2, 4}, out));
      assertTrue(e.getMessage().startsWith("cuSeqlens: expected to end at q's 5 rows"), e.getMessage());
      org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> BidirectionalAttention.apply(q1, q1, q1, 3, new long[] {0, 3, 2, 5}, out));
    }
  }

  @Test
  void badArgumentsAreRefusedNamingThem() {
    try (Tensor q = torch.ones(5, 12); Tensor k = torch.ones(5, 12); Tensor v = torch.ones(4, 12); Tensor out = torch.empty(5, 12);
         Tensor kb = k.to(torch.ScalarType.BFloat16); Tensor o3 = torch.empty(5, 12, 1)) {
      org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> BidirectionalAttention.apply(q, k, v, 3, out),
          "v rows");
      IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> BidirectionalAttention.apply(q, k, q, 5, out));
      assertTrue(e.getMessage().startsWith("heads: 5"), e.getMessage());
      e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> BidirectionalAttention.apply(q, kb, q, 3, out));
      assertTrue(e.getMessage().startsWith("q, k, v"), e.getMessage());
      e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> BidirectionalAttention.apply(q, k, q, 3, o3));
      assertTrue(e.getMessage().startsWith("out:"), e.getMessage());
    }
  }
}
