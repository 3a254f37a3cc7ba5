package io.fitprune.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.testutil.ReadmeBlocks;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageProcessorTest {
  // Markers of the README block below; declared first, so the block is the last occurrence.
  private static final String README_BEGIN = "// README images: begin", README_END = "// README images: end";

  @TempDir Path dir;
  final Random rnd = new Random(7);

  /** llava-hf/llava-1.5-7b-hf's preprocessor_config.json. */
  static final String LLAVA_15 = """
      {"crop_size": {"height": 336, "width": 336}, "do_center_crop": true, "do_convert_rgb": true,
       "do_normalize": true, "do_rescale": true, "do_resize": true,
       "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "CLIPImageProcessor",
       "image_std": [0.26862954, 0.26130258, 0.27577711], "processor_class": "LlavaProcessor",
       "resample": 3, "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 336}}""";

  static ImageProcessor processor(String json) {
    return ImageProcessor.fromConfig(PreprocessorConfig.parse(json.getBytes(StandardCharsets.UTF_8), "test.json"));
  }

  /** transformers' rescale then normalize, step by step: float64 product rounded to float32, then float32 arithmetic. */
  static float expected(int pixel, double rescale, double mean, double std) {
    float x = (float) (pixel * rescale);
    return (x - (float) mean) / (float) std;
  }

  @Test
  void resizeTargetFollowsGetResizeOutputImageSize() {
    ImageProcessor p = processor(LLAVA_15);
    assertArrayEquals(new int[] {448, 336}, p.resizeTarget(640, 480)); // int(336 * 640 / 480) = 448
    assertArrayEquals(new int[] {336, 597}, p.resizeTarget(1000, 1777)); // int(597.072)
    assertArrayEquals(new int[] {336, 336}, p.resizeTarget(17, 17));
    assertArrayEquals(new int[] {336 * 3, 336}, p.resizeTarget(3, 1)); // upscaling a 1-pixel-high image
    assertArrayEquals(new int[] {336, 336}, p.resizeTarget(336, 336));
    // {height, width} resizes to exactly that size
    assertArrayEquals(new int[] {30, 20}, processor("{\"size\": {\"height\": 20, \"width\": 30}}").resizeTarget(7, 9));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.resizeTarget(1, 65_535));
    assertTrue(e.getMessage().contains("1 x 65535"), e.getMessage());
  }

  /** The whole pipeline on a PNG, against its stages: resize, crop offsets, rescale and normalize. */
  @Test
  void processIsResizeThenCenterCropThenRescaleAndNormalize() throws IOException {
    ImageProcessor p = processor(LLAVA_15);
    RgbImage src = ResamplerTest.random(rnd, 403, 301);
    Path file = TestImages.png(dir, "photo.png", TestImages.toBuffered(src));
    PixelValues pv = p.process(file);
    assertArrayEquals(new long[] {1, 3, 336, 336}, pv.shape());
    int[] wh = p.resizeTarget(403, 301); // 449 x 336
    assertArrayEquals(new int[] {449, 336}, wh);
    int[] resized = ResizeReference.resize(ResamplerTest.ints(src), 403, 301, 449, 336, Resampling.BICUBIC);
    int left = (449 - 336) / 2; // 56
    double[] mean = {0.48145466, 0.4578275, 0.40821073}, std = {0.26862954, 0.26130258, 0.27577711};
    RgbImage exact = Resampler.resize(src, 449, 336, Resampling.BICUBIC);
    int off = 0;
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < 336; y++)
        for (int x = 0; x < 336; x++) {
          int ref = resized[(y * 449 + x + left) * 3 + c];
          int got = exact.get(x + left, y, c);
          assertTrue(Math.abs(ref - got) <= 1);
          if (ref != got) off++;
          assertEquals(expected(got, 0.00392156862745098, mean[c], std[c]), pv.get(0, c, y, x));
        }
    assertTrue(off < 336 * 336 * 3 / 200, off + " resized values off the float64 model by one");
  }

  @Test
  void anImageAlreadyAtTheTargetSizePassesThroughUnchanged() throws IOException {
    ImageProcessor p = processor(LLAVA_15);
    RgbImage src = ResamplerTest.random(rnd, 336, 336);
    assertArrayEquals(src.rgb(), p.prepare(src).rgb());
    PixelValues pv = p.process(TestImages.png(dir, "square.png", TestImages.toBuffered(src)));
    double[] mean = {0.48145466, 0.4578275, 0.40821073}, std = {0.26862954, 0.26130258, 0.27577711};
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < 336; y += 5)
        for (int x = 0; x < 336; x += 3)
          assertEquals(expected(src.get(x, y, c), 0.00392156862745098, mean[c], std[c]), pv.get(0, c, y, x));
  }

  /** The normalised value against float64: within the rounding of the float32 steps (a few ulps). */
  @Test
  void normalisationIsWithinFloat32RoundingOfFloat64() {
    ImageProcessor p = processor(LLAVA_15);
    RgbImage one = new RgbImage(336, 336, new byte[336 * 336 * 3]);
    for (int i = 0; i < one.rgb().length; i++) one.rgb()[i] = (byte) (i * 7 + i / 1000);
    PixelValues pv = p.processImages(List.of(one));
    double[] mean = {0.48145466, 0.4578275, 0.40821073}, std = {0.26862954, 0.26130258, 0.27577711};
    for (int c = 0; c < 3; c++)
      for (int y = 0; y < 336; y++)
        for (int x = 0; x < 336; x++) {
          double exact = (one.get(x, y, c) / 255.0 - mean[c]) / std[c];
          float got = pv.get(0, c, y, x);
          assertTrue(Math.abs(got - exact) <= 4 * Math.ulp((float) Math.max(Math.abs(exact), 1.0)), got + " vs " + exact);
        }
  }

  @Test
  void centerCropPadsSmallImagesWithZerosAndUsesFloorOffsets() {
    ImageProcessor p = processor("{\"do_resize\": false, \"crop_size\": {\"height\": 6, \"width\": 4},"
        + " \"do_rescale\": false, \"do_normalize\": false}");
    for (int[] wh : new int[][] {{9, 11}, {3, 2}, {8, 3}, {1, 1}, {4, 6}, {5, 13}}) {
      RgbImage src = ResamplerTest.random(rnd, wh[0], wh[1]);
      RgbImage out = p.prepare(src);
      assertEquals(4, out.width());
      assertEquals(6, out.height());
      // numpy semantics: place the image on a zero canvas of max(size, crop) with ceil padding, then slice
      int cw = Math.max(4, wh[0]), ch = Math.max(6, wh[1]);
      int padL = (int) Math.ceil((cw - wh[0]) / 2.0), padT = (int) Math.ceil((ch - wh[1]) / 2.0);
      int left = Math.floorDiv(wh[0] - 4, 2) + padL, top = Math.floorDiv(wh[1] - 6, 2) + padT;
      for (int y = 0; y < 6; y++)
        for (int x = 0; x < 4; x++)
          for (int c = 0; c < 3; c++) {
            int sx = x + left - padL, sy = y + top - padT;
            int want = sx >= 0 && sx < wh[0] && sy >= 0 && sy < wh[1] ? src.get(sx, sy, c) : 0;
            assertEquals(want, out.get(x, y, c), java.util.Arrays.toString(wh) + " at " + x + "," + y);
          }
    }
    PixelValues raw = p.processImages(List.of(ResamplerTest.random(rnd, 2, 2)));
    assertEquals(0f, raw.get(0, 0, 0, 0)); // padding stays 0 without rescale or normalize
  }

  @Test
  void padToSquareFillsWithTheTruncatedMeanAndCentres() {
    PreprocessorConfig cfg = PreprocessorConfig.parse(LLAVA_15.getBytes(StandardCharsets.UTF_8), "t")
        .withPad(true);
    ImageProcessor p = ImageProcessor.fromConfig(new PreprocessorConfig(false, 336, 0, 0, cfg.resample(), false, 1, 1,
        false, 1, false, cfg.imageMean(), cfg.imageStd(), true, true));
    RgbImage wide = ResamplerTest.random(rnd, 7, 4);
    RgbImage sq = p.prepare(wide);
    assertEquals(7, sq.width());
    assertEquals(7, sq.height());
    int[] fill = {122, 116, 104}; // int(0.48145466 * 255), int(0.4578275 * 255), int(0.40821073 * 255)
    for (int y = 0; y < 7; y++)
      for (int x = 0; x < 7; x++)
        for (int c = 0; c < 3; c++) {
          int sy = y - (7 - 4) / 2;
          int want = sy >= 0 && sy < 4 ? wide.get(x, sy, c) : fill[c];
          assertEquals(want, sq.get(x, y, c));
        }
    RgbImage tall = ResamplerTest.random(rnd, 2, 5);
    RgbImage sq2 = p.prepare(tall);
    assertEquals(tall.get(0, 3, 1), sq2.get(1, 3, 1)); // pasted at column (5 - 2) // 2 = 1
    assertEquals(fill[2], sq2.get(0, 0, 2));
    // the full LLaVA-1.5 "pad" pipeline: pad, then resize the square to 336, crop nothing
    ImageProcessor full = ImageProcessor.fromConfig(cfg);
    PixelValues pv = full.processImages(List.of(ResamplerTest.random(rnd, 40, 4)));
    assertArrayEquals(new long[] {1, 3, 336, 336}, pv.shape());
    float corner = pv.get(0, 0, 0, 0); // 18 rows of fill above the image: the fill colour, normalised
    assertEquals(expected(122, 0.00392156862745098, 0.48145466, 0.26862954), corner);
  }

  @Test
  void batchesStackImagesOfDifferentSources() throws IOException {
    ImageProcessor p = processor(LLAVA_15);
    Path a = TestImages.png(dir, "a.png", TestImages.toBuffered(ResamplerTest.random(rnd, 500, 300)));
    Path b = TestImages.jpeg(dir, "b.jpg", TestImages.toBuffered(ResamplerTest.random(rnd, 200, 401)), 0.9f);
    PixelValues both = p.process(List.of(a, b));
    assertArrayEquals(new long[] {2, 3, 336, 336}, both.shape());
    PixelValues first = p.process(a);
    for (int i = 0; i < first.data().length; i++) assertEquals(first.data()[i], both.data()[i]);
    assertThrows(IllegalArgumentException.class, () -> p.process(List.of()));
    ImageProcessor noCrop = processor("{\"do_center_crop\": false}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> noCrop.process(List.of(a, b)));
    assertTrue(e.getMessage().contains("same size"), e.getMessage());
  }

  @Test
  void grayFilesNeedConvertRgb() throws IOException {
    java.awt.image.BufferedImage g = new java.awt.image.BufferedImage(5, 5, java.awt.image.BufferedImage.TYPE_BYTE_GRAY);
    Path file = TestImages.png(dir, "gray.png", g);
    assertArrayEquals(new long[] {1, 3, 336, 336}, processor(LLAVA_15).process(file).shape());
    ImageProcessor strict = processor("{\"do_convert_rgb\": false}");
    ImageFileException e = assertThrows(ImageFileException.class, () -> strict.process(file));
    assertTrue(e.getMessage().startsWith(file + ": is a L image"), e.getMessage());
  }

  /** A thin strip whose resize (or padding) would pass the limits: one line naming the file, nothing allocated. */
  @Test
  void resizesAndPadsBeyondTheLimitsAreRefusedNamingTheFile() throws IOException {
    Path strip = TestImages.png(dir, "strip.png", TestImages.toBuffered(ResamplerTest.random(rnd, 1, 250)));
    ImageFileException e = assertThrows(ImageFileException.class, () -> processor(LLAVA_15).process(strip));
    assertTrue(e.getMessage().startsWith(strip + ": resizing 1 x 250 to shortest edge 336 gives a side of 84000"),
        e.getMessage());
    ImageProcessor padding = ImageProcessor.fromConfig(PreprocessorConfig.defaults().withPad(true)).withMaxPixels(60_000);
    ImageFileException p = assertThrows(ImageFileException.class, () -> padding.process(strip));
    assertTrue(p.getMessage().startsWith(strip + ": padding 1 x 250 to a square of 250 x 250"), p.getMessage());
    IllegalArgumentException q = assertThrows(IllegalArgumentException.class,
        () -> padding.processImages(List.of(ResamplerTest.random(rnd, 2, 2), ResamplerTest.random(rnd, 250, 1))));
    assertTrue(q.getMessage().startsWith("images[1]: padding 250 x 1"), q.getMessage());
  }

  @Test
  void hugeConfiguredSizesAreRefusedBeforeAllocating() {
    RgbImage small = ResamplerTest.random(rnd, 3, 3);
    IllegalArgumentException r = assertThrows(IllegalArgumentException.class,
        () -> processor("{\"size\": {\"height\": 65535, \"width\": 65535}}").prepare(small));
    assertTrue(r.getMessage().contains("65535 x 65535"), r.getMessage());
    IllegalArgumentException c = assertThrows(IllegalArgumentException.class,
        () -> processor("{\"do_resize\": false, \"crop_size\": 60000}").prepare(small));
    assertTrue(c.getMessage().contains("crop_size 60000 x 60000"), c.getMessage());
    IllegalArgumentException d = assertThrows(IllegalArgumentException.class,
        () -> Resampler.resize(ResamplerTest.random(rnd, 1, 40_000), 60_000, 40_000, Resampling.BICUBIC));
    assertTrue(d.getMessage().contains("60000 x 40000"), d.getMessage());
  }

  /** The README's example, run: its block between the markers is what README.md shows. */
  @Test
  void readmeExample() throws IOException {
    Path model = Files.createDirectories(dir.resolve("llava-1.5-7b-hf"));
    Files.writeString(model.resolve("preprocessor_config.json"), LLAVA_15);
    Path cat = TestImages.jpeg(dir, "cat.jpg", TestImages.toBuffered(ResamplerTest.random(rnd, 640, 480)), 0.9f);
    Path chart = TestImages.png(dir, "chart.png", TestImages.toBuffered(ResamplerTest.random(rnd, 300, 500)));
    // README images: begin
    ImageProcessor proc = ImageProcessor.fromFile(model.resolve("preprocessor_config.json"));
    PixelValues px = proc.process(List.of(cat, chart)); // float32 [2, 3, 336, 336], planar RGB
    RgbImage rgb = ImageProcessor.loadRgb(cat);         // 8-bit RGB, height x width x 3
    // README images: end
    assertArrayEquals(new long[] {2, 3, 336, 336}, px.shape());
    assertEquals(640, rgb.width());
    assertEquals(480, rgb.height());
    ReadmeBlocks.requireShown("src/test/java/io/fitprune/image/ImageProcessorTest.java", README_BEGIN, README_END);
  }

  @Test
  void fromFileReadsTheConfig() throws IOException {
    Path cfg = dir.resolve("preprocessor_config.json");
    Files.writeString(cfg, LLAVA_15);
    ImageProcessor p = ImageProcessor.fromFile(cfg);
    assertEquals(336, p.config().shortestEdge());
    assertEquals(336, p.config().cropHeight());
  }
}
