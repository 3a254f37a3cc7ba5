package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SelectGatherTest {
  static float[] positive(Random rnd, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = rnd.nextFloat() + 1e-3f;
    return a;
  }

  @ParameterizedTest(name = "n={0} P={1} V={2} drop={3}")
  @CsvSource({"650,35,576,0", "650,35,576,288", "650,35,576,576", "7,0,7,3", "10,3,0,0", "1,0,1,1", "100,10,60,59"})
  void keepsTheHighestProductInOrder(int n, int P, int V, int drop) {
    Random rnd = new Random(n + drop);
    float[] self = positive(rnd, V), cross = positive(rnd, V);
    int[] keep = Kernels.selectKeep(n, new Spans(P, V), self, cross, drop);
    assertArrayEquals(Reference.keep(self, cross, n, P, V, drop), keep);
    assertEquals(n - drop, keep.length);
    for (int i = 1; i < keep.length; i++) assertTrue(keep[i - 1] < keep[i], "ascending");
    for (int i = 0; i < P; i++) assertEquals(i, keep[i], "prefix rows kept");
    for (int i = 0; i < n - P - V; i++) assertEquals(P + V + i, keep[keep.length - (n - P - V) + i], "text rows kept");
  }

  @Test
  void tiesDropTheLowerIndexFirst() {
    float[] ones = new float[10];
    Arrays.fill(ones, 0.5f);
    int[] keep = Kernels.selectKeep(12, new Spans(1, 10), ones, ones, 4);
    assertArrayEquals(new int[] {0, 5, 6, 7, 8, 9, 10, 11}, keep);
    // Without text rows cross is zero: every product ties, so the earliest visual tokens go.
    float[] zeros = new float[10];
    assertArrayEquals(new int[] {0, 3, 4, 5, 6, 7, 8, 9, 10}, Kernels.selectKeep(11, new Spans(1, 10), ones, zeros, 2));
  }

  @Test
  void nanScoresAreAnError() {
    float[] s = {1, Float.NaN, 2};
    FitPruneException e = assertThrows(FitPruneException.class,
        () -> Kernels.selectKeep(3, new Spans(0, 3), s, new float[] {1, 1, 1}, 1));
    assertTrue(e.getMessage().contains("NaN"), e.getMessage());
    // An infinite score is an overflow upstream, not the highest rank.
    float[] inf = {0.5f, 0.25f, Float.POSITIVE_INFINITY, 0.125f};
    e = assertThrows(FitPruneException.class, () -> Kernels.selectKeep(5, new Spans(1, 4), inf, new float[] {1, 1, 1, 1}, 1));
    assertEquals(FitPruneNative.FP_ERR_VALUE, e.status());
    assertTrue(e.getMessage().contains("not finite") && e.getMessage().contains("visual token 2"), e.getMessage());
  }

  @Test
  void gathersFloatRowsOfAnyWidthInIndexOrder() {
    Random rnd = new Random(3);
    for (int width : new int[] {1, 3, 128, 4096}) {
      int rows = 57;
      float[] src = Reference.gaussian(rnd, (long) rows * width);
      int[] index = {0, 5, 6, 20, 21, 56};
      float[] dst = Kernels.gatherRows(src, width, index);
      for (int r = 0; r < index.length; r++)
        assertArrayEquals(Arrays.copyOfRange(src, index[r] * width, (index[r] + 1) * width),
            Arrays.copyOfRange(dst, r * width, (r + 1) * width));
    }
  }

  @Test
  void gathersPositionIdsAndKvRows() {
    int n = 40, G = 2, d = 64;
    int[] positions = new int[n];
    for (int i = 0; i < n; i++) positions[i] = 1000 + i;
    int[] keep = Kernels.selectKeep(n, new Spans(4, 30), positive(new Random(1), 30), positive(new Random(2), 30), 12);
    int[] kept = Kernels.gatherRows(positions, 1, keep);
    for (int r = 0; r < keep.length; r++) assertEquals(1000 + keep[r], kept[r], "survivors keep their positions");
    float[] kv = Reference.gaussian(new Random(5), (long) n * G * d);
    float[] kvKept = Kernels.gatherRows(kv, G * d, keep);
    assertEquals(keep.length * G * d, kvKept.length);
    assertEquals(kv[keep[7] * G * d + 3], kvKept[7 * G * d + 3]);
  }

  @Test
  void compactsInPlaceWithAscendingIndices() {
    int rows = 1000, width = 130;
    float[] src = Reference.gaussian(new Random(9), (long) rows * width);
    int[] index = new int[400];
    for (int r = 0; r < index.length; r++) index[r] = r * 2 + (r % 2);
    float[] expected = Kernels.gatherRows(src, width, index);
    try (Data buf = Data.allocate(ElementType.FP32, src.length)) {
      buf.copyFrom(src);
      Kernels.gatherRows(buf, rows, width, Data.of(index), buf);
      assertArrayEquals(expected, Arrays.copyOf(buf.toFloats(), expected.length));
    }
  }

  @Test
  void outOfRangeIndexIsAnErrorNotACrash() {
    FitPruneException e = assertThrows(FitPruneException.class,
        () -> Kernels.gatherRows(new float[12], 3, new int[] {0, 4}));
    assertTrue(e.getMessage().contains("index[1] = 4"), e.getMessage());
    assertThrows(FitPruneException.class, () -> Kernels.gatherRows(new int[4], 1, new int[] {-1}));
  }
}
