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

  /**
   * Same order as {@link #sortAscending}, by a stable LSD radix sort on the float bits (8-bit
   * digits, passes whose digit is shared by every key skipped): several times faster than a
   * comparison sort for the thousands of short rows the fast fitter pre-sorts. Stability keeps
   * ties in index order. Scratch: {@code keys}, {@code keysTmp}, {@code tmp} of length n,
   * {@code count} of length 256.
   */
  static void radixAscending(float[] scores, int from, int n, int[] order, int[] tmp, int[] keys, int[] keysTmp,
      int[] count) {
    int[] k = keys, kOut = keysTmp, o = order, oOut = tmp;
    for (int i = 0; i < n; i++) {
      k[i] = Float.floatToRawIntBits(scores[from + i] + 0.0f);  // non-negative: bits order like values
      o[i] = i;
    }
    for (int shift = 0; shift < 32; shift += 8) {
      java.util.Arrays.fill(count, 0);
      for (int i = 0; i < n; i++) count[(k[i] >>> shift) & 0xff]++;
      if (count[(k[0] >>> shift) & 0xff] == n) continue;  // every key has this digit: nothing to move
      for (int d = 0, start = 0; d < 256; d++) {
        int c = count[d];
        count[d] = start;
        start += c;
      }
      for (int i = 0; i < n; i++) {
        int pos = count[(k[i] >>> shift) & 0xff]++;
        kOut[pos] = k[i];
        oOut[pos] = o[i];
      }
      int[] t = k; k = kOut; kOut = t;
      t = o; o = oOut; oOut = t;
    }
    if (o != order) System.arraycopy(o, 0, order, 0, n);
  }
}
