package io.fitprune.vision;

import static io.fitprune.vision.VisionCases.perImage;
import static io.fitprune.vision.VisionCases.pixels;
import static io.fitprune.vision.VisionCases.relErr;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.decoder.Tensors;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * The tower and projector against the float64 reference written from transformers' source, on
 * random weights and images. float32 runs: errors come from float32 rounding of sums of at most a
 * few hundred products, layer after layer, about 1e-7 relative each; 1e-5 leaves room for that and
 * for libtorch's blocked summation order, and is far below any real mistake (a wrong scale, a
 * missing bias or a transposed patch: 1e-2 or more).
 */
class ClipVisionTowerTest {
  static final double F32_TOL = 1e-5;

  static float[] run(LlavaImageEncoder enc, float[] px, int images) {
    return enc.encode(px, images);
  }

  @Test
  void everyHiddenStateMatchesTheFloat64ReferenceInFloat32() {
    ClipVisionConfig c = VisionCases.A;
    VisionWeights w = VisionWeights.random(c, VisionCases.projector(c, -1, "default", 29, true), 11);
    ClipReference64 ref = new ClipReference64(w);
    int images = 3;
    float[] px = pixels(5, c, images);
    ClipVisionTower tower = new ClipVisionTower(w);
    for (int state = 0; state <= c.layers(); state++) {
      try (Tensor t = Tensors.of(px, images, c.channels(), c.imageSize(), c.imageSize());
           Tensor h = tower.hiddenState(t, state)) {
        assertArrayEquals(new long[] {images, c.positions(), c.hiddenSize()}, new long[] {h.size(0), h.size(1), h.size(2)});
        float[] got = Tensors.toArray(h);
        for (int b = 0; b < images; b++) {
          List<double[][]> want = ref.hiddenStates(px, b * perImage(c));
          double e = relErr(want.get(state), got, b * c.positions() * c.hiddenSize());
          assertTrue(e < F32_TOL, "state " + state + " image " + b + ": relative error " + e);
        }
      }
    }
  }

  /** One case of LLaVA's image features: tower config, feature layer, strategy, images, text width, projector bias. */
  record Case(ClipVisionConfig c, int layer, String strategy, int images, int text, boolean bias) {}

  @Test
  void imageFeaturesMatchTheFloat64ReferenceInFloat32() {
    List<Case> cases = List.of(new Case(VisionCases.A, -2, "default", 3, 29, true),
        new Case(VisionCases.A, 1, "full", 1, 17, true), new Case(VisionCases.B, -1, "full", 3, 31, false),
        new Case(VisionCases.B, 0, "default", 1, 13, true), new Case(VisionCases.C, -2, "default", 1, 23, true),
        new Case(VisionCases.C, 1, "full", 3, 9, false));
    long seed = 100;
    for (Case k : cases) {
      ClipVisionConfig c = k.c();
      ProjectorConfig pc = VisionCases.projector(c, k.layer(), k.strategy(), k.text(), k.bias());
      VisionWeights w = VisionWeights.random(c, pc, seed++);
      LlavaImageEncoder enc = new LlavaImageEncoder(w);
      float[] px = pixels(seed++, c, k.images());
      float[] got = run(enc, px, k.images());
      int visual = "default".equals(k.strategy()) ? c.patches() : c.positions();
      assertEquals(visual, enc.visualTokens(), k.toString());
      assertEquals((long) k.images() * visual * k.text(), got.length, k.toString());
      ClipReference64 ref = new ClipReference64(w);
      int index = pc.stateIndex(c.layers());
      for (int b = 0; b < k.images(); b++) {
        double e = relErr(ref.features(px, b * perImage(c), index, pc.dropsCls()), got, b * visual * k.text());
        assertTrue(e < F32_TOL, k + " image " + b + ": relative error " + e);
      }
    }
  }

