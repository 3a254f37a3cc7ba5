package io.fitprune.testutil;

import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Spans;

/**
 * One attention-and-scores test case: n tokens, H query heads, G key/value heads, head dim d, a
 * prefix of P rows and a visual span of V rows. Its name is the test's display name.
 */
public record AttentionCase(int n, int H, int G, int d, int P, int V) {
  public AttentionShape shape() {
    return new AttentionShape(n, H, G, d);
  }

  public Spans spans() {
    return new Spans(P, V);
  }

  @Override
  public String toString() {
    return "n=" + n + " H=" + H + " G=" + G + " d=" + d + " P=" + P + " V=" + V;
  }
}
