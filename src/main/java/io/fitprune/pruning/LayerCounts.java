package io.fitprune.pruning;

/**
 * Per-layer drop counts fitted for {@code fitted} visual tokens, and what to do for an image with
 * another count. Checked on construction: counts are non-negative and drop at most {@code fitted}
 * tokens in all, so no layer can be asked for more than is alive. A sequence without visual
 * tokens (a text-only request) drops nothing under either policy: there is nothing to refuse.
 */
record LayerCounts(int[] prune, int fitted, VisualCountPolicy policy) {
  LayerCounts {
    if (prune == null) throw new IllegalArgumentException("recipe: per-layer counts are null");
    if (fitted < 0) throw new IllegalArgumentException("recipe: visual token count must be >= 0, got " + fitted);
    if (policy == null) throw new IllegalArgumentException("policy is null (VisualCountPolicy.REFUSE or SCALE)");
    prune = prune.clone();
    long sum = 0;
    for (int l = 0; l < prune.length; l++) {
      if (prune[l] < 0) throw new IllegalArgumentException("recipe: negative count " + prune[l] + " at layer " + l);
      sum += prune[l];
    }
    if (sum > fitted)
      throw new IllegalArgumentException("recipe: drops " + sum + " visual tokens in all but was fitted for " + fitted);
  }

  /** Visual tokens to drop at the state's next layer. */
  int at(SequenceState s) {
    int l = s.layersDone();
    if (l >= prune.length) return 0;
    int actual = s.originalVisual();
    if (actual == 0) return 0;
    int count = prune[l];
    if (actual != fitted) {
      if (policy == VisualCountPolicy.REFUSE)
        throw new IllegalArgumentException("recipe fitted for " + fitted + " visual tokens applied to a sequence with "
            + actual + " (choose VisualCountPolicy.SCALE to scale the per-layer counts to the image)");
      count = (int) (scaledCumulative(l, actual) - scaledCumulative(l - 1, actual));
    }
    return Math.min(count, s.visual());
  }

  /** floor(sum(prune[0..l]) * actual / fitted): never more than {@code actual}, never decreasing in l. */
  private long scaledCumulative(int l, int actual) {
    if (fitted == 0) return 0;
    long c = 0;
    for (int i = 0; i <= l; i++) c += prune[i];
    return c * actual / fitted;
  }
}
