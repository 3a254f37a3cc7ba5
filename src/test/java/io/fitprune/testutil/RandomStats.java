package io.fitprune.testutil;

import io.fitprune.stats.AttentionStats;
import java.util.SplittableRandom;

/** Random statistics with heavy tails, exact zeros and ties (but no all-zero row), to stress the fitter. */
public final class RandomStats {
  private RandomStats() {}

  public static AttentionStats generate(int samples, int layers, int tokens, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int n = samples * layers * tokens;
    float[] self = new float[n], cross = new float[n];
    for (int i = 0; i < n; i++) {
      self[i] = value(r);
      cross[i] = value(r);
    }
    for (int row = 0; row < samples * layers; row++) { // statistics with no signal are refused
      if (allZero(self, row * tokens, tokens)) self[row * tokens] = 0.25f;
      if (allZero(cross, row * tokens, tokens)) cross[row * tokens] = 0.25f;
    }
    return new AttentionStats(samples, layers, tokens, self, cross);
  }

  private static boolean allZero(float[] a, int from, int n) {
    for (int i = from; i < from + n; i++) if (a[i] != 0) return false;
    return true;
  }

  private static float value(SplittableRandom r) {
    int kind = r.nextInt(10);
    if (kind == 0) return 0f;                        // exact zeros
    if (kind == 1) return 0.25f;                     // ties
    double u = r.nextDouble();
    return (float) (Math.pow(u, 4) / (1 + r.nextInt(50)));  // heavy-tailed positive
  }
}
