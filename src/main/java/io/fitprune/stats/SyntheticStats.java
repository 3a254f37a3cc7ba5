package io.fitprune.stats;

import io.fitprune.model.Geometry;
import java.util.SplittableRandom;

/**
 * Synthetic but plausible statistics for examples and tests, shaped after the paper's Figure 1:
 * the visual tokens' share of attention decays with depth, and a few salient tokens take a large
 * part of it, more so in deeper layers. Deterministic for a given seed.
 */
public final class SyntheticStats {
  private SyntheticStats() {}

  public static AttentionStats generate(Geometry g, int samples, long seed) {
    if (samples < 1) throw new IllegalArgumentException("samples must be >= 1, got " + samples);
    int L = g.layers(), V = g.visualTokens();
    long n = (long) samples * L * V;
    if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("too many samples for one file: S*L*V = " + n);
    float[] self = new float[(int) n], cross = new float[(int) n];
    SplittableRandom root = new SplittableRandom(seed);
    double[] z = new double[V], w = new double[V];
    for (int s = 0; s < samples; s++) {
      SplittableRandom rnd = root.split();
      // A token's importance persists across layers (same image content), so draw it once per sample.
      for (int j = 0; j < V; j++) z[j] = gaussian(rnd);
      int salient = Math.max(1, V / 64);
      boolean[] isSalient = new boolean[V];
      for (int k = 0; k < salient; k++) isSalient[rnd.nextInt(V)] = true;
      for (int l = 0; l < L; l++) {
        double depth = (double) l / Math.max(1, L - 1);
        double peak = 0.4 + 1.4 * depth;                       // sharper distributions deeper in
        double selfMass = 0.05 + 0.55 * Math.exp(-4 * depth);  // visual share decays with depth
        double crossMass = 0.02 + 0.35 * Math.exp(-5 * depth);
        for (int pass = 0; pass < 2; pass++) {
          double total = 0;
          for (int j = 0; j < V; j++) {
            double noise = 0.3 * gaussian(rnd);
            w[j] = Math.exp(peak * (z[j] + noise)) * (isSalient[j] ? 20 : 1);
            total += w[j];
          }
          double mass = pass == 0 ? selfMass : crossMass;
          float[] out = pass == 0 ? self : cross;
          int off = (s * L + l) * V;
          for (int j = 0; j < V; j++) out[off + j] = (float) (mass * w[j] / total);
        }
      }
    }
    return new AttentionStats(samples, L, V, self, cross);
  }

  private static double gaussian(SplittableRandom r) {
    double u = r.nextDouble(), v = r.nextDouble();
    return Math.sqrt(-2 * Math.log1p(-u)) * Math.cos(2 * Math.PI * v);
  }
}
