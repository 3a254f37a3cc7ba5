package io.fitprune.cli;

import io.fitprune.fitting.FastFitter;
import io.fitprune.fitting.FitResult;
import io.fitprune.fitting.Mode;
import io.fitprune.fitting.UnreachableBudgetException;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometries;
import io.fitprune.model.Geometry;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import io.fitprune.stats.AttentionStats;
import io.fitprune.stats.StatsFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "sweep", mixinStandardHelpOptions = true,
    description = "Fit one recipe per budget from one recording; print a table and draw plots.")
final class SweepCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "MODEL", description = "Model file (models/X.json) or bundled model name.")
  String model;

  @Option(names = "--stats", required = true, paramLabel = "S.safetensors", description = "Statistics: float32 self and cross [S,L,V].")
  Path stats;

  @Option(names = "--budgets", defaultValue = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", paramLabel = "R,R,...",
      description = "Budgets, fractions in [0, 1). Default: ${DEFAULT-VALUE}.")
  String budgets;

  @Option(names = "--mode", defaultValue = "fast", paramLabel = "fast", description = "Fitting mode. Default: ${DEFAULT-VALUE}.")
  String mode;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory for the recipes and plots.")
  Path out;

  @Mixin
  CostOptions cost = new CostOptions();

  @Override
  public Integer call() throws Exception {
    double[] bs = Args.budgets("--budgets", budgets);
    Scope scope = cost.scope();
    FitCommand.requireFast(Mode.parse(mode));
    CliPaths.input("--stats", stats);
    CliPaths.outputDirectory("--out", out);
    // LLaVA-NeXT: fitted at the recording's count
    Geometry g = VisualCounts.forStats(stats, Geometries.resolve(model), VisualCounts.perImage(model));
    FlopsModel m = cost.model(g, scope), full = cost.model(g, Scope.FULL);
    AttentionStats st = StatsFiles.read(stats, g);
    FastFitter fitter = new FastFitter(st, m);
    Files.createDirectories(out);

    List<Recipe> done = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    System.out.printf(Locale.ROOT, "%-7s %-7s %-9s %-9s %-7s %-6s %s   (budget in the %s scope; paper, full: reductions)%n",
        "budget", "alpha", "paper", "full", "pruned", "last", "recipe", scope.id());
    try (Progress p = Progress.start("sweep", bs.length)) {
      for (double b : bs) {
        try {
          FitResult r = fitter.fit(b);
          Recipe recipe = Recipe.of(g, r, scope, full, st.samples());
          Path file = out.resolve(String.format(Locale.ROOT, "recipe-%.2f.json", b));
          RecipeFiles.write(file, recipe);
          done.add(recipe);
          System.out.printf(Locale.ROOT, "%-7.3f %-7.4f %-9.4f %-9.4f %-7d %-6s %s%n", b, r.alpha(),
              recipe.paper().reduction(), recipe.full().reduction(), r.totalPruned(), lastLayer(r.prune()),
              file.getFileName());
        } catch (UnreachableBudgetException e) {
          failed.add(Args.fraction(b));
          System.out.printf(Locale.ROOT, "%-7.3f unreachable: at most %.4f (%s scope)%n", b, e.bestReduction(), scope.id());
        }
        p.step();
      }
    }
    if (!done.isEmpty()) {
      SweepPlots.write(out, g, done, scope);
      System.out.println("wrote " + done.size() + " recipes and plots " + SweepPlots.REDUCTION + ", " + SweepPlots.LAYERS
          + " to " + out);
    }
    if (!failed.isEmpty())
      throw new IllegalArgumentException("budgets " + String.join(", ", failed) + " are unreachable with these statistics"
          + (done.isEmpty() ? "" : "; the other recipes were written to " + out));
    return 0;
  }

  /** Last layer that prunes, or "-" for an empty recipe. */
  private static String lastLayer(int[] prune) {
    for (int l = prune.length - 1; l >= 0; l--) if (prune[l] > 0) return Integer.toString(l);
    return "-";
  }
}
