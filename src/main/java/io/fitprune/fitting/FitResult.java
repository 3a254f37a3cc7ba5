package io.fitprune.fitting;

import io.fitprune.flops.Cost;

/**
 * A fitted recipe: per-layer prune counts, the tolerance alpha that produced it, and its cost in
 * the scope it was fitted in (it always meets the budget there).
 *
 * @param passes fitting passes run, alpha = 1 included
 */
public record FitResult(int[] prune, double alpha, double budget, Mode mode, Cost cost, int passes) {
  public FitResult {
    prune = prune.clone();
  }

  @Override
  public int[] prune() {
    return prune.clone();
  }

  public int totalPruned() {
    int t = 0;
    for (int p : prune) t += p;
    return t;
  }
}
