package io.fitprune.fitting;

import java.util.Locale;

/** How a fitting pass gets each layer's scores (docs/design.md, "Fitting a recipe"). */
public enum Mode {
  /** Re-runs every layer on the pruned sequence through a {@link LayerRunner} (paper-faithful). */
  EXACT,
  /** Replays the scores recorded in one unpruned pass, restricted to each sample's survivors. */
  FAST;

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Mode parse(String s) {
    for (Mode m : values()) if (m.id().equalsIgnoreCase(s.trim())) return m;
    throw new IllegalArgumentException("unknown mode '" + s + "' (use fast or exact)");
  }
}
