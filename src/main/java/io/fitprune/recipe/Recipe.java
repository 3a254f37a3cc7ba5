package io.fitprune.recipe;

import io.fitprune.fitting.FitResult;
import io.fitprune.flops.Cost;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometry;

/**
 * A pruning recipe as saved to disk: how many visual tokens to drop after each layer's attention,
 * with how it was obtained and what it saves in both FLOPs scopes.
 *
 * @param scope              the scope the budget was fitted in
 * @param mode               fast or exact
 * @param full               cost in the full scope (prefix and text lengths recorded with it)
 * @param paper              cost in the paper scope
 * @param calibrationSamples samples in the statistics the recipe was fitted on
 */
public record Recipe(int version, String model, int layers, int visualTokens, double budget, String scope, String mode,
    double alpha, int[] prune, CostEntry full, CostEntry paper, int calibrationSamples) {

  public static final int VERSION = 1;

  /** Achieved cost in one scope; prefix/text are the lengths the full scope assumed (0 for paper). */
  public record CostEntry(double baseline, double pruned, double reduction, double scoreOverhead, int prefixTokens,
      int textTokens) {
    static CostEntry of(Cost c, FlopsModel m) {
      boolean full = m.scope() == Scope.FULL;
      return new CostEntry(c.baseline(), c.pruned(), c.reduction(), c.scoreOverhead(), full ? m.prefixTokens() : 0,
          full ? m.textTokens() : 0);
    }
  }

  public Recipe {
    prune = prune.clone();
  }

  @Override
  public int[] prune() {
    return prune.clone();
  }

  /** Builds the file form of a fit; {@code fullModel} fixes the prefix and text lengths of the full scope. */
  public static Recipe of(Geometry g, FitResult fit, Scope fittedScope, FlopsModel fullModel, int calibrationSamples) {
    int[] p = fit.prune();
    FlopsModel paperModel = FlopsModel.of(g, Scope.PAPER);
    return new Recipe(VERSION, g.name(), g.layers(), g.visualTokens(), fit.budget(), fittedScope.id(), fit.mode().id(),
        fit.alpha(), p, CostEntry.of(fullModel.evaluate(p), fullModel), CostEntry.of(paperModel.evaluate(p), paperModel),
        calibrationSamples);
  }

  /** Throws unless this recipe fits {@code g}: same model, same sizes, counts never above the alive tokens. */
  public void validate(Geometry g, String where) {
    String prefix = where + ": ";
    if (!model.equals(g.name()))
      throw new IllegalArgumentException(prefix + "recipe is for model '" + model + "', not '" + g.name() + "'");
    if (layers != g.layers())
      throw new IllegalArgumentException(prefix + "recipe says " + layers + " layers but " + g.name() + " has " + g.layers());
    if (visualTokens != g.visualTokens())
      throw new IllegalArgumentException(prefix + "recipe says " + visualTokens + " visual tokens but " + g.name()
          + " has " + g.visualTokens());
    try {
      FlopsModel.checkRecipe(g, prune);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(prefix + e.getMessage());
    }
  }
}
