package io.fitprune.fitting;

import io.fitprune.flops.FlopsModel;
import io.fitprune.stats.AttentionStats;

/**
 * Exact mode (paper-faithful): each fitting pass re-runs the model layer by layer on the pruned
 * sequences through a {@link LayerRunner}, and a token set is deletable while the remaining score
 * stays {@code >= (1 - alpha) * W}, W being the mass recorded in the unpruned pass for that sample
 * and layer (docs/design.md, "Fitting a recipe"). Same budget check and binary search as fast mode.
 */
public final class ExactFitter {
  private final LayerRunner runner;
  private final FlopsModel model;
  private final int S, L, V;
  /** Recorded masses W_self and W_cross per (sample, layer). */
  private final double[] selfMass, crossMass;

  /** Uses masses from statistics already recorded with this runner's samples. */
  public ExactFitter(LayerRunner runner, AttentionStats reference, FlopsModel model) {
    this.runner = runner;
    this.model = model;
    this.S = reference.samples();
    this.L = model.geometry().layers();
    this.V = model.geometry().visualTokens();
    if (reference.layers() != L || reference.tokens() != V)
      throw new IllegalArgumentException("reference statistics do not match model " + model.geometry().name());
    if (runner.samples() != S)
      throw new IllegalArgumentException("runner holds " + runner.samples() + " samples but the reference statistics "
          + S);
    selfMass = new double[S * L];
    crossMass = new double[S * L];
    for (int s = 0; s < S; s++)
      for (int l = 0; l < L; l++) {
        selfMass[s * L + l] = reference.selfMass(s, l);
        crossMass[s * L + l] = reference.crossMass(s, l);
      }
  }

  /** Records the reference pass with the runner itself first. */
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
    double[] pre = model.preTable(), post = model.postTable();
    int[] n = new int[S];
    java.util.Arrays.fill(n, V);
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
        for (int s = 0; s < S; s++) projected += spent[s] + (L - l) * (pre[n[s]] + post[n[s]]);
        if (projected / S <= target) break;
        long prunedSum = 0;
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
          spent[s] += pre[alive] + post[alive - k];
          n[s] = alive - k;
          prunedSum += k;
        }
        recipe[l] = (int) (prunedSum / S);
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
