package io.fitprune.flops;

import java.util.Locale;

/** What a cost counts (docs/design.md, "FLOPs model"). */
public enum Scope {
  /** All tokens (prefix, visual, text), FLOPs (2 per multiply-add), GQA-sized K/V projections, causal attention. */
  FULL,
  /**
   * Visual tokens only, multiply-accumulates, no causal halving: the reference code's count,
   * under which its published recipes land on their target reductions.
   */
  PAPER;

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Scope parse(String s) {
    for (Scope sc : values()) if (sc.id().equalsIgnoreCase(s.trim())) return sc;
    throw new IllegalArgumentException("unknown scope '" + s + "' (use full or paper)");
  }
}
