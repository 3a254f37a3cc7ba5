package io.fitprune.eval;

import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.VisualCountPolicy;

/** The pruning policies the evaluation compares, each at the same full-scope FLOPs. */
public enum Policy {
  /** FitPrune's deploy rule with a fast-mode recipe. */
  FITPRUNE_FAST("fitprune-fast"),
  /** FitPrune's deploy rule with an exact-mode recipe. */
  FITPRUNE_EXACT("fitprune-exact"),
  /** Random dropping with the fast recipe's per-layer counts. */
  RANDOM("random"),
  /** FastV-style: one drop after layer K by attention received. */
  FASTV("fastv");

  /** Seed of {@link #RANDOM}: fixed, so reports repeat. */
  static final long RANDOM_SEED = 42;

  private final String label;

  Policy(String label) {
    this.label = label;
  }

  /** The name reports and plots show. */
  public String label() {
    return label;
  }

  /** The pruner for per-layer {@code counts} fitted for {@code visual} tokens (FASTV: one layer's count). */
  Pruner pruner(int[] counts, int visual) {
    return switch (this) {
      case FITPRUNE_FAST, FITPRUNE_EXACT -> Pruner.fitprune(counts, visual, VisualCountPolicy.REFUSE, label);
      case RANDOM -> Pruner.random(counts, visual, RANDOM_SEED);
      case FASTV -> {
        int k = 0;
        while (k < counts.length - 1 && counts[k] == 0) k++;
        yield Pruner.attentionReceived(counts.length, k, counts[k], visual, label);
      }
    };
  }
}
