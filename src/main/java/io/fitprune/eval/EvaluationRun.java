package io.fitprune.eval;

import io.fitprune.calibration.DecoderRunner;
import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.Profile;
import io.fitprune.fitting.AlphaSearch;
import io.fitprune.fitting.ExactFitter;
import io.fitprune.fitting.FastFitter;
import io.fitprune.fitting.FitResult;
import io.fitprune.fitting.StatsRecorder;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.stats.AttentionStats;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.bytedeco.pytorch.Tensor;

/**
 * The stages of one {@link Evaluation#run}, sharing the decoder, the cost model, the held-out
 * samples and their unpruned references (computed once, reused by every budget).
 */
final class EvaluationRun {
  /** A policy with its per-layer counts and the pruner that applies them. */
  record Candidate(Policy policy, int[] counts, Pruner pruner) {
    static Candidate of(Policy policy, int[] counts, int visual) {
      return new Candidate(policy, counts, policy.pruner(counts, visual));
    }
  }

  record Reference(float[] lastHidden, int[] tokens) {}

  /** Means over the held-out samples, per policy. */
  record Quality(double[] planted, double[] kept, double[] cosine, double[] next, double[] agree,
      int[][] visualAfter) {}

  /** Median times and paired speedups per policy; phases[0] is the unpruned run's. */
  record Timing(double baseline, double[] medians, double[] speedups, double[][] phases) {}


  final Synthetic syn;
  final Evaluation.Options o;
  final Evaluation.Listener l;
  final Decoder dec;
  final int layers, visual;
  final Geometry g;
  final FlopsModel full;
  final List<Synthetic.Sample> held = new ArrayList<>();
  final Reference[] refs;
  final List<String> stages = new ArrayList<>();
  final List<Double> stageSec = new ArrayList<>();
  DecoderRunner runner;
  long since = System.nanoTime();

  EvaluationRun(Synthetic syn, Evaluation.Options o, Evaluation.Listener l) {
    this.syn = syn;
    this.o = o;
    this.l = l;
    dec = new Decoder(syn.weights());
    layers = syn.config().layers();
    visual = syn.visual();
    g = syn.config().geometry(visual, syn.prefix(), syn.text());
    full = new FlopsModel(g, Scope.FULL, syn.prefix(), syn.text());
    for (int i = 0; i < o.heldOut(); i++) held.add(syn.sample(2000 + i));
    refs = new Reference[held.size()];
    stage("model");
  }

  void stage(String name) {
    long now = System.nanoTime();
    stages.add(name);
    stageSec.add((now - since) / 1e9);
    since = now;
  }

  AttentionStats record() {
    List<Tensor> emb = new ArrayList<>();
    List<Spans> spans = new ArrayList<>();
    for (int i = 0; i < o.calibration(); i++) {
      Synthetic.Sample s = syn.sample(1000 + i);
      emb.add(s.embeds());
      spans.add(s.spans());
    }
    runner = new DecoderRunner(dec, emb, spans);
    int total = layers * o.calibration();
    int[] done = {0};
    AttentionStats stats = StatsRecorder.record(runner, layers, visual, () -> l.progress("record", ++done[0], total));
    stage("record statistics");
    return stats;
  }

  FitResult fitExact(AttentionStats stats) {
    int passes = AlphaSearch.passesPerSearch();
    int[] done = {0};
    l.progress("fit exact", 0, passes);
    FitResult exact = new ExactFitter(runner, stats, full).fit(o.budget(), () -> l.progress("fit exact", ++done[0], passes));
    stage("fit exact");
    return exact;
  }

  /** The policies at the full-scope cost of {@code fast}: FitPrune (fast, exact when fitted), random, FastV-style. */
  List<Candidate> atEqualFlops(FitResult fast, FitResult exact) {
    List<Candidate> c = new ArrayList<>();
    c.add(Candidate.of(Policy.FITPRUNE_FAST, fast.prune(), visual));
    if (exact != null) c.add(Candidate.of(Policy.FITPRUNE_EXACT, exact.prune(), visual));
    c.add(Candidate.of(Policy.RANDOM, fast.prune(), visual));
    double target = fast.cost().pruned();
    int k = Evaluation.fastvLayer(full, layers, visual, o.fastvLayer(), target);
    c.add(Candidate.of(Policy.FASTV, Evaluation.fastvCounts(full, layers, visual, k, target), visual));
    return c;
  }

