package io.fitprune.fitting;

/** Even alpha = 1 (prune everything both signals allow) cannot reach the requested budget. */
public final class UnreachableBudgetException extends IllegalArgumentException {
  private final double budget, bestReduction;

  public UnreachableBudgetException(double budget, double bestReduction, String scope) {
    super(String.format(java.util.Locale.ROOT,
        "budget %.4f is unreachable: pruning all that the statistics allow (alpha = 1) saves at most %.4f of the %s-scope cost; "
            + "the largest reachable budget is %.4f", budget, bestReduction, scope, bestReduction));
    this.budget = budget;
    this.bestReduction = bestReduction;
  }

  public double budget() {
    return budget;
  }

  /** The reduction the alpha = 1 recipe achieves: the largest budget this search can reach. */
  public double bestReduction() {
    return bestReduction;
  }
}
