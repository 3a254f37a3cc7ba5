package io.fitprune.pruning;

/**
 * What a pruner does when an image brings a different number of visual tokens than its recipe was
 * fitted for (dynamic-resolution models such as LLaVA-NeXT's anyres or Qwen2-VL see a different
 * count per image).
 */
public enum VisualCountPolicy {
  /** Refuse: an {@link IllegalArgumentException} naming both counts. The default. */
  REFUSE,
  /**
   * Scale the recipe's cumulative per-layer drops by {@code actual / fitted}, rounding down, so
   * the share of visual tokens removed by each layer stays the recipe's and no more tokens are
   * ever dropped than the image has.
   */
  SCALE
}
