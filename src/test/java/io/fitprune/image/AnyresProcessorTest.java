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

class AnyresProcessorTest {
  private static final String README_BEGIN = "// README anyres: begin", README_END = "// README anyres: end";

  @TempDir Path dir;
  final Random rnd = new Random(23);

  /** llava-hf/llava-v1.6-mistral-7b-hf's preprocessor_config.json. */
  static final String V16 = """
      {"aspect_ratio_setting": "anyres", "crop_size": {"height": 336, "width": 336}, "do_center_crop": true,
       "do_convert_rgb": true, "do_normalize": true, "do_rescale": true, "do_resize": true,
       "image_grid_pinpoints": [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]],
       "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "LlavaNextImageProcessor",
       "image_std": [0.26862954, 0.26130258, 0.27577711], "processor_class": "LlavaNextProcessor",
       "resample": 3, "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 336}}""";

  /** The same shape at 32-pixel tiles, so the tests run many images quickly. */
  static final String SMALL = V16.replace("336", "32").replace("672", "64").replace("1008", "96");

  static PreprocessorConfig config(String json) {
    return PreprocessorConfig.parse(json.getBytes(StandardCharsets.UTF_8), "test.json");
  }

  /**
   * The 8-bit views by the source's steps, written out pixel by pixel: the best pinpoint and fitted
   * size from their formulas (AnyresGeometryTest's references), PIL's resize (Resampler, tested on
   * its own), a zero canvas of the pinpoint with the image pasted at divmod's offsets, tiles read off
   * the canvas row by row, and the whole image squeezed to S x S.
   */
  static List<RgbImage> referenceViews(RgbImage im, PreprocessorConfig c) {
    int[][] pins = c.gridPinpoints();
    int[] best = AnyresGeometryTest.referenceBest(im.height(), im.width(), pins);
    int[] fit = AnyresGeometryTest.referenceFit(im.height(), im.width(), best[0], best[1]);
    RgbImage r = Resampler.resize(im, fit[1], fit[0], c.resample());
    int top = (best[0] - fit[0]) / 2, left = (best[1] - fit[1]) / 2;
    int[][][] canvas = new int[best[0]][best[1]][3];
    for (int y = 0; y < fit[0]; y++)
      for (int x = 0; x < fit[1]; x++)
        for (int ch = 0; ch < 3; ch++) canvas[top + y][left + x][ch] = r.get(x, y, ch);
    int t = c.cropHeight();
    List<RgbImage> views = new java.util.ArrayList<>();
    int s = c.shortestEdge();
    views.add(Resampler.resize(im, s, s, c.resample()));
    for (int ty = 0; ty < best[0] / t; ty++)
      for (int tx = 0; tx < best[1] / t; tx++) {
        byte[] b = new byte[t * t * 3];
        for (int y = 0; y < t; y++)
          for (int x = 0; x < t; x++)
            for (int ch = 0; ch < 3; ch++) b[(y * t + x) * 3 + ch] = (byte) canvas[ty * t + y][tx * t + x][ch];
        views.add(new RgbImage(t, t, b));
      }
    return views;
  }

  /** Every value of {@code px} image {@code n} against the rescale-then-normalize of {@code view}'s pixels. */
  static void assertNormalized(RgbImage view, PixelValues px, int n, PreprocessorConfig c) {
    double[] mean = c.imageMean(), std = c.imageStd();
    for (int ch = 0; ch < 3; ch++)
      for (int y = 0; y < view.height(); y++)
        for (int x = 0; x < view.width(); x++) {
          float want = ImageProcessorTest.expected(view.get(x, y, ch), c.rescaleFactor(), mean[ch], std[ch]);
          if (Float.floatToIntBits(want) != Float.floatToIntBits(px.get(n, ch, y, x)))
            throw new AssertionError("image " + n + " channel " + ch + " at (" + x + ", " + y + "): want " + want
                + ", got " + px.get(n, ch, y, x));
        }
  }

