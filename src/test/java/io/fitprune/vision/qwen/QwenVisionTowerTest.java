package io.fitprune.vision.qwen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.decoder.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * Both towers against the float64 reference written from transformers' source, on random weights
 * and pixels: grids with odd multiples of the merge size, several images of different sizes in
 * one call, a grid of one merge window, a two-frame grid. float32 runs: 1e-5 relative, far below
 * any real mistake (a rotary pair swapped, a window misplaced or the reverse order left out:
 * 1e-2 or more). BF16 runs against the reference's own error when it rounds to bf16 where the run does.
 */
class QwenVisionTowerTest {
  static final double F32_TOL = 1e-5;

  /** Qwen2-VL: width 40 (5 heads of 8), MLP 52, out 23, 3x3 patches over 2 frames, 2 blocks. */
  static final QwenVisionConfig QWEN2 = new QwenVisionConfig(QwenVisionFamily.QWEN2_VL, 2, 40, 52, 23, 5, 3, 3, 2, 2,
      "quick_gelu", 0, List.of());
  /** Qwen2.5-VL: width 40 (5 heads of 8), MLP 44, out 23, windows of 2x2 merged tokens (12 px), full attention in block 1 of 3. */
  static final QwenVisionConfig QWEN25 = new QwenVisionConfig(QwenVisionFamily.QWEN2_5_VL, 3, 40, 44, 23, 5, 3, 3, 2, 2,
      "silu", 12, List.of(1));

