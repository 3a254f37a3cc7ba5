package io.fitprune.recipe;

import io.fitprune.fitting.FitResult;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometry;
import java.util.Arrays;

/**
 * Builds a {@link Recipe} in code, typed and checked, with its costs computed from the counts: the
 * same record the fitter writes ({@link RecipeFiles#write}), so it reads back equal. Start with
 * {@link Recipe#builder}; every setter is optional except the counts (all zero otherwise).
 *
 * <pre>{@code
 * Recipe r = Recipe.builder(model).prune(0, 0, 288, 0, ...).build();   // one count per layer
 * }</pre>
 */
public final class RecipeBuilder {
  private final Geometry g;
  private int[] prune;
  private int prefix, text;
  private Scope scope = Scope.PAPER;
  private Double budget;    // null: the reduction the counts achieve in the scope
  private String mode = Recipe.MANUAL;
  private double alpha;
  private int samples;

  RecipeBuilder(Geometry g) {
    if (g == null) throw new IllegalArgumentException("model geometry is null");
    this.g = g;
    this.prune = new int[g.layers()];
    this.prefix = g.prefixTokens();
    this.text = g.textTokens();
  }

  /** Visual tokens to drop after each layer's attention, one count per layer of the model. */
  public RecipeBuilder prune(int... counts) {
    if (counts == null) throw new IllegalArgumentException("prune: counts are null");
    if (counts.length != g.layers())
      throw new IllegalArgumentException("prune: expected " + g.layers() + " counts (one per layer of " + g.name()
          + "), got " + counts.length);
    FlopsModel.checkRecipe(g, counts);
    prune = counts.clone();
    return this;
  }

  /** Visual tokens to drop after layer {@code layer}'s attention (the others keep theirs). */
  public RecipeBuilder drop(int layer, int count) {
    if (layer < 0 || layer >= g.layers())
      throw new IllegalArgumentException("drop: layer must be in [0, " + g.layers() + "), got " + layer);
    int[] p = prune.clone();
    p[layer] = count;
    FlopsModel.checkRecipe(g, p);
    prune = p;
    return this;
  }

  /** Prompt tokens before the image and text tokens after it that the full-scope cost assumes (default: the geometry's). */
  public RecipeBuilder tokens(int prefixTokens, int textTokens) {
    if (prefixTokens < 0 || textTokens < 0)
      throw new IllegalArgumentException("tokens: prefix and text must be >= 0, got " + prefixTokens + " and " + textTokens);
    prefix = prefixTokens;
    text = textTokens;
    return this;
  }

  /** The FLOPs scope the budget is stated in (default paper, as {@code fit} uses). */
  public RecipeBuilder scope(Scope s) {
    if (s == null) throw new IllegalArgumentException("scope is null (Scope.FULL or Scope.PAPER)");
    scope = s;
    return this;
  }

  /** The fraction of FLOPs the recipe was meant to remove, in [0, 1) (default: what the counts remove in the scope). */
  public RecipeBuilder budget(double fraction) {
    if (!(fraction >= 0 && fraction < 1)) throw new IllegalArgumentException("budget must be in [0, 1), got " + fraction);
    budget = fraction;
    return this;
  }

  /** Counts, budget, alpha and mode from a fit in {@code fittedScope} on {@code calibrationSamples} samples. */
  public RecipeBuilder fit(FitResult fit, Scope fittedScope, int calibrationSamples) {
    if (fit == null) throw new IllegalArgumentException("fit is null");
    if (calibrationSamples < 0)
      throw new IllegalArgumentException("calibrationSamples must be >= 0, got " + calibrationSamples);
    prune(fit.prune());
    scope(fittedScope);
    budget(fit.budget());
    mode = fit.mode().id();
    alpha = fit.alpha();
    samples = calibrationSamples;
    return this;
  }

  /** The recipe, its costs in both scopes computed from the counts. */
  public Recipe build() {
    FlopsModel full = new FlopsModel(g, Scope.FULL, prefix, text), paper = FlopsModel.of(g, Scope.PAPER);
    Recipe.CostEntry f = Recipe.CostEntry.of(full.evaluate(prune), full);
    Recipe.CostEntry p = Recipe.CostEntry.of(paper.evaluate(prune), paper);
    double b = budget != null ? budget : Math.max(0, (scope == Scope.FULL ? f : p).reduction());
    return new Recipe(Recipe.VERSION, g.name(), g.layers(), g.visualTokens(), b, scope.id(), mode, alpha,
        Arrays.copyOf(prune, prune.length), f, p, samples);
  }
}
