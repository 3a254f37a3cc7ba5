package io.fitprune.cli;

import io.fitprune.model.Geometry;
import io.fitprune.pruning.NoTextPolicy;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.VisualCountPolicy;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How a recipe meets an input it was not fitted for, for the commands that prune (prefill, ask). */
final class PruningOptions {
  @Option(names = "--visual-policy", description = "When the input's visual token count differs from the recipe's: "
      + "REFUSE (an error) or SCALE (per-layer counts scaled to the input). Default: SCALE for a LLaVA-NeXT, Qwen2-VL or Qwen2.5-VL "
      + "folder's images (each brings its own count), else REFUSE.")
  VisualCountPolicy visualPolicy;

  /** The policy when --visual-policy is not given. */
  private VisualCountPolicy fallback = VisualCountPolicy.REFUSE;

  /** Sets the policy used when --visual-policy is not given (SCALE where each image brings its own count). */
  void defaultPolicy(VisualCountPolicy p) {
    fallback = p;
  }

  VisualCountPolicy policy() {
    return visualPolicy != null ? visualPolicy : fallback;
  }

  @Option(names = "--no-text-policy", defaultValue = "refuse", paramLabel = "refuse|self-only", description = "When no text "
      + "follows an image (its cross-attention scores are all zero, so every FitPrune score ties): refuse (an error) or "
      + "self-only (rank its visual tokens by self-attention alone). Default: ${DEFAULT-VALUE}.")
  String noTextPolicy;

  NoTextPolicy noText() {
    try {
      return NoTextPolicy.parse(noTextPolicy);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--no-text-policy: " + e.getMessage());
    }
  }

  /**
   * A recipe file read for {@code g} ({@link VisualCounts#recipe}); for a model of per-image counts
   * the policy then defaults to SCALE.
   */
  Recipe read(Path file, Geometry g, boolean perImage) throws IOException {
    if (perImage) defaultPolicy(VisualCountPolicy.SCALE);
    return VisualCounts.recipe(file, g, perImage);
  }

  /** The recipe of {@code file} (read against {@code g}) as a pruner for an input with {@code visual} tokens. */
  Pruner pruner(Path file, Geometry g, int visual) throws IOException {
    return pruner(RecipeFiles.read(file, g), file.toString(), g, visual, "");
  }

  /** {@code r}, read from {@code file}, as a pruner for an input ({@code who}: "" or " (request b)") with {@code visual} tokens. */
  Pruner pruner(Recipe r, String file, Geometry g, int visual, String who) {
    requireVisualCount(file, r, visual, who);
    return Pruner.of(r, g, policy(), noText());
  }

  /** The refusal of an image whose visual count the recipe was not fitted for, in the command line's words. */
  private void requireVisualCount(String recipeFile, Recipe r, int visual, String who) {
    // A text-only request has nothing to prune, so no count to refuse.
    if (policy() == VisualCountPolicy.REFUSE && visual != 0 && r.visualTokens() != visual)
      throw new IllegalArgumentException("--recipe " + recipeFile + " was fitted for " + r.visualTokens()
          + " visual tokens, the input" + who + " comes with " + visual
          + " (add --visual-policy scale to scale the per-layer counts to the image)");
  }
}