  @Test
  void viewsFollowTheSourceOnRandomOddSizes() {
    PreprocessorConfig c = config(SMALL);
    AnyresProcessor p = AnyresProcessor.fromConfig(c);
    int[][] sizes = {{1, 1}, {1, 2}, {2, 1}, {3, 5}, {31, 33}, {33, 31}, {47, 95}, {95, 47}, {64, 32}, {32, 64},
        {150, 9}, {9, 150}, {1, 400}, {400, 1}, {77, 77}, {200, 130}};
    for (int[] hw : sizes) {
      RgbImage im = ResamplerTest.random(rnd, hw[1], hw[0]);
      List<RgbImage> want = referenceViews(im, c);
      List<RgbImage> got = p.views(im);
      assertEquals(want.size(), got.size(), hw[0] + " x " + hw[1]);
      for (int i = 0; i < want.size(); i++)
        assertArrayEquals(want.get(i).rgb(), got.get(i).rgb(), hw[0] + " x " + hw[1] + " view " + i);
      AnyresPixels px = p.processImage(im);
      assertArrayEquals(new long[] {want.size(), 3, 32, 32}, px.pixelValues().shape());
      assertEquals(hw[0], px.imageHeight());
      assertEquals(hw[1], px.imageWidth());
      assertArrayEquals(new long[] {hw[0], hw[1]}, px.imageSize());
      assertEquals(1 + px.gridRows() * px.gridCols(), px.pixelValues().images());
      for (int i = 0; i < want.size(); i++) assertNormalized(want.get(i), px.pixelValues(), i, c);
    }
  }

  @Test
  void llavaV16ImageAtAPinpointIsCutWithoutResampling() {
    PreprocessorConfig c = config(V16);
    RgbImage im = ResamplerTest.random(rnd, 672, 336); // 336 high, 672 wide: exactly [336, 672]
    AnyresPixels px = AnyresProcessor.fromConfig(c).processImage(im);
    assertEquals(336, px.bestHeight());
    assertEquals(672, px.bestWidth());
    assertArrayEquals(new long[] {3, 3, 336, 336}, px.pixelValues().shape());
    // tile 0 is the left half, tile 1 the right half, pixel for pixel
    for (int tile = 0; tile < 2; tile++) {
      byte[] b = new byte[336 * 336 * 3];
      for (int y = 0; y < 336; y++) System.arraycopy(im.rgb(), (y * 672 + tile * 336) * 3, b, y * 336 * 3, 336 * 3);
      assertNormalized(new RgbImage(336, 336, b), px.pixelValues(), 1 + tile, c);
    }
    assertNormalized(Resampler.resize(im, 336, 336, Resampling.BICUBIC), px.pixelValues(), 0, c);
  }

  @Test
  void llavaV16WideImagePadsWithBlackAndTilesRowMajor() {
    PreprocessorConfig c = config(V16);
    RgbImage im = ResamplerTest.random(rnd, 901, 389); // 389 x 901 fits [336, 1008] best, as 336 x 779
    AnyresPixels px = AnyresProcessor.fromConfig(c).processImage(im);
    int[] best = AnyresGeometryTest.referenceBest(389, 901, c.gridPinpoints());
    assertArrayEquals(best, new int[] {px.bestHeight(), px.bestWidth()});
    assertEquals(best[0] / 336, px.gridRows());
    List<RgbImage> want = referenceViews(im, c);
    assertEquals(want.size(), px.pixelValues().images());
    for (int i = 0; i < want.size(); i++) assertNormalized(want.get(i), px.pixelValues(), i, c);
    assertArrayEquals(new int[] {336, 1008}, best);
    // the padding is pixel value 0, normalized: (0 - mean) / std, in the first tile's left columns (114 of them)
    float zero = ImageProcessorTest.expected(0, c.rescaleFactor(), c.imageMean()[0], c.imageStd()[0]);
    assertEquals(zero, px.pixelValues().get(1, 0, 200, 113));
  }

  @Test
  void cropAndSizeOtherThanTheTileGoThroughTheClipSteps() {
    // tiles of crop_size.height 32, resized so the shortest edge is 40, then center-cropped to 32 x 24
    String json = SMALL.replace("\"size\": {\"shortest_edge\": 32}", "\"size\": {\"shortest_edge\": 40}")
        .replace("\"crop_size\": {\"height\": 32, \"width\": 32}", "\"crop_size\": {\"height\": 32, \"width\": 24}");
    PreprocessorConfig c = config(json);
    RgbImage im = ResamplerTest.random(rnd, 71, 45);
    AnyresPixels px = AnyresProcessor.fromConfig(c).processImage(im);
    List<RgbImage> want = referenceViews(im, c);
    assertEquals(40, want.get(0).width()); // the base view is S x S before the CLIP steps
    assertArrayEquals(new long[] {want.size(), 3, 32, 24}, px.pixelValues().shape());
    for (int i = 0; i < want.size(); i++) {
      RgbImage v = want.get(i);
      int[] wh = ImageProcessor.fromConfig(c.withPad(false)).resizeTarget(v.width(), v.height());
      RgbImage prepared = PadCrop.centerCrop(Resampler.resize(v, wh[0], wh[1], c.resample()), 24, 32);
      assertNormalized(prepared, px.pixelValues(), i, c);
    }
  }

