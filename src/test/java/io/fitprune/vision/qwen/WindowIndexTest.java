package io.fitprune.vision.qwen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Qwen2.5-VL's window order and its inverse, against cases worked out by hand and the reference's literal port. */
class WindowIndexTest {
  /** Merge 2, patch 3, window 12 px: windows of 2x2 merged tokens. */
  static final QwenVisionConfig C = QwenVisionTowerTest.QWEN25;

  @Test
  void aThreeByThreeGridPadsToFourWindows() {
    // merged tokens 0..8 row-major on 3x3; windows (0,0) = 0 1 3 4, (0,1) = 2 5, (1,0) = 6 7, (1,1) = 8
    WindowIndex w = WindowIndex.of(List.of(new GridThw(1, 6, 6)), C);
    assertArrayEquals(new int[] {0, 1, 3, 4, 2, 5, 6, 7, 8}, w.order());
    assertArrayEquals(new long[] {0, 16, 24, 32, 36}, w.cuSeqlens());
    assertArrayEquals(new int[] {0, 1, 4, 2, 3, 5, 6, 7, 8}, w.inverse());
  }

  @Test
  void aWholeNumberOfWindowsGetsAnEmptyPaddedWindowThatGivesNoSequence() {
    // 2x2 merged tokens: the source pads a whole window on each side (2 - 2 % 2 = 2); only window (0,0) holds tokens
    WindowIndex w = WindowIndex.of(List.of(new GridThw(1, 4, 4)), C);
    assertArrayEquals(new int[] {0, 1, 2, 3}, w.order());
    assertArrayEquals(new long[] {0, 16}, w.cuSeqlens());
  }

  @Test
  void framesAndImagesFollowEachOther() {
    // image 0: 2 frames of 1x3 merged tokens: windows per frame (0,0) = 0 1, (0,1) = 2; image 1: one token (offset 6)
    WindowIndex w = WindowIndex.of(List.of(new GridThw(2, 2, 6), new GridThw(1, 2, 2)), C);
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6}, w.order());
    assertArrayEquals(new long[] {0, 8, 12, 20, 24, 28}, w.cuSeqlens());
    WindowIndex tall = WindowIndex.of(List.of(new GridThw(1, 10, 4)), C); // 5x2 merged: windows 0-3, 4-7, 8-9
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, tall.order());
    assertArrayEquals(new long[] {0, 16, 32, 40}, tall.cuSeqlens());
  }

  @Test
  void matchesTheReferencePortOnManyGrids() {
    int[][][] cases = {{{1, 6, 10}}, {{3, 14, 8}, {1, 2, 2}}, {{1, 20, 26}, {2, 4, 12}, {1, 16, 16}}};
    QwenVisionConfig wide = new QwenVisionConfig(QwenVisionFamily.QWEN2_5_VL, 1, 8, 8, 8, 2, 3, 3, 2, 2, "silu", 20,
        List.of()); // 20 // 2 // 3 = 3 merged tokens a side: the source's floor division
    for (QwenVisionConfig c : List.of(C, wide))
      for (int[][] g : cases) {
        WindowIndex w = WindowIndex.of(QwenVisionTowerTest.grids(g), c);
        long[][] ref = QwenReference64.windowIndex(g, c.spatialMergeSize(), c.windowSize(), c.patchSize());
        long[] order = new long[w.order().length];
        for (int i = 0; i < order.length; i++) order[i] = w.order()[i];
        assertArrayEquals(ref[0], order);
        assertArrayEquals(ref[1], w.cuSeqlens());
        int[] inv = w.inverse();
        for (int i = 0; i < inv.length; i++) assertEquals(i, w.order()[inv[i]]);
      }
  }
}
