package io.fitprune.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.io.Checkpoint;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.kernels.Spans;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.SequenceState;
import io.fitprune.pruning.VisualCountPolicy;
import io.fitprune.vision.AnyResGrid;
import io.fitprune.vision.AnyResPacker;
import io.fitprune.vision.ClipVisionConfig;
import io.fitprune.vision.GridPinpoints;
import io.fitprune.vision.VisionTensors;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LLaVA-NeXT configs, the processor's visual token counts, and recipes applied across image sizes. */
class LlavaNextConfigTest {
  /** A llava-v1.6-vicuna-7b-style config.json (the LLaVA-1.5 keys plus the anyres ones). */
  static final String V16 = LlavaConfigTest.HUB_7B.replace("\"model_type\": \"llava\"", "\"model_type\": \"llava_next\"")
      .replace("LlavaForConditionalGeneration", "LlavaNextForConditionalGeneration")
      .replace("\"ignore_index\": -100,", "\"ignore_index\": -100, \"use_image_newline_parameter\": true,"
          + " \"image_grid_pinpoints\": [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]],");

  @TempDir Path tmp;

  static LlavaNextConfig parse(String json) {
    return LlavaNextConfig.parse(json.getBytes(StandardCharsets.UTF_8), "dir/config.json");
  }

  @Test
  void v16ConfigReadsLikeLlavaPlusItsCanvases() {
    LlavaNextConfig c = parse(V16);
    assertEquals(LlavaConfigTest.parse(LlavaConfigTest.HUB_7B), c.llava());
    assertEquals(GridPinpoints.LLAVA_V16, c.pinpoints());
    LlavaNextConfig bare = parse("{\"model_type\": \"llava_next\"}");
    assertEquals(GridPinpoints.LLAVA_V16, bare.pinpoints(), "LlavaNextConfig's default canvases");
    assertEquals(new ClipVisionConfig(1024, 4096, 24, 16, 3, 336, 14, 1e-5, "quick_gelu"), bare.llava().vision());
    assertEquals(576, bare.llava().imageSeqLength());
  }

  /**
   * Counts for llava-v1.6, from the source's formulas by hand: 480x640 (h x w) takes the 2x2 canvas,
   * a 48x48 map; 640/480 > 1 so rows are cut: int(480 * 48/640) = 36, padding 6 above and below,
   * 36 rows of 48 + newline, plus the base's 576: 2340. 300x1000 takes 1x3 (24x72): 300*72/1000 =
   * 21.6 -> 21, padding (24-21)//2 = 1, 22 rows: 576 + 22*73 = 2182. 47x1128 takes 1x3:
   * 47*72/1128 rounds to 3 at 7 decimals, padding 10, 4 rows: 576 + 4*73 = 868.
   */
  @Test
  void imageTokensForV16Sizes() {
    LlavaNextConfig c = parse(V16);
    assertEquals(2340, c.imageTokens(480, 640));
    assertEquals(2352, c.imageTokens(640, 480)); // 48 rows of 36 + newline
    assertEquals(2182, c.imageTokens(300, 1000));
    assertEquals(2232, c.imageTokens(1000, 300)); // 72 rows of 22 + newline
    assertEquals(576 + 48 * 49, c.imageTokens(500, 500));
    assertEquals(868, c.imageTokens(47, 1128));
    assertEquals(576 + 24 * 25, c.imageTokens(1, 1)); // 1x2 canvas, the square image keeps 24 of 48 columns
  }

  /** The processor's count is the number of rows pack_image_features produces, over many sizes and towers. */
  @Test
  void countsEqualPackedRows() {
    SplittableRandom r = new SplittableRandom(17);
    LlavaNextConfig v16 = parse(V16);
    for (int t = 0; t < 20000; t++) {
      int h = 1 + r.nextInt(t % 3 == 0 ? 100 : 5000), w = 1 + r.nextInt(t % 5 == 0 ? 100 : 5000);
      assertEquals(v16.grid(h, w).packedRows(), v16.imageTokens(h, w), h + "x" + w);
    }
    for (int k = 0; k < 30; k++) {
      int patch = 1 + r.nextInt(6), side = 1 + r.nextInt(5), tile = patch * side;
      StringBuilder pins = new StringBuilder("[");
      int n = 1 + r.nextInt(5);
      for (int i = 0; i < n; i++)
        pins.append(i > 0 ? "," : "").append("[").append(tile * (1 + r.nextInt(4))).append(",")
            .append(tile * (1 + r.nextInt(4))).append("]");
      LlavaNextConfig c = parse("{\"model_type\": \"llava_next\", \"image_grid_pinpoints\": " + pins + "], "
          + "\"vision_config\": {\"image_size\": " + tile + ", \"patch_size\": " + patch + ", \"hidden_size\": 4, "
          + "\"num_attention_heads\": 1, \"num_hidden_layers\": 2}, \"text_config\": {\"hidden_size\": 8, "
          + "\"num_attention_heads\": 2}}");
      for (int t = 0; t < 200; t++) {
        int h = 1 + r.nextInt(400), w = 1 + r.nextInt(400), d = 1 + r.nextInt(3);
        AnyResGrid g = c.grid(h, w);
        float[] feats = new float[g.patches() * g.perTile() * d], nl = new float[d];
        for (int i = 0; i < feats.length; i++) feats[i] = (float) r.nextGaussian();
        for (int i = 0; i < d; i++) nl[i] = 1 + (float) r.nextDouble();
        assertEquals((long) c.imageTokens(h, w) * d, AnyResPacker.pack(feats, d, nl, g).length, h + "x" + w + " " + pins);
      }
    }
  }