  /**
   * BF16 weights run the dense layers and attention in bf16 (the residual stream in float32): the
   * error against float64 on the same weight values must be within a small factor of the float64
   * reference's own error when it rounds to bf16 where the run does, and far above float32's.
   */
  @Test
  void bf16WeightsStayWithinTheRoundingErrorOfBf16() {
    ClipVisionConfig c = VisionCases.A;
    ProjectorConfig pc = VisionCases.projector(c, -2, "default", 29, true);
    VisionWeights bf = VisionWeights.random(c, pc, 21).converted(torch.ScalarType.BFloat16);
    VisionWeights exact = bf.converted(torch.ScalarType.Float); // the same values in float32
    assertTrue(Tensors.is(bf.layers.get(0).fc1(), torch.ScalarType.BFloat16));
    int images = 2;
    float[] px = pixels(3, c, images);
    float[] got16 = run(new LlavaImageEncoder(bf), px, images), got32 = run(new LlavaImageEncoder(exact), px, images);
    ClipReference64 ref = new ClipReference64(exact);
    int index = pc.stateIndex(c.layers()), rows = c.patches() * pc.textHidden();
    for (int b = 0; b < images; b++) {
      ref.bf16 = false;
      double[][] want = ref.features(px, b * perImage(c), index, true);
      ref.bf16 = true;
      double[][] rounded = ref.features(px, b * perImage(c), index, true);
      float[] rf = new float[rows];
      int k = 0;
      for (double[] row : rounded) for (double v : row) rf[k++] = (float) v;
      double rounding = relErr(want, rf, 0), err16 = relErr(want, got16, b * rows), err32 = relErr(want, got32, b * rows);
      String what = "image " + b + ": bf16 error " + err16 + ", bf16 rounding alone " + rounding + ", float32 " + err32;
      System.out.println(what);
      assertTrue(err16 <= 3 * rounding, what);
      assertTrue(err16 > 10 * err32, what);
    }
  }

  @Test
  void aBatchGivesEachImageItsOwnResult() {
    ClipVisionConfig c = VisionCases.B;
    LlavaImageEncoder enc = new LlavaImageEncoder(VisionWeights.random(c, VisionCases.projector(c, -2, "default", 19, true), 4));
    int images = 3, per = perImage(c), out = enc.visualTokens() * enc.textHidden();
    float[] px = pixels(8, c, images), all = run(enc, px, images);
    for (int b = 0; b < images; b++) {
      float[] one = run(enc, java.util.Arrays.copyOfRange(px, b * per, (b + 1) * per), 1);
      double num = 0, den = 0;
      for (int i = 0; i < out; i++) {
        num += Math.pow(all[b * out + i] - one[i], 2);
        den += one[i] * one[i];
      }
      assertTrue(Math.sqrt(num / den) < 1e-6, "image " + b + " alone vs in the batch: " + Math.sqrt(num / den));
    }
    assertEquals(0, run(enc, new float[0], 0).length);
    try (Tensor none = torch.empty(0, c.channels(), c.imageSize(), c.imageSize()); Tensor y = enc.encode(none)) {
      assertArrayEquals(new long[] {0, enc.visualTokens(), enc.textHidden()}, new long[] {y.size(0), y.size(1), y.size(2)});
    }
  }

  /** The patch embedding against libtorch's own conv2d on the 4-D weight (CLS and positions added as transformers does). */
  @Test
  void patchEmbeddingMatchesLibtorchConv2d() {
    ClipVisionConfig c = VisionCases.A;
    VisionWeights w = VisionWeights.random(c, VisionCases.projector(c, -1, "full", 7, true), 6);
    int images = 3, d = c.hiddenSize(), g = c.patchesPerSide(), ps = c.patchSize();
    try (Tensor px = Tensors.of(pixels(2, c, images), images, c.channels(), c.imageSize(), c.imageSize());
         Tensor got = w.embeddings.apply(px, c);
         Tensor k = w.embeddings.patch().view(d, c.channels(), ps, ps);
         Tensor conv = torch.conv2d(px, k, new org.bytedeco.pytorch.TensorOptional(), new long[] {ps, ps}, new long[] {0, 0},
             new long[] {1, 1}, 1)) {
      float[] cv = Tensors.toArray(conv.flatten(2, 3).transpose(1, 2).contiguous()); // [B, g*g, D]
      float[] cls = Tensors.toArray(w.embeddings.cls()), pos = Tensors.toArray(w.embeddings.pos()), out = Tensors.toArray(got);
      for (int b = 0; b < images; b++)
        for (int row = 0; row <= g * g; row++)
          for (int j = 0; j < d; j++) {
            double want = (row == 0 ? cls[j] : cv[(b * g * g + row - 1) * d + j]) + pos[row * d + j];
            float have = out[(b * (g * g + 1) + row) * d + j];
            assertEquals(want, have, 1e-5 * (1 + Math.abs(want)), "image " + b + " row " + row + " col " + j);
          }
    }
  }

