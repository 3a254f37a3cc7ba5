package io.fitprune.cli;

import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.Profile;
import io.fitprune.eval.Evaluation;
import io.fitprune.eval.Policy;
import io.fitprune.eval.Synthetic;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.io.AtomicFiles;
import io.fitprune.model.Geometry;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import io.fitprune.stats.StatsFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main job: FitPrune end to end on an embedded synthetic model whose answer is known, with a
 * fair comparison against random dropping and a FastV-style policy.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = {"FitPrune end to end on an embedded synthetic decoder with planted attention: record statistics, "
        + "fit fast and exact recipes, compare FitPrune, random and FastV-style pruning at equal FLOPs against the "
        + "unpruned model (quality and measured prefill speed). Writes recipes, statistics, a report and plots."})
final class DemoCommand implements Callable<Integer> {
  @Option(names = "--size", defaultValue = "base", paramLabel = "tiny|small|base",
      description = "Model preset: base (8 layers, D=1024, V=576; about a minute on 2 cores), small, tiny. Default: ${DEFAULT-VALUE}.")
  String size;

  @Option(names = "--layers", description = "Override the preset's layers.") Integer layers;
  @Option(names = "--hidden", description = "Override the preset's hidden size D.") Integer hidden;
  @Option(names = "--heads", description = "Override the preset's query heads H.") Integer heads;
  @Option(names = "--kv-heads", description = "Override the preset's key/value heads G.") Integer kvHeads;
  @Option(names = "--mlp", description = "Override the preset's MLP size F.") Integer mlp;
  @Option(names = "--visual", description = "Override the preset's visual tokens V.") Integer visual;
  @Option(names = "--prefix", description = "Override the preset's prefix tokens P.") Integer prefix;
  @Option(names = "--text", description = "Override the preset's text tokens T.") Integer text;

  @Option(names = "--budget", defaultValue = "0.5", description = "Fraction of full-scope FLOPs to remove. Default: ${DEFAULT-VALUE}.")
  double budget;

  @Option(names = "--calibration", description = "Calibration samples (preset default).") Integer calibration;
  @Option(names = "--held-out", description = "Held-out samples (preset default).") Integer heldOut;
  @Option(names = "--repeats", description = "Timed prefills per policy; medians are reported (preset default).") Integer repeats;

  @Option(names = "--generate", defaultValue = "4", description = "Greedy tokens compared with the unpruned run. Default: ${DEFAULT-VALUE}.")
  int generate;

  @Option(names = "--fastv-layer", defaultValue = "2", description = "Layer K after which FastV-style drops. Default: ${DEFAULT-VALUE}.")
  int fastvLayer;

  @Option(names = "--no-exact", description = "Skip exact-mode fitting (it re-runs the model about 8 times).")
  boolean noExact;

  @Option(names = "--sweep", split = ",", paramLabel = "B,B,...",
      description = "Further budgets for the quality-vs-FLOPs plot (fast, random, FastV-style). Default: 0.3,0.7; 'none' for none.")
  List<String> sweep;

  @Option(names = "--seed", defaultValue = "1", description = "Model seed. Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--out", defaultValue = "demo-out", description = "Output directory. Default: ${DEFAULT-VALUE}.")
  Path out;

  record Preset(int layers, int hidden, int heads, int kvHeads, int mlp, int vocab, int prefix, int visual, int text,
      int calibration, int heldOut, int repeats) {}

