package io.fitprune.fitting;

import io.fitprune.stats.AttentionStats;

/** Step 1 of fitting (docs/design.md, "Fitting a recipe"): one unpruned pass through a runner records every score. */
public final class StatsRecorder {
  private StatsRecorder() {}

  public static AttentionStats record(LayerRunner runner, int layers, int visualTokens) {
    return record(runner, layers, visualTokens, null);
  }

  /** As {@link #record(LayerRunner, int, int)}, calling {@code onStep} after each (sample, layer): S * L steps. */
  public static AttentionStats record(LayerRunner runner, int layers, int visualTokens, Runnable onStep) {
    int S = runner.samples();
    if (S < 1) throw new IllegalArgumentException("runner holds no samples");
    long n = (long) S * layers * visualTokens;
    if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("too many values to record: S*L*V = " + n);
    float[] self = new float[(int) n], cross = new float[(int) n];
    float[] a = new float[visualTokens], c = new float[visualTokens];
    int[] none = new int[0];
    runner.beginPass();
    try {
      for (int l = 0; l < layers; l++) {
        for (int s = 0; s < S; s++) {
          runner.attend(s, l, visualTokens, a, c);
          int off = (s * layers + l) * visualTokens;
          System.arraycopy(a, 0, self, off, visualTokens);
          System.arraycopy(c, 0, cross, off, visualTokens);
          runner.finish(s, l, none, 0);
          if (onStep != null) onStep.run();
        }
      }
    } finally {
      runner.endPass();
    }
    return new AttentionStats(S, layers, visualTokens, self, cross);
  }
}
