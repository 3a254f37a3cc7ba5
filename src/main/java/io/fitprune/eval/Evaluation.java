package io.fitprune.eval;

import io.fitprune.fitting.FastFitter;
import io.fitprune.fitting.FitResult;
import io.fitprune.flops.Cost;
import io.fitprune.flops.FlopsModel;
import io.fitprune.model.Geometry;
import io.fitprune.stats.AttentionStats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The end-to-end comparison the demo prints, on a {@link Synthetic} model: record statistics on
 * calibration samples, fit FitPrune recipes (fast and exact mode) for a budget, and compare four
 * policies at equal full-scope FLOPs on held-out samples against the unpruned run:
 * FitPrune fast, FitPrune exact, random dropping with the fast recipe's per-layer counts, and a
 * FastV-style single drop by attention received after layer K, sized to the same FLOPs.
 */
public final class Evaluation {
  private Evaluation() {}

  /**
   * @param budget       fraction of full-scope FLOPs to remove
   * @param calibration  calibration samples (statistics, fitting)
   * @param heldOut      held-out samples (quality)
   * @param repeats      timed prefills per policy (medians)
   * @param generate     greedy tokens compared with the unpruned run (1: next token only)
   * @param fastvLayer   layer K after whose attention FastV-style drops
   * @param exact        whether to fit in exact mode too (re-runs the model ~8 times)
   * @param sweep        further budgets at which fast, random and FastV-style are evaluated (quality vs FLOPs plot)
   */
  public record Options(double budget, int calibration, int heldOut, int repeats, int generate, int fastvLayer,
      boolean exact, double[] sweep) {
    public Options {
      if (!(budget > 0 && budget < 1)) throw new IllegalArgumentException("--budget must be in (0, 1), got " + budget);
      if (calibration < 1) throw new IllegalArgumentException("--calibration must be >= 1, got " + calibration);
      if (heldOut < 1) throw new IllegalArgumentException("--held-out must be >= 1, got " + heldOut);
      if (repeats < 1) throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
      if (generate < 1) throw new IllegalArgumentException("--generate must be >= 1, got " + generate);
      if (fastvLayer < 0) throw new IllegalArgumentException("--fastv-layer must be >= 0, got " + fastvLayer);
      sweep = sweep == null ? new double[0] : sweep.clone();
      for (double b : sweep)
        if (!(b > 0 && b < 1)) throw new IllegalArgumentException("--sweep budgets must be in (0, 1), got " + b);
    }
  }

  /** Progress: stage name, steps done, steps in the stage. */
  public interface Listener {
    void progress(String stage, int done, int total);
  }

  /** One policy's figures (means over the held-out samples). */
  public record PolicyResult(Policy policy, int[] prune, int[] visualAfter, double plantedKept, double visualKept,
      double cosine, double nextAgreement, double agreement, double flopsReduction, double predictedSpeedup, double scoreOverhead,
      double medianSeconds, double measuredSpeedup, double[] phaseSeconds) {
    /** The policy's label. */
    public String name() {
      return policy.label();
    }
  }

  /** Quality of one policy at one budget (the quality-vs-FLOPs plot). */
  public record SweepPoint(Policy policy, double budget, double flopsReduction, double plantedKept, double cosine,
      double agreement) {}

  /** Everything the demo prints and plots. */
  public record Report(Synthetic synthetic, Geometry geometry, Options options, AttentionStats stats, FitResult fast,
      FitResult exact, double baselineSeconds, double[] baselinePhases, List<PolicyResult> policies,
      List<SweepPoint> sweep, double[] secondsPerStage, String[] stages) {}

  /** Records statistics, fits, then compares the policies on held-out samples: quality, budget sweep, timing. */
  public static Report run(Synthetic syn, Options o, Listener listener) {
    EvaluationRun r = new EvaluationRun(syn, o, listener == null ? (s, d, t) -> {} : listener);
    AttentionStats stats = r.record();
    FitResult fast = new FastFitter(stats, r.full).fit(o.budget());
    r.stage("fit fast");
    FitResult exact = o.exact() ? r.fitExact(stats) : null;
    List<EvaluationRun.Candidate> cands = r.atEqualFlops(fast, exact);
    EvaluationRun.Quality q = r.quality(cands, "evaluate");
    r.stage("evaluate quality");
    List<SweepPoint> sweep = r.sweep(stats, cands, q);
    EvaluationRun.Timing t = r.time(cands);
    List<PolicyResult> results = new ArrayList<>();
    for (int p = 0; p < cands.size(); p++) {
      EvaluationRun.Candidate c = cands.get(p);
      Cost cost = r.full.evaluate(c.counts());
      results.add(new PolicyResult(c.policy(), c.counts(), q.visualAfter()[p], q.planted()[p], q.kept()[p], q.cosine()[p],
          q.next()[p], q.agree()[p], cost.reduction(), cost.baseline() / cost.pruned(), cost.scoreOverhead() / cost.baseline(),
          t.medians()[p], t.speedups()[p], t.phases()[p + 1]));
    }
    return new Report(syn, r.g, o, stats, fast, exact, t.baseline(), t.phases()[0], results, sweep,
        r.stageSec.stream().mapToDouble(Double::doubleValue).toArray(), r.stages.toArray(new String[0]));
  }

  /**
   * The FastV layer: the requested K, or the latest earlier layer at which dropping by attention
   * received can still reach the target cost (a late single drop may not save enough).
   */
  static int fastvLayer(FlopsModel m, int layers, int V, int requested, double target) {
    for (int k = Math.min(requested, layers - 1); k > 0; k--) {
      int[] p = new int[layers];
      p[k] = V;
      if (m.evaluate(p).pruned() <= target * (1 + 1e-12)) return k;
    }
    return 0;
  }

  /** FastV-style counts: drop at layer k only, the fewest tokens whose full-scope cost is at most {@code target}. */
  static int[] fastvCounts(FlopsModel m, int layers, int V, int k, double target) {
    int[] p = new int[layers];
    for (int d = 0; d <= V; d++) {
      p[k] = d;
      if (m.evaluate(p).pruned() <= target * (1 + 1e-12)) return p;
    }
    p[k] = V;
    return p;
  }

  /** Cosine similarity, in double. */
  public static double cosine(float[] a, float[] b) {
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < a.length; i++) {
      ab += (double) a[i] * b[i];
      aa += (double) a[i] * a[i];
      bb += (double) b[i] * b[i];
    }
    return ab / Math.sqrt(aa * bb);
  }

  static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  static double[] scale(double[] v, double f) {
    double[] out = v.clone();
    for (int i = 0; i < out.length; i++) out[i] *= f;
    return out;
  }
}
