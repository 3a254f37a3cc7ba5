package io.fitprune.fitting;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.SequenceState;
import io.fitprune.pruning.VisualCountPolicy;
import io.fitprune.recipe.Recipe;
import io.fitprune.stats.AttentionStats;
import io.fitprune.testutil.RaggedStats;
import io.fitprune.testutil.RandomStats;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** One recipe from calibration samples of different visual counts (docs/design.md, "Calibrating on mixed visual counts"). */
class MixedCountsFitTest {
  static Geometry geometry(SplittableRandom r, int visual) {
    return new Geometry("t", 2 + r.nextInt(6), 32, 4, 2, 8, 96, visual, 1 + r.nextInt(9), 1 + r.nextInt(9));
  }

  @Test
  void samplesAllAtTheModelsCountFitBitForBitAsBefore() {
    SplittableRandom r = new SplittableRandom(21);
    for (int trial = 0; trial < 12; trial++) {
      Geometry g = geometry(r, 1 + r.nextInt(70));
      AttentionStats plain = RandomStats.generate(1 + r.nextInt(6), g.layers(), g.visualTokens(), r.nextLong());
      int[] same = new int[plain.samples()];
      Arrays.fill(same, g.visualTokens());
      AttentionStats counted = new AttentionStats(plain.samples(), g.layers(), g.visualTokens(), plain.self(),
          plain.cross(), same);
      FlopsModel m = FlopsModel.of(g, trial % 2 == 0 ? Scope.PAPER : Scope.FULL);
      FastFitter a = new FastFitter(plain, m), b = new FastFitter(counted, m);
      for (int k = 0; k < 6; k++) {
        double alpha = k == 0 ? 1 : r.nextDouble(), budget = 0.9 * r.nextDouble();
        int[] want = NaiveFit.pass(plain, m, alpha, budget);  // the single-count procedure
        assertArrayEquals(want, a.pass(alpha, budget));
        assertArrayEquals(want, b.pass(alpha, budget));
      }
      double budget = 0.6 * r.nextDouble();
      try {
        FitResult fa = a.fit(budget), fb = b.fit(budget);
        assertArrayEquals(fa.prune(), fb.prune());
        assertEquals(Double.doubleToRawLongBits(fa.alpha()), Double.doubleToRawLongBits(fb.alpha()));
        assertEquals(fa.cost(), fb.cost());
      } catch (UnreachableBudgetException e) {
        assertThrows(UnreachableBudgetException.class, () -> b.fit(budget));
      }
    }
  }

  @Test
  void mixedCountsMatchTheDefinitionWrittenOut() {
    SplittableRandom r = new SplittableRandom(5);
    int fits = 0;
    for (int trial = 0; trial < 30; trial++) {
      Geometry g = geometry(r, 1 + r.nextInt(60));
      int[] visual = RaggedStats.counts(r, 1 + r.nextInt(6), 1 + r.nextInt(90));  // above and below the model's
      AttentionStats st = RaggedStats.generate(g.layers(), visual, r.nextLong());
      FlopsModel m = FlopsModel.of(g, trial % 2 == 0 ? Scope.PAPER : Scope.FULL);
      FastFitter fast = new FastFitter(st, m);
      for (int k = 0; k < 6; k++) {
        double alpha = k == 0 ? 1 : r.nextDouble(), budget = 0.9 * r.nextDouble();
        assertArrayEquals(NaiveMixedFit.pass(st, m, alpha, budget, null), fast.pass(alpha, budget),
            "counts " + Arrays.toString(visual) + " V* " + g.visualTokens() + " alpha " + alpha + " budget " + budget);
      }
      double budget = 0.7 * r.nextDouble();
      FitResult want;
      try {
        want = NaiveMixedFit.fit(st, m, budget);
      } catch (UnreachableBudgetException e) {
        assertThrows(UnreachableBudgetException.class, () -> fast.fit(budget));
        continue;
      }
      FitResult got = fast.fit(budget);
      assertArrayEquals(want.prune(), got.prune());
      assertEquals(want.alpha(), got.alpha());
      fits++;
    }
    assertTrue(fits >= 15, "most budgets reachable: " + fits);
  }

