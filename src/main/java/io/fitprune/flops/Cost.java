package io.fitprune.flops;

/**
 * The cost of one prefill under a recipe, in one scope.
 *
 * @param baseline      cost with no pruning
 * @param pruned        cost with the recipe applied (score passes excluded)
 * @param scoreOverhead extra cost of the score passes at the layers that prune, reported apart
 *                      because it depends on the kernel, not on the recipe's arithmetic
 */
public record Cost(Scope scope, double baseline, double pruned, double scoreOverhead) {
  /** Fraction of the baseline saved, in [0, 1]. */
  public double reduction() {
    return baseline == 0 ? 0 : 1 - pruned / baseline;
  }
}
