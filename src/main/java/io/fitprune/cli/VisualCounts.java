package io.fitprune.cli;

import io.fitprune.hf.LlavaNextConfig;
import io.fitprune.hf.ModelFolder;
import io.fitprune.hf.QwenVlConfig;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.TensorInfo;
import io.fitprune.model.Geometry;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import io.fitprune.stats.StatsFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Models whose images each bring their own visual count (LLaVA-NeXT, Qwen2-VL, Qwen2.5-VL): a recipe or a recording is
 * checked against the model at the count it was made for, where a fixed-count model's geometry
 * would refuse every count but its own.
 */
final class VisualCounts {
  private VisualCounts() {}

  /** Whether {@code --model} names a LLaVA-NeXT or Qwen2-VL folder or bundled config. */
  static boolean perImage(String model) throws IOException {
    Path p = Path.of(model);
    if (ModelFolder.isModelFolder(p)) return ModelFolder.open(p).perImageCounts();
    return !Files.exists(p) && (LlavaNextConfig.bundled(model) != null || QwenVlConfig.bundled(model) != null);
  }

  /** A recipe file read and checked against {@code g}, at the recipe's own count when {@code perImage}. */
  static Recipe recipe(Path file, Geometry g, boolean perImage) throws IOException {
    if (!perImage) return RecipeFiles.read(file, g);
    Recipe r = RecipeFiles.read(file);
    r.validate(g.withVisualTokens(r.visualTokens()), file.toString());
    return r;
  }

  /** The geometry a recipe read by {@link #recipe} was checked against. */
  static Geometry at(Recipe r, Geometry g, boolean perImage) {
    return perImage ? g.withVisualTokens(r.visualTokens()) : g;
  }

  /** {@code g} at the visual count of a statistics file's {@code self [S, L, V]} when {@code perImage}. */
  static Geometry forStats(Path stats, Geometry g, boolean perImage) throws IOException {
    if (!perImage || stats == null) return g;
    try (SafetensorsFile f = SafetensorsFile.open(stats)) {
      TensorInfo s = f.requireFloats(StatsFiles.SELF, -1, -1, -1);
      long v = s.shape()[2];
      return v >= 1 && v <= Integer.MAX_VALUE ? g.withVisualTokens((int) v) : g; // StatsFiles.read reports a bad shape
    }
  }
}
