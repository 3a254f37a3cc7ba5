package io.fitprune.fitting;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class DeletableTest {
  /** The radix sort the fast fitter uses gives exactly the comparison sort's order, ties by index included. */
  @Test
  void radixMatchesComparisonSort() {
    SplittableRandom r = new SplittableRandom(5);
    for (int trial = 0; trial < 200; trial++) {
      int n = 1 + r.nextInt(700);
      float[] a = new float[n + 3];
      int kind = r.nextInt(3);
      for (int i = 0; i < a.length; i++)
        a[i] = kind == 0 ? (float) r.nextDouble() : kind == 1 ? r.nextInt(4) / 8f : (r.nextInt(5) == 0 ? -0.0f : 1e-30f * r.nextInt(3));
      int[] expect = new int[n], got = new int[n];
      Deletable.sortAscending(a, 3, n, new long[n], expect);
      Deletable.radixAscending(a, 3, n, got, new int[n], new int[n], new int[n], new int[256]);
      assertArrayEquals(expect, got);
    }
  }
}