  static Preset preset(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "base" -> new Preset(8, 1024, 16, 4, 2816, 512, 16, 576, 32, 4, 5, 5);
      case "small" -> new Preset(6, 512, 8, 2, 1408, 256, 8, 288, 16, 3, 2, 3);
      case "tiny" -> new Preset(4, 128, 4, 2, 256, 64, 4, 64, 8, 2, 2, 1);
      default -> throw new IllegalArgumentException("--size must be tiny, small or base, got '" + name + "'");
    };
  }

  @Override
  public Integer call() throws Exception {
    CliPaths.outputDirectory("--out", out); // every option is checked before anything is created
    Preset p = preset(size);
    int L = or(layers, p.layers()), D = or(hidden, p.hidden()), H = or(heads, p.heads()), G = or(kvHeads, p.kvHeads());
    if (H <= 0 || D % H != 0) throw new IllegalArgumentException("--hidden (" + D + ") must be a positive multiple of --heads (" + H + ")");
    int V = or(visual, p.visual());
    DecoderConfig cfg = new DecoderConfig(new Geometry("fitprune-demo-" + size, L, D, H, G, D / H, or(mlp, p.mlp()), V,
        or(prefix, p.prefix()), or(text, p.text())), p.vocab(), 10000.0, 1e-5);
    double kv = (double) cfg.kvWidth(), weights = L * (2.0 * D * D + 2.0 * D * kv + 3.0 * D * cfg.mlp() + 2.0 * D)
        + 2.0 * cfg.vocab() * D + D;
    MemoryCheck.require("the demo model (--layers " + L + " --hidden " + D + " --kv-heads " + G + " --mlp " + cfg.mlp()
        + ")", 4 * weights, 0);
    Synthetic syn = Synthetic.of(cfg, or(prefix, p.prefix()), V, or(text, p.text()), seed);
    double[] sw = sweepBudgets();
    Evaluation.Options o = new Evaluation.Options(budget, or(calibration, p.calibration()), or(heldOut, p.heldOut()),
        or(repeats, p.repeats()), generate, fastvLayer, !noExact, sw);
    System.err.printf(Locale.ROOT, "demo: %s: L=%d D=%d H=%d G=%d F=%d, P=%d V=%d (%d planted) T=%d; budget %.2f of full-scope FLOPs; %d calibration, %d held-out samples%n",
        cfg.name(), L, D, H, G, cfg.mlp(), syn.prefix(), V, syn.planted(), syn.text(), budget, o.calibration(), o.heldOut());
    if (!io.fitprune.decoder.DecoderRuntime.passiveOmp())
      System.err.println("demo: note: libgomp spins its idle threads (set OMP_WAIT_POLICY=PASSIVE): timings suffer on few cores");
    Evaluation.Report r;
    try (StageProgress sp = new StageProgress()) {
      r = Evaluation.run(syn, o, sp);
    }
    FlopsModel full = new FlopsModel(r.geometry(), Scope.FULL, syn.prefix(), syn.text());
    Files.createDirectories(out); // only now that there are results to write
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("model", cfg.name());
    meta.put("recorded", "fitprune demo, " + o.calibration() + " synthetic calibration samples, seed " + seed);
    StatsFiles.write(out.resolve("stats.safetensors"), r.stats(), meta);
    RecipeFiles.write(out.resolve("recipe-fast.json"), Recipe.of(r.geometry(), r.fast(), Scope.FULL, full, o.calibration()));
    if (r.exact() != null)
      RecipeFiles.write(out.resolve("recipe-exact.json"), Recipe.of(r.geometry(), r.exact(), Scope.FULL, full, o.calibration()));
    String table = table(r);
    System.out.print(table);
    AtomicFiles.writeString(out.resolve("report.md"), table);
    System.setProperty("java.awt.headless", "true");
    SweepPlots.png(out.resolve("survivors.png"), survivors(r));
    SweepPlots.png(out.resolve("quality-vs-flops.png"), quality(r));
    System.out.println("wrote " + out.resolve("recipe-fast.json") + (r.exact() != null ? ", recipe-exact.json" : "")
        + ", stats.safetensors, report.md, survivors.png, quality-vs-flops.png");
    return 0;
  }

  private double[] sweepBudgets() {
    if (sweep == null) return new double[] {0.3, 0.7};
    if (sweep.size() == 1 && sweep.get(0).equalsIgnoreCase("none")) return new double[0];
    double[] b = new double[sweep.size()];
    for (int i = 0; i < b.length; i++) {
      try {
        b[i] = Double.parseDouble(sweep.get(i).trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--sweep: not a number: '" + sweep.get(i) + "'");
      }
    }
    return b;
  }

  private static int or(Integer v, int d) {
    return v != null ? v : d;
  }

  static String table(Evaluation.Report r) {
    StringBuilder sb = new StringBuilder();
    Synthetic s = r.synthetic();
    DecoderConfig c = s.config();
    sb.append(String.format(Locale.ROOT, "%nFitPrune demo: %s (L=%d, D=%d, H=%d, G=%d, F=%d), P=%d + V=%d (%d planted) + T=%d tokens, "
        + "budget %.0f%% of full-scope FLOPs%n", c.name(), c.layers(), c.hidden(), c.heads(), c.kvHeads(), c.mlp(),
        s.prefix(), s.visual(), s.planted(), s.text(), 100 * r.options().budget()));
    sb.append(String.format(Locale.ROOT, "fast recipe  (alpha %.3f): %s%n", r.fast().alpha(), Arrays.toString(r.fast().prune())));
    if (r.exact() != null)
      sb.append(String.format(Locale.ROOT, "exact recipe (alpha %.3f): %s%n", r.exact().alpha(), Arrays.toString(r.exact().prune())));
    r.policies().stream().filter(p -> p.policy() == Policy.FASTV).findFirst().ifPresent(p -> {
      int k = 0;
      while (k < p.prune().length && p.prune()[k] == 0) k++;
      sb.append(String.format(Locale.ROOT, "fastv: drops %d of %d visual tokens after layer %d's attention, by attention received%n",
          k < p.prune().length ? p.prune()[k] : 0, s.visual(), k));
    });
    sb.append(String.format(Locale.ROOT, "unpruned prefill: %.1f ms (median of %d runs; each pruned run is timed between two "
        + "unpruned ones, its speedup is the median over %d rounds of the paired ratios)%n%n", 1e3 * r.baselineSeconds(),
        r.options().repeats() * (r.policies().size() + 1), r.options().repeats()));
    sb.append("| policy | planted kept | visual kept | cosine | next token agrees | " + r.options().generate()
        + " greedy tokens agree | FLOPs cut (full) | predicted speedup | measured speedup | prefill ms |\n");
    sb.append("|---|---|---|---|---|---|---|---|---|---|\n");
    for (Evaluation.PolicyResult p : r.policies())
      sb.append(String.format(Locale.ROOT, "| %s | %.1f%% | %.1f%% | %.4f | %.0f%% | %.0f%% | %.1f%% | %.2fx | %.2fx (%.0f%% of predicted) | %.1f |%n",
          p.name(), 100 * p.plantedKept(), 100 * p.visualKept(), p.cosine(), 100 * p.nextAgreement(), 100 * p.agreement(), 100 * p.flopsReduction(),
          p.predictedSpeedup(), p.measuredSpeedup(), 100 * p.measuredSpeedup() / p.predictedSpeedup(), 1e3 * p.medianSeconds()));
    sb.append(String.format(Locale.ROOT, "%nquality vs FLOPs (budget: policy FLOPs cut, planted kept, cosine):%n"));
    for (Evaluation.SweepPoint p : r.sweep().stream()
        .sorted(java.util.Comparator.comparingDouble(Evaluation.SweepPoint::budget)).toList())
      sb.append(String.format(Locale.ROOT, "  %.2f: %-15s %.1f%%  %.1f%%  %.4f%n", p.budget(), p.policy().label(),
          100 * p.flopsReduction(), 100 * p.plantedKept(), p.cosine()));
    sb.append(String.format(Locale.ROOT, "%nvisual tokens alive after each layer:%n"));
    for (Evaluation.PolicyResult p : r.policies())
      sb.append(String.format(Locale.ROOT, "  %-15s %s%n", p.name(), Arrays.toString(p.visualAfter())));
    sb.append(String.format(Locale.ROOT, "%nprefill time per phase, ms (unpruned / %s):%n  ", r.policies().get(0).name()));
    double[] b = r.baselinePhases(), f = r.policies().get(0).phaseSeconds();
    for (int i = 0; i < b.length; i++)
      sb.append(String.format(Locale.ROOT, "%s %.1f/%.1f  ", Profile.PHASES[i], 1e3 * b[i], 1e3 * f[i]));
    sb.append(String.format(Locale.ROOT, "%nscore-pass overhead (full-scope FLOPs, not in the prediction): %.2f%% of the unpruned cost%n",
        100 * r.policies().get(0).scoreOverhead()));
    sb.append("stages (s):");
    for (int i = 0; i < r.stages().length; i++) sb.append(String.format(Locale.ROOT, " %s %.1f;", r.stages()[i], r.secondsPerStage()[i]));
    sb.append("\n");
    return sb.toString();
  }

  private static XYChart survivors(Evaluation.Report r) {
    XYChart c = new XYChartBuilder().width(900).height(600)
        .title(r.synthetic().config().name() + ": visual tokens alive after each layer (budget "
            + String.format(Locale.ROOT, "%.2f", r.options().budget()) + ")")
        .xAxisTitle("layer").yAxisTitle("visual tokens alive").build();
    c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
    int L = r.synthetic().config().layers();
    double[] x = new double[L + 1];
    for (int l = 0; l <= L; l++) x[l] = l - 1;
    for (Evaluation.PolicyResult p : r.policies()) {
      if (p.policy() == Policy.RANDOM) continue; // same counts as fitprune-fast
      double[] y = new double[L + 1];
      y[0] = r.synthetic().visual();
      for (int l = 0; l < L; l++) y[l + 1] = p.visualAfter()[l];
      c.addSeries(p.name() + (p.policy() == Policy.FITPRUNE_FAST ? " (and random)" : ""), x, y);
    }
    return c;
  }

  private static XYChart quality(Evaluation.Report r) {
    XYChart c = new XYChartBuilder().width(900).height(600)
        .title(r.synthetic().config().name() + ": quality vs FLOPs (held-out samples)")
        .xAxisTitle("full-scope FLOPs reduction").yAxisTitle("cosine of last hidden state to unpruned").build();
    c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
    Map<Policy, List<Evaluation.SweepPoint>> by = new LinkedHashMap<>();
    for (Evaluation.SweepPoint p : r.sweep()) by.computeIfAbsent(p.policy(), k -> new java.util.ArrayList<>()).add(p);
    for (var e : by.entrySet()) {
      List<Evaluation.SweepPoint> pts = e.getValue().stream()
          .sorted(java.util.Comparator.comparingDouble(Evaluation.SweepPoint::flopsReduction)).toList();
      XYSeries sr = c.addSeries(e.getKey().label(), pts.stream().mapToDouble(Evaluation.SweepPoint::flopsReduction).toArray(),
          pts.stream().mapToDouble(Evaluation.SweepPoint::cosine).toArray());
      sr.setMarker(SeriesMarkers.CIRCLE);
    }
    return c;
  }


  /** One progress bar per stage on stderr (silent without a console), plus one line per finished stage. */
  private static final class StageProgress implements Evaluation.Listener, AutoCloseable {
    private String stage;
    private int shown, total;
    private Progress bar;
    private long since;

    @Override
    public void progress(String s, int done, int tot) {
      if (!s.equals(stage)) {
        finishStage();
        stage = s;
        total = tot;
        shown = 0;
        since = System.nanoTime();
        bar = Progress.start(s, tot);
      }
      while (shown < done) {
        bar.step();
        shown++;
      }
    }

    private void finishStage() {
      if (bar == null) return;
      bar.close();
      System.err.printf(Locale.ROOT, "demo: %s: %d steps, %.1f s%n", stage, total, (System.nanoTime() - since) / 1e9);
      bar = null;
    }

    @Override
    public void close() {
      finishStage();
    }
  }
}
