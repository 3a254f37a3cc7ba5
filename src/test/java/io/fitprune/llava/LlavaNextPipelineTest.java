package io.fitprune.llava;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.decoder.Tensors;
import io.fitprune.hf.LlavaNextConfig;
import io.fitprune.hf.ModelFolder;
import io.fitprune.hf.Prompt;
import io.fitprune.hf.RandomModelFolder;
import io.fitprune.image.AnyresPixels;
import io.fitprune.image.AnyresProcessor;
import io.fitprune.image.ImageFileException;
import io.fitprune.io.DType;
import io.fitprune.testutil.RandomPng;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LLaVA-NeXT through the one pipeline: per-image counts as the processor computes them, and the
 * packed features against a reference written here from transformers' {@code modeling_llava_next.py}
 * and {@code processing_llava_next.py} (commits 35719872 and 81bb907c): the tower run on each view
 * alone, the tiles laid out as one map, unpadded and given a newline per row, behind the base view.
 */
public class LlavaNextPipelineTest {
  private static final String README_BEGIN = "// README llava-next: begin", README_END = "// README llava-next: end";
  @TempDir static Path dir;
  static Path f32, bf16;
  static LlavaNextConfig config;

  /** Wide, tall, square, a thin strip and a 1x1 image (height, width), none of them at the tile size. */
  static final int[][] SIZES = {{23, 100}, {90, 17}, {50, 50}, {7, 130}, {1, 1}, {61, 64}};

  @BeforeAll
  static void folders() throws Exception {
    config = LlavaNextConfig.bundled("llava-next-tiny");
    f32 = dir.resolve("next-f32");
    RandomModelFolder.write(f32, config, RandomCheckpoint.Layout.LLAVA_HF, DType.F32, 11, 1L << 30);
    bf16 = dir.resolve("next-bf16");
    RandomModelFolder.write(bf16, config, RandomCheckpoint.Layout.LLAVA, DType.BF16, 12, 1L << 30);
  }

  static Path png(String name, int h, int w, long seed) throws Exception {
    return RandomPng.write(dir, name, h, w, seed);
  }

  /** select_best_resolution, as image_processing_utils writes it. */
  public static int[] best(int h, int w, int[][] pins) {
    int[] best = null;
    long maxEff = 0;
    double minWaste = Double.POSITIVE_INFINITY;
    for (int[] p : pins) {
      double scale = Math.min((double) p[1] / w, (double) p[0] / h);
      long dw = (long) (w * scale), dh = (long) (h * scale);
      long eff = Math.min(dw * dh, (long) w * h), waste = (long) p[0] * p[1] - eff;
      if (eff > maxEff || (eff == maxEff && waste < minWaste)) {
        maxEff = eff;
        minWaste = waste;
        best = p;
      }
    }
    return best;
  }

  static final int[][] PINS = {{42, 84}, {84, 42}, {84, 84}, {126, 42}, {42, 126}};
  static final int TILE = 42, PATCH = 14;

  /** LlavaNextProcessor._get_number_of_features with num_additional_image_tokens 1 and the default strategy. */
  public static int processorCount(int h, int w) {
    int[] b = best(h, w, PINS);
    int sh = b[0] / TILE, sw = b[1] / TILE, ph = TILE / PATCH, pw = TILE / PATCH;
    int ch = ph * sh, cw = pw * sw;
    if ((double) w / h > (double) cw / ch) {
      int newH = (h * cw) / w;
      ch -= ((ch - newH) / 2) * 2;
    } else {
      int newW = (w * ch) / h;
      cw -= ((cw - newW) / 2) * 2;
    }
    return ch * cw + ch + ph * pw + 1 - 1;
  }

  /** Python's int(round(x, 7)) for x >= 0. */
  static int round7(double x) {
    return new BigDecimal(x).setScale(7, RoundingMode.HALF_EVEN).intValue();
  }

