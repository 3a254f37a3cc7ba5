package io.fitprune.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class AnyresGeometryTest {
  /** llava-v1.6's pinpoints, [height, width]. */
  static final int[][] V16 = {{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};

  final Random rnd = new Random(11);

  /**
   * select_best_resolution restated as a ranking: most effective pixels, then least waste, then
   * earliest in the list (the source's strict comparisons keep the first of equals).
   */
  static int[] referenceBest(int h, int w, int[][] pins) {
    long[][] key = new long[pins.length][];
    for (int i = 0; i < pins.length; i++) {
      double scale = Math.min(pins[i][1] / (double) w, pins[i][0] / (double) h);
      long dw = (long) Math.floor(w * scale), dh = (long) Math.floor(h * scale);
      long eff = Math.min(dw * dh, (long) h * w);
      key[i] = new long[] {-eff, (long) pins[i][0] * pins[i][1] - eff, i};
    }
    int i = IntStream.range(0, pins.length).boxed()
        .min(Comparator.<Integer>comparingLong(k -> key[k][0]).thenComparingLong(k -> key[k][1])
            .thenComparingLong(k -> key[k][2])).orElseThrow();
    return pins[i];
  }

  /** get_patch_output_size from its formula: ceil of the scaled side, capped, the other side filling. */
  static int[] referenceFit(int h, int w, int th, int tw) {
    double sw = tw / (double) w, sh = th / (double) h;
    return sw < sh ? new int[] {(int) Math.min(th, Math.ceil(h * sw)), tw} : new int[] {th, (int) Math.min(tw, Math.ceil(w * sh))};
  }

  @Test
  void bestResolutionByHandOnLlavaV16() {
    // 500 x 1000: [336, 672] keeps 672 x 336 with no waste; [336, 1008] keeps the same but wastes.
    assertArrayEquals(new int[] {336, 672}, AnyresGeometry.bestResolution(500, 1000, V16));
    assertArrayEquals(new int[] {672, 336}, AnyresGeometry.bestResolution(1000, 500, V16));
    // large square: only [672, 672] keeps 672 x 672
    assertArrayEquals(new int[] {672, 672}, AnyresGeometry.bestResolution(2000, 2000, V16));
    // a small image keeps all its 10,000 pixels everywhere: least waste, the first of the two 225,792-pixel pinpoints
    assertArrayEquals(new int[] {336, 672}, AnyresGeometry.bestResolution(100, 100, V16));
    // 1 x 1: the same tie
    assertArrayEquals(new int[] {336, 672}, AnyresGeometry.bestResolution(1, 1, V16));
    // tall and thin: 3000 x 300 keeps 1008 x 100 in [1008, 336] against 672 x 67 in [672, 336]
    assertArrayEquals(new int[] {1008, 336}, AnyresGeometry.bestResolution(3000, 300, V16));
    assertArrayEquals(new int[] {336, 1008}, AnyresGeometry.bestResolution(300, 3000, V16));
    // an image at a pinpoint picks it
    for (int[] p : V16) assertArrayEquals(p, AnyresGeometry.bestResolution(p[0], p[1], V16));
  }

  @Test
  void bestResolutionMatchesTheRankingOnRandomSizes() {
    for (int t = 0; t < 20000; t++) {
      int h = 1 + rnd.nextInt(t % 3 == 0 ? 40 : 4000), w = 1 + rnd.nextInt(t % 5 == 0 ? 40 : 4000);
      int[][] pins = t % 2 == 0 ? V16 : randomPins(1 + rnd.nextInt(8), 1 + rnd.nextInt(64));
      assertArrayEquals(referenceBest(h, w, pins), AnyresGeometry.bestResolution(h, w, pins), h + " x " + w);
    }
  }

  private int[][] randomPins(int n, int tile) {
    int[][] p = new int[n][];
    // small multiples, with repeats, so effective and wasted areas tie often
    for (int i = 0; i < n; i++) p[i] = new int[] {tile * (1 + rnd.nextInt(4)), tile * (1 + rnd.nextInt(4))};
    return p;
  }

  @Test
  void theChosenPinpointIsACopy() {
    int[][] pins = {{32, 64}};
    int[] best = AnyresGeometry.bestResolution(10, 10, pins);
    best[0] = 5;
    assertEquals(32, pins[0][0]);
  }

  @Test
  void fitInsideMatchesTheFormulaAndKeepsTheAspect() {
    assertArrayEquals(new int[] {336, 672}, AnyresGeometry.fitInside(500, 1000, 336, 672));
    assertArrayEquals(new int[] {336, 336}, AnyresGeometry.fitInside(1, 1, 336, 672)); // upscaled, width fits
    assertArrayEquals(new int[] {1, 672}, AnyresGeometry.fitInside(1, 3000, 336, 672)); // ceil keeps a row
    assertArrayEquals(new int[] {504, 672}, AnyresGeometry.fitInside(480, 640, 672, 672));
    // Python's float product: 100 * (672 / 300) = 224.00000000000003, so ceil gives 225, not the exact 224
    assertArrayEquals(new int[] {225, 672}, AnyresGeometry.fitInside(100, 300, 672, 672));
    for (int t = 0; t < 20000; t++) {
      int h = 1 + rnd.nextInt(3000), w = 1 + rnd.nextInt(3000);
      int th = 1 + rnd.nextInt(1500), tw = 1 + rnd.nextInt(1500);
      int[] fit = AnyresGeometry.fitInside(h, w, th, tw);
      assertArrayEquals(referenceFit(h, w, th, tw), fit);
      assertTrue(fit[0] >= 1 && fit[1] >= 1 && fit[0] <= th && fit[1] <= tw);
      assertTrue(fit[0] == th || fit[1] == tw);
      // within a pixel of the exact aspect, on the side that was rounded up
      double exactH = (double) h * fit[1] / w, exactW = (double) w * fit[0] / h;
      assertTrue(fit[0] == th ? Math.abs(fit[1] - Math.min(exactW, tw)) < 1 + 1e-9 : Math.abs(fit[0] - Math.min(exactH, th)) < 1 + 1e-9,
          h + " x " + w + " in " + th + " x " + tw + " -> " + fit[0] + " x " + fit[1]);
    }
  }

  @Test
  void paddingCentresWithTheOddPixelAfter() {
    assertArrayEquals(new int[] {0, 0, 168, 168}, AnyresGeometry.centredPadding(336, 336, 336, 672));
    assertArrayEquals(new int[] {167, 168, 0, 0}, AnyresGeometry.centredPadding(1, 672, 336, 672));
    assertArrayEquals(new int[] {0, 0, 0, 0}, AnyresGeometry.centredPadding(336, 672, 336, 672));
    for (int t = 0; t < 1000; t++) {
      int th = 1 + rnd.nextInt(700), tw = 1 + rnd.nextInt(700), h = 1 + rnd.nextInt(th), w = 1 + rnd.nextInt(tw);
      int[] p = AnyresGeometry.centredPadding(h, w, th, tw);
      // divmod(target - size, 2): paste, paste + remainder
      assertArrayEquals(new int[] {Math.floorDiv(th - h, 2), Math.floorDiv(th - h, 2) + Math.floorMod(th - h, 2),
          Math.floorDiv(tw - w, 2), Math.floorDiv(tw - w, 2) + Math.floorMod(tw - w, 2)}, p);
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AnyresGeometry.centredPadding(400, 10, 336, 672));
    assertTrue(e.getMessage().contains("does not fit"), e.getMessage());
  }

  @Test
  void badArgumentsAreNamed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AnyresGeometry.bestResolution(0, 5, V16));
    assertTrue(e.getMessage().contains("at least 1 x 1"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> AnyresGeometry.bestResolution(5, 5, new int[0][]));
    assertTrue(e.getMessage().contains("image_grid_pinpoints must hold at least one"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> AnyresGeometry.bestResolution(5, 5, new int[][] {{336, 672}, {336}}));
    assertTrue(e.getMessage().contains("image_grid_pinpoints[1] must be a [height, width] pair"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> AnyresGeometry.bestResolution(5, 5, new int[][] {{336, -1}}));
    assertTrue(e.getMessage().contains("image_grid_pinpoints[0] = [336, -1]"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> AnyresGeometry.fitInside(5, 5, 0, 3));
    assertTrue(e.getMessage().contains("0 x 3"), e.getMessage());
  }
}
