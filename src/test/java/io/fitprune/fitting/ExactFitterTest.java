package io.fitprune.fitting;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometry;
import io.fitprune.stats.AttentionStats;
import io.fitprune.testutil.RandomStats;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ExactFitterTest {
  /** Base class that checks the protocol: pass boundaries, layer order, alive counts, drop sets. */
  abstract static class CheckedRunner implements LayerRunner {
    final int S, L, V;
    int[][] alive;  // original indices of each sample's alive tokens, ascending
    int[] nextLayer;
    boolean inPass, attended;
    int passes;

    CheckedRunner(int s, int l, int v) {
      S = s;
      L = l;
      V = v;
    }

    @Override
    public int samples() {
      return S;
    }

    @Override
    public void beginPass() {
      assertFalse(inPass, "beginPass inside a pass");
      inPass = true;
      passes++;
      alive = new int[S][];
      for (int s = 0; s < S; s++) {
        alive[s] = new int[V];
        for (int j = 0; j < V; j++) alive[s][j] = j;
      }
      nextLayer = new int[S];
    }

    @Override
    public void attend(int sample, int layer, int n, float[] self, float[] cross) {
      assertTrue(inPass);
      assertEquals(nextLayer[sample], layer, "layers run in order");
      assertEquals(alive[sample].length, n, "fitter and runner agree on the alive count");
      scores(sample, layer, alive[sample], self, cross);
      attended = true;
    }

    abstract void scores(int sample, int layer, int[] alive, float[] self, float[] cross);

    @Override
    public void finish(int sample, int layer, int[] drop, int count) {
      assertTrue(attended, "finish follows attend");
      attended = false;
      int[] a = alive[sample];
      boolean[] gone = new boolean[a.length];
      for (int i = 0; i < count; i++) {
        if (i > 0) assertTrue(drop[i] > drop[i - 1], "drop positions ascending");
        gone[drop[i]] = true;
      }
      int[] keep = new int[a.length - count];
      for (int i = 0, k = 0; i < a.length; i++) if (!gone[i]) keep[k++] = a[i];
      alive[sample] = keep;
      nextLayer[sample]++;
    }

    @Override
    public void endPass() {
      assertTrue(inPass);
      inPass = false;
    }
  }

  /**
   * A pure-Java stand-in for a decoder: each visual token has a fixed logit per layer and signal,
   * and scores are a softmax over the alive tokens plus a "sink" (the prefix and text tokens), so
   * pruning moves the removed mass onto the survivors as real attention does.
   */
  static final class SoftmaxRunner extends CheckedRunner {
    final double[] selfLogit, crossLogit;
    final double sink;

    SoftmaxRunner(int s, int l, int v, long seed) {
      super(s, l, v);
      SplittableRandom r = new SplittableRandom(seed);
      selfLogit = new double[s * l * v];
      crossLogit = new double[s * l * v];
      for (int i = 0; i < selfLogit.length; i++) {
        selfLogit[i] = 2 * r.nextDouble() * r.nextDouble();
        crossLogit[i] = selfLogit[i] + 0.5 * r.nextDouble();
      }
      sink = Math.log(v);
    }

    @Override
    void scores(int s, int l, int[] alive, float[] self, float[] cross) {
      fill(selfLogit, s, l, alive, self);
      fill(crossLogit, s, l, alive, cross);
    }

    private void fill(double[] logit, int s, int l, int[] alive, float[] out) {
      int off = (s * L + l) * V;
      double z = Math.exp(sink);
      for (int j : alive) z += Math.exp(logit[off + j]);
      for (int i = 0; i < alive.length; i++) out[i] = (float) (Math.exp(logit[off + alive[i]]) / z);
    }
  }

  /**
   * Replays recorded statistics, rescaled so the survivors carry the recorded mass W (what softmax
   * renormalisation does). Under it, remaining >= (1 - alpha) * W is the same test as fast mode's
   * prefix <= alpha * (alive sum), so exact and fast mode must agree.
   */
  static final class ReplayRunner extends CheckedRunner {
    final AttentionStats st;

    ReplayRunner(AttentionStats st) {
      super(st.samples(), st.layers(), st.tokens());
      this.st = st;
    }

    @Override
    void scores(int s, int l, int[] alive, float[] self, float[] cross) {
      replay(st.self(), st.selfMass(s, l), st.offset(s, l), alive, self);
      replay(st.cross(), st.crossMass(s, l), st.offset(s, l), alive, cross);
    }

    private static void replay(float[] rec, double mass, int off, int[] alive, float[] out) {
      double sum = 0;
      for (int j : alive) sum += rec[off + j];
      double scale = sum > 0 ? mass / sum : 1;
      for (int i = 0; i < alive.length; i++) out[i] = (float) (rec[off + alive[i]] * scale);
    }
  }

  static final Geometry G = new Geometry("toy", 6, 64, 4, 2, 16, 256, 48, 4, 8);

  @Test
  void exactModeMeetsBudgetsAndFollowsTheProtocol() {
    for (Scope scope : Scope.values()) {
      SoftmaxRunner runner = new SoftmaxRunner(5, G.layers(), G.visualTokens(), 3);
      FlopsModel m = FlopsModel.of(G, scope);
      ExactFitter f = new ExactFitter(runner, m);
      int before = runner.passes;  // the recording pass
      for (double b : new double[] {0, 0.2, 0.4, 0.6}) {
        FitResult r = f.fit(b);
        assertEquals(Mode.EXACT, r.mode());
        assertTrue(AlphaSearch.meets(m.evaluate(r.prune()).pruned(), m.baseline(), b), Arrays.toString(r.prune()));
        if (b == 0) assertArrayEquals(new int[G.layers()], r.prune());
        assertFalse(runner.inPass, "every pass ended");
        assertEquals(r.passes(), runner.passes - before);
        before = runner.passes;
      }
    }
  }

  @Test
  void recorderCapturesTheUnprunedPass() {
    SoftmaxRunner runner = new SoftmaxRunner(3, G.layers(), G.visualTokens(), 9);
    AttentionStats st = StatsRecorder.record(runner, G.layers(), G.visualTokens());
    float[] self = new float[G.visualTokens()], cross = new float[G.visualTokens()];
    int[] all = new int[G.visualTokens()];
    for (int j = 0; j < all.length; j++) all[j] = j;
    runner.scores(2, 4, all, self, cross);
    assertArrayEquals(self, Arrays.copyOfRange(st.self(), st.offset(2, 4), st.offset(2, 4) + G.visualTokens()));
    assertArrayEquals(cross, Arrays.copyOfRange(st.cross(), st.offset(2, 4), st.offset(2, 4) + G.visualTokens()));
  }

  @Test
  void exactEqualsFastWhenTheRunnerReplaysRecordedStatistics() {
    SplittableRandom r = new SplittableRandom(11);
    for (int trial = 0; trial < 10; trial++) {
      Geometry g = new Geometry("t", 2 + r.nextInt(5), 32, 4, 4, 8, 64, 5 + r.nextInt(40), 2, 3);
      AttentionStats st = RandomStats.generate(1 + r.nextInt(5), g.layers(), g.visualTokens(), r.nextLong());
      FlopsModel m = FlopsModel.of(g, trial % 2 == 0 ? Scope.PAPER : Scope.FULL);
      ExactFitter exact = new ExactFitter(new ReplayRunner(st), st, m);
      FastFitter fast = new FastFitter(st, m);
      for (int k = 0; k < 5; k++) {
        double alpha = k == 0 ? 1 : 0.05 + 0.9 * r.nextDouble(), b = 0.8 * r.nextDouble();
        assertArrayEquals(fast.pass(alpha, b), exact.pass(alpha, b), "alpha " + alpha + " budget " + b);
      }
      double b = 0.5 * r.nextDouble();
      try {
        assertArrayEquals(fast.fit(b).prune(), exact.fit(b).prune());
      } catch (UnreachableBudgetException e) {
        assertThrows(UnreachableBudgetException.class, () -> exact.fit(b));
      }
    }
  }

  @Test
  void rejectsMismatchedRunner() {
    AttentionStats st = RandomStats.generate(3, G.layers(), G.visualTokens(), 1);
    ReplayRunner two = new ReplayRunner(RandomStats.generate(2, G.layers(), G.visualTokens(), 1));
    assertThrows(IllegalArgumentException.class, () -> new ExactFitter(two, st, FlopsModel.of(G, Scope.PAPER)));
  }
}
