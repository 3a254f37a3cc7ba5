package io.fitprune.fitting;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometry;
import io.fitprune.stats.AttentionStats;
import io.fitprune.stats.SyntheticStats;
import io.fitprune.testutil.RandomStats;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FastFitterTest {
  static final Geometry LLAVA = new Geometry("llava-1.5-7b", 32, 4096, 32, 32, 128, 11008, 576, 35, 64);

  /**
   * One layer, equal scores: a pass at alpha prunes floor(alpha * V) tokens, so the search must
   * return exactly the smallest count whose cost meets the budget.
   */
  @Test
  void monotoneToyGivesTheKnownMinimalRecipe() {
    Geometry g = new Geometry("toy", 1, 64, 4, 4, 16, 128, 100, 0, 0);
    float[] ones = new float[3 * 100];
    Arrays.fill(ones, 1f);
    AttentionStats st = new AttentionStats(3, 1, 100, ones, ones.clone());
    for (Scope scope : Scope.values()) {
      FlopsModel m = FlopsModel.of(g, scope);
      FastFitter f = new FastFitter(st, m);
      for (double b : new double[] {0.05, 0.1, 0.2, 0.3, 0.4, 0.5}) {
        int expect = 0;
        while (m.layer(100, 100 - expect) > (1 - b) * m.baseline()) expect++;
        FitResult r = f.fit(b);
        assertArrayEquals(new int[] {expect}, r.prune(), scope + " budget " + b);
        assertTrue(r.cost().reduction() >= b);
      }
    }
  }

  @Test
  void budgetZeroGivesEmptyRecipe() {
    AttentionStats st = SyntheticStats.generate(LLAVA, 8, 1);
    for (Scope s : Scope.values()) {
      FitResult r = new FastFitter(st, FlopsModel.of(LLAVA, s)).fit(0);
      assertArrayEquals(new int[32], r.prune());
      assertEquals(0, r.cost().reduction());
    }
  }

  @Test
  void unreachableBudgetNamesTheBest() {
    AttentionStats st = SyntheticStats.generate(LLAVA, 4, 1);
    FlopsModel m = FlopsModel.of(LLAVA, Scope.FULL);
    // alpha = 1 prunes every visual token after layer 0's attention: the most any recipe saves.
    int[] all = new int[32];
    all[0] = 576;
    double best = m.evaluate(all).reduction();
    UnreachableBudgetException e = assertThrows(UnreachableBudgetException.class,
        () -> new FastFitter(st, m).fit(0.9));
    assertEquals(best, e.bestReduction(), 1e-12);
    assertTrue(e.getMessage().contains(String.format(java.util.Locale.ROOT, "%.4f", best)), e.getMessage());
    assertArrayEquals(all, new FastFitter(st, m).fit(best - 1e-9).prune());
  }

  @Test
  void rejectsBadBudgetsAndMismatchedStats() {
    AttentionStats st = SyntheticStats.generate(LLAVA, 2, 1);
    FastFitter f = new FastFitter(st, FlopsModel.of(LLAVA, Scope.PAPER));
    for (double b : new double[] {-0.1, 1, 1.5, Double.NaN}) assertThrows(IllegalArgumentException.class, () -> f.fit(b));
    Geometry other = new Geometry("x", 31, 4096, 32, 32, 128, 11008, 576, 35, 64);
    assertThrows(IllegalArgumentException.class, () -> new FastFitter(st, FlopsModel.of(other, Scope.PAPER)));
  }

  /** Property: over random statistics, geometries and budgets, every returned recipe meets its budget and is valid. */
  @Test
  void everyRecipeMeetsItsBudget() {
    SplittableRandom r = new SplittableRandom(42);
    int fitted = 0;
    for (int trial = 0; trial < 60; trial++) {
      int L = 1 + r.nextInt(8), V = 1 + r.nextInt(40), S = 1 + r.nextInt(6);
      Geometry g = new Geometry("t", L, 32, 4, 1 + r.nextInt(2) * 3, 8, 64, V, r.nextInt(5), r.nextInt(9));
      if (g.heads() % g.kvHeads() != 0) continue;
      AttentionStats st = RandomStats.generate(S, L, V, r.nextLong());
      Scope scope = r.nextBoolean() ? Scope.FULL : Scope.PAPER;
      FlopsModel m = FlopsModel.of(g, scope);
      FastFitter f = new FastFitter(st, m);
      for (int k = 0; k < 5; k++) {
        double b = r.nextDouble() * 0.95;
        try {
          FitResult res = f.fit(b);
          FlopsModel.checkRecipe(g, res.prune());
          assertTrue(AlphaSearch.meets(m.evaluate(res.prune()).pruned(), m.baseline(), b),
              "recipe " + Arrays.toString(res.prune()) + " misses budget " + b);
          fitted++;
        } catch (UnreachableBudgetException e) {
          assertTrue(e.bestReduction() < b);
        }
      }
    }
    assertTrue(fitted > 100, "the property was exercised: " + fitted);
  }

  /** The optimised fitter (pre-sorted orders, independent trajectories, cache) equals the literal procedure. */
  @Test
  void matchesTheLiteralProcedure() {
    SplittableRandom r = new SplittableRandom(7);
    for (int trial = 0; trial < 25; trial++) {
      int L = 1 + r.nextInt(6), V = 1 + r.nextInt(30), S = 1 + r.nextInt(5);
      Geometry g = new Geometry("t", L, 32, 4, 4, 8, 64, V, 2, 3);
      AttentionStats st = RandomStats.generate(S, L, V, r.nextLong());
      FlopsModel m = FlopsModel.of(g, trial % 2 == 0 ? Scope.FULL : Scope.PAPER);
      FastFitter f = new FastFitter(st, m);
      for (int k = 0; k < 6; k++) {
        double alpha = k == 0 ? 1 : k == 1 ? 0 : r.nextDouble(), b = r.nextDouble() * 0.9;
        assertArrayEquals(NaiveFit.pass(st, m, alpha, b), f.pass(alpha, b), "alpha " + alpha + " budget " + b);
        FitResult expect = null, got = null;
        try {
          expect = NaiveFit.fit(st, m, b);
        } catch (UnreachableBudgetException e) {
          assertThrows(UnreachableBudgetException.class, () -> f.fit(b));
          continue;
        }
        got = f.fit(b);
        assertArrayEquals(expect.prune(), got.prune());
        assertEquals(expect.alpha(), got.alpha());
      }
    }
  }

  @Test
  void sweepAtBenchmarkSizeMeetsEveryBudget() {
    // Its speed is FitterBench's to measure; here, that every budget of the sweep is met.
    AttentionStats st = SyntheticStats.generate(LLAVA, 100, 3);
    FastFitter f = new FastFitter(st, FlopsModel.of(LLAVA, Scope.PAPER));
    double last = 0;
    for (int i = 1; i <= 9; i++) {
      FitResult r = f.fit(i / 10.0);
      assertTrue(r.cost().reduction() >= i / 10.0);
      assertTrue(r.cost().reduction() >= last, "reduction falls from " + last + " at budget " + i / 10.0);
      last = r.cost().reduction();
    }
    assertTrue(last >= 0.9);
  }
}