  /**
   * pack_image_features for one image from each view's features {@code [views][side*side*D]}: the
   * map (D, rows*side, cols*side), unpad_image, a newline column, flattened row by row, base first.
   */
  static float[] pack(float[][] views, int h, int w, float[] newline, int D) {
    int side = TILE / PATCH;
    int[] b = best(h, w, PINS);
    int rows = b[0] / TILE, cols = b[1] / TILE, H = rows * side, W = cols * side;
    int top = 0, bottom = H, left = 0, right = W;
    if ((double) w / h > (double) W / H) {
      int newH = round7(h * ((double) W / w));
      int pad = (H - newH) / 2;
      top = pad;
      bottom = H - pad;
    } else {
      int newW = round7(w * ((double) H / h));
      int pad = (W - newW) / 2;
      left = pad;
      right = W - pad;
    }
    int n = side * side + (bottom - top) * (right - left + 1);
    float[] out = new float[n * D];
    System.arraycopy(views[0], 0, out, 0, side * side * D);
    int o = side * side;
    for (int y = top; y < bottom; y++) {
      for (int x = left; x < right; x++) {
        float[] tile = views[1 + (y / side) * cols + x / side];
        System.arraycopy(tile, ((y % side) * side + x % side) * D, out, o++ * D, D);
      }
      System.arraycopy(newline, 0, out, o++ * D, D);
    }
    assertEquals(n, o);
    return out;
  }

  @Test
  void eachImageBecomesTheProcessorsCountOfRowsPackedAsTheModelPacksThem() throws Exception {
    try (LlavaPipeline p = LlavaPipeline.open(f32)) {
      assertNotNull(p.folder().anyres());
      int D = p.encoder().textHidden();
      float[] newline = p.folder().imageNewline();
      AnyresProcessor proc = AnyresProcessor.fromFile(f32.resolve(ModelFolder.PREPROCESSOR));
      int seed = 0;
      for (int[] hw : SIZES) {
        Path img = png("i" + seed + ".png", hw[0], hw[1], 100 + seed++);
        LlavaInput in = p.prepare(img, "What is this?");
        int V = (int) in.spans().visual(), P = (int) in.spans().prefix();
        assertEquals(processorCount(hw[0], hw[1]), V, Arrays.toString(hw));
        assertEquals(config.imageTokens(hw[0], hw[1]), V);
        assertArrayEquals(hw, in.image().imageSize());
        AnyresPixels px = proc.process(img);
        assertArrayEquals(px.pixelValues().data(), in.pixels().data());
        int views = px.pixelValues().images(), per = 3 * TILE * TILE;
        float[][] features = new float[views][];
        for (int v = 0; v < views; v++)
          features[v] = p.encoder().encode(Arrays.copyOfRange(px.pixelValues().data(), v * per, (v + 1) * per), 1);
        float[] want = pack(features, hw[0], hw[1], newline, D);
        assertEquals((long) V * D, want.length);
        float scale = 0;
        for (float x : want) scale = Math.max(scale, Math.abs(x));
        float[] got = Arrays.copyOfRange(in.embeds(), P * D, (P + V) * D);
        for (int i = 0; i < want.length; i++)
          assertEquals(want[i], got[i], 1e-5f * scale, "size " + Arrays.toString(hw) + " row " + i / D);
        // the newline rows are the checkpoint's values exactly (an F32 table keeps them)
        int side = TILE / PATCH, rowLen = (V - side * side);
        assertArrayEquals(newline, Arrays.copyOfRange(got, (V - 1) * D, V * D));
        assertTrue(rowLen > 0);
      }
    }
  }

  @Test
  void theNewerLayoutInBf16ReadsItsNewlineAndSplicesOnTheBf16Grid() throws Exception {
    try (LlavaPipeline p = LlavaPipeline.open(bf16)) {
      int D = p.encoder().textHidden();
      float[] newline = p.folder().imageNewline();
      for (float x : newline) assertEquals(x, Float.intBitsToFloat(Float.floatToIntBits(x) & 0xffff0000), 0f);
      Path img = png("bf.png", 33, 70, 7);
      LlavaInput in = p.prepare(img, "Describe it.");
      int P = (int) in.spans().prefix(), V = (int) in.spans().visual();
      assertEquals(processorCount(33, 70), V);
      assertArrayEquals(newline, Arrays.copyOfRange(in.embeds(), (P + V - 1) * D, (P + V) * D));
      float[] table = Tensors.toArray(p.decoderWeights().embed());
      long[] ids = in.prompt().ids();
      for (int d = 0; d < D; d++) assertEquals(table[(int) ids[0] * D + d], in.embeds()[d], 0f);
      for (int i = P * D; i < (P + V) * D; i++) {
        float x = in.embeds()[i];
        assertEquals(x, Float.intBitsToFloat(Float.floatToIntBits(x) & 0xffff0000), 0f, "image value on the bf16 grid");
      }
    }
  }

