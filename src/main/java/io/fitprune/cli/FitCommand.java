package io.fitprune.cli;

import io.fitprune.fitting.AlphaSearch;
import io.fitprune.fitting.ExactFitter;
import io.fitprune.fitting.FastFitter;
import io.fitprune.fitting.StatsRecorder;
import io.fitprune.fitting.FitResult;
import io.fitprune.fitting.Mode;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometries;
import io.fitprune.model.Geometry;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import io.fitprune.stats.AttentionStats;
import io.fitprune.stats.StatsFiles;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "fit", mixinStandardHelpOptions = true,
    description = "Fit a pruning recipe that meets a FLOPs budget from attention statistics: recorded (--stats), or "
        + "recorded now on the model from calibration embeddings (--weights, --calibration) or images (--images, --prompt).")
final class FitCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "MODEL", description = "Model file (models/X.json) or bundled model name.")
  String model;

  @Option(names = "--stats", paramLabel = "S.safetensors",
      description = "Statistics: float32 self and cross [S,L,V] (with I64 visual [S] when samples have their own visual "
          + "counts). Required for fast mode; exact mode records its own when absent.")
  Path stats;

  @Option(names = "--weights", paramLabel = "W.safetensors",
      description = "The model's Hugging Face weights (file, index or directory), run by the reference decoder: exact "
          + "mode, and fast mode without --stats (records them on --calibration).")
  Path weights;

  @Option(names = "--calibration", arity = "1..*", paramLabel = "E.safetensors",
      description = "With --weights: calibration input embeddings, float32 'embeds' [S, n, D] or [n, D], optional 'spans' = "
          + "[prefix, visual]. Several files may have different visual counts: the recipe is for the model's.")
  List<Path> calibration;

  @Option(names = "--images", arity = "1..*", paramLabel = "IMG", description = "With a LLaVA model folder as --model: "
      + "calibration images, each asked --prompt through the chat template, vision tower and projector (as embed does); "
      + "the statistics are recorded on the folder's decoder. Replaces --weights and --calibration.")
  List<Path> images;

  @Option(names = "--prompt", paramLabel = "TEXT", description = "With --images: the question asked of every image.")
  String prompt;

  @Option(names = "--stats-out", paramLabel = "S.safetensors",
      description = "Also write the statistics this run records (self and cross [S,L,V], and visual [S] when samples have "
          + "their own visual counts), for fast-mode fits without the model.")
  Path statsOut;

  @Option(names = "--name-prefix", paramLabel = "PREFIX",
      description = "Prefix of the language model's tensor names ('' for plain LLaMA, 'language_model.' for llava-hf). "
          + "Default: detected.")
  String namePrefix;

  @Option(names = "--budget", required = true, paramLabel = "R", description = "Fraction of the cost (in --scope) to remove, in [0, 1).")
  double budget;

  @Option(names = "--mode", defaultValue = "fast", paramLabel = "fast|exact", description = "Fitting mode. Default: ${DEFAULT-VALUE}.")
  String mode;

  @Option(names = "--out", required = true, paramLabel = "R.json", description = "Recipe file to write.")
  Path out;

  @Mixin
  CostOptions cost = new CostOptions();

  @Mixin
  DecoderOptions decoder = new DecoderOptions();

  @Override
  public Integer call() throws Exception {
    CliPaths.input("--stats", stats);
    CliPaths.checkpoint("--weights", weights);
    if (calibration != null) for (Path c : calibration) CliPaths.input("--calibration", c);
    CliPaths.output("--out", out);
    if (statsOut != null) CliPaths.output("--stats-out", statsOut);
    if (images != null && (weights != null || calibration != null || stats != null))
      throw new IllegalArgumentException("--images records statistics on the model folder's own weights: leave out "
          + "--weights, --calibration and --stats");
    if (images != null && (namePrefix != null || decoder.ropeTheta != null || decoder.rmsEps != null))
      throw new IllegalArgumentException("--images runs the model folder as its config.json describes it: leave out "
          + "--name-prefix, --rope-theta and --rms-eps");
    if (images == null && prompt != null) throw new IllegalArgumentException("--prompt is the question for --images; none given");
    if (images != null && prompt == null) throw new IllegalArgumentException("--images needs --prompt (the question asked of each image)");
    if (statsOut != null && stats != null)
      throw new IllegalArgumentException("--stats-out writes the statistics this run records; with --stats it records none");
    Args.budget("--budget", budget);
    Scope scope = cost.scope();
    Mode md = Mode.parse(mode);
    boolean hasModel = (weights != null && calibration != null) || images != null;
    if (md == Mode.EXACT && !hasModel) requireFast(md);
    if (md == Mode.FAST && stats == null && !hasModel)
      throw new IllegalArgumentException("--stats is required in fast mode (or --weights and --calibration, or --images, to "
          + "record them)");
    Geometry g = Geometries.resolve(model);
    g = VisualCounts.forStats(stats, g, VisualCounts.perImage(model)); // LLaVA-NeXT: fitted at the recording's count
    AttentionStats st = stats == null ? null : StatsFiles.read(stats, g);
    io.fitprune.calibration.DecoderRunner runner = null;
    if (images != null) {
      ImageCalibration ic = ImageCalibration.of(Path.of(model), images, prompt);
      runner = ic.runner();
      g = g.withVisualTokens(ic.visual()); // LLaVA-NeXT: the recipe is fitted at the images' largest count
    } else if (hasModel && (md == Mode.EXACT || st == null)) {
      runner = ExactInputs.runner(decoder.config(g, model, weights), weights, namePrefix,
          DecoderOptions.tiedEmbeddings(model), calibration);
    }
    FlopsModel m = cost.model(g, scope);
    if (st == null) {
      try (Progress p = Progress.start("record statistics", (long) runner.samples() * g.layers())) {
        st = StatsRecorder.record(runner, g.layers(), g.visualTokens(), p::step);
      }
      if (statsOut != null) StatsFiles.write(statsOut, st, java.util.Map.of("model", g.name()));
    }
    FitResult r;
    if (md == Mode.EXACT) {
      try (Progress p = Progress.start("fit exact", AlphaSearch.passesPerSearch())) {
        r = new ExactFitter(runner, st, m).fit(budget, p::step);
      }
    } else {
      try (Progress p = Progress.start("fit", AlphaSearch.passesPerSearch())) {
        r = new FastFitter(st, m).fit(budget, p::step);
      }
    }
    Recipe recipe = Recipe.of(g, r, scope, cost.model(g, Scope.FULL), st.samples());
    RecipeFiles.write(out, recipe);
    System.out.println(summary(recipe));
    System.out.println("wrote " + out);
    return 0;
  }

  static void requireFast(Mode mode) {
    if (mode == Mode.EXACT)
      throw new IllegalArgumentException("--mode exact re-runs the model and needs a model runner (LayerRunner): "
          + "give --weights and --calibration to run the reference decoder (fit only), use --mode fast with recorded "
          + "statistics, or call ExactFitter from Java with your own runner");
  }

  static String summary(Recipe r) {
    return "budget " + Args.fraction(r.budget()) + " (" + r.scope() + " scope, " + r.mode() + "): alpha "
        + Args.fraction(r.alpha()) + ", reduction " + Args.fraction(r.paper().reduction()) + " paper / "
        + Args.fraction(r.full().reduction()) + " full, prune " + Arrays.toString(r.prune());
  }
}
