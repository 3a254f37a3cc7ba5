package io.fitprune.decoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SamplerTest {

  /** transformers' rule written out directly: softmax(z / T); drop, in ascending order, while the cumulative mass stays <= 1 - p. */
  static double[] reference(float[] z, double t, double topP) {
    int n = z.length;
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) order[i] = i;
    java.util.Arrays.sort(order, (a, b) -> Float.compare(z[a], z[b]));
    double max = Double.NEGATIVE_INFINITY;
    for (float v : z) max = Math.max(max, v / t);
    double[] p = new double[n];
    double sum = 0;
    for (int i = 0; i < n; i++) sum += p[i] = Math.exp(z[i] / t - max);
    for (int i = 0; i < n; i++) p[i] /= sum;
    boolean[] removed = new boolean[n];
    double c = 0;
    for (int j = 0; j < n - 1; j++) {
      c += p[order[j]];
      if (c <= 1 - topP) removed[order[j]] = true;
    }
    double kept = 0;
    for (int i = 0; i < n; i++) if (!removed[i]) kept += p[i];
    double[] q = new double[n];
    for (int i = 0; i < n; i++) q[i] = removed[i] ? 0 : p[i] / kept;
    return q;
  }

  @Test
  void samplingFollowsTheTemperatureAndTopPDistribution() {
    Random r = new Random(11);
    double[][] settings = {{1.0, 1.0}, {0.7, 0.9}, {1.6, 0.5}, {0.3, 0.95}};
    for (double[] s : settings) {
      float[] z = new float[7];
      for (int i = 0; i < z.length; i++) z[i] = (float) (r.nextGaussian() * 1.5);
      double[] q = reference(z, s[0], s[1]);
      Sampler sampler = Sampler.sampling(s[0], s[1], r.nextLong());
      int draws = 200_000;
      int[] seen = new int[z.length];
      for (int k = 0; k < draws; k++) seen[sampler.next(z)]++;
      for (int i = 0; i < z.length; i++) {
        double expected = q[i] * draws;
        if (q[i] == 0) {
          assertEquals(0, seen[i], "token " + i + " is outside the nucleus but was drawn (T " + s[0] + ", p " + s[1] + ")");
        } else {
          double sigma = Math.sqrt(draws * q[i] * (1 - q[i]));
          assertTrue(Math.abs(seen[i] - expected) < 5 * sigma + 1,
              "token " + i + ": " + seen[i] + " draws, expected " + expected + " (T " + s[0] + ", p " + s[1] + ")");
        }
      }
    }
  }

  @Test
  void aSeedRepeatsARunAndGreedyTakesTheFirstMaximum() {
    Random r = new Random(5);
    float[] z = new float[1001];
    for (int i = 0; i < z.length; i++) z[i] = (float) r.nextGaussian();
    Sampler a = Sampler.sampling(0.8, 0.9, 42), b = Sampler.sampling(0.8, 0.9, 42);
    for (int k = 0; k < 50; k++) assertEquals(a.next(z), b.next(z));
    float[] tie = {0.5f, 3f, -1f, 3f};
    assertEquals(1, Sampler.greedy().next(tie));
    // A nucleus smaller than the top token's probability keeps only that token.
    assertEquals(1, Sampler.sampling(1, 1e-9, 1).next(new float[] {0.5f, 3f, -1f, 2.9f}));
    // One-token vocabulary and negative logits.
    assertEquals(0, Sampler.sampling(2, 0.5, 3).next(new float[] {-7f}));
    // Offsets into a batch of rows.
    FloatBuffer rows = FloatBuffer.wrap(new float[] {9f, 0f, 0f, 0f, -2f, 8f});
    assertEquals(2, Sampler.greedy().next(rows, 3, 3));
  }

  @Test
  void refusesBadSettingsAndNonFiniteLogits() {
    assertThrows(IllegalArgumentException.class, () -> Sampler.sampling(0, 0.9, 1));
    assertThrows(IllegalArgumentException.class, () -> Sampler.sampling(Double.NaN, 0.9, 1));
    assertThrows(IllegalArgumentException.class, () -> Sampler.sampling(1, 0, 1));
    assertThrows(IllegalArgumentException.class, () -> Sampler.sampling(1, 1.5, 1));
    assertThrows(IllegalArgumentException.class, () -> Sampler.greedy().next(new float[0]));
    assertThrows(IllegalArgumentException.class, () -> Sampler.greedy().next(FloatBuffer.wrap(new float[4]), 2, 3));
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> Sampler.sampling(1, 1, 1).next(new float[] {1f, Float.NaN}));
    assertTrue(e.getMessage().contains("[1]"), e.getMessage());
  }
}