  /** Visual tokens a pruner drops at every layer of a sequence of this many, applying each layer's drops. */
  static int[] drops(Pruner p, int layers, int visual) {
    SequenceState s = SequenceState.start(layers, new Spans(5, visual), 5 + visual + 9);
    int[] out = new int[layers];
    SplittableRandom r = new SplittableRandom(visual);
    for (int l = 0; l < layers; l++) {
      out[l] = (int) p.count(s);
      int[] alive = new int[s.visual()]; // a random choice of which: the counts must not depend on it
      for (int i = 0; i < alive.length; i++) alive[i] = i;
      for (int i = alive.length - 1; i > 0; i--) {
        int j = r.nextInt(i + 1), x = alive[i];
        alive[i] = alive[j];
        alive[j] = x;
      }
      s.apply(l, s.keepDropping(alive, out[l]));
    }
    return out;
  }

  /**
   * A recipe fitted on one image size applies to every other size's count under SCALE: the
   * cumulative drops through each layer are the recipe's times actual/fitted, floored; REFUSE names both counts.
   */
  @Test
  void aRecipeForOneImageSizeScalesToAnother() {
    LlavaNextConfig c = parse(V16);
    int fitted = c.imageTokens(480, 640), layers = 32;
    SplittableRandom r = new SplittableRandom(4);
    int[] prune = new int[layers];
    int left = fitted;
    for (int l = 1; l < layers && left > 0; l += 2) left -= prune[l] = Math.min(left, r.nextInt(300));
    Pruner scale = Pruner.fitprune(prune, fitted, VisualCountPolicy.SCALE, "anyres");
    Pruner refuse = Pruner.fitprune(prune, fitted);
    assertEquals(java.util.Arrays.toString(prune), java.util.Arrays.toString(drops(scale, layers, fitted)));
    for (int[] size : new int[][] {{300, 1000}, {1000, 300}, {47, 1128}, {500, 500}, {1, 1}, {2000, 1500}}) {
      int actual = c.imageTokens(size[0], size[1]);
      assertTrue(actual != fitted, "another count");
      int[] got = drops(scale, layers, actual);
      long cum = 0, sum = 0;
      for (int l = 0; l < layers; l++) {
        cum += prune[l];
        sum += got[l];
        assertEquals(cum * actual / fitted, sum, size[0] + "x" + size[1] + " through layer " + l);
      }
      assertTrue(sum <= actual);
      String m = assertThrows(IllegalArgumentException.class, () -> drops(refuse, layers, actual)).getMessage();
      assertTrue(m.contains(fitted + "") && m.contains(actual + ""), m);
    }
  }

