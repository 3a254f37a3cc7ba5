package io.fitprune.fitting;

import io.fitprune.flops.FlopsModel;
import io.fitprune.stats.AttentionStats;

/**
 * Exact mode (paper-faithful): each fitting pass re-runs the model layer by layer on the pruned
 * sequences through a {@link LayerRunner}, and a token set is deletable while the remaining score
 * stays {@code >= (1 - alpha) * W}, W being the mass recorded in the unpruned pass for that sample
 * and layer (docs/design.md, "Fitting a recipe"). Same budget check and binary search as fast mode.
 * Samples of different visual counts each run at their own count, brought to one recipe as in
 * fast mode ({@link SampleCounts}).
 */
public final class ExactFitter {
  private final LayerRunner runner;
  private final FlopsModel model;
  private final int S, L, V;
  private final SampleCounts counts;
  /** Recorded masses W_self and W_cross per (sample, layer). */
  private final double[] selfMass, crossMass;

  /** Uses masses from statistics already recorded with this runner's samples. */
  public ExactFitter(LayerRunner runner, AttentionStats reference, FlopsModel model) {
    this.runner = runner;
    this.model = model;
    this.S = reference.samples();
    this.L = model.geometry().layers();
    if (reference.layers() != L || (!reference.hasCounts() && reference.tokens() != model.geometry().visualTokens()))
      throw new IllegalArgumentException("reference statistics do not match model " + model.geometry().name());
    if (runner.samples() != S)
      throw new IllegalArgumentException("runner holds " + runner.samples() + " samples but the reference statistics "
          + S);
    int[] visual = new int[S];
    for (int s = 0; s < S; s++) {
      visual[s] = reference.visual(s);
      int own = runner.visualTokens(s);
      if (own >= 0 && own != visual[s])
        throw new IllegalArgumentException("runner's sample " + s + " has " + own + " visual tokens but the reference "
            + "statistics " + visual[s]);
    }
    this.counts = new SampleCounts(visual, model);
    this.V = counts.maxVisual();
    selfMass = new double[S * L];
    crossMass = new double[S * L];
    for (int s = 0; s < S; s++)
      for (int l = 0; l < L; l++) {
        selfMass[s * L + l] = reference.selfMass(s, l);
        crossMass[s * L + l] = reference.crossMass(s, l);
      }
  }

  /** Records the reference pass with the runner itself first (each sample at its own count, {@link LayerRunner#visualTokens}). */
  public ExactFitter(LayerRunner runner, FlopsModel model) {
    this(runner, StatsRecorder.record(runner, model.geometry().layers(), model.geometry().visualTokens()), model);
  }

  public FitResult fit(double budget) {
    return fit(budget, null);
  }

  public FitResult fit(double budget, Runnable onPass) {
    AlphaSearch.checkBudget(budget);
    return AlphaSearch.search(budget, model, Mode.EXACT, alpha -> pass(alpha, budget), onPass);
  }

  /** One lock-step pass at {@code alpha}, with the budget check of {@code budget}. */
  public int[] pass(double alpha, double budget) {
    if (!(alpha >= 0 && alpha <= 1)) throw new IllegalArgumentException("alpha must be in [0, 1], got " + alpha);
    double target = (1 - budget) * model.baseline();
    int[] n = new int[S], pruned = new int[S];
    for (int s = 0; s < S; s++) n[s] = counts.visual(s);
    double[] spent = new double[S];
    int[] recipe = new int[L];
    float[] self = new float[V], cross = new float[V];
    long[] keys = new long[V];
    int[] selfOrder = new int[V], crossOrder = new int[V], drop = new int[V];
    boolean[] inSelf = new boolean[V];
    runner.beginPass();
    try {
      for (int l = 0; l < L; l++) {
        double projected = 0;
        for (int s = 0; s < S; s++) {
          FlopsModel own = counts.model(s);
          projected += counts.toReference(s, spent[s] + (L - l) * (own.preTable()[n[s]] + own.postTable()[n[s]]));
        }
        if (projected / S <= target) break;
        for (int s = 0; s < S; s++) {
          int alive = n[s];
          runner.attend(s, l, alive, self, cross);
          Deletable.sortAscending(self, 0, alive, keys, selfOrder);
          Deletable.sortAscending(cross, 0, alive, keys, crossOrder);
          int ks = prefix(self, selfOrder, alive, (1 - alpha) * selfMass[s * L + l]);
          int kc = prefix(cross, crossOrder, alive, (1 - alpha) * crossMass[s * L + l]);
          java.util.Arrays.fill(inSelf, 0, alive, false);
          for (int i = 0; i < ks; i++) inSelf[selfOrder[i]] = true;
          int k = 0;
          for (int i = 0; i < kc; i++) if (inSelf[crossOrder[i]]) drop[k++] = crossOrder[i];
          java.util.Arrays.sort(drop, 0, k);
          runner.finish(s, l, drop, k);
          spent[s] += counts.model(s).layer(alive, alive - k);
          n[s] = alive - k;
          pruned[s] = k;
        }
        recipe[l] = counts.floorMean(pruned, 1, 0);
      }
    } finally {
      runner.endPass();
    }
    return recipe;
  }

  /** Longest ascending prefix whose removal leaves a remaining sum >= {@code keep}. */
  private static int prefix(float[] scores, int[] order, int n, double keep) {
    double total = 0;
    for (int i = 0; i < n; i++) total += scores[order[i]];  // sorted order, like fast mode
    double removed = 0;
    int k = 0;
    for (; k < n; k++) {
      double next = removed + scores[order[k]];
      if (total - next < keep) break;
      removed = next;
    }
    return k;
  }
}