  @Test
  void extremeAspectRatiosKeepARowAndPadTheRest() {
    PreprocessorConfig c = config(V16);
    // 2 x 3000: scaled into any pinpoint its height truncates to 0, so every effective area is 0 and the
    // least waste wins, the first of the two smallest; the resize keeps ceil(2 * 0.224) = 1 row
    RgbImage im = ResamplerTest.random(rnd, 3000, 2);
    AnyresPixels px = AnyresProcessor.fromConfig(c).processImage(im);
    assertArrayEquals(new int[] {336, 672}, new int[] {px.bestHeight(), px.bestWidth()});
    assertArrayEquals(new long[] {3, 3, 336, 336}, px.pixelValues().shape());
    assertArrayEquals(new int[] {1, 672}, AnyresGeometry.fitInside(2, 3000, 336, 672));
    List<RgbImage> want = referenceViews(im, c);
    for (int i = 0; i < want.size(); i++) assertNormalized(want.get(i), px.pixelValues(), i, c);
  }

  @Test
  void filesAreDecodedAndNamedInErrors() throws IOException {
    PreprocessorConfig c = config(SMALL);
    RgbImage im = ResamplerTest.random(rnd, 50, 21);
    Path png = TestImages.png(dir, "x.png", TestImages.toBuffered(im));
    AnyresPixels fromFile = AnyresProcessor.fromConfig(c).process(png);
    assertArrayEquals(AnyresProcessor.fromConfig(c).processImage(im).pixelValues().data(), fromFile.pixelValues().data());
    Path bad = Files.write(dir.resolve("bad.png"), new byte[] {1, 2, 3});
    ImageFileException e = assertThrows(ImageFileException.class, () -> AnyresProcessor.fromConfig(c).process(bad));
    assertTrue(e.getMessage().contains("bad.png"), e.getMessage());
    IllegalArgumentException n = assertThrows(IllegalArgumentException.class,
        () -> AnyresProcessor.fromConfig(c).processImage(null));
    assertTrue(n.getMessage().contains("image must not be null"), n.getMessage());
    n = assertThrows(IllegalArgumentException.class, () -> AnyresProcessor.fromConfig(c).withMaxPixels(1000).processImage(im));
    assertTrue(n.getMessage().contains("limit of 1000 pixels"), n.getMessage());
  }

  @Test
  void processorsRefuseTheOtherKindOfConfig() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ImageProcessor.fromConfig(config(SMALL)).processImages(List.of(ResamplerTest.random(rnd, 5, 5))));
    assertTrue(e.getMessage().contains("AnyresProcessor"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> AnyresProcessor.fromConfig(PreprocessorConfig.clip(336)));
    assertTrue(e.getMessage().contains("image_grid_pinpoints"), e.getMessage());
  }

  /** The README's example, run: its block between the markers is what README.md shows. */
  @Test
  void readmeExample() throws IOException {
    Path model = Files.createDirectories(dir.resolve("llava-v1.6-mistral-7b-hf"));
    Files.writeString(model.resolve("preprocessor_config.json"), V16);
    Path cat = TestImages.png(dir, "cat.png", TestImages.toBuffered(ResamplerTest.random(rnd, 640, 480)));
    // README anyres: begin
    AnyresProcessor next = AnyresProcessor.fromFile(model.resolve("preprocessor_config.json"));
    AnyresPixels px = next.process(cat);    // a 640 x 480 photo fits [672, 672] best
    PixelValues views = px.pixelValues();   // float32 [1 + 4, 3, 336, 336]: base view, then 2 x 2 tiles
    long[] imageSize = px.imageSize();      // {480, 640}, image_sizes' entry
    // README anyres: end
    assertArrayEquals(new long[] {5, 3, 336, 336}, views.shape());
    assertArrayEquals(new long[] {480, 640}, imageSize);
    ReadmeBlocks.requireShown("src/test/java/io/fitprune/image/AnyresProcessorTest.java", README_BEGIN, README_END);
  }
}
