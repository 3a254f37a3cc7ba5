package io.fitprune.fitting;

import io.fitprune.flops.FlopsModel;
import io.fitprune.model.Geometry;
import io.fitprune.stats.AttentionStats;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The mixed-count fitting pass written from its definition (docs/design.md, "Calibrating on mixed
 * visual counts"), lock step, boxed, float64, for checking {@link FastFitter} and {@link
 * ExactFitter}: every sample prunes at its own count V_s on its own costs; the pass stops where
 * the mean over samples of (projected cost / own baseline) is within 1 - budget; the layer's
 * count is the largest c with c / V* <= mean_s(k_s / V_s), decided on integers.
 */
final class NaiveMixedFit {
  private NaiveMixedFit() {}

  /** The pass's recipe, and in {@code trajectories[s][l]} (when not null) what each sample dropped. */
  static int[] pass(AttentionStats st, FlopsModel m, double alpha, double budget, int[][] trajectories) {
    int S = st.samples(), L = st.layers(), ref = m.geometry().visualTokens();
    FlopsModel[] own = new FlopsModel[S];
    List<List<Integer>> alive = new ArrayList<>();
    for (int s = 0; s < S; s++) {
      Geometry g = m.geometry();
      own[s] = new FlopsModel(new Geometry("sample" + s, g.layers(), g.hidden(), g.heads(), g.kvHeads(), g.headDim(),
          g.mlp(), st.visual(s), 0, 0), m.scope(), m.prefixTokens(), m.textTokens());
      List<Integer> a = new ArrayList<>();
      for (int j = 0; j < st.visual(s); j++) a.add(j);
      alive.add(a);
    }
    double[] spent = new double[S];
    int[] recipe = new int[L];
    for (int l = 0; l < L; l++) {
      double fraction = 0;
      for (int s = 0; s < S; s++) {
        int n = alive.get(s).size();
        fraction += (spent[s] + (L - l) * own[s].layer(n, n)) / own[s].baseline();
      }
      if (fraction / S <= 1 - budget) break;
      int[] k = new int[S];
      for (int s = 0; s < S; s++) {
        int off = st.offset(s, l);
        Set<Integer> a = NaiveFit.prefix(alive.get(s), st.self(), off, alpha);
        a.retainAll(NaiveFit.prefix(alive.get(s), st.cross(), off, alpha));
        int n = alive.get(s).size();
        spent[s] += own[s].layer(n, n - a.size());
        alive.get(s).removeAll(a);
        k[s] = a.size();
        if (trajectories != null) trajectories[s][l] = k[s];
      }
      recipe[l] = floorMeanFraction(k, st, ref);
    }
    return recipe;
  }

  /** Largest c with c * S * prod(V) <= V* * sum_s k_s * prod(V) / V_s: exact, over the product of the counts. */
  static int floorMeanFraction(int[] k, AttentionStats st, int ref) {
    BigInteger prod = BigInteger.ONE;
    for (int s = 0; s < k.length; s++) prod = prod.multiply(BigInteger.valueOf(st.visual(s)));
    BigInteger rhs = BigInteger.ZERO;
    for (int s = 0; s < k.length; s++)
      rhs = rhs.add(BigInteger.valueOf(k[s]).multiply(prod).divide(BigInteger.valueOf(st.visual(s))));
    rhs = rhs.multiply(BigInteger.valueOf(ref));
    int c = 0;
    while (BigInteger.valueOf(c + 1L).multiply(BigInteger.valueOf(k.length)).multiply(prod).compareTo(rhs) <= 0) c++;
    return c;
  }

  static FitResult fit(AttentionStats st, FlopsModel m, double budget) {
    return AlphaSearch.search(budget, m, Mode.FAST, alpha -> pass(st, m, alpha, budget, null), null);
  }
}