  @Test
  void imagesOfOneBatchAreEachPreparedWithTheirOwnCount() throws Exception {
    try (LlavaPipeline p = LlavaPipeline.open(f32)) {
      Path a = png("a.png", 20, 90, 1), b = png("b.png", 80, 80, 2);
      var ins = p.prepare(java.util.List.of(a, b), "Which?");
      assertEquals(processorCount(20, 90), ins.get(0).spans().visual());
      assertEquals(processorCount(80, 80), ins.get(1).spans().visual());
      assertArrayEquals(p.prepare(b, "Which?").embeds(), ins.get(1).embeds());
    }
  }

  /** The README's LLaVA-NeXT block: the image first, so its count is known before the tower runs. */
  @Test
  void theReadmeBlockRuns() throws Exception {
    Path folder = f32, file = png("readme.png", 48, 64, 9);
    int[] counts = new int[2];
    // README llava-next: begin
    try (LlavaPipeline llava = LlavaPipeline.open(folder)) {   // e.g. Path.of("llava-v1.6-vicuna-7b-hf")
      LlavaImage image = llava.image(file);                    // base view + tiles; [1 + tiles, 3, 336, 336]
      Prompt prompt = llava.prompt("What is shown in this image?", image); // <image> -> image.visualTokens()
      LlavaInput in = llava.encode(prompt, image);             // tower on every view, packed with image_newline
      counts[0] = image.visualTokens();                        // 2340 for a 640 x 480 photo on llava-v1.6
      counts[1] = (int) in.spans().visual();
    }
    // README llava-next: end
    assertEquals(processorCount(48, 64), counts[0]);
    assertEquals(counts[0], counts[1]);
    io.fitprune.testutil.ReadmeBlocks.requireShown("src/test/java/io/fitprune/llava/LlavaNextPipelineTest.java",
        README_BEGIN, README_END);
  }

  @Test
  void thePromptExpandsItsImageToTheCountGivenPerCall() throws Exception {
    try (var tok = ModelFolder.open(f32).tokenizer()) {
      var one = tok.chat("Count?", true, 1);
      for (int count : new int[] {1, 2, 17, 300}) {
        var p = tok.chat("Count?", true, count);
        assertEquals(count, p.visual());
        assertEquals(one.prefix(), p.prefix());
        assertEquals(one.text(), p.text());
        long[] ids = p.ids();
        for (int i = 0; i < ids.length; i++)
          assertEquals(i >= p.prefix() && i < p.prefix() + count, ids[i] == 480, "id " + i + " of " + count);
        assertArrayEquals(Arrays.copyOfRange(one.ids(), one.prefix() + 1, one.length()),
            Arrays.copyOfRange(ids, p.prefix() + count, ids.length));
      }
      assertEquals(0, tok.encode("no image here", 0, 0).visual());
      assertThrows(IllegalArgumentException.class, () -> tok.chat("Count?", true, 0));
      String m = assertThrows(IllegalArgumentException.class, () -> tok.encode("no marker", 1, 5)).getMessage();
      assertTrue(m.contains("<image>"), m);
    }
  }

  @Test
  void badInputIsAOneLineErrorBeforeTheTowerRuns() throws Exception {
    try (LlavaPipeline p = LlavaPipeline.open(f32)) {
      Path img = png("ok.png", 30, 40, 3);
      String m = assertThrows(IllegalArgumentException.class, () -> p.prepare(img, "<image> what?")).getMessage();
      assertTrue(m.startsWith("question:") && m.contains("<image>"), m);
      Path bad = dir.resolve("bad.png");
      byte[] good = Files.readAllBytes(img);
      Files.write(bad, Arrays.copyOf(good, good.length / 2));
      ImageFileException e = assertThrows(ImageFileException.class, () -> p.prepare(bad, "What?"));
      assertTrue(e.getMessage().contains(bad.toString()) && !e.getMessage().contains("\n"), e.getMessage());
      assertThrows(IllegalStateException.class, () -> p.prompt("What?"), "a LLaVA-NeXT prompt needs its image");
      LlavaImage im = p.image(img);
      var wrong = p.tokenizer().chat("What?", true, im.visualTokens() + 1);
      m = assertThrows(IllegalArgumentException.class, () -> p.encode(wrong, im)).getMessage();
      assertTrue(m.contains("image tokens"), m);
    }
  }
}
