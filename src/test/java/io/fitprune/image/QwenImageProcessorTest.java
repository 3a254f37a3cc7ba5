package io.fitprune.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.testutil.ReadmeBlocks;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Qwen2VLImageProcessor (PIL backend) as transformers' source has it (commit 9feaf6f1,
 * image_processing_pil_qwen2_vl.py and image_processing_qwen2_vl.py): smart_resize, the PIL resize
 * on uint8, rescale and normalize, the image repeated to temporal_patch_size, the 9-axis reshape and
 * transpose. The expected patches are computed here by the source's index arithmetic, independently
 * of the processor's loops, and the transpose is checked once more against libtorch's permute.
 */
class QwenImageProcessorTest {
  // Markers of the README block below; declared first, so the block is the last occurrence.
  private static final String README_BEGIN = "// README qwen: begin", README_END = "// README qwen: end";

  @TempDir Path dir;
  final Random rnd = new Random(11);

  static QwenImageProcessor processor(String json) {
    return QwenImageProcessor.fromConfig(
        QwenPreprocessorConfig.parse(json.getBytes(StandardCharsets.UTF_8), "preprocessor_config.json"));
  }

  /**
   * pixel_values[row][col] by the source's reshape {@code (t, T, C, gh/M, M, P, gw/M, M, P)}, transpose
   * {@code (0, 3, 6, 4, 7, 2, 1, 5, 8)} and flatten: the row's digits are (t, bh, bw, mh, mw), the
   * column's (c, tt, py, px); every frame tt is the same image. {@code img[c][y][x]} is the normalized image.
   */
  static double[][] reference(double[][][] img, int patch, int temporal, int merge) {
    int h = img[0].length, w = img[0][0].length, gh = h / patch, gw = w / patch;
    int rows = gh * gw, cols = 3 * temporal * patch * patch;
    double[][] out = new double[rows][cols];
    for (int row = 0; row < rows; row++) {
      int mw = row % merge, mh = row / merge % merge, bw = row / (merge * merge) % (gw / merge);
      int bh = row / (merge * merge * (gw / merge));
      for (int col = 0; col < cols; col++) {
        int px = col % patch, py = col / patch % patch, c = col / (patch * patch * temporal);
        out[row][col] = img[c][(bh * merge + mh) * patch + py][(bw * merge + mw) * patch + px];
      }
    }
    return out;
  }

