package consumer;

import io.fitprune.fitting.FastFitter;
import io.fitprune.fitting.FitResult;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometries;
import io.fitprune.model.Geometry;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import io.fitprune.stats.AttentionStats;
import io.fitprune.stats.StatsFiles;
import io.fitprune.stats.SyntheticStats;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * Fast-mode fitting without libtorch: a bundled geometry, statistics through a safetensors round
 * trip, a fit at half the FLOPs, and a recipe through a JSON round trip. Exits non-zero on failure.
 */
public final class FittingOnly {
  public static void main(String[] args) throws Exception {
    Geometry g = Geometries.resolve("llava-1.5-7b");
    Path dir = Files.createTempDirectory("fitprune-consumer");
    Path statsFile = dir.resolve("stats.safetensors"), recipeFile = dir.resolve("recipe.json");
    StatsFiles.write(statsFile, SyntheticStats.generate(g, 8, 3), Map.of());
    AttentionStats stats = StatsFiles.read(statsFile, g);
    FlopsModel model = FlopsModel.of(g, Scope.PAPER);
    FitResult fit = new FastFitter(stats, model).fit(0.5);
    require(fit.cost().reduction() >= 0.5, "reduction " + fit.cost().reduction() + " misses the budget 0.5");
    Recipe recipe = Recipe.of(g, fit, Scope.PAPER, FlopsModel.of(g, Scope.FULL), stats.samples());
    RecipeFiles.write(recipeFile, recipe);
    Recipe back = RecipeFiles.read(recipeFile, g);
    require(Arrays.equals(back.prune(), fit.prune()), "recipe round trip changed the counts");
    System.out.println("fitting-only consumer: " + g.name() + " at budget 0.5 prunes " + fit.totalPruned()
        + " visual tokens over " + g.layers() + " layers (paper-scope reduction " + fit.cost().reduction() + ")");
    try (var files = Files.list(dir)) {
      for (Path p : (Iterable<Path>) files::iterator) Files.delete(p);
    }
    Files.delete(dir);
  }

  private static void require(boolean ok, String message) {
    if (!ok) throw new AssertionError(message);
  }
}
