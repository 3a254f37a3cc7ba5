package io.fitprune.eval;

import io.fitprune.calibration.DecoderRunner;
import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.Profile;
import io.fitprune.fitting.ExactFitter;
import io.fitprune.fitting.FastFitter;
import io.fitprune.fitting.FitResult;
import io.fitprune.fitting.StatsRecorder;
import io.fitprune.flops.Cost;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.VisualCountPolicy;
import io.fitprune.stats.AttentionStats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;

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
  public record PolicyResult(String name, int[] prune, int[] visualAfter, double plantedKept, double visualKept,
      double cosine, double nextAgreement, double agreement, double flopsReduction, double predictedSpeedup, double scoreOverhead,
      double medianSeconds, double measuredSpeedup, double[] phaseSeconds) {}

  /** Quality of one policy at one budget (the quality-vs-FLOPs plot). */
  public record SweepPoint(String policy, double budget, double flopsReduction, double plantedKept, double cosine,
      double agreement) {}

  /** Everything the demo prints and plots. */
  public record Report(Synthetic synthetic, Geometry geometry, Options options, AttentionStats stats, FitResult fast,
      FitResult exact, double baselineSeconds, double[] baselinePhases, List<PolicyResult> policies,
      List<SweepPoint> sweep, double[] secondsPerStage, String[] stages) {}

  public static Report run(Synthetic syn, Options o, Listener listener) {
    Listener L = listener == null ? (s, d, t) -> {} : listener;
    long t0 = System.nanoTime();
    List<String> stages = new ArrayList<>();
    List<Double> stageSec = new ArrayList<>();
    Decoder dec = new Decoder(syn.weights());
    int layers = syn.config().layers(), V = syn.visual();
    Geometry g = syn.config().geometry(V, syn.prefix(), syn.text());
    FlopsModel full = new FlopsModel(g, Scope.FULL, syn.prefix(), syn.text());
    t0 = stage(stages, stageSec, "model", t0);

    List<Tensor> calEmb = new ArrayList<>();
    List<io.fitprune.kernels.Spans> calSpans = new ArrayList<>();
    for (int i = 0; i < o.calibration(); i++) {
      Synthetic.Sample s = syn.sample(1000 + i);
      calEmb.add(s.embeds());
      calSpans.add(s.spans());
    }
    DecoderRunner runner = new DecoderRunner(dec, calEmb, calSpans);
    CountingRunner counting = new CountingRunner(runner, layers * o.calibration(), "record", L);
    AttentionStats stats = StatsRecorder.record(counting, layers, V);
    t0 = stage(stages, stageSec, "record statistics", t0);

    FitResult fast = new FastFitter(stats, full).fit(o.budget());
    t0 = stage(stages, stageSec, "fit fast", t0);
    FitResult exact = null;
    if (o.exact()) {
      int passes = io.fitprune.fitting.AlphaSearch.passesPerSearch();
      int[] done = {0};
      L.progress("fit exact", 0, passes);
      exact = new ExactFitter(runner, stats, full).fit(o.budget(), () -> L.progress("fit exact", ++done[0], passes));
      t0 = stage(stages, stageSec, "fit exact", t0);
    }

    // Policies at equal full-scope FLOPs.
    List<Pruner> pruners = new ArrayList<>();
    List<int[]> counts = new ArrayList<>();
    pruners.add(Pruner.fitprune(fast.prune(), V, VisualCountPolicy.REFUSE, "fitprune-fast"));
    counts.add(fast.prune());
    if (exact != null) {
      pruners.add(Pruner.fitprune(exact.prune(), V, VisualCountPolicy.REFUSE, "fitprune-exact"));
      counts.add(exact.prune());
    }
    pruners.add(Pruner.random(fast.prune(), V, 42));
    counts.add(fast.prune());
    int k = fastvLayer(full, layers, V, o.fastvLayer(), fast.cost().pruned());
    int[] fv = fastvCounts(full, layers, V, k, fast.cost().pruned());
    pruners.add(Pruner.attentionReceived(layers, k, fv[k], V, "fastv"));
    counts.add(fv);

    // Quality on held-out samples.
    int P = pruners.size();
    List<Synthetic.Sample> held = new ArrayList<>();
    for (int i = 0; i < o.heldOut(); i++) held.add(syn.sample(2000 + i));
    Reference[] refs = new Reference[held.size()];
    Quality q = quality(dec, held, refs, pruners, o.generate(), "evaluate", L);
    t0 = stage(stages, stageSec, "evaluate quality", t0);

    List<SweepPoint> sweep = new ArrayList<>();
    for (int p = 0; p < P; p++)
      sweep.add(new SweepPoint(pruners.get(p).name(), o.budget(), full.evaluate(counts.get(p)).reduction(),
          q.planted[p], q.cosine[p], q.agree[p]));
    for (double b : o.sweep()) {
      if (Math.abs(b - o.budget()) < 1e-9) continue;
      FitResult f;
      try {
        f = new FastFitter(stats, full).fit(b);
      } catch (IllegalArgumentException unreachable) {
        continue; // budget out of reach on this model: no point
      }
      int kb = fastvLayer(full, layers, V, o.fastvLayer(), f.cost().pruned());
      int[] fvb = fastvCounts(full, layers, V, kb, f.cost().pruned());
      List<Pruner> ps = List.of(Pruner.fitprune(f.prune(), V, VisualCountPolicy.REFUSE, "fitprune-fast"), Pruner.random(f.prune(), V, 42),
          Pruner.attentionReceived(layers, kb, fvb[kb], V, "fastv"));
      List<int[]> cs = List.of(f.prune(), f.prune(), fvb);
      Quality qb = quality(dec, held, refs, ps, o.generate(), String.format(java.util.Locale.ROOT, "sweep %.2f", b), L);
      for (int p = 0; p < ps.size(); p++)
        sweep.add(new SweepPoint(ps.get(p).name(), b, full.evaluate(cs.get(p)).reduction(), qb.planted[p],
            qb.cosine[p], qb.agree[p]));
    }
    if (o.sweep().length > 0) t0 = stage(stages, stageSec, "sweep budgets", t0);

    // Timing. The machine may be shared, so every pruned run sits between two unpruned runs and
    // its speedup is taken against their mean; the reported speedup is the median over rounds of
    // these paired ratios, and the reported times are medians.
    double[][] secs = new double[P + 1][o.repeats()];
    double[][] ratio = new double[P][o.repeats()];
    double[] baseAll = new double[o.repeats() * (P + 1)];
    Profile[] prof = new Profile[P + 1];
    for (int i = 0; i <= P; i++) prof[i] = new Profile();
    Synthetic.Sample ts = held.get(0);
    dec.prefill(ts.embeds(), ts.spans(), Pruner.none(), 0).close(); // warm-up
    int tsteps = o.repeats() * (2 * P + 1), tdone = 0;
    for (int r = 0; r < o.repeats(); r++) {
      double prev = time(dec, ts, Pruner.none(), prof[0]);
      baseAll[r * (P + 1)] = prev;
      L.progress("time prefill", ++tdone, tsteps);
      for (int p = 0; p < P; p++) {
        double t = time(dec, ts, pruners.get(p), prof[p + 1]);
        L.progress("time prefill", ++tdone, tsteps);
        double next = time(dec, ts, Pruner.none(), prof[0]);
        L.progress("time prefill", ++tdone, tsteps);
        baseAll[r * (P + 1) + p + 1] = next;
        secs[p + 1][r] = t;
        ratio[p][r] = (prev + next) / 2 / t;
        prev = next;
      }
    }
    stage(stages, stageSec, "time prefill", t0);
    double base = median(baseAll);
    double[] basePhases = scale(prof[0].seconds(), 1.0 / baseAll.length);
    List<PolicyResult> results = new ArrayList<>();
    for (int p = 0; p < P; p++) {
      Cost c = full.evaluate(counts.get(p));
      double med = median(secs[p + 1]);
      results.add(new PolicyResult(pruners.get(p).name(), counts.get(p), q.visualAfter[p], q.planted[p], q.kept[p],
          q.cosine[p], q.next[p], q.agree[p], c.reduction(), c.baseline() / c.pruned(), c.scoreOverhead() / c.baseline(), med,
          median(ratio[p]), scale(prof[p + 1].seconds(), 1.0 / o.repeats())));
    }
    return new Report(syn, g, o, stats, fast, exact, base, basePhases, results, sweep,
        stageSec.stream().mapToDouble(Double::doubleValue).toArray(), stages.toArray(new String[0]));
  }

  private record Reference(float[] lastHidden, int[] tokens) {}

  /** Means over the held-out samples, per policy. */
  private record Quality(double[] planted, double[] kept, double[] cosine, double[] next, double[] agree,
      int[][] visualAfter) {}

  private static Quality quality(Decoder dec, List<Synthetic.Sample> held, Reference[] refs, List<Pruner> pruners,
      int generate, String stage, Listener L) {
    int P = pruners.size(), n = held.size();
    double[] planted = new double[P], kept = new double[P], cos = new double[P], agree = new double[P];
    double[] next = new double[P];
    int[][] visualAfter = new int[P][];
    int steps = n * P, done = 0;
    L.progress(stage, 0, steps);
    for (int i = 0; i < n; i++) {
      Synthetic.Sample s = held.get(i);
      if (refs[i] == null) {
        try (Decoder.Prefill ref = dec.prefill(s.embeds(), s.spans(), Pruner.none(), generate)) {
          refs[i] = new Reference(ref.lastHidden(), dec.generate(ref, generate));
        }
      }
      Set<Integer> plantedIds = new HashSet<>();
      for (int id : s.planted()) plantedIds.add(id);
      int V = (int) s.spans().visual();
      for (int p = 0; p < P; p++) {
        Decoder.Prefill r = dec.prefill(s.embeds(), s.spans(), pruners.get(p), generate);
        int[] toks = dec.generate(r, generate);
        r.close();
        int hit = 0;
        for (int id : r.state().visualIds()) if (plantedIds.contains(id)) hit++;
        planted[p] += hit / (double) s.planted().length / n;
        kept[p] += r.state().visual() / (double) V / n;
        cos[p] += cosine(refs[i].lastHidden(), r.lastHidden()) / n;
        int same = 0;
        for (int t = 0; t < toks.length; t++) if (toks[t] == refs[i].tokens()[t]) same++;
        agree[p] += same / (double) toks.length / n;
        if (toks[0] == refs[i].tokens()[0]) next[p] += 1.0 / n;
        visualAfter[p] = r.visualAfter();
        L.progress(stage, ++done, steps);
      }
    }
    return new Quality(planted, kept, cos, next, agree, visualAfter);
  }

  private static double time(Decoder dec, Synthetic.Sample s, Pruner p, Profile prof) {
    try (Decoder.Prefill run = dec.prefill(s.embeds(), s.spans(), p, 0, prof)) {
      return run.seconds();
    }
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

  private static long stage(List<String> names, List<Double> secs, String name, long since) {
    long now = System.nanoTime();
    names.add(name);
    secs.add((now - since) / 1e9);
    return now;
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

  private static double[] scale(double[] v, double f) {
    double[] out = v.clone();
    for (int i = 0; i < out.length; i++) out[i] *= f;
    return out;
  }

  /** Reports progress of a statistics recording through a runner. */
  private static final class CountingRunner implements io.fitprune.fitting.LayerRunner {
    final io.fitprune.fitting.LayerRunner r;
    final int total;
    final String stage;
    final Listener l;
    int done;

    CountingRunner(io.fitprune.fitting.LayerRunner r, int total, String stage, Listener l) {
      this.r = r;
      this.total = total;
      this.stage = stage;
      this.l = l;
    }

    @Override
    public int samples() {
      return r.samples();
    }

    @Override
    public void beginPass() {
      r.beginPass();
    }

    @Override
    public void attend(int sample, int layer, int alive, float[] self, float[] cross) {
      r.attend(sample, layer, alive, self, cross);
    }

    @Override
    public void finish(int sample, int layer, int[] drop, int count) {
      r.finish(sample, layer, drop, count);
      l.progress(stage, ++done, total);
    }

    @Override
    public void endPass() {
      r.endPass();
    }
  }
}