  /** The resized 8-bit image rescaled and normalized in float64: (v / 255 - mean) / std, channels first. */
  static double[][][] normalized64(RgbImage im, double scale, double[] mean, double[] std) {
    double[][][] out = new double[3][im.height()][im.width()];
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < im.height(); y++)
        for (int x = 0; x < im.width(); x++) out[c][y][x] = (im.get(x, y, c) * scale - mean[c]) / std[c];
    return out;
  }

  /** The whole processor against the reference, for a config and an image size. */
  void checkAgainstReference(String json, int width, int height) throws IOException {
    QwenImageProcessor proc = processor(json);
    QwenPreprocessorConfig cfg = proc.config();
    RgbImage src = ResamplerTest.random(rnd, width, height);
    Path file = TestImages.png(dir, "img-" + width + "x" + height + ".png", TestImages.toBuffered(src));
    QwenPixels px = proc.process(file);

    int[] hw = cfg.doResize() ? SmartResize.of(height, width, cfg.factor(), cfg.minPixels(), cfg.maxPixels())
        : new int[] {height, width};
    assertEquals(hw[0], px.resizedHeight());
    assertEquals(hw[1], px.resizedWidth());
    assertEquals(height, px.imageHeight());
    assertEquals(width, px.imageWidth());
    int p = cfg.patchSize(), m = cfg.mergeSize(), t = cfg.temporalPatchSize();
    assertArrayEquals(new long[] {1, hw[0] / p, hw[1] / p}, px.gridThw());
    assertArrayEquals(new long[] {(long) (hw[0] / p) * (hw[1] / p), 3L * t * p * p}, px.shape());
    assertEquals(px.patches() / (m * m), px.imageTokens());
    assertEquals(px.imageTokens(), proc.imageTokens(height, width));

    // PIL's resize: our port (bit-exact by ResamplerTest) within one level of the float64 model
    RgbImage resized = Resampler.resize(src, hw[1], hw[0], cfg.resample());
    int[] model = ResizeReference.resize(ResamplerTest.ints(src), width, height, hw[1], hw[0], cfg.resample());
    for (int i = 0; i < model.length; i++) assertTrue(Math.abs(model[i] - (resized.rgb()[i] & 0xFF)) <= 1);

    double[] mean = cfg.imageMean(), std = cfg.imageStd();
    double[][] ref = reference(normalized64(resized, cfg.rescaleFactor(), mean, std), p, t, m);
    float[] got = px.pixelValues();
    int cols = 3 * t * p * p;
    for (int r = 0; r < ref.length; r++)
      for (int col = 0; col < cols; col++) {
        double want = ref[r][col];
        float g = got[r * cols + col];
        // float32 rounding of the rescale, of the mean and std, and of the subtraction and division
        double bound = 4 * Math.ulp((float) Math.max(Math.abs(want), 1 / std[col / (p * p * t)]));
        assertTrue(Math.abs(g - want) <= bound, "row " + r + " col " + col + ": " + g + " vs " + want);
        // and exactly the source's float32 steps on the pixel found through the reference's indices
        int c = col / (p * p * t);
        float x = (float) (Math.rint((want * std[c] + mean[c]) / cfg.rescaleFactor()) * cfg.rescaleFactor());
        assertEquals((x - (float) mean[c]) / (float) std[c], g);
      }
  }

  @Test
  void qwen2vlDefaultsOnAnOddSizedPhoto() throws IOException {
    // 75 x 131 rounds to 84 x 140 (3 x 5 merged cells): 6 x 10 patches of 14, 588 values each
    checkAgainstReference(QwenPreprocessorConfigTest.QWEN2_VL_7B, 131, 75);
  }

  @Test
  void oddPatchMergeAndTemporalSizes() throws IOException {
    // patch 3, merge 2, temporal 3; 61 x 97 shrinks to 30 x 54 (see SmartResizeTest): a 10 x 18 grid
    checkAgainstReference("{\"patch_size\": 3, \"merge_size\": 2, \"temporal_patch_size\": 3,"
        + " \"min_pixels\": 300, \"max_pixels\": 2000}", 97, 61);
    // merge 3, temporal 1, bilinear, a tiny image scaled up: 4 x 2 -> factor 15
    checkAgainstReference("{\"patch_size\": 5, \"merge_size\": 3, \"temporal_patch_size\": 1, \"resample\": 2,"
        + " \"min_pixels\": 500, \"max_pixels\": 5000}", 2, 4);
    // n = 1: one merged cell of one patch, a 1 x 1 image scaled up to 4 x 4
    checkAgainstReference("{\"patch_size\": 4, \"merge_size\": 1, \"min_pixels\": 16, \"max_pixels\": 16}", 1, 1);
  }

  @Test
  void withoutResizeWholeWindowsPassUnchanged() throws IOException {
    checkAgainstReference("{\"do_resize\": false, \"patch_size\": 2, \"merge_size\": 2, \"min_pixels\": 4,"
        + " \"max_pixels\": 400}", 12, 8);
  }

  /** The transpose once more, by libtorch: reshape the (T, C, H, W) frames to 9 axes and permute. */
  @Test
  void patchOrderIsTorchsPermute() {
    int p = 3, m = 2, t = 2, h = 12, w = 18;
    QwenImageProcessor proc = processor("{\"patch_size\": 3, \"merge_size\": 2, \"temporal_patch_size\": 2,"
        + " \"do_resize\": false, \"do_normalize\": false, \"do_rescale\": false, \"min_pixels\": 4, \"max_pixels\": 1000}");
    RgbImage im = ResamplerTest.random(rnd, w, h);
    float[] frames = new float[t * 3 * h * w];
    for (int f = 0; f < t; f++)
      for (int c = 0; c < 3; c++)
        for (int y = 0; y < h; y++)
          for (int x = 0; x < w; x++) frames[((f * 3 + c) * h + y) * w + x] = im.get(x, y, c);
    Tensor patches = torch.from_blob(new FloatPointer(frames), 1, t, 3, h / p / m, m, p, w / p / m, m, p)
        .permute(0, 3, 6, 4, 7, 2, 1, 5, 8).reshape((h / p) * (w / p), 3L * t * p * p).contiguous();
    float[] want = new float[(int) patches.numel()];
    patches.data_ptr_float().get(want);
    assertArrayEquals(want, proc.processImage(im).pixelValues());
  }

  @Test
  void withoutResizeBadSizesAreOneLineErrorsNamingFileAndValue() throws IOException {
    QwenImageProcessor proc = processor("{\"do_resize\": false, \"max_pixels\": 5000}");
    String[][] cases = {
        {"20", "30", "is smaller than one merged patch of 28 x 28"},
        {"56", "112", "has 6272 pixels, more than max_pixels 5000"},
        {"42", "50", "not a whole number of patches of 14"},
        {"42", "70", "grid 3 x 5 (height x width in patches) does not divide by merge_size 2"}};
    for (String[] c : cases) {
      int h = Integer.parseInt(c[0]), w = Integer.parseInt(c[1]);
      Path f = TestImages.png(dir, "bad-" + h + "x" + w + ".png", TestImages.toBuffered(ResamplerTest.random(rnd, w, h)));
      ImageFileException e = assertThrows(ImageFileException.class, () -> proc.process(f));
      assertTrue(e.getMessage().startsWith(f + ": ") && e.getMessage().contains(c[2]), e.getMessage());
      assertTrue(e.getMessage().contains(h + " x ") || e.getMessage().contains("grid"), e.getMessage());
      assertFalse(e.getMessage().contains("\n"));
    }
  }

  @Test
  void extremeAspectRatiosAndLimitsAreRefusedNamingTheFile() throws IOException {
    QwenImageProcessor proc = processor(QwenPreprocessorConfigTest.QWEN2_VL_7B);
    Path strip = TestImages.png(dir, "strip.png", TestImages.toBuffered(ResamplerTest.random(rnd, 402, 2)));
    ImageFileException e = assertThrows(ImageFileException.class, () -> proc.process(strip));
    assertTrue(e.getMessage().startsWith(strip + ": ") && e.getMessage().contains("201.0"), e.getMessage());
    // the decoder's pixel limit applies to the resized image too
    Path small = TestImages.png(dir, "small.png", TestImages.toBuffered(ResamplerTest.random(rnd, 40, 30)));
    ImageFileException limit = assertThrows(ImageFileException.class, () -> proc.withMaxPixels(2000).process(small));
    assertTrue(limit.getMessage().contains("more than the limit of 2000 pixels"), limit.getMessage());
    assertThrows(IllegalArgumentException.class, () -> proc.processImage(null));
  }

  @Test
  void grayFilesNeedConvertRgb() throws IOException {
    java.awt.image.BufferedImage g = new java.awt.image.BufferedImage(30, 30, java.awt.image.BufferedImage.TYPE_BYTE_GRAY);
    Path f = TestImages.png(dir, "gray.png", g);
    assertEquals(4, processor("{}").process(f).imageTokens()); // 28 x 28 rounds, under min_pixels: 56 x 56
    ImageFileException e = assertThrows(ImageFileException.class, () -> processor("{\"do_convert_rgb\": false}").process(f));
    assertTrue(e.getMessage().contains("do_convert_rgb"), e.getMessage());
  }

  @Test
  void tokenCountsWithoutPixels() {
    QwenImageProcessor proc = processor(QwenPreprocessorConfigTest.QWEN2_VL_7B);
    // on multiples of 28 and within max_pixels: 104 x 184 patches of 14, 52 x 92 merged tokens
    assertEquals(52 * 92, proc.imageTokens(1456, 2576));
    assertArrayEquals(new int[] {840, 1148}, processor("{}").resizedSize(3000, 4000));
  }

  /** The README's example, run: its block between the markers is what README.md shows. */
  @Test
  void readmeExample() throws IOException {
    Path model = Files.createDirectories(dir.resolve("Qwen2-VL-7B-Instruct"));
    Files.writeString(model.resolve("preprocessor_config.json"), QwenPreprocessorConfigTest.QWEN2_VL_7B);
    Path cat = TestImages.png(dir, "cat.png", TestImages.toBuffered(ResamplerTest.random(rnd, 640, 480)));
    // README qwen: begin
    QwenImageProcessor qwen = QwenImageProcessor.fromFile(model.resolve("preprocessor_config.json"));
    QwenPixels px = qwen.process(cat);   // a 640 x 480 photo: 476 x 644 pixels, 34 x 46 patches of 14
    float[] pixelValues = px.pixelValues(); // float32 [1564, 1176]: 3 channels x 2 frames x 14 x 14 a patch
    long[] gridThw = px.gridThw();         // image_grid_thw's entry: {1, 34, 46}
    int tokens = px.imageTokens();         // 391 <|image_pad|> tokens (34 * 46 / 2^2)
    // README qwen: end
    assertEquals(1564L * 1176, pixelValues.length);
    assertArrayEquals(new long[] {1, 34, 46}, gridThw);
    assertEquals(391, tokens);
    assertEquals(476, px.resizedHeight());
    ReadmeBlocks.requireShown("src/test/java/io/fitprune/image/QwenImageProcessorTest.java", README_BEGIN, README_END);
  }
}