  static float[] pixels(long seed, int rows, int width) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] p = new float[rows * width];
    for (int i = 0; i < p.length; i++) p[i] = (float) (4 * r.nextDouble() - 2);
    return p;
  }

  static List<GridThw> grids(int[][] g) {
    List<GridThw> out = new ArrayList<>();
    for (int[] x : g) out.add(new GridThw(x[0], x[1], x[2]));
    return out;
  }

  static int rows(int[][] g) {
    int n = 0;
    for (int[] x : g) n += x[0] * x[1] * x[2];
    return n;
  }

  static float[] run(QwenVisionWeights w, float[] px, int[][] g) {
    QwenVisionConfig c = w.config();
    try (Tensor t = Tensors.of(px, rows(g), c.patchValues()); Tensor y = new QwenVisionTower(w).features(t, grids(g))) {
      assertArrayEquals(new long[] {rows(g) / c.mergeUnit(), c.outHiddenSize()}, new long[] {y.size(0), y.size(1)});
      assertTrue(Tensors.is(y, torch.ScalarType.Float));
      return Tensors.toArray(y);
    }
  }

  static double relErr(double[][] want, float[] got) {
    double num = 0, den = 0;
    int k = 0;
    for (double[] row : want)
      for (double w : row) {
        double e = got[k++] - w;
        num += e * e;
        den += w * w;
      }
    assertEquals(k, got.length);
    return Math.sqrt(num / den);
  }

  /** Odd merged sides (3x5), a second image of another size, one merge window, a two-frame grid, a side that is a whole number of windows. */
  static final int[][][] CASES = {{{1, 6, 10}}, {{1, 6, 10}, {1, 4, 2}}, {{1, 2, 2}}, {{2, 6, 2}, {1, 8, 4}, {1, 2, 6}}};

  @Test
  void qwen2VlMatchesTheFloat64ReferenceInFloat32() {
    check(QWEN2, 31);
  }

  @Test
  void qwen25VlMatchesTheFloat64ReferenceInFloat32() {
    check(QWEN25, 41);
  }

  private static void check(QwenVisionConfig c, long seed) {
    QwenVisionWeights w = QwenVisionWeights.random(c, seed);
    QwenReference64 ref = new QwenReference64(w);
    for (int[][] g : CASES) {
      float[] px = pixels(seed++, rows(g), c.patchValues());
      double e = relErr(ref.forward(px, g), run(w, px, g));
      assertTrue(e < F32_TOL, c.family() + " grids " + java.util.Arrays.deepToString(g) + ": relative error " + e);
    }
  }

  /** Each image in a batch gets what it gets alone (attention never crosses images, nor the window order). */
  @Test
  void aBatchGivesEachImageItsOwnResult() {
    for (QwenVisionConfig c : List.of(QWEN2, QWEN25)) {
      QwenVisionWeights w = QwenVisionWeights.random(c, 5);
      int[][] g = {{1, 6, 10}, {2, 4, 2}, {1, 2, 2}};
      float[] px = pixels(9, rows(g), c.patchValues()), all = run(w, px, g);
      int from = 0, out = 0;
      for (int[] one : g) {
        int n = one[0] * one[1] * one[2], merged = n / c.mergeUnit() * c.outHiddenSize();
        float[] alone = run(w, java.util.Arrays.copyOfRange(px, from * c.patchValues(), (from + n) * c.patchValues()),
            new int[][] {one});
        double num = 0, den = 0;
        for (int i = 0; i < merged; i++) {
          num += Math.pow(all[out + i] - alone[i], 2);
          den += alone[i] * alone[i];
        }
        assertTrue(Math.sqrt(num / den) < 1e-6, c.family() + " image " + java.util.Arrays.toString(one) + ": "
            + Math.sqrt(num / den));
        from += n;
        out += merged;
      }
    }
  }

  /**
   * BF16 weights: dense layers and attention in bf16, residual stream float32. The error against
   * float64 on the same weight values must be within a small factor of the reference's own error
   * when it rounds to bf16 where the run does, and far above float32's.
   */
  @Test
  void bf16WeightsStayWithinTheRoundingErrorOfBf16() {
    for (QwenVisionConfig c : List.of(QWEN2, QWEN25)) {
      QwenVisionWeights bf = QwenVisionWeights.random(c, 77).converted(torch.ScalarType.BFloat16);
      QwenVisionWeights exact = bf.converted(torch.ScalarType.Float);
      assertEquals(torch.ScalarType.BFloat16.value, bf.matrixType().value);
      int[][] g = {{1, 6, 10}, {1, 4, 2}};
      float[] px = pixels(13, rows(g), c.patchValues());
      float[] got16 = run(bf, px, g), got32 = run(exact, px, g);
      QwenReference64 ref = new QwenReference64(exact);
      double[][] want = ref.forward(px, g);
      ref.bf16 = true;
      double[][] rounded = ref.forward(px, g);
      float[] rf = new float[got16.length];
      int k = 0;
      for (double[] row : rounded) for (double v : row) rf[k++] = (float) v;
      double rounding = relErr(want, rf), err16 = relErr(want, got16), err32 = relErr(want, got32);
      String what = c.family() + ": bf16 error " + err16 + ", bf16 rounding alone " + rounding + ", float32 " + err32;
      System.out.println(what);
      assertTrue(err16 <= 3 * rounding, what);
      assertTrue(err16 > 10 * err32, what);
    }
  }

  /** The patch product against libtorch's own conv3d on the 5-D weight and the rows viewed [-1, C, T, P, P], as PatchEmbed runs. */
  @Test
  void patchEmbeddingMatchesLibtorchConv3d() {
    QwenVisionConfig c = QWEN25;
    QwenVisionWeights w = QwenVisionWeights.random(c, 8);
    int rows = 24, d = c.hiddenSize(), p = c.patchSize(), t = c.temporalPatchSize();
    try (Tensor px = Tensors.of(pixels(6, rows, c.patchValues()), rows, c.patchValues());
         Tensor ours = io.fitprune.decoder.Dense.linearFloat(px, w.patch, null);
         Tensor k = w.patch.view(d, c.inChannels(), t, p, p);
         Tensor conv = torch.conv3d(px.view(-1, c.inChannels(), t, p, p), k, new org.bytedeco.pytorch.TensorOptional(),
             new long[] {t, p, p}, new long[] {0, 0, 0}, new long[] {1, 1, 1}, 1)) {
      float[] a = Tensors.toArray(ours), b = Tensors.toArray(conv.view(-1, d));
      assertEquals(b.length, a.length);
      for (int i = 0; i < a.length; i++) assertEquals(b[i], a[i], 1e-5 * (1 + Math.abs(b[i])), "element " + i);
    }
  }

  @Test
  void theArrayFormGivesTheTensorFormsRows() {
    QwenVisionWeights w = QwenVisionWeights.random(QWEN25, 3);
    int[][] g = {{1, 6, 10}, {1, 2, 2}};
    float[] px = pixels(4, rows(g), QWEN25.patchValues());
    org.junit.jupiter.api.Assertions.assertArrayEquals(run(w, px, g), new QwenVisionTower(w).features(px, grids(g)));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new QwenVisionTower(w).features(new float[10], grids(g)));
    assertTrue(e.getMessage().startsWith("pixel_values: expected 64 x 54 = 3456 floats"), e.getMessage());
  }

  @Test
  void noImageGivesNoRows() {
    QwenVisionTower t = new QwenVisionTower(QwenVisionWeights.random(QWEN25, 1));
    try (Tensor px = torch.empty(0, QWEN25.patchValues()); Tensor y = t.features(px, List.of())) {
      assertArrayEquals(new long[] {0, 23}, new long[] {y.size(0), y.size(1)});
    }
  }

  @Test
  void badInputIsRefusedNamingTheArgument() {
    QwenVisionTower t = new QwenVisionTower(QwenVisionWeights.random(QWEN2, 2));
    List<GridThw> g = List.of(new GridThw(1, 4, 2));
    for (long[] bad : new long[][] {{8, 53}, {9, 54}, {8}, {1, 8, 54}}) {
      try (Tensor px = torch.ones(bad)) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.features(px, g));
        assertTrue(e.getMessage().startsWith("pixel_values: expected shape [8, 54]"), e.getMessage());
      }
    }
    IllegalArgumentException odd = assertThrows(IllegalArgumentException.class,
        () -> t.features(torch.ones(6, 54), List.of(new GridThw(1, 3, 2))));
    assertTrue(odd.getMessage().contains("grid_thw[0] = [1, 3, 2]") && odd.getMessage().contains("spatial_merge_size 2"),
        odd.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new GridThw(0, 2, 2));
    float[] px = pixels(3, 8, 54);
    px[5 * 54 + 17] = Float.NaN;
    try (Tensor nan = Tensors.of(px, 8, 54)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.features(nan, g));
      assertTrue(e.getMessage().contains("pixel_values [patches, C*T*P*P] is not finite at [5, 17]"), e.getMessage());
    }
    try (Tensor d = torch.ones(new long[] {8, 54}).to(torch.ScalarType.Double)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.features(d, g));
      assertTrue(e.getMessage().contains("float32"), e.getMessage());
    }
    IllegalArgumentException act = assertThrows(IllegalArgumentException.class, () -> QwenVisionWeights.random(
        new QwenVisionConfig(QwenVisionFamily.QWEN2_VL, 1, 8, 8, 8, 2, 3, 2, 2, 2, "relu6", 0, List.of()), 1));
    assertTrue(act.getMessage().contains("hidden_act 'relu6'"), act.getMessage());
  }
}
