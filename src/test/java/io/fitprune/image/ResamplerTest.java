package io.fitprune.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class ResamplerTest {
  static RgbImage random(Random r, int w, int h) {
    byte[] b = new byte[w * h * 3];
    r.nextBytes(b);
    return new RgbImage(w, h, b);
  }

  static int[] ints(RgbImage im) {
    int[] v = new int[im.rgb().length];
    for (int i = 0; i < v.length; i++) v[i] = im.rgb()[i] & 0xFF;
    return v;
  }

  /** PIL's fixed-point rounding of a weight: half away from zero, of w * 2^22, for w = num / den exactly. */
  static int fixed(long num, long den) {
    long scaled = Math.abs(num) << 22;
    long q = (2 * scaled + den) / (2 * den);
    return (int) (num < 0 ? -q : q);
  }

  /**
   * Width 4 to 2, bicubic: scale 2, support 4. Output 0 is centred at 1.0 and reads inputs 0..3 at
   * distances (i + 0.5 - 1) / 2 = -0.25, 0.25, 0.75, 1.25, where the cubic gives 111/128, 111/128,
   * 29/128 and -9/128 (sum 242/128). Output 1, centred at 3.0, reads the mirror image.
   */
  @Test
  void downscaleByTwoMatchesTheHandDerivedFixedPointSums() {
    int[] k = {fixed(111, 242), fixed(111, 242), fixed(29, 242), fixed(-9, 242)};
    assertArrayEquals(new int[] {1923834, 1923834, 502623, -155987}, k);
    assertEquals(1 << 22, k[0] + k[1] + k[2] + k[3]);
    Resampler.Taps t = Resampler.taps(4, 2, Resampling.BICUBIC);
    assertArrayEquals(new int[] {0, 0}, t.first());
    assertArrayEquals(new int[] {4, 4}, t.count());
    assertArrayEquals(k, java.util.Arrays.copyOfRange(t.k(), 0, 4));
    assertArrayEquals(new int[] {k[3], k[2], k[1], k[0]}, java.util.Arrays.copyOfRange(t.k(), t.ksize(), t.ksize() + 4));
    Random r = new Random(11);
    for (int trial = 0; trial < 200; trial++) {
      RgbImage in = random(r, 4, 1);
      RgbImage out = Resampler.resize(in, 2, 1, Resampling.BICUBIC);
      for (int c = 0; c < 3; c++) {
        int[] p = {in.get(0, 0, c), in.get(1, 0, c), in.get(2, 0, c), in.get(3, 0, c)};
        int s0 = (1 << 21) + p[0] * k[0] + p[1] * k[1] + p[2] * k[2] + p[3] * k[3];
        int s1 = (1 << 21) + p[0] * k[3] + p[1] * k[2] + p[2] * k[1] + p[3] * k[0];
        assertEquals(clamp(s0 >> 22), out.get(0, 0, c));
        assertEquals(clamp(s1 >> 22), out.get(1, 0, c));
      }
    }
  }

  /**
   * Width 2 to 4, bicubic: scale 1/2, support 2 (no widening). Output 0 is centred at 0.25 and reads
   * inputs 0..1 at distances 0.25 and 1.25: 111/128 and -9/128, normalised by 102/128, so the first
   * output overshoots (a bright pixel next to a dark one clips at 255, the dark side at 0).
   */
  @Test
  void upscaleByTwoMatchesTheHandDerivedFixedPointSumsAndClips() {
    int k0 = fixed(111, 102), k1 = fixed(-9, 102);
    assertEquals(4564390, k0);
    assertEquals(-370086, k1);
    Resampler.Taps t = Resampler.taps(2, 4, Resampling.BICUBIC);
    assertArrayEquals(new int[] {0, 0, 0, 0}, t.first());
    assertArrayEquals(new int[] {k0, k1}, java.util.Arrays.copyOfRange(t.k(), 0, 2));
    RgbImage in = new RgbImage(2, 1, new byte[] {(byte) 255, 0, 100, 0, (byte) 255, (byte) 101});
    RgbImage out = Resampler.resize(in, 4, 1, Resampling.BICUBIC);
    for (int c = 0; c < 3; c++) {
      int a = in.get(0, 0, c), b = in.get(1, 0, c);
      assertEquals(clamp(((1 << 21) + a * k0 + b * k1) >> 22), out.get(0, 0, c));
      assertEquals(clamp(((1 << 21) + b * k0 + a * k1) >> 22), out.get(3, 0, c));
    }
    assertEquals(255, out.get(0, 0, 0)); // (2^21 + 255 * 4564390) >> 22 = 277, clipped
    assertEquals(0, out.get(0, 0, 1)); // (2^21 - 255 * 370086) >> 22 < 0, clipped
  }

  static int clamp(int v) {
    return Math.max(0, Math.min(255, v));
  }

  @Test
  void onePixelBecomesAConstantImage() {
    RgbImage one = new RgbImage(1, 1, new byte[] {7, (byte) 200, 99});
    for (Resampling f : Resampling.values()) {
      RgbImage out = Resampler.resize(one, 5, 3, f);
      for (int y = 0; y < 3; y++)
        for (int x = 0; x < 5; x++)
          for (int c = 0; c < 3; c++) assertEquals(one.get(0, 0, c), out.get(x, y, c));
    }
  }

  @Test
  void anImageAtTheTargetSizeIsReturnedUnchanged() {
    RgbImage in = random(new Random(3), 13, 7);
    RgbImage out = Resampler.resize(in, 13, 7, Resampling.BICUBIC);
    assertArrayEquals(in.rgb(), out.rgb());
    assertNotSame(in.rgb(), out.rgb());
  }

  /** Fixed point against the float64 model: at most one level apart, and rarely that. */
  @Test
  void matchesTheFloat64ModelOnOddSizesUpAndDown() {
    int[][] cases = {
      {17, 13, 5, 3}, {5, 3, 17, 13}, {31, 9, 7, 22}, {1, 9, 4, 4}, {9, 1, 3, 5}, {64, 48, 64, 21}, {64, 48, 11, 48},
      {101, 77, 336, 256}, {333, 251, 224, 168}, {2, 301, 1, 150}, {3, 400, 5, 100}, {7, 7, 1, 1}, {250, 3, 77, 1}};
    Random r = new Random(5);
    long differ = 0, total = 0;
    for (Resampling f : Resampling.values()) {
      for (int[] c : cases) {
        RgbImage in = random(r, c[0], c[1]);
        RgbImage out = Resampler.resize(in, c[2], c[3], f);
        int[] ref = ResizeReference.resize(ints(in), c[0], c[1], c[2], c[3], f);
        int[] got = ints(out);
        assertEquals(ref.length, got.length);
        for (int i = 0; i < got.length; i++) {
          int d = Math.abs(got[i] - ref[i]);
          assertTrue(d <= 1, f + " " + java.util.Arrays.toString(c) + " at " + i + ": " + got[i] + " vs " + ref[i]);
          if (d != 0) differ++;
        }
        total += got.length;
      }
    }
    assertTrue(differ * 200 < total, differ + " of " + total + " values differ from the float64 model");
  }

  /** Smooth inputs (no clipping) keep the mean: a check of the weights' normalisation on real sizes. */
  @Test
  void aLargeDownscaleMatchesTheModel() {
    Random r = new Random(9);
    int w = 640, h = 480;
    byte[] b = new byte[w * h * 3];
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int c = 0; c < 3; c++)
          b[(y * w + x) * 3 + c] = (byte) (128 + 100 * Math.sin(x * 0.05 + c) * Math.cos(y * 0.03) + r.nextInt(9) - 4);
    RgbImage in = new RgbImage(w, h, b);
    RgbImage out = Resampler.resize(in, 448, 336, Resampling.BICUBIC);
    int[] ref = ResizeReference.resize(ints(in), w, h, 448, 336, Resampling.BICUBIC);
    int[] got = ints(out);
    long differ = 0;
    for (int i = 0; i < got.length; i++) {
      assertTrue(Math.abs(got[i] - ref[i]) <= 1);
      if (got[i] != ref[i]) differ++;
    }
    assertTrue(differ * 200 < got.length, differ + " of " + got.length);
  }

  /** Over 100 times taller than wide and shrinking: vertical pass first (Pillow 12.2+), which rounds differently. */
  @Test
  void veryTallImagesAreResizedVerticallyFirst() {
    Random r = new Random(21);
    boolean orderMatters = false;
    for (int trial = 0; trial < 20; trial++) {
      RgbImage in = random(r, 3, 301 + trial);
      RgbImage out = Resampler.resize(in, 2, 100, Resampling.BICUBIC);
      RgbImage verticalFirst = Resampler.resize(Resampler.resize(in, 3, 100, Resampling.BICUBIC), 2, 100,
          Resampling.BICUBIC);
      assertArrayEquals(verticalFirst.rgb(), out.rgb());
      RgbImage horizontalFirst = Resampler.resize(Resampler.resize(in, 2, in.height(), Resampling.BICUBIC), 2, 100,
          Resampling.BICUBIC);
      orderMatters |= !java.util.Arrays.equals(horizontalFirst.rgb(), out.rgb());
    }
    assertTrue(orderMatters, "on these sizes the two orders round differently, so the check above can tell them apart");
  }

  @Test
  void badTargetsAreRefused() {
    RgbImage in = random(new Random(1), 3, 3);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Resampler.resize(in, 0, 3, Resampling.BICUBIC));
    assertTrue(e.getMessage().contains("0 x 3"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Resampling.fromPil(1));
    assertEquals(Resampling.BICUBIC, Resampling.fromPil(3));
  }
}
