package io.fitprune.fitting;

import io.fitprune.flops.FlopsModel;
import io.fitprune.stats.AttentionStats;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Fast mode: fitting passes replay the recorded scores restricted to each sample's
 * survivors, with no model run.
 *
 * <p>Why it is fast: (1) every (sample, layer) row is sorted once, up front, so a pass walks a
 * pre-sorted order and skips dead tokens instead of sorting; (2) a sample's trajectory through the
 * layers depends only on alpha, never on the other samples or on the budget, so samples run in
 * parallel with no per-layer barrier, and the budget check (the mean projected cost at each layer)
 * is applied afterwards to the finished trajectories; (3) the binary search probes the same dyadic
 * alphas for every budget, so a sweep reuses passes through a small cache.
 *
 * <p>The result is identical to the lock-step procedure (docs/design.md, "Fitting a
 * recipe"): samples do not interact
 * before the budget check stops the pass, and after it the recipe is 0.
 *
 * <p>Samples may have different visual counts ({@link AttentionStats#visual}): each runs at its
 * own count and the recipe is for the model's (see {@link SampleCounts}).
 */
public final class FastFitter {
  private final AttentionStats stats;
  private final FlopsModel model;
  private final int S, L, V;
  private final SampleCounts counts;
  /** Per (sample, layer) row: token indices ascending by self score (resp. cross), ties by index. */
  private final int[] selfOrder, crossOrder;
  /** Per row: the sum over all V tokens, taken in sorted order. */
  private final double[] selfTotal, crossTotal;
  private final Map<Double, Trajectory> cache = new HashMap<>();

  /** The outcome of one alpha over all layers, before any budget check. */
  private record Trajectory(int[] floorMeanPruned, double[] meanProjected) {}

  public FastFitter(AttentionStats stats, FlopsModel model) {
    if (stats.layers() != model.geometry().layers()
        || (!stats.hasCounts() && stats.tokens() != model.geometry().visualTokens()))
      throw new IllegalArgumentException("statistics [S=" + stats.samples() + ", L=" + stats.layers() + ", V="
          + stats.tokens() + "] do not match model " + model.geometry().name() + " (L=" + model.geometry().layers()
          + ", V=" + model.geometry().visualTokens() + ")");
    this.stats = stats;
    this.model = model;
    this.S = stats.samples();
    this.L = stats.layers();
    this.V = stats.tokens();
    int[] visual = new int[S];
    for (int s = 0; s < S; s++) visual[s] = stats.visual(s);
    this.counts = new SampleCounts(visual, model);
    int rows = S * L;
    selfOrder = new int[rows * V];
    crossOrder = new int[rows * V];
    selfTotal = new double[rows];
    crossTotal = new double[rows];
    // Chunks of rows per task, each with its own scratch: no allocation per row.
    int chunk = 64;
    IntStream.range(0, (rows + chunk - 1) / chunk).parallel().forEach(c -> {
      int[] out = new int[V], tmp = new int[V], keys = new int[V], keysTmp = new int[V], count = new int[256];
      for (int row = c * chunk; row < Math.min(rows, (c + 1) * chunk); row++) {
        int off = row * V, n = counts.visual(row / L);  // a sample's rows end at its count
        Deletable.radixAscending(stats.self(), off, n, out, tmp, keys, keysTmp, count);
        System.arraycopy(out, 0, selfOrder, off, n);
        selfTotal[row] = sortedSum(stats.self(), selfOrder, off, n);
        Deletable.radixAscending(stats.cross(), off, n, out, tmp, keys, keysTmp, count);
        System.arraycopy(out, 0, crossOrder, off, n);
        crossTotal[row] = sortedSum(stats.cross(), crossOrder, off, n);
      }
    });
  }

  private static double sortedSum(float[] scores, int[] order, int off, int n) {
    double t = 0;
    for (int i = 0; i < n; i++) t += scores[off + order[off + i]];
    return t;
  }

  public FlopsModel model() {
    return model;
  }

  /** Fits one budget. */
  public FitResult fit(double budget) {
    return fit(budget, null);
  }

  /** Fits one budget, calling {@code onPass} after each fitting pass. */
  public FitResult fit(double budget, Runnable onPass) {
    AlphaSearch.checkBudget(budget);
    double target = (1 - budget) * model.baseline();
    return AlphaSearch.search(budget, model, Mode.FAST, alpha -> recipe(trajectory(alpha), target), onPass);
  }

  /**
   * The recipe of one pass at {@code alpha} for {@code budget}, exactly as the lock-step procedure
   * computes it (exposed for tests and for comparison with exact mode).
   */
  public int[] pass(double alpha, double budget) {
    AlphaSearch.checkBudget(budget);
    return recipe(trajectory(alpha), (1 - budget) * model.baseline());
  }

  /** Applies the budget check: the recipe is floor(mean pruned) up to the first layer where the projection fits. */
  private int[] recipe(Trajectory t, double target) {
    int[] r = new int[L];
    for (int l = 0; l < L; l++) {
      if (t.meanProjected[l] <= target) break;
      r[l] = t.floorMeanPruned[l];
    }
    return r;
  }

  private Trajectory trajectory(double alpha) {
    if (!(alpha >= 0 && alpha <= 1)) throw new IllegalArgumentException("alpha must be in [0, 1], got " + alpha);
    synchronized (cache) {
      Trajectory t = cache.get(alpha);
      if (t != null) return t;
    }
    Trajectory t = compute(alpha);
    synchronized (cache) {
      cache.putIfAbsent(alpha, t);
    }
    return t;
  }

  private Trajectory compute(double alpha) {
    int[] pruned = new int[S * L];
    double[] projected = new double[S * L];
    IntStream.range(0, S).parallel().forEach(s -> runSample(s, alpha, pruned, projected));
    int[] floorMean = new int[L];
    double[] meanProjected = new double[L];
    for (int l = 0; l < L; l++) {
      double proj = 0;
      for (int s = 0; s < S; s++) proj += projected[s * L + l];
      floorMean[l] = counts.floorMean(pruned, L, l);
      meanProjected[l] = proj / S;
    }
    return new Trajectory(floorMean, meanProjected);
  }

  /**
   * One sample through all layers: pruned counts and, per layer, the projected cost the budget
   * check sees. The alive sum of a row is its full sum minus the dead tokens' scores, so a row
   * costs O(prefix + dead) instead of O(V); at alpha = 1 both prefixes are, by definition, every
   * alive token, which is taken literally rather than through rounded sums. The sample runs at
   * its own visual count on its own cost tables; its projected cost is expressed at the model's.
   */
  private void runSample(int s, double alpha, int[] pruned, double[] projected) {
    float[] self = stats.self(), cross = stats.cross();
    FlopsModel own = counts.model(s);
    double[] pre = own.preTable(), post = own.postTable();
    int vs = counts.visual(s);  // this sample's tokens: the first vs of each row
    boolean[] dead = new boolean[vs];
    int[] deadList = new int[vs];
    int[] inSelf = new int[vs];  // stamp l+1 marks a token in layer l's self prefix
    int n = vs;
    double spent = 0;
    boolean all = alpha >= 1;
    for (int l = 0; l < L; l++) {
      int r = s * L + l, row = r * V;
      projected[r] = counts.toReference(s, spent + (L - l) * (pre[n] + post[n]));
      int k = 0;
      if (n > 0 && all) {
        for (int j = 0; j < vs; j++)
          if (!dead[j]) {
            dead[j] = true;
            deadList[vs - n + k] = j;
            k++;
          }
      } else if (n > 0) {
        int nDead = vs - n, stamp = l + 1;
        // Self prefix: longest ascending prefix with sum <= alpha * (sum over alive tokens).
        double total = aliveTotal(self, selfOrder, selfTotal[r], row, dead, deadList, nDead, n, vs);
        double limit = alpha * total, acc = 0;
        for (int i = 0; i < vs; i++) {
          int j = selfOrder[row + i];
          if (dead[j]) continue;
          acc += self[row + j];
          if (acc > limit) break;
          inSelf[j] = stamp;
        }
        // Cross prefix; tokens in both prefixes die now.
        total = aliveTotal(cross, crossOrder, crossTotal[r], row, dead, deadList, nDead, n, vs);
        limit = alpha * total;
        acc = 0;
        for (int i = 0; i < vs; i++) {
          int j = crossOrder[row + i];
          if (dead[j]) continue;
          acc += cross[row + j];
          if (acc > limit) break;
          if (inSelf[j] == stamp) {
            deadList[nDead + k++] = j;  // marked dead after the walk: the walk skips only earlier layers' dead
          }
        }
        for (int i = nDead; i < nDead + k; i++) dead[deadList[i]] = true;
      }
      pruned[r] = k;
      spent += pre[n] + post[n - k];
      n -= k;
    }
  }

  /**
   * Sum of a row over its alive tokens. Pruning removes the lowest scores, so while the dead are
   * the minority their mass is small and subtracting it from the full sum is well conditioned;
   * otherwise the alive tokens are summed directly (in sorted order, as the full sums are).
   */
  private double aliveTotal(float[] scores, int[] order, double full, int row, boolean[] dead, int[] deadList,
      int nDead, int alive, int vs) {
    if (nDead == 0) return full;
    if (nDead <= alive) {
      double t = full;
      for (int i = 0; i < nDead; i++) t -= scores[row + deadList[i]];
      return Math.max(t, 0);
    }
    double t = 0;
    for (int i = 0; i < vs; i++) {
      int j = order[row + i];
      if (!dead[j]) t += scores[row + j];
    }
    return t;
  }
}
