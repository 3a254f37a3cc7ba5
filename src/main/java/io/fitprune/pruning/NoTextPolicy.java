package io.fitprune.pruning;

/**
 * What FitPrune's rule does when a sequence has no text after the image. Its score is {@code
 * self * cross}, and {@code cross} is the attention the text rows pay each visual token: with no
 * text rows every {@code cross} is zero, every score ties at zero, and selection would drop the
 * lowest indices, by position alone. The same holds when the text's attention to the image
 * underflows to zero everywhere.
 */
public enum NoTextPolicy {
  /**
   * Refuse: an {@link IllegalArgumentException} naming the cause, before the score pass when the
   * text span is empty. The default. On the command line: {@code --no-text-policy refuse}.
   */
  REFUSE,
  /**
   * Rank the visual tokens by self-attention alone (the attention the image's own rows pay them)
   * where cross carries nothing; sequences with text are ranked by {@code self * cross} as
   * usual. On the command line: {@code --no-text-policy self-only}.
   */
  SELF_ONLY;

  /** The refusal, naming the cause and the way out. */
  static IllegalArgumentException refusal(String cause) {
    return new IllegalArgumentException(cause + ": the cross-attention scores carry no information and every self*cross "
        + "score ties, so pruning would drop visual tokens by position alone; choose NoTextPolicy.SELF_ONLY "
        + "(command line: --no-text-policy self-only) to rank them by self-attention only");
  }

  /**
   * The cross scores the rule should multiply by: {@code cross} itself when it carries
   * information, else (no text rows, or all zero) ones under {@link #SELF_ONLY}; refuses under
   * {@link #REFUSE}.
   */
  float[] crossFor(SequenceState s, float[] cross) {
    String cause = s.text() == 0 ? "no text follows the image (text span 0)" : allZero(cross)
        ? "the text's attention to the image is zero for every visual token (cross scores all zero)" : null;
    if (cause == null) return cross;
    if (this == REFUSE) throw refusal(cause);
    float[] ones = new float[cross.length];
    java.util.Arrays.fill(ones, 1f);
    return ones;
  }

  private static boolean allZero(float[] x) {
    for (float f : x) if (f != 0) return false;
    return true;
  }

  /** The command line's name: {@code refuse} or {@code self-only}. */
  public String id() {
    return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }

  /** Parses {@link #id()}. */
  public static NoTextPolicy parse(String s) {
    for (NoTextPolicy p : values()) if (p.id().equalsIgnoreCase(s.trim())) return p;
    throw new IllegalArgumentException("unknown no-text policy '" + s + "' (use refuse or self-only)");
  }
}