  @Test
  void theRecipeMeetsTheBudgetAtTheModelsCountAndScalesToEachSample() {
    SplittableRandom r = new SplittableRandom(8);
    Geometry g = new Geometry("t", 8, 64, 4, 2, 16, 256, 96, 5, 11);
    int[] visual = {96, 40, 150, 1, 73, 96, 13};
    AttentionStats st = RaggedStats.generate(g.layers(), visual, 99);
    for (Scope scope : Scope.values())
      for (double budget : new double[] {0.2, 0.4, 0.6}) {
        FlopsModel m = FlopsModel.of(g, scope);
        FitResult fit = new FastFitter(st, m).fit(budget);
        int[] prune = fit.prune();
        assertTrue(AlphaSearch.meets(m.evaluate(prune).pruned(), m.baseline(), budget), Arrays.toString(prune));
        // What the objective was evaluated on: each sample's own drops at the fitted alpha.
        int[][] k = new int[visual.length][g.layers()];
        assertArrayEquals(prune, NaiveMixedFit.pass(st, m, fit.alpha(), budget, k));
        Pruner scaled = Pruner.fitprune(prune, g.visualTokens(), VisualCountPolicy.SCALE, "scaled");
        for (int s = 0; s < visual.length; s++) {
          SequenceState seq = SequenceState.start(g.layers(), new Spans(3, visual[s]), 3 + visual[s] + 4);
          long dropped = 0;
          double meanFraction = 0;  // mean over samples of the fraction dropped through layer l
          for (int l = 0; l < g.layers(); l++) {
            int drop = (int) scaled.count(seq);
            int[] at = new int[drop];
            for (int i = 0; i < drop; i++) at[i] = i;
            seq.apply(l, seq.keepDropping(at, drop));
            dropped += drop;
            for (int t = 0; t < visual.length; t++) meanFraction += (double) k[t][l] / visual[t] / visual.length;
            // floor per layer at V*, then floor of the scaled cumulative: at most l + 1 tokens of V* and one of V_s below
            double want = visual[s] * meanFraction;
            assertTrue(dropped <= want + 1e-9 && dropped > want - (l + 1.0) * visual[s] / g.visualTokens() - 1 - 1e-9,
                "sample " + s + " (" + visual[s] + " tokens) layer " + l + ": SCALE drops " + dropped
                    + " through it, the samples' mean fraction gives " + want);
          }
          assertTrue(dropped <= visual[s]);
        }
      }
  }

  @Test
  void exactModeRunsEachSampleAtItsOwnCount() {
    SplittableRandom r = new SplittableRandom(17);
    for (int trial = 0; trial < 8; trial++) {
      Geometry g = geometry(r, 2 + r.nextInt(40));
      int[] visual = RaggedStats.counts(r, 1 + r.nextInt(5), 1 + r.nextInt(60));
      AttentionStats st = RaggedStats.generate(g.layers(), visual, r.nextLong());
      FlopsModel m = FlopsModel.of(g, trial % 2 == 0 ? Scope.PAPER : Scope.FULL);
      RaggedReplay runner = new RaggedReplay(st);
      ExactFitter exact = new ExactFitter(runner, m);  // records its own reference, sample by sample
      FastFitter fast = new FastFitter(st, m);
      for (int k = 0; k < 5; k++) {
        double alpha = k == 0 ? 1 : 0.05 + 0.9 * r.nextDouble(), b = 0.8 * r.nextDouble();
        assertArrayEquals(fast.pass(alpha, b), exact.pass(alpha, b), "alpha " + alpha + " budget " + b);
      }
    }
  }

  @Test
  void oneTokenSamplesFitAndEmptyOnesAreRefused() {
    Geometry g = new Geometry("one", 3, 32, 4, 2, 8, 96, 1, 2, 3);
    AttentionStats ones = RaggedStats.generate(3, new int[] {1, 1, 1}, 4);
    FlopsModel m = FlopsModel.of(g, Scope.PAPER);
    FitResult fit = new FastFitter(ones, m).fit(0.3);
    assertEquals(1, fit.totalPruned(), "one token, and a budget only its removal meets");
    assertArrayEquals(NaiveMixedFit.fit(ones, m, 0.3).prune(), fit.prune());

    String msg = assertThrows(IllegalArgumentException.class,
        () -> new AttentionStats(2, 1, 3, new float[6], new float[6], new int[] {3, 0})).getMessage();
    assertTrue(msg.contains("sample 1") && msg.contains("nothing to fit from"), msg);
    AttentionStats st = RaggedStats.generate(2, new int[] {3, 2}, 1);
    RaggedReplay empty = new RaggedReplay(st) {
      @Override
      public int visualTokens(int sample) {
        return sample == 1 ? 0 : super.visualTokens(sample);
      }
    };
    msg = assertThrows(IllegalArgumentException.class, () -> StatsRecorder.record(empty, 2, 3)).getMessage();
    assertTrue(msg.contains("calibration sample 1 has no visual tokens"), msg);
    assertEquals(0, empty.passes, "refused before any pass");
  }

