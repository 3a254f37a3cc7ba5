package io.fitprune.fitting;

import io.fitprune.flops.Cost;
import io.fitprune.flops.FlopsModel;
import java.util.function.DoubleFunction;

/**
 * Binary search over the tolerance alpha (docs/design.md, "Fitting a recipe", step 3), shared by both modes.
 * It returns the recipe of a pass that met the budget, never an untested midpoint's.
 */
public final class AlphaSearch {
  /** Search stops when the alpha interval is no wider than this. */
  public static final double WIDTH = 0.01;

  private AlphaSearch() {}

  /** Throws unless {@code budget} is a fraction in [0, 1). */
  public static void checkBudget(double budget) {
    if (!(budget >= 0 && budget < 1))
      throw new IllegalArgumentException("budget must be a fraction in [0, 1), got " + budget);
  }

  /** The one feasibility test: the recipe's own cost within {@code (1 - budget)} of the baseline. */
  public static boolean meets(double cost, double baseline, double budget) {
    return cost <= (1 - budget) * baseline;
  }

  /**
   * @param pass maps alpha to the recipe of one fitting pass at that alpha
   * @param onPass called after every pass (progress reporting); may be null
   */
  public static FitResult search(double budget, FlopsModel model, Mode mode, DoubleFunction<int[]> pass,
      Runnable onPass) {
    checkBudget(budget);
    double c0 = model.baseline();
    int[] best = pass.apply(1.0);
    int passes = 1;
    if (onPass != null) onPass.run();
    Cost bestCost = model.evaluate(best);
    if (!meets(bestCost.pruned(), c0, budget))
      throw new UnreachableBudgetException(budget, bestCost.reduction(), model.scope().id());
    double lo = 0, hi = 1;
    while (hi - lo > WIDTH) {
      double mid = (lo + hi) / 2;
      int[] r = pass.apply(mid);
      passes++;
      if (onPass != null) onPass.run();
      Cost c = model.evaluate(r);
      if (meets(c.pruned(), c0, budget)) {
        hi = mid;
        best = r;
        bestCost = c;
      } else {
        lo = mid;
      }
    }
    return new FitResult(best, hi, budget, mode, bestCost, passes);
  }

  /** Passes one search runs: alpha = 1, then halvings of [0, 1] down to {@link #WIDTH}. */
  public static int passesPerSearch() {
    int n = 1;
    for (double w = 1; w > WIDTH; w /= 2) n++;
    return n;
  }
}
