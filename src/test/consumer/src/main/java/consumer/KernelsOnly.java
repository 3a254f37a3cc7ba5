package consumer;

import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Data;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import java.util.Random;

/**
 * One pruning layer with the kernels alone: attention, FitPrune scores, selection and an in-place
 * gather, each checked against a float64 computation here. Exits non-zero on any mismatch.
 */
public final class KernelsOnly {
  public static void main(String[] args) {
    int n = 23, heads = 4, kvHeads = 2, d = 16, width = 8;
    Spans spans = new Spans(3, 14);
    long drop = 5;
    Random rnd = new Random(11);
    AttentionShape shape = new AttentionShape(n, heads, kvHeads, d);
    float[] q = random(rnd, shape.qLength()), k = random(rnd, shape.kvLength()), v = random(rnd, shape.kvLength());

    Kernels.AttentionOutput a = Kernels.attention(shape, q, k, v);
    double[][][] p = probabilities(q, k, n, heads, kvHeads, d);
    double worst = 0;
    for (int i = 0; i < n; i++)
      for (int h = 0; h < heads; h++)
        for (int c = 0; c < d; c++) {
          double o = 0;
          for (int j = 0; j <= i; j++) o += p[h][i][j] * v[(j * kvHeads + h / (heads / kvHeads)) * d + c];
          worst = Math.max(worst, Math.abs(o - a.out()[(i * heads + h) * d + c]));
        }
    require(worst < 1e-5, "attention differs from float64 by " + worst);

    Kernels.Scores s = Kernels.scores(shape, spans, q, k, a.lse());
    int P = (int) spans.prefix(), V = (int) spans.visual(), text = n - P - V;
    for (int j = 0; j < V; j++) {
      double self = 0, cross = 0;
      for (int i = P; i < n; i++) {
        double m = 0;
        for (int h = 0; h < heads; h++) m = Math.max(m, p[h][i][P + j]);
        if (i < P + V) self += m; else cross += m;
      }
      require(Math.abs(self / V - s.self()[j]) < 1e-5, "self[" + j + "] differs: " + s.self()[j] + " vs " + self / V);
      require(Math.abs(cross / text - s.cross()[j]) < 1e-5, "cross[" + j + "] differs");
    }

    int[] keep = Kernels.selectKeep(n, spans, s.self(), s.cross(), drop);
    require(keep.length == n - drop, "keep has " + keep.length + " rows, expected " + (n - drop));
    double threshold = Double.NEGATIVE_INFINITY; // every dropped token scores <= every kept visual one
    boolean[] kept = new boolean[n];
    for (int r : keep) kept[r] = true;
    for (int i = 0; i < n; i++) {
      boolean visual = i >= P && i < P + V;
      require(visual || kept[i], "row " + i + " is not visual but was dropped");
      if (visual && !kept[i]) threshold = Math.max(threshold, (double) s.self()[i - P] * s.cross()[i - P]);
    }
    for (int i = P; i < P + V; i++)
      if (kept[i]) require((double) s.self()[i - P] * s.cross()[i - P] >= threshold, "kept token " + i + " scores lower than a dropped one");

    float[] hidden = random(rnd, (long) n * width);
    try (Data buf = Data.allocate(ElementType.FP32, hidden.length)) {
      buf.copyFrom(hidden);
      Kernels.gatherRows(buf, n, width, Data.of(keep), buf); // in place: keep is ascending
      float[] got = buf.toFloats();
      for (int r = 0; r < keep.length; r++)
        for (int c = 0; c < width; c++)
          require(got[r * width + c] == hidden[keep[r] * width + c], "gathered row " + r + " is wrong");
    }
    System.out.println("kernels-only consumer: attention, scores, select and gather match float64 (max attention error "
        + worst + "); kept " + keep.length + " of " + n + " rows");
  }

  /** Causal softmax probabilities [h][i][j] in float64. */
  private static double[][][] probabilities(float[] q, float[] k, int n, int heads, int kvHeads, int d) {
    double[][][] p = new double[heads][n][n];
    double scale = 1 / Math.sqrt(d);
    for (int h = 0; h < heads; h++) {
      int g = h / (heads / kvHeads);
      for (int i = 0; i < n; i++) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int j = 0; j <= i; j++) {
          double dot = 0;
          for (int c = 0; c < d; c++) dot += (double) q[(i * heads + h) * d + c] * k[(j * kvHeads + g) * d + c];
          p[h][i][j] = dot * scale;
          max = Math.max(max, p[h][i][j]);
        }
        for (int j = 0; j <= i; j++) sum += p[h][i][j] = Math.exp(p[h][i][j] - max);
        for (int j = 0; j <= i; j++) p[h][i][j] /= sum;
      }
    }
    return p;
  }

  private static float[] random(Random rnd, long length) {
    float[] a = new float[Math.toIntExact(length)];
    for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
    return a;
  }

  private static void require(boolean ok, String message) {
    if (!ok) throw new AssertionError(message);
  }
}
