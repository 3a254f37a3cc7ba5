package io.fitprune.recipe;

import io.fitprune.fitting.FitResult;
import io.fitprune.fitting.Mode;
import io.fitprune.flops.Cost;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometry;
import java.util.Locale;

/**
 * A pruning recipe as saved to disk: how many visual tokens to drop after each layer's attention,
 * with how it was obtained and what it saves in both FLOPs scopes. Make one in code with {@link
 * #builder}, from a fit with {@link #of}; construction checks the structure (counts against the
 * layer and visual counts, costs consistent with each other), and {@link #validate} checks it
 * against a model, the stored costs recomputed from the counts included.
 *
 * @param scope              the scope the budget was fitted in ({@code full} or {@code paper})
 * @param mode               {@code fast} or {@code exact} (fitted) or {@code manual} (written by hand)
 * @param alpha              the fit's tolerance (0 for a manual recipe)
 * @param full               cost in the full scope (prefix and text lengths recorded with it)
 * @param paper              cost in the paper scope
 * @param calibrationSamples samples in the statistics the recipe was fitted on (0 for a manual recipe)
 */
public record Recipe(int version, String model, int layers, int visualTokens, double budget, String scope, String mode,
    double alpha, int[] prune, CostEntry full, CostEntry paper, int calibrationSamples) {

  public static final int VERSION = 1;
  /** The mode of a recipe written by hand rather than fitted. */
  public static final String MANUAL = "manual";

  /**
   * Achieved cost in one scope at the prefix and text lengths it was priced for (both 0 in a paper
   * entry written before the paper scope recorded them).
   */
  public record CostEntry(double baseline, double pruned, double reduction, double scoreOverhead, int prefixTokens,
      int textTokens) {
    static CostEntry of(Cost c, FlopsModel m) {
      return new CostEntry(c.baseline(), c.pruned(), c.reduction(), c.scoreOverhead(), m.prefixTokens(), m.textTokens());
    }

    /** The lengths this entry was priced at, or {@code g}'s where it recorded none. */
    FlopsModel model(Geometry g, Scope scope) {
      boolean recorded = prefixTokens > 0 || textTokens > 0;
      return recorded ? new FlopsModel(g, scope, prefixTokens, textTokens) : FlopsModel.of(g, scope);
    }

    /** Throws unless the entry is consistent with itself: 0 <= pruned <= baseline, reduction = 1 - pruned / baseline. */
    void check(String where) {
      if (!(baseline > 0) || !(pruned >= 0) || pruned > baseline || !(scoreOverhead >= 0))
        throw new IllegalArgumentException(where + ": costs must satisfy 0 <= pruned <= baseline, baseline > 0 and "
            + "scoreOverhead >= 0, got baseline " + baseline + ", pruned " + pruned + ", scoreOverhead " + scoreOverhead);
      if (Math.abs(reduction - (1 - pruned / baseline)) > 1e-9)
        throw new IllegalArgumentException(where + ": reduction " + reduction + " is not 1 - pruned / baseline = "
            + (1 - pruned / baseline));
      if (prefixTokens < 0 || textTokens < 0)
        throw new IllegalArgumentException(where + ": prefixTokens and textTokens must be >= 0, got " + prefixTokens
            + " and " + textTokens);
    }
  }

  public Recipe {
    if (model == null || model.isBlank()) throw new IllegalArgumentException("model must be a non-empty name");
    if (prune == null) throw new IllegalArgumentException("prune is null");
    if (full == null || paper == null)
      throw new IllegalArgumentException("costs are null (Recipe.builder computes them from the counts)");
    if (layers < 1) throw new IllegalArgumentException("layers must be >= 1, got " + layers);
    if (visualTokens < 1) throw new IllegalArgumentException("visualTokens must be >= 1, got " + visualTokens);
    if (prune.length != layers)
      throw new IllegalArgumentException("prune has " + prune.length + " counts but the recipe says " + layers + " layers");
    long sum = 0;
    for (int l = 0; l < prune.length; l++) {
      if (prune[l] < 0) throw new IllegalArgumentException("prune[" + l + "] is negative: " + prune[l]);
      sum += prune[l];
    }
    if (sum > visualTokens)
      throw new IllegalArgumentException("prune drops " + sum + " visual tokens in all but the recipe is for "
          + visualTokens);
    if (!(budget >= 0 && budget < 1)) throw new IllegalArgumentException("budget must be in [0, 1), got " + budget);
    Scope.parse(scope == null ? "null" : scope);
    if (mode == null || !(mode.equals(MANUAL) || mode.equals(Mode.FAST.id()) || mode.equals(Mode.EXACT.id())))
      throw new IllegalArgumentException("mode must be fast, exact or manual, got " + mode);
    if (!Double.isFinite(alpha) || alpha < 0 || alpha > 1)
      throw new IllegalArgumentException("alpha must be in [0, 1], got " + alpha);
    if (calibrationSamples < 0)
      throw new IllegalArgumentException("calibrationSamples must be >= 0, got " + calibrationSamples);
    full.check("cost.full");
    paper.check("cost.paper");
    prune = prune.clone();
  }

  @Override
  public int[] prune() {
    return prune.clone();
  }

  /** Equal field by field, the counts by value: a recipe read back from its file equals the one written. */
  @Override
  public boolean equals(Object o) {
    return o instanceof Recipe r && version == r.version && model.equals(r.model) && layers == r.layers
        && visualTokens == r.visualTokens && Double.compare(budget, r.budget) == 0 && scope.equals(r.scope)
        && mode.equals(r.mode) && Double.compare(alpha, r.alpha) == 0 && java.util.Arrays.equals(prune, r.prune)
        && full.equals(r.full) && paper.equals(r.paper) && calibrationSamples == r.calibrationSamples;
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(version, model, layers, visualTokens, budget, scope, mode, alpha,
        java.util.Arrays.hashCode(prune), full, paper, calibrationSamples);
  }

  @Override
  public String toString() {
    return "Recipe[" + model + ", " + mode + ", budget " + budget + " (" + scope + "), prune "
        + java.util.Arrays.toString(prune) + "]";
  }

  /** A recipe for {@code g} written in code: counts, token lengths, budget and provenance, costs computed. */
  public static RecipeBuilder builder(Geometry g) {
    return new RecipeBuilder(g);
  }

  /** Builds the file form of a fit; {@code fullModel} fixes the prefix and text lengths of the full scope. */
  public static Recipe of(Geometry g, FitResult fit, Scope fittedScope, FlopsModel fullModel, int calibrationSamples) {
    if (fullModel == null) throw new IllegalArgumentException("fullModel is null");
    return builder(g).fit(fit, fittedScope, calibrationSamples)
        .tokens(fullModel.prefixTokens(), fullModel.textTokens()).build();
  }

  /**
   * Throws unless this recipe fits {@code g}: same model, same sizes, counts never above the alive
   * tokens, and stored costs equal to the costs of the counts on {@code g} at the prefix and text
   * lengths the fit priced (a file edited by hand or fitted for another geometry of the same name
   * is refused; a prompt of other lengths is not).
   */
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
    // Each scope at the prefix and text lengths it was priced for: a prompt's lengths vary, and a
    // model folder's template gives other lengths than the geometry the recipe was fitted on.
    checkCost(prefix + "cost.full", full, full.model(g, Scope.FULL));
    checkCost(prefix + "cost.paper", paper, paper.model(g, Scope.PAPER));
  }

  /** Costs are integers below 2^53 and files store them rounded, so rounded values must agree exactly. */
  private void checkCost(String where, CostEntry stored, FlopsModel m) {
    Cost c = m.evaluate(prune);
    String[] names = {"baseline", "pruned", "scoreOverhead"};
    double[] have = {stored.baseline(), stored.pruned(), stored.scoreOverhead()};
    double[] want = {c.baseline(), c.pruned(), c.scoreOverhead()};
    for (int i = 0; i < names.length; i++)
      if (Math.round(have[i]) != Math.round(want[i]))
        throw new IllegalArgumentException(where + "." + names[i] + " is " + Math.round(have[i]) + " but the counts cost "
            + Math.round(want[i]) + " on " + m.geometry().name() + " (" + m.scope().id() + " scope"
            + String.format(Locale.ROOT, ", %d prefix and %d text tokens", m.prefixTokens(), m.textTokens())
            + "): the counts or costs were changed after fitting, or the geometry differs");
  }
}
