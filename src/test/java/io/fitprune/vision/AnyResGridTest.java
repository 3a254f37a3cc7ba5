package io.fitprune.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Canvas choice, grid shape, unpadding and the packing order of LLaVA-NeXT's anyres features. */
class AnyResGridTest {
  static final int[][] V16 = {{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};

  static GridPinpoints pins(int[][] p) {
    List<GridPinpoints.Resolution> r = new ArrayList<>();
    for (int[] x : p) r.add(new GridPinpoints.Resolution(x[0], x[1]));
    return new GridPinpoints(r);
  }

  /**
   * llava-v1.6's canvases by hand. 500x500: every canvas but 672x672 scales it to 336x336 (112,896
   * pixels); 672x672 keeps all 250,000, so 2x2 tiles. 300x1000 (h x w): 336x1008 scales by 1.008 to
   * 302x1008, all 300,000 kept, the only canvas that keeps all: 1x3. 47x47: every canvas keeps all
   * 2,209 pixels; the least waste is the smallest canvas, 336x672 (listed before the others): 1x2.
   */
  @Test
  void gridShapesForTheLlavaV16Pinpoints() {
    int[][] cases = { // h, w, rows, cols
        {500, 500, 2, 2}, {300, 1000, 1, 3}, {1000, 300, 3, 1}, {47, 47, 1, 2}, {480, 640, 2, 2}, {640, 480, 2, 2},
        {336, 672, 1, 2}, {672, 336, 2, 1}, {200, 1000, 1, 3}, {1000, 200, 3, 1}, {2000, 2000, 2, 2}, {1, 1, 1, 2}};
    for (int[] c : cases) {
      AnyResGrid g = AnyResGrid.of(c[0], c[1], GridPinpoints.LLAVA_V16, 336, 24);
      assertEquals(c[2], g.rows(), c[0] + "x" + c[1] + " rows");
      assertEquals(c[3], g.cols(), c[0] + "x" + c[1] + " cols");
      assertEquals(c[2] * c[3] + 1, g.patches(), "image_size_to_num_patches");
    }
  }

  @Test
  void canvasChoiceMatchesTheSourceOnRandomSizesAndPinpoints() {
    SplittableRandom r = new SplittableRandom(11);
    for (int t = 0; t < 3000; t++) {
      int n = 1 + r.nextInt(6);
      int[][] p = new int[n][];
      for (int i = 0; i < n; i++) p[i] = new int[] {7 * (1 + r.nextInt(5)), 7 * (1 + r.nextInt(5))};
      int h = 1 + r.nextInt(t % 2 == 0 ? 60 : 4000), w = 1 + r.nextInt(t % 3 == 0 ? 60 : 4000);
      GridPinpoints.Resolution b = pins(p).best(h, w);
      int[] want = AnyResReference.best(h, w, p);
      assertEquals(want[0], b.height(), h + "x" + w);
      assertEquals(want[1], b.width(), h + "x" + w);
    }
  }

  /**
   * Both of unpad_image's branches on odd aspects, and the rounding: 47x1128 on a 1x3 grid of 24
   * gives 47*(72/1128) = 2.9999999999999996, which round(., 7) makes 3 (padding 10 of 24 rows, 4
   * kept); truncation alone would give 2 and keep 2 rows.
   */
  @Test
  void unpadWindowsOnBothBranches() {
    assertEquals(new Unpad.Window(10, 0, 4, 72), Unpad.window(47, 1128, 24, 72));
    assertEquals(new Unpad.Window(1, 0, 22, 72), Unpad.window(300, 1000, 24, 72)); // wider: 21.6 -> 21, pad 1
    assertEquals(new Unpad.Window(0, 1, 72, 22), Unpad.window(1000, 300, 72, 24)); // taller
    assertEquals(new Unpad.Window(6, 0, 36, 48), Unpad.window(480, 640, 48, 48));
    assertEquals(new Unpad.Window(0, 6, 48, 36), Unpad.window(640, 480, 48, 48));
    assertEquals(new Unpad.Window(0, 0, 48, 48), Unpad.window(500, 500, 48, 48)); // same aspect: the else branch, no pad
    SplittableRandom r = new SplittableRandom(3);
    int rounded = 0;
    for (int t = 0; t < 20000; t++) {
      int h = 1 + r.nextInt(3000), w = 1 + r.nextInt(3000), gh = 1 + r.nextInt(80), gw = 1 + r.nextInt(80);
      int[] k = AnyResReference.keep(h, w, gh, gw);
      Unpad.Window win = Unpad.window(h, w, gh, gw);
      assertEquals(new Unpad.Window(k[0], k[2], k[1] - k[0], k[3] - k[2]), win, h + "x" + w + " on " + gh + "x" + gw);
      double x = (double) w / h > (double) gw / gh ? h * ((double) gw / w) : w * ((double) gh / h);
      if (AnyResReference.int7(x) != (int) x) rounded++;
    }
    assertTrue(rounded > 0, "the random sizes exercised the 7-decimal rounding");
  }

  @Test
  void unpadOnAFeatureGridKeepsTheWindowsValues() {
    SplittableRandom r = new SplittableRandom(5);
    for (int[] c : new int[][] {{300, 1000, 24, 72, 3}, {1000, 301, 72, 24, 5}, {47, 1128, 24, 72, 1}, {7, 5, 9, 13, 2}}) {
      int h = c[0], w = c[1], gh = c[2], gw = c[3], d = c[4];
      float[] grid = new float[d * gh * gw];
      for (int i = 0; i < grid.length; i++) grid[i] = (float) r.nextGaussian();
      int[] k = AnyResReference.keep(h, w, gh, gw);
      float[] got = Unpad.apply(grid, d, gh, gw, h, w);
      int kh = k[1] - k[0], kw = k[3] - k[2];
      assertEquals(d * kh * kw, got.length);
      for (int ch = 0; ch < d; ch++)
        for (int y = 0; y < kh; y++)
          for (int x = 0; x < kw; x++)
            assertEquals(grid[(ch * gh + k[0] + y) * gw + k[2] + x], got[(ch * kh + y) * kw + x]);
    }
    assertThrows(IllegalArgumentException.class, () -> Unpad.apply(new float[11], 1, 3, 4, 5, 5));
    assertThrows(IllegalArgumentException.class, () -> Unpad.window(0, 5, 3, 4));
  }

  /**
   * The gather order, from the source's tensor steps written as loops: tiles viewed
   * {@code (rows, cols, side, side, d)}, permuted to {@code (d, rows, side, cols, side)} and flattened to
   * the map, so map cell {@code (Y, X)} is tile {@code (Y/side, X/side)}'s patch {@code (Y%side, X%side)};
   * each kept map row then its newline, after the base tile's rows.
   */
  @Test
  void sourcesFollowTheViewPermuteFlattenOrder() {
    SplittableRandom r = new SplittableRandom(8);
    for (int t = 0; t < 200; t++) {
      int tile = 5 * (1 + r.nextInt(3)), side = 1 + r.nextInt(4);
      int[][] p = new int[1 + r.nextInt(4)][];
      for (int i = 0; i < p.length; i++) p[i] = new int[] {tile * (1 + r.nextInt(3)), tile * (1 + r.nextInt(3))};
      int h = 1 + r.nextInt(200), w = 1 + r.nextInt(200);
      AnyResGrid g = AnyResGrid.of(h, w, pins(p), tile, side);
      int[] best = AnyResReference.best(h, w, p);
      int rows = best[0] / tile, cols = best[1] / tile;
      int mh = rows * side, mw = cols * side;
      int[] map = new int[mh * mw]; // flattened tower row each map cell holds
      for (int tr = 0; tr < rows; tr++)
        for (int tc = 0; tc < cols; tc++)
          for (int py = 0; py < side; py++)
            for (int px = 0; px < side; px++)
              map[(tr * side + py) * mw + tc * side + px] = (1 + tr * cols + tc) * side * side + py * side + px;
      int[] k = AnyResReference.keep(h, w, mh, mw);
      List<Integer> want = new ArrayList<>();
      for (int i = 0; i < side * side; i++) want.add(i);
      for (int y = k[0]; y < k[1]; y++) {
        for (int x = k[2]; x < k[3]; x++) want.add(map[y * mw + x]);
        want.add(AnyResGrid.NEWLINE);
      }
      assertArrayEquals(want.stream().mapToInt(Integer::intValue).toArray(), g.sources(), h + "x" + w);
      assertEquals(want.size(), g.packedRows());
    }
  }

  @Test
  void canvasesThatAreNotWholeTilesAreRefused() {
    String m = assertThrows(IllegalArgumentException.class,
        () -> AnyResGrid.of(100, 100, pins(new int[][] {{336, 600}}), 336, 24)).getMessage();
    assertTrue(m.contains("[336, 600]") && m.contains("336"), m);
    assertThrows(IllegalArgumentException.class, () -> new GridPinpoints(List.of()));
    assertThrows(IllegalArgumentException.class, () -> new GridPinpoints.Resolution(0, 336));
    assertThrows(IllegalArgumentException.class, () -> GridPinpoints.LLAVA_V16.best(10, 0));
  }
}