  @Test
  void badInputIsRefusedNamingTheArgument() {
    ClipVisionConfig c = VisionCases.B;
    LlavaImageEncoder enc = new LlavaImageEncoder(VisionWeights.random(c, VisionCases.projector(c, -2, "default", 11, true), 1));
    String shape = "[B, 3, 28, 28]";
    for (long[] bad : new long[][] {{3, 28, 28}, {1, 1, 28, 28}, {2, 3, 28, 27}, {1, 3, 56, 56}}) {
      try (Tensor t = torch.ones(bad)) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> enc.encode(t));
        assertTrue(e.getMessage().contains("pixel_values") && e.getMessage().contains(shape), e.getMessage());
      }
    }
    float[] px = pixels(1, c, 2);
    px[perImage(c) + 2 * 28 * 28 + 5 * 28 + 7] = Float.NaN;
    IllegalArgumentException nan = assertThrows(IllegalArgumentException.class, () -> enc.encode(px, 2));
    assertTrue(nan.getMessage().contains("pixel_values: not finite at [1, 2, 5, 7]"), nan.getMessage());
    px[perImage(c) + 2 * 28 * 28 + 5 * 28 + 7] = Float.POSITIVE_INFINITY;
    assertThrows(IllegalArgumentException.class, () -> enc.encode(px, 2));
    IllegalArgumentException len = assertThrows(IllegalArgumentException.class, () -> enc.encode(new float[10], 1));
    assertTrue(len.getMessage().contains("pixel_values"), len.getMessage());
    try (Tensor d = torch.ones(new long[] {1, 3, 28, 28}).to(torch.ScalarType.Double)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> enc.encode(d));
      assertTrue(e.getMessage().contains("float32"), e.getMessage());
    }
    IllegalArgumentException layer = assertThrows(IllegalArgumentException.class,
        () -> VisionWeights.random(c, VisionCases.projector(c, 3, "default", 11, true), 1));
    assertTrue(layer.getMessage().contains("vision_feature_layer 3"), layer.getMessage());
    assertThrows(IllegalArgumentException.class, () -> VisionWeights.random(c, VisionCases.projector(c, -4, "full", 11, true), 1));
    IllegalArgumentException idx = assertThrows(IllegalArgumentException.class,
        () -> enc.tower().hiddenState(torch.ones(1, 3, 28, 28), 3));
    assertTrue(idx.getMessage().contains("hidden state index 3"), idx.getMessage());
    IllegalArgumentException act = assertThrows(IllegalArgumentException.class, () -> VisionWeights.random(
        new ClipVisionConfig(35, 53, 2, 5, 3, 28, 14, 1e-6, "relu6"), VisionCases.projector(c, -2, "default", 11, true), 1));
    assertTrue(act.getMessage().contains("hidden_act 'relu6'"), act.getMessage());
    IllegalArgumentException huge = assertThrows(IllegalArgumentException.class,
        () -> new ClipVisionConfig(4096, 8, 1, 1, 3, 65536, 16, 1e-5, "quick_gelu"));
    assertTrue(huge.getMessage().contains("below 2^31"), huge.getMessage());
    IllegalArgumentException width = assertThrows(IllegalArgumentException.class, () -> VisionWeights.random(c,
        new ProjectorConfig(-2, "default", 36, 11, "gelu", true), 1));
    assertTrue(width.getMessage().contains("hidden_size (35)"), width.getMessage());
  }

  @Test
  void activationsFollowTransformers() {
    double[] xs = {-3.7, -1.1, -0.2, 0.0, 0.3, 1.9, 4.2};
    float[] in = new float[xs.length];
    for (int i = 0; i < xs.length; i++) in[i] = (float) xs[i];
    for (Activation a : Activation.values())
      try (Tensor t = Tensors.of(in, in.length); Tensor y = a.apply(t)) {
        float[] got = Tensors.toArray(y);
        for (int i = 0; i < xs.length; i++)
          assertEquals(ClipReference64.activation(a.key(), in[i]), got[i], 1e-6, a + " at " + in[i]);
      }
    assertEquals(0.8427007929497149, ClipReference64.erf(1.0), 1e-15);
    assertEquals(0.9999779095030014, ClipReference64.erf(3.0), 1e-15);
    assertEquals(-0.9953222650189527, ClipReference64.erf(-2.0), 1e-15);
    assertEquals(Activation.GELU_TANH, Activation.of("hidden_act", "gelu_new"));
  }

  /** LLaVA-1.5's features, counted here term by term: 23 of 24 layers run for feature layer -2. */
  @Test
  void flopsCountWhatRuns() {
    ClipVisionConfig c = new ClipVisionConfig(1024, 4096, 24, 16, 3, 336, 14, 1e-5, "quick_gelu");
    double patch = 576.0 * 1024 * (3 * 14 * 14) * 2;
    double qkvo = 4 * (577.0 * 1024 * 1024 * 2), scores = 16 * (577.0 * 577 * 64 * 2), pv = scores;
    double mlp = 577.0 * 1024 * 4096 * 2 + 577.0 * 4096 * 1024 * 2;
    double projector = 576.0 * 1024 * 4096 * 2 + 576.0 * 4096 * 4096 * 2;
    double want = patch + 23 * (qkvo + scores + pv + mlp) + projector;
    ProjectorConfig pc = new ProjectorConfig(-2, "default", 1024, 4096, "gelu", true);
    assertEquals(want, LlavaImageEncoder.flops(c, pc), want * 1e-12);
    assertEquals(390.2e9, want, 0.05e9);
  }
}
