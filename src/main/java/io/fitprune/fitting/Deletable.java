package io.fitprune.fitting;

/**
 * Sorting helpers shared by both modes: ascending by score, ties broken by the lower index, so
 * every fit is deterministic.
 */
final class Deletable {
  private Deletable() {}

  /**
   * Writes into {@code order[0..n)} the positions 0..n-1 of {@code scores[from..from+n)} sorted
   * ascending by score, ties by lower position. {@code keys} is scratch of length at least n.
   */
  static void sortAscending(float[] scores, int from, int n, long[] keys, int[] order) {
    for (int i = 0; i < n; i++) {
      // Non-negative floats order like their bit patterns; +0.0f folds -0.0 into 0. The position
      // in the low bits makes the sort stable by index, all on primitives.
      long bits = Float.floatToRawIntBits(scores[from + i] + 0.0f) & 0xffffffffL;
      keys[i] = (bits << 32) | i;
    }
    java.util.Arrays.sort(keys, 0, n);
    for (int i = 0; i < n; i++) order[i] = (int) keys[i];
  }
}
