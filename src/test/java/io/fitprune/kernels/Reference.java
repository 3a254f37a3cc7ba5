package io.fitprune.kernels;

import java.util.Random;

/** Float64 reference implementations, written plainly from the definitions in docs/design.md. */
final class Reference {
  private Reference() {}

  record Attention(double[] out, double[] lse) {}

  record Scores(double[] self, double[] cross) {}

  static float[] gaussian(Random rnd, long count) {
    float[] a = new float[Math.toIntExact(count)];
    for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
    return a;
  }

  /** Causal softmax logits of row i in head h against keys 0..i, q.k * scale. */
  private static double[] logits(float[] q, float[] k, int H, int G, int d, int h, int i, double scale) {
    int g = h / (H / G);
    double[] s = new double[i + 1];
    for (int j = 0; j <= i; j++) {
      double dot = 0;
      int qo = (i * H + h) * d, ko = (j * G + g) * d;
      for (int c = 0; c < d; c++) dot += (double) q[qo + c] * k[ko + c];
      s[j] = dot * scale;
    }
    return s;
  }

  private static double logSumExp(double[] s) {
    double m = Double.NEGATIVE_INFINITY;
    for (double x : s) m = Math.max(m, x);
    double sum = 0;
    for (double x : s) sum += Math.exp(x - m);
    return m + Math.log(sum);
  }

  static Attention attention(float[] q, float[] k, float[] v, int n, int H, int G, int d) {
    return attention(q, k, v, n, H, G, d, false);
  }

  /**
   * With {@code roundP}, each probability is rounded to bf16 before it multiplies v: the yardstick
   * of the FlashAttention rule for bf16 kernels (their error is judged against this one's).
   */
  static Attention attention(float[] q, float[] k, float[] v, int n, int H, int G, int d, boolean roundP) {
    return attention(q, k, v, n, H, G, d, roundP, 1.0 / Math.sqrt(d));
  }

  /** Attention with logits {@code q.k * scale} (the others: scale 1/sqrt(d), computed in double). */
  static Attention attention(float[] q, float[] k, float[] v, int n, int H, int G, int d, boolean roundP, double scale) {
    double[] out = new double[n * H * d], lse = new double[H * n];
    for (int h = 0; h < H; h++) {
      int g = h / (H / G);
      for (int i = 0; i < n; i++) {
        double[] s = logits(q, k, H, G, d, h, i, scale);
        double l = logSumExp(s);
        lse[h * n + i] = l;
        for (int j = 0; j <= i; j++) {
          double p = Math.exp(s[j] - l);
          if (roundP) p = Bf16.toFloat(Bf16.fromFloat((float) p));
          int vo = (j * G + g) * d, oo = (i * H + h) * d;
          for (int c = 0; c < d; c++) out[oo + c] += p * v[vo + c];
        }
      }
    }
    return new Attention(out, lse);
  }

  /** self[j] = (1/V) sum_{visual i} max_h A[h,i,j]; cross[j] = (1/t) sum_{text i} max_h A[h,i,j]. */
  static Scores scores(float[] q, float[] k, int n, int H, int G, int d, int P, int V) {
    return scores(q, k, n, H, G, d, P, V, 1.0 / Math.sqrt(d));
  }

  /** The scores of attention with logits {@code q.k * scale}. */
  static Scores scores(float[] q, float[] k, int n, int H, int G, int d, int P, int V, double scale) {
    double[] self = new double[V], cross = new double[V];
    int t = n - P - V;
    for (int i = P; i < n; i++) {
      double[] rowMax = new double[V];
      for (int h = 0; h < H; h++) {
        double[] s = logits(q, k, H, G, d, h, i, scale);
        double l = logSumExp(s);
        for (int j = 0; j < V && P + j <= i; j++) rowMax[j] = Math.max(rowMax[j], Math.exp(s[P + j] - l));
      }
      double[] acc = i < P + V ? self : cross;
      for (int j = 0; j < V; j++) acc[j] += rowMax[j];
    }
    for (int j = 0; j < V; j++) {
      self[j] /= V;
      cross[j] = t > 0 ? cross[j] / t : 0;
    }
    return new Scores(self, cross);
  }

  /** max |a - ref| / max |ref| (absolute when ref is all zero). */
  static double relError(float[] a, double[] ref) {
    double err = 0, scale = 0;
    for (int i = 0; i < ref.length; i++) {
      err = Math.max(err, Math.abs(a[i] - ref[i]));
      scale = Math.max(scale, Math.abs(ref[i]));
    }
    return scale > 0 ? err / scale : err;
  }

  static double relError(float[] a, float[] ref) {
    double[] r = new double[ref.length];
    for (int i = 0; i < r.length; i++) r[i] = ref[i];
    return relError(a, r);
  }

  /** max |a - ref| / max(1, |ref|), elementwise: for log-sum-exp values near zero. */
  static double lseError(float[] a, double[] ref) {
    double err = 0;
    for (int i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(a[i] - ref[i]) / Math.max(1, Math.abs(ref[i])));
    return err;
  }

  /** The kept rows by the deploy rule (docs/design.md, "Applying a recipe"), from a full sort on (self*cross, index). */
  static int[] keep(float[] self, float[] cross, int n, int P, int V, int drop) {
    Integer[] order = new Integer[V];
    for (int j = 0; j < V; j++) order[j] = j;
    java.util.Arrays.sort(order, (a, b) -> {
      int c = Float.compare(self[a] * cross[a], self[b] * cross[b]);
      return c != 0 ? c : Integer.compare(a, b);
    });
    boolean[] dropped = new boolean[V];
    for (int r = 0; r < drop; r++) dropped[order[r]] = true;
    int[] keep = new int[n - drop];
    int o = 0;
    for (int i = 0; i < n; i++) if (i < P || i >= P + V || !dropped[i - P]) keep[o++] = i;
    return keep;
  }
}
