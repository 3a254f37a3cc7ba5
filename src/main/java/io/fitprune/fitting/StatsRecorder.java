package io.fitprune.fitting;

import io.fitprune.stats.AttentionStats;

/** Step 1 of fitting (docs/design.md, "Fitting a recipe"): one unpruned pass through a runner records every score. */
public final class StatsRecorder {
  private StatsRecorder() {}

  public static AttentionStats record(LayerRunner runner, int layers, int visualTokens) {
    return record(runner, layers, visualTokens, null);
  }

  /**
   * As {@link #record(LayerRunner, int, int)}, calling {@code onStep} after each (sample, layer): S * L steps.
   * Each sample is recorded at its own count ({@link LayerRunner#visualTokens}, {@code visualTokens}
   * when the runner gives none); when a count differs from {@code visualTokens} the statistics carry
   * per-sample counts ({@link AttentionStats#visual}), otherwise they are the plain {@code [S, L, V]}.
   * A sample without visual tokens is refused: it has nothing to rank.
   */
  public static AttentionStats record(LayerRunner runner, int layers, int visualTokens, Runnable onStep) {
    int S = runner.samples();
    if (S < 1) throw new IllegalArgumentException("runner holds no samples");
    if (layers < 1) throw new IllegalArgumentException("layers must be >= 1, got " + layers);
    int[] visual = new int[S];
    int width = 0;
    boolean mixed = false;
    for (int s = 0; s < S; s++) {
      int v = runner.visualTokens(s);
      visual[s] = v < 0 ? visualTokens : v;
      if (visual[s] == 0)
        throw new IllegalArgumentException("calibration sample " + s + " has no visual tokens (an empty visual span): "
            + "it has no scores to fit from; leave it out of the calibration samples");
      mixed |= visual[s] != visualTokens;
      width = Math.max(width, visual[s]);
    }
    long n = (long) S * layers * width;
    if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("too many values to record: S*L*V = " + n);
    float[] self = new float[(int) n], cross = new float[(int) n];
    float[] a = new float[width], c = new float[width];
    int[] none = new int[0];
    runner.beginPass();
    try {
      for (int l = 0; l < layers; l++) {
        for (int s = 0; s < S; s++) {
          runner.attend(s, l, visual[s], a, c);
          int off = (s * layers + l) * width;
          System.arraycopy(a, 0, self, off, visual[s]);
          System.arraycopy(c, 0, cross, off, visual[s]);
          runner.finish(s, l, none, 0);
          if (onStep != null) onStep.run();
        }
      }
    } finally {
      runner.endPass();
    }
    return mixed ? new AttentionStats(S, layers, width, self, cross, visual)
        : new AttentionStats(S, layers, width, self, cross);
  }
}