  @Test
  void paddingAndCountsAreChecked() {
    AttentionStats st = RaggedStats.generate(2, new int[] {2, 4}, 3);
    float[] self = st.self().clone();
    self[st.offset(0, 1) + 3] = 0.5f;  // past sample 0's two tokens
    String msg = assertThrows(IllegalArgumentException.class,
        () -> new AttentionStats(2, 2, 4, self, st.cross(), new int[] {2, 4})).getMessage();
    assertTrue(msg.contains("'self'") && msg.contains("[sample 0, layer 1, token 3]") && msg.contains("padding must be 0"), msg);
    msg = assertThrows(IllegalArgumentException.class,
        () -> new AttentionStats(2, 2, 4, st.self(), st.cross(), new int[] {2, 3})).getMessage();
    assertTrue(msg.contains("largest (3)"), msg);
    msg = assertThrows(IllegalArgumentException.class,
        () -> new AttentionStats(2, 2, 4, st.self(), st.cross(), new int[] {2})).getMessage();
    assertTrue(msg.contains("one per sample"), msg);
    assertEquals(st.selfMass(0, 1), sum(st.self(), st.offset(0, 1), 2));
    assertEquals(2, st.visual(0));
    assertEquals(4, st.visual(1));
  }

  static final String README_BEGIN = "// README mixed counts begin", README_END = "// README mixed counts end";

  @Test
  void theReadmeExampleRuns() throws Exception {
    Geometry model = new Geometry("m", 6, 32, 4, 2, 8, 96, 64, 3, 5);
    int S = 3, L = model.layers();
    AttentionStats random = RaggedStats.generate(L, new int[] {64, 100, 30}, 12);
    int V = random.tokens();
    float[] self = random.self(), cross = random.cross();
    // README mixed counts begin
    int[] visual = {64, 100, 30};                       // each sample's visual tokens; V = the largest, 100
    AttentionStats stats = new AttentionStats(S, L, V, self, cross, visual); // rows past a count hold 0
    FitResult fit = new FastFitter(stats, FlopsModel.of(model, Scope.PAPER)).fit(0.5); // for model.visualTokens()
    Recipe recipe = Recipe.builder(model).fit(fit, Scope.PAPER, S).build();
    Pruner pruner = Pruner.of(recipe, model, VisualCountPolicy.SCALE);  // any image's count
    // README mixed counts end
    assertEquals(64, recipe.visualTokens());
    assertTrue(recipe.paper().reduction() >= 0.5);
    SequenceState seq = SequenceState.start(L, new Spans(3, 100), 3 + 100 + 5);
    long first = 0;
    for (int l = 0; l < L && first == 0; l++) {
      first = pruner.count(seq);
      seq.apply(l, seq.keepDropping(new int[0], 0));
    }
    assertTrue(first > 0, "the recipe prunes a 100-token image");
    io.fitprune.testutil.ReadmeBlocks.requireShown("src/test/java/io/fitprune/fitting/MixedCountsFitTest.java",
        README_BEGIN, README_END);
  }

  private static double sum(float[] a, int from, int n) {
    double t = 0;
    for (int i = from; i < from + n; i++) t += a[i];
    return t;
  }

  /** Replays ragged statistics for the sample's survivors, rescaled to the recorded mass (as ExactFitterTest's ReplayRunner). */
  static class RaggedReplay implements LayerRunner {
    final AttentionStats st;
    int[][] alive;
    int passes;

    RaggedReplay(AttentionStats st) {
      this.st = st;
    }

    @Override
    public int samples() {
      return st.samples();
    }

    @Override
    public int visualTokens(int sample) {
      return st.visual(sample);
    }

    @Override
    public void beginPass() {
      passes++;
      alive = new int[st.samples()][];
      for (int s = 0; s < alive.length; s++) {
        alive[s] = new int[st.visual(s)];
        for (int j = 0; j < alive[s].length; j++) alive[s][j] = j;
      }
    }

    @Override
    public void attend(int s, int l, int n, float[] self, float[] cross) {
      assertEquals(alive[s].length, n, "fitter and runner agree on sample " + s + "'s alive count");
      replay(st.self(), st.selfMass(s, l), st.offset(s, l), alive[s], self);
      replay(st.cross(), st.crossMass(s, l), st.offset(s, l), alive[s], cross);
    }

    private static void replay(float[] rec, double mass, int off, int[] alive, float[] out) {
      double sum = 0;
      for (int j : alive) sum += rec[off + j];
      double scale = sum > 0 ? mass / sum : 1;
      for (int i = 0; i < alive.length; i++) out[i] = (float) (rec[off + alive[i]] * scale);
    }

    @Override
    public void finish(int s, int l, int[] drop, int count) {
      boolean[] gone = new boolean[alive[s].length];
      for (int i = 0; i < count; i++) gone[drop[i]] = true;
      int[] keep = new int[alive[s].length - count];
      for (int i = 0, k = 0; i < gone.length; i++) if (!gone[i]) keep[k++] = alive[s][i];
      alive[s] = keep;
    }
  }
}