  static void refused(String json, String... parts) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(json));
    assertTrue(e.getMessage().startsWith("dir/config.json"), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
    for (String p : parts) assertTrue(e.getMessage().contains(p), e.getMessage());
  }

  @Test
  void badConfigsAreRefusedNamingTheKey() throws Exception {
    refused(LlavaConfigTest.HUB_7B, "model_type", "'llava'");
    refused(LlavaConfigTest.edit(V16, "image_grid_pinpoints", new int[][] {{336, 600}}), "[336, 600]", "336");
    refused(LlavaConfigTest.edit(V16, "image_grid_pinpoints", new int[0][]), "image_grid_pinpoints");
    refused(LlavaConfigTest.edit(V16, "image_grid_pinpoints", new int[][] {{336}}), "image_grid_pinpoints");
    refused(LlavaConfigTest.edit(V16, "image_grid_pinpoints", new int[][] {{-336, 336}}), "image_grid_pinpoints");
    refused(LlavaConfigTest.edit(V16, "image_grid_pinpoints", "336x672"), "image_grid_pinpoints");
    refused(LlavaConfigTest.edit(V16, "vision_feature_select_strategy", "full"), "vision_feature_select_strategy");
    refused(LlavaConfigTest.edit(V16, "use_image_newline_parameter", false), "use_image_newline_parameter");
    String m = assertThrows(IllegalArgumentException.class, () -> LlavaConfigTest.parse(V16)).getMessage();
    assertTrue(m.contains("LlavaNextConfig"), m);
  }

  /** image_newline under both layouts' names, [text hidden]; missing or misshapen is a one-line error. */
  @Test
  void imageNewlineIsCheckedInBothLayouts() throws Exception {
    LlavaNextConfig c = parse("{\"model_type\": \"llava_next\", \"image_grid_pinpoints\": [[28, 56]], "
        + "\"vision_config\": {\"image_size\": 28, \"patch_size\": 14, \"hidden_size\": 4, \"num_attention_heads\": 1, "
        + "\"intermediate_size\": 6, \"num_hidden_layers\": 1}, \"text_config\": {\"hidden_size\": 8, "
        + "\"num_attention_heads\": 2}}");
    for (VisionTensors.Layout layout : VisionTensors.Layout.values()) {
      String nl = ImageNewline.name(layout);
      assertEquals(layout == VisionTensors.Layout.LLAVA ? "model.image_newline" : "image_newline", nl);
      c.checkVisionWeights(open(layout, nl, 8));
      assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, ImageNewline.read(open(layout, nl, 8), 8));
      String m = assertThrows(IllegalArgumentException.class, () -> c.checkVisionWeights(open(layout, nl, 7)))
          .getMessage();
      assertTrue(m.contains(nl) && m.contains("[8]") && m.contains("[7]"), m);
      m = assertThrows(IllegalArgumentException.class, () -> c.checkVisionWeights(open(layout, "newline", 8)))
          .getMessage();
      assertTrue(m.contains("no tensor '" + nl + "'"), m);
    }
  }

  /** BF16 and F16 values widen exactly; a non-finite value is refused, naming the tensor. */
  @Test
  void imageNewlineValuesInHalfTypes() throws Exception {
    SplittableRandom r = new SplittableRandom(6);
    float[] want = new float[8];
    short[] bf = new short[8], f16 = new short[8];
    for (int i = 0; i < 8; i++) {
      want[i] = (float) ((r.nextInt(255) - 127) / 16.0); // 7 significant bits: exact in bf16 and f16
      bf[i] = (short) (Float.floatToIntBits(want[i]) >>> 16);
      f16[i] = io.fitprune.io.HalfFloats.toF16(want[i]);
    }
    for (io.fitprune.io.DType t : new io.fitprune.io.DType[] {io.fitprune.io.DType.BF16, io.fitprune.io.DType.F16}) {
      Path f = tmp.resolve(t + ".safetensors");
      new SafetensorsWriter().putShorts("image_newline", t, t == io.fitprune.io.DType.BF16 ? bf : f16, 8).write(f);
      try (Checkpoint ck = Checkpoint.open(f)) {
        assertArrayEquals(want, ImageNewline.read(ck, 8), t.toString());
      }
    }
    Path f = tmp.resolve("nan.safetensors");
    new SafetensorsWriter().putFloats("image_newline", new float[] {1, Float.NaN, 3}, 3).write(f);
    try (Checkpoint ck = Checkpoint.open(f)) {
      String m = assertThrows(IllegalArgumentException.class, () -> ImageNewline.read(ck, 3)).getMessage();
      assertTrue(m.contains("image_newline") && m.contains("non-finite") && m.contains("at 1"), m);
    }
  }

  private Checkpoint open(VisionTensors.Layout layout, String newline, int width) throws Exception {
    LlavaNextConfig c = parse("{\"model_type\": \"llava_next\"}");
    SafetensorsWriter w = new SafetensorsWriter();
    SplittableRandom r = new SplittableRandom(1);
    ClipVisionConfig v = new ClipVisionConfig(4, 6, 1, 1, 3, 28, 14, 1e-5, "quick_gelu");
    for (Map.Entry<String, long[]> e : VisionTensors.expected(v,
        new io.fitprune.vision.ProjectorConfig(-2, "default", 4, 8, "gelu", true), layout).entrySet()) {
      long n = 1;
      for (long s : e.getValue()) n *= s;
      float[] x = new float[(int) n];
      for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
      w.putFloats(e.getKey(), x, e.getValue());
    }
    float[] x = new float[width];
    for (int i = 0; i < width; i++) x[i] = 1 + i;
    w.putFloats(newline, x, width);
    Path f = tmp.resolve(layout + "-" + newline + "-" + width + ".safetensors");
    w.write(f);
    return Checkpoint.open(f);
  }
}
