package io.fitprune.fitting;

import io.fitprune.flops.FlopsModel;
import io.fitprune.stats.AttentionStats;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The fast-mode procedure of docs/design.md written as literally as possible (lock step, boxed sorts, no
 * caching), to check that the optimised {@link FastFitter} computes the same recipes.
 */
final class NaiveFit {
  private NaiveFit() {}

  static int[] pass(AttentionStats st, FlopsModel m, double alpha, double budget) {
    int S = st.samples(), L = st.layers(), V = st.tokens();
    double c0 = m.baseline();
    List<List<Integer>> alive = new ArrayList<>();
    double[] spent = new double[S];
    for (int s = 0; s < S; s++) {
      List<Integer> a = new ArrayList<>();
      for (int j = 0; j < V; j++) a.add(j);
      alive.add(a);
    }
    int[] recipe = new int[L];
    for (int l = 0; l < L; l++) {
      double proj = 0;
      for (int s = 0; s < S; s++) {
        int n = alive.get(s).size();
        proj += spent[s] + (L - l) * m.layer(n, n);
      }
      if (proj / S <= (1 - budget) * c0) break;
      long total = 0;
      for (int s = 0; s < S; s++) {
        int off = st.offset(s, l);
        Set<Integer> a = prefix(alive.get(s), st.self(), off, alpha);
        Set<Integer> c = prefix(alive.get(s), st.cross(), off, alpha);
        a.retainAll(c);
        int n = alive.get(s).size();
        spent[s] += m.layer(n, n - a.size());
        alive.get(s).removeAll(a);
        total += a.size();
      }
      recipe[l] = (int) Math.floor((double) total / S);
    }
    return recipe;
  }

  /** The smallest-score tokens of {@code alive} whose scores sum to at most alpha of theirs (ties by index). */
  static Set<Integer> prefix(List<Integer> alive, float[] scores, int off, double alpha) {
    List<Integer> sorted = new ArrayList<>(alive);
    sorted.sort(Comparator.<Integer>comparingDouble(j -> scores[off + j]).thenComparingInt(j -> j));
    double total = 0;
    for (int j : sorted) total += scores[off + j];
    Set<Integer> out = new HashSet<>();
    double acc = 0;
    for (int j : sorted) {
      acc += scores[off + j];
      if (acc > alpha * total) break;
      out.add(j);
    }
    return out;
  }

  static FitResult fit(AttentionStats st, FlopsModel m, double budget) {
    return AlphaSearch.search(budget, m, Mode.FAST, alpha -> pass(st, m, alpha, budget), null);
  }
}
