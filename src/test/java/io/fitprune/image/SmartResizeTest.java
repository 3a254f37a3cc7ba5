package io.fitprune.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * smart_resize against values worked out by hand from transformers' source
 * (models/qwen2_vl/image_processing_qwen2_vl.py at commit 9feaf6f1: round half to even, the
 * floor branch with max(factor, ...), the ceil branch, the aspect limit of 200).
 */
class SmartResizeTest {
  static final int F = 28;
  static final long MIN = 56 * 56, MAX = 28 * 28 * 1280; // the class defaults, 3136 and 1003520

  static int[] hw(int h, int w) {
    return SmartResize.of(h, w, F, MIN, MAX);
  }

  @Test
  void sidesOnMultiplesWithinTheBoundsAreKept() {
    assertArrayEquals(new int[] {728, 1288}, hw(728, 1288)); // 26 and 46 factors, 937,664 pixels
    assertArrayEquals(new int[] {56, 56}, hw(56, 56)); // exactly min_pixels: not below it
  }

  @Test
  void roundingIsHalfToEven() {
    // 42 / 28 = 1.5 rounds to 2, 70 / 28 = 2.5 rounds to 2 (half up would give 3, i.e. 84)
    assertArrayEquals(new int[] {56, 56}, hw(42, 70));
    // 41 / 28 = 1.46 -> 1, 99 / 28 = 3.54 -> 4: 28 x 112 = 3136, exactly min_pixels
    assertArrayEquals(new int[] {28, 112}, hw(41, 99));
  }

  @Test
  void tinyImagesAreScaledUpAndCeiled() {
    // both round to 0; beta = sqrt(3136 / 35) = 9.466; ceil(5 * 9.466 / 28) = 2, ceil(7 * 9.466 / 28) = 3
    assertArrayEquals(new int[] {56, 84}, hw(5, 7));
    // n = 1: beta = 56, ceil(56 / 28) = 2 a side
    assertArrayEquals(new int[] {56, 56}, hw(1, 1));
    // ratio exactly 200 is allowed: 10 rounds to 0, so beta = sqrt(3136 / 20000) = 0.396; ceil(0.141) = 1, ceil(28.28) = 29
    assertArrayEquals(new int[] {28, 812}, hw(10, 2000));
  }

  @Test
  void hugeImagesAreScaledDownAndFloored() {
    // 2996 x 4004 > max: beta = sqrt(12e6 / 1003520) = 3.458; floor(30.98) = 30, floor(41.31) = 41
    assertArrayEquals(new int[] {840, 1148}, hw(3000, 4000));
    // Qwen2-VL-7B-Instruct's max_pixels 12845056: 2996 x 4004 = 11,995,984 fits
    assertArrayEquals(new int[] {2996, 4004}, SmartResize.of(3000, 4000, F, MIN, 12845056));
    // a thin strip whose short side floors to 0 keeps one factor (and so exceeds max_pixels, as the source does):
    // beta = sqrt(500000 / 100000) = 2.236; floor(50 / 2.236 / 28) = 0 -> 28, floor(159.7) = 159 -> 4452
    assertArrayEquals(new int[] {28, 4452}, SmartResize.of(50, 10000, F, MIN, 100_000));
    // odd factor 6: 60 x 96 > 2000, beta = sqrt(5917 / 2000) = 1.720; floor(5.91) = 5, floor(9.40) = 9
    assertArrayEquals(new int[] {30, 54}, SmartResize.of(61, 97, 6, 300, 2000));
  }

  @Test
  void aspectRatiosOver200AreRefusedNamingTheSize() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> hw(10, 2001));
    assertTrue(e.getMessage().contains("10 x 2001") && e.getMessage().contains("200.1"), e.getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> hw(3001, 15)).getMessage().contains("200.0666"));
  }

  @Test
  void badArgumentsAndHugeResultsAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> hw(0, 5));
    assertThrows(IllegalArgumentException.class, () -> SmartResize.of(5, 5, 0, MIN, MAX));
    assertThrows(IllegalArgumentException.class, () -> SmartResize.of(5, 5, F, 0, MAX));
    // a min_pixels so large that the ceil branch leaves the 65,535 limit
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SmartResize.of(1, 1, F, 1L << 40, 1L << 40));
    assertTrue(e.getMessage().contains("65535"), e.getMessage());
  }
}