  /** Fast, random and FastV-style at each further budget of the sweep, with the main budget's points first. */
  List<Evaluation.SweepPoint> sweep(AttentionStats stats, List<Candidate> main, Quality q) {
    List<Evaluation.SweepPoint> sweep = new ArrayList<>();
    for (int p = 0; p < main.size(); p++)
      sweep.add(point(main.get(p), o.budget(), q, p));
    for (double b : o.sweep()) {
      if (Math.abs(b - o.budget()) < 1e-9) continue;
      FitResult f;
      try {
        f = new FastFitter(stats, full).fit(b);
      } catch (IllegalArgumentException unreachable) {
        continue; // budget out of reach on this model: no point
      }
      List<Candidate> cs = atEqualFlops(f, null);
      Quality qb = quality(cs, String.format(Locale.ROOT, "sweep %.2f", b));
      for (int p = 0; p < cs.size(); p++) sweep.add(point(cs.get(p), b, qb, p));
    }
    if (o.sweep().length > 0) stage("sweep budgets");
    return sweep;
  }

  private Evaluation.SweepPoint point(Candidate c, double budget, Quality q, int p) {
    return new Evaluation.SweepPoint(c.policy(), budget, full.evaluate(c.counts()).reduction(), q.planted[p], q.cosine[p],
        q.agree[p]);
  }

  Quality quality(List<Candidate> cands, String stage) {
    int P = cands.size(), n = held.size(), generate = o.generate();
    double[] planted = new double[P], kept = new double[P], cos = new double[P], agree = new double[P];
    double[] next = new double[P];
    int[][] visualAfter = new int[P][];
    int steps = n * P, done = 0;
    l.progress(stage, 0, steps);
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
        try (Decoder.Prefill r = dec.prefill(s.embeds(), s.spans(), cands.get(p).pruner(), generate)) {
          int[] toks = dec.generate(r, generate);
          int hit = 0;
          for (int id : r.state().visualIds()) if (plantedIds.contains(id)) hit++;
          planted[p] += hit / (double) s.planted().length / n;
          kept[p] += r.state().visual() / (double) V / n;
          cos[p] += Evaluation.cosine(refs[i].lastHidden(), r.lastHidden()) / n;
          int same = 0;
          for (int t = 0; t < toks.length; t++) if (toks[t] == refs[i].tokens()[t]) same++;
          agree[p] += same / (double) toks.length / n;
          if (toks[0] == refs[i].tokens()[0]) next[p] += 1.0 / n;
          visualAfter[p] = r.visualAfter();
        }
        l.progress(stage, ++done, steps);
      }
    }
    return new Quality(planted, kept, cos, next, agree, visualAfter);
  }

  /**
   * The machine may be shared, so every pruned run sits between two unpruned runs and its
   * speedup is taken against their mean; the reported speedup is the median over rounds of
   * these paired ratios, and the reported times are medians.
   */
  Timing time(List<Candidate> cands) {
    int P = cands.size(), R = o.repeats();
    double[][] secs = new double[P][R], ratio = new double[P][R];
    double[] baseAll = new double[R * (P + 1)];
    Profile[] prof = new Profile[P + 1];
    for (int i = 0; i <= P; i++) prof[i] = new Profile();
    Synthetic.Sample ts = held.get(0);
    dec.prefill(ts.embeds(), ts.spans(), Pruner.none(), 0).close(); // warm-up
    int steps = R * (2 * P + 1), done = 0;
    for (int r = 0; r < R; r++) {
      double prev = time(ts, Pruner.none(), prof[0]);
      baseAll[r * (P + 1)] = prev;
      l.progress("time prefill", ++done, steps);
      for (int p = 0; p < P; p++) {
        double t = time(ts, cands.get(p).pruner(), prof[p + 1]);
        l.progress("time prefill", ++done, steps);
        double next = time(ts, Pruner.none(), prof[0]);
        l.progress("time prefill", ++done, steps);
        baseAll[r * (P + 1) + p + 1] = next;
        secs[p][r] = t;
        ratio[p][r] = (prev + next) / 2 / t;
        prev = next;
      }
    }
    stage("time prefill");
    double[] medians = new double[P], speedups = new double[P];
    double[][] phases = new double[P + 1][];
    phases[0] = Evaluation.scale(prof[0].seconds(), 1.0 / baseAll.length);
    for (int p = 0; p < P; p++) {
      medians[p] = Evaluation.median(secs[p]);
      speedups[p] = Evaluation.median(ratio[p]);
      phases[p + 1] = Evaluation.scale(prof[p + 1].seconds(), 1.0 / R);
    }
    return new Timing(Evaluation.median(baseAll), medians, speedups, phases);
  }

  private double time(Synthetic.Sample s, Pruner p, Profile prof) {
    try (Decoder.Prefill run = dec.prefill(s.embeds(), s.spans(), p, 0, prof)) {
      return run.seconds();
    }
  }
}
