package io.fitprune.testutil;

import io.fitprune.stats.AttentionStats;
import java.util.SplittableRandom;

/** Random statistics whose samples have the given visual counts: {@link RandomStats}' values, rows padded with 0. */
public final class RaggedStats {
  private RaggedStats() {}

  public static AttentionStats generate(int layers, int[] visual, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int S = visual.length, width = 0;
    for (int v : visual) width = Math.max(width, v);
    float[] self = new float[S * layers * width], cross = new float[S * layers * width];
    for (int s = 0; s < S; s++) {
      AttentionStats one = RandomStats.generate(1, layers, visual[s], r.nextLong());
      for (int l = 0; l < layers; l++) {
        System.arraycopy(one.self(), l * visual[s], self, (s * layers + l) * width, visual[s]);
        System.arraycopy(one.cross(), l * visual[s], cross, (s * layers + l) * width, visual[s]);
      }
    }
    return new AttentionStats(S, layers, width, self, cross, visual);
  }

  /** Counts in [1, max], one of them max. */
  public static int[] counts(SplittableRandom r, int samples, int max) {
    int[] v = new int[samples];
    for (int s = 0; s < samples; s++) v[s] = 1 + r.nextInt(max);
    v[r.nextInt(samples)] = max;
    return v;
  }
}
