package io.fitprune.pruning;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link RopeIndex} against transformers' {@code get_rope_index} (models/qwen2_vl/modeling_qwen2_vl.py
 * and qwen2_5_vl at commit 00b676f8), through an independent formulation: every text row sits one
 * past the largest id of all rows before it, and an image's block starts there and adds (t, h, w).
 */
class RopeIndexTest {
  static final int IMAGE = 151655, VIDEO = 151656, START = 151652, END = 151653;

  /** The reference: a running maximum over every component of the rows so far. */
  static int[][] reference(int[] ids, List<int[]> merged) {
    int n = ids.length;
    int[][] pos = new int[3][n];
    int max = -1, img = 0;
    for (int i = 0; i < n; ) {
      boolean block = ids[i] == IMAGE && i > 0 && ids[i - 1] == START;
      if (!block) {
        pos[0][i] = pos[1][i] = pos[2][i] = ++max;
        i++;
        continue;
      }
      int[] g = merged.get(img++);
      int base = max + 1;
      for (int hh = 0; hh < g[0]; hh++)
        for (int ww = 0; ww < g[1]; ww++, i++) {
          pos[0][i] = base;
          pos[1][i] = base + hh;
          pos[2][i] = base + ww;
          max = Math.max(max, Math.max(base + hh, base + ww));
        }
    }
    return pos;
  }

  @Test
  void aHandWorkedImageBetweenText() {
    // text, <vision_start>, a 4x4 patch grid merged 2x2 into 2x2 rows, <vision_end>, text
    int[] ids = {7, START, IMAGE, IMAGE, IMAGE, IMAGE, END, 9};
    RopeIndex r = RopeIndex.of(ids, new int[][] {{1, 4, 4}}, 2, IMAGE, VIDEO, START);
    assertArrayEquals(new int[] {0, 1, 2, 2, 2, 2, 4, 5}, r.positions()[0]);
    assertArrayEquals(new int[] {0, 1, 2, 2, 3, 3, 4, 5}, r.positions()[1]);
    assertArrayEquals(new int[] {0, 1, 2, 3, 2, 3, 4, 5}, r.positions()[2]);
    assertEquals(6, r.nextPosition());
    assertEquals(-2, r.delta());
    assertArrayEquals(new int[] {0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 2, 3, 2, 2, 3, 3, 4, 4, 4, 5, 5, 5}, r.rowMajor());
  }

  @Test
  void imagesOfSeveralSizesWithTextBeforeBetweenAndAfter() {
    SplittableRandom rnd = new SplittableRandom(20261207);
    for (int trial = 0; trial < 300; trial++) {
      int merge = 1 + rnd.nextInt(3), images = rnd.nextInt(4);
      List<Integer> ids = new ArrayList<>();
      List<int[]> grids = new ArrayList<>(), merged = new ArrayList<>();
      for (int k = 0; k <= images; k++) {
        int text = rnd.nextInt(k == 0 || k == images ? 0 : 1, 6); // before the first and after the last: maybe none
        for (int t = 0; t < text; t++) ids.add(rnd.nextInt(1000));
        if (k == images) break;
        int h = 1 + rnd.nextInt(7), w = 1 + rnd.nextInt(7); // odd and non-square grids too
        grids.add(new int[] {1, h * merge, w * merge});
        merged.add(new int[] {h, w});
        ids.add(START);
        for (int r = 0; r < h * w; r++) ids.add(IMAGE);
        ids.add(END);
      }
      if (ids.isEmpty()) ids.add(5);
      int[] a = ids.stream().mapToInt(Integer::intValue).toArray();
      RopeIndex r = RopeIndex.of(a, grids.toArray(new int[0][]), merge, IMAGE, VIDEO, START);
      int[][] want = reference(a, merged);
      for (int c = 0; c < 3; c++) assertArrayEquals(want[c], r.positions()[c], "trial " + trial + " component " + c);
      int max = -1;
      for (int[] row : want) for (int p : row) max = Math.max(max, p);
      assertEquals(max + 1, r.nextPosition(), "trial " + trial);
      assertEquals(a.length, r.length());
    }
  }

  @Test
  void textAloneCountsFromZero() {
    RopeIndex r = RopeIndex.of(new int[] {3, 1, 4}, null, 2, IMAGE, VIDEO, START);
    for (int c = 0; c < 3; c++) assertArrayEquals(new int[] {0, 1, 2}, r.positions()[c]);
    assertEquals(3, r.nextPosition());
    assertEquals(0, r.delta());
    RopeIndex one = RopeIndex.of(new int[] {42}, new int[0][], 2, IMAGE, VIDEO, START);
    assertEquals(1, one.nextPosition());
  }

  @Test
  void gridsThatDoNotMatchTheImagesAreRefused() {
    int[] ids = {START, IMAGE, IMAGE, END};
    String m = assertThrows(IllegalArgumentException.class,
        () -> RopeIndex.of(ids, new int[0][], 2, IMAGE, VIDEO, START)).getMessage();
    assertTrue(m.contains("0 given") && m.contains("1 images"), m);
    m = assertThrows(IllegalArgumentException.class,
        () -> RopeIndex.of(ids, new int[][] {{1, 2, 6}}, 2, IMAGE, VIDEO, START)).getMessage(); // 3 rows, 2 tokens
    assertTrue(m.contains("image grids[0]") && m.contains("needs 3 image tokens"), m);
    m = assertThrows(IllegalArgumentException.class,
        () -> RopeIndex.of(ids, new int[][] {{1, 2, 3}}, 2, IMAGE, VIDEO, START)).getMessage();
    assertTrue(m.contains("multiples of spatial_merge_size 2"), m);
    m = assertThrows(IllegalArgumentException.class,
        () -> RopeIndex.of(ids, new int[][] {{2, 2, 2}}, 2, IMAGE, VIDEO, START)).getMessage();
    assertTrue(m.contains("t = 2"), m);
    m = assertThrows(IllegalArgumentException.class,
        () -> RopeIndex.of(new int[] {START, VIDEO, END}, null, 2, IMAGE, VIDEO, START)).getMessage();
    assertTrue(m.contains("video"), m);
    m = assertThrows(IllegalArgumentException.class, () -> RopeIndex.of(new int[0], null, 2, IMAGE, VIDEO, START))
        .getMessage();
    assertTrue(m.contains("input_ids"), m);
  }
}
