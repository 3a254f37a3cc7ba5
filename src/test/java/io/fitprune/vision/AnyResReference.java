package io.fitprune.vision;

import java.math.BigDecimal;

/**
 * transformers' LLaVA-NeXT arithmetic written again for the tests, from the source and not from
 * the classes under test: {@code select_best_resolution} and {@code unpad_image}'s padding.
 */
final class AnyResReference {
  private AnyResReference() {}

  /** select_best_resolution over {@code pins} ({@code [height, width]} pairs): {@code [height, width]}. */
  static int[] best(int h, int w, int[][] pins) {
    int[] fit = null;
    double maxEff = 0, minWaste = Double.POSITIVE_INFINITY;
    for (int[] p : pins) {
      double s = Math.min(p[1] / (double) w, p[0] / (double) h);
      double eff = Math.min(Math.floor(w * s) * Math.floor(h * s), (double) w * h);
      double waste = (double) p[0] * p[1] - eff;
      if (eff > maxEff || (eff == maxEff && waste < minWaste)) {
        maxEff = eff;
        minWaste = waste;
        fit = p;
      }
    }
    return fit;
  }

  /**
   * int(round(x, 7)) for x >= 0: the whole part, plus one where x lies within half a unit of the
   * seventh decimal below the next whole number (rounding to 7 places reaches it there; nowhere
   * else can it change the whole part).
   */
  static int int7(double x) {
    BigDecimal v = new BigDecimal(x);
    int floor = v.intValue();
    BigDecimal up = BigDecimal.valueOf(floor + 1L).subtract(new BigDecimal("0.00000005"));
    return v.compareTo(up) >= 0 ? floor + 1 : floor;
  }

  /** unpad_image's kept range {@code {top, bottom, left, right}} (exclusive ends) of a {@code gh x gw} grid. */
  static int[] keep(int h, int w, int gh, int gw) {
    double orig = (double) w / h, cur = (double) gw / gh;
    if (orig > cur) {
      double scale = (double) gw / w;
      int nh = int7(h * scale), pad = Math.floorDiv(gh - nh, 2);
      return new int[] {pad, gh - pad, 0, gw};
    }
    double scale = (double) gh / h;
    int nw = int7(w * scale), pad = Math.floorDiv(gw - nw, 2);
    return new int[] {0, gh, pad, gw - pad};
  }
}
