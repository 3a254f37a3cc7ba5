package io.fitprune.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QwenPreprocessorConfigTest {
  @TempDir Path dir;

  /** Qwen/Qwen2-VL-7B-Instruct's preprocessor_config.json (Qwen2.5-VL's differs only in processor_class). */
  static final String QWEN2_VL_7B = """
      {"min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
       "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
       "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2VLProcessor"}""";

  static QwenPreprocessorConfig parse(String json) {
    return QwenPreprocessorConfig.parse(json.getBytes(StandardCharsets.UTF_8), "preprocessor_config.json");
  }

  static String error(String json) {
    return assertThrows(IllegalArgumentException.class, () -> parse(json)).getMessage();
  }

  @Test
  void theHubFileGivesItsBoundsAndTransformersDefaults() {
    QwenPreprocessorConfig c = parse(QWEN2_VL_7B);
    assertEquals(3136, c.minPixels());
    assertEquals(12845056, c.maxPixels());
    assertEquals(28, c.factor());
    assertEquals(3 * 2 * 14 * 14, c.patchDim());
    assertTrue(c.doResize() && c.doRescale() && c.doNormalize() && c.doConvertRgb());
    assertEquals(Resampling.BICUBIC, c.resample());
    assertEquals(1 / 255.0, c.rescaleFactor());
    assertArrayEquals(PreprocessorConfig.CLIP_STD, c.imageStd());
  }

  @Test
  void thePublishedPresetIsTheHubFile() {
    QwenPreprocessorConfig hub = parse(QWEN2_VL_7B), p = QwenPreprocessorConfig.published();
    QwenPreprocessorConfig back = QwenPreprocessorConfig.parse(p.toJson("Qwen2VLProcessor"), "written");
    for (QwenPreprocessorConfig c : new QwenPreprocessorConfig[] {p, back}) {
      assertEquals(hub.minPixels(), c.minPixels());
      assertEquals(hub.maxPixels(), c.maxPixels());
      assertEquals(hub.factor(), c.factor());
      assertEquals(hub.temporalPatchSize(), c.temporalPatchSize());
      assertArrayEquals(hub.imageMean(), c.imageMean());
      assertArrayEquals(hub.imageStd(), c.imageStd());
      assertEquals(hub.rescaleFactor(), c.rescaleFactor());
      assertEquals(hub.resample(), c.resample());
    }
  }

  @Test
  void anEmptyFileIsTheClassDefaults() {
    QwenPreprocessorConfig c = parse("{}");
    assertEquals(56 * 56, c.minPixels());
    assertEquals(28 * 28 * 1280, c.maxPixels());
    assertEquals(14, c.patchSize());
    assertEquals(2, c.temporalPatchSize());
    assertEquals(2, c.mergeSize());
    assertArrayEquals(PreprocessorConfig.CLIP_MEAN, c.imageMean());
  }

  @Test
  void sizeHoldsTheBoundsAndTopLevelKeysOverrideIt() {
    QwenPreprocessorConfig s = parse("{\"size\": {\"shortest_edge\": 1000, \"longest_edge\": 5000},"
        + " \"image_processor_type\": \"Qwen2VLImageProcessorFast\", \"patch_size\": 16}");
    assertEquals(1000, s.minPixels());
    assertEquals(5000, s.maxPixels());
    assertEquals(32, s.factor());
    QwenPreprocessorConfig o = parse("{\"size\": {\"shortest_edge\": 1000, \"longest_edge\": 5000}, \"max_pixels\": 7000}");
    assertEquals(1000, o.minPixels());
    assertEquals(7000, o.maxPixels());
    // the first transformers release wrote size as {min_pixels, max_pixels} beside the top-level keys
    QwenPreprocessorConfig legacy = parse("{\"size\": {\"min_pixels\": 10, \"max_pixels\": 20}, \"min_pixels\": 300,"
        + " \"max_pixels\": 4000}");
    assertEquals(300, legacy.minPixels());
    assertEquals(4000, legacy.maxPixels());
  }

  @Test
  void badValuesAreOneLineErrorsNamingTheFileAndKey() {
    String e = error("{\"size\": {\"shortest_edge\": 1000}}");
    assertTrue(e.startsWith("preprocessor_config.json: ") && e.contains("longest_edge"), e);
    assertTrue(error("{\"size\": {\"min_pixels\": 10, \"max_pixels\": 20}}").contains("shortest_edge"));
    assertTrue(error("{\"size\": {\"height\": 10, \"width\": 20}}").contains("only shortest_edge and longest_edge"));
    assertTrue(error("{\"size\": 448}").contains("size must be"));
    assertTrue(error("{\"min_pixels\": 0}").contains("min_pixels (size.shortest_edge) must be in [1, 2^53], got 0"));
    assertTrue(error("{\"min_pixels\": 5000, \"max_pixels\": 4000}").contains("must not exceed max_pixels 4000"));
    assertTrue(error("{\"merge_size\": 0}").contains("merge_size must be at least 1, got 0"));
    assertTrue(error("{\"patch_size\": 2.5}").contains("patch_size must be an integer, got 2.5"));
    assertTrue(error("{\"resample\": 1}").contains("Lanczos"));
    assertTrue(error("{\"image_std\": [1, 0, 1]}").contains("image_std"));
    assertTrue(error("{\"image_processor_type\": \"CLIPImageProcessor\"}").contains("Qwen2VLImageProcessor"));
    assertTrue(error("{\"max_pixels\": 1e30}").contains("max_pixels must be an integer"));
    for (String m : new String[] {error("{\"size\": {\"shortest_edge\": 1000}}"), error("{\"merge_size\": 0}")})
      assertFalse(m.contains("\n"), m);
  }

  @Test
  void theClipConfigReaderPointsHere() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> PreprocessorConfig.parse(QWEN2_VL_7B.getBytes(StandardCharsets.UTF_8), "q.json"));
    assertTrue(e.getMessage().contains("QwenPreprocessorConfig"), e.getMessage());
  }

  @Test
  void toJsonRoundTripsAndReadsAsTheFile() throws IOException {
    QwenPreprocessorConfig c = parse("{\"min_pixels\": 2000, \"max_pixels\": 90000, \"patch_size\": 7,"
        + " \"temporal_patch_size\": 3, \"merge_size\": 3, \"do_normalize\": false, \"resample\": 2,"
        + " \"image_mean\": 0.5, \"image_std\": [0.25, 0.5, 0.75], \"rescale_factor\": 0.125}");
    Path file = dir.resolve("preprocessor_config.json");
    Files.write(file, c.toJson("Qwen2_5_VLProcessor"));
    QwenPreprocessorConfig back = QwenPreprocessorConfig.read(file);
    assertEquals(c.minPixels(), back.minPixels());
    assertEquals(c.maxPixels(), back.maxPixels());
    assertEquals(21, back.factor());
    assertEquals(3, back.temporalPatchSize());
    assertFalse(back.doNormalize());
    assertEquals(Resampling.BILINEAR, back.resample());
    assertEquals(0.125, back.rescaleFactor());
    assertArrayEquals(new double[] {0.5, 0.5, 0.5}, back.imageMean());
    assertArrayEquals(new double[] {0.25, 0.5, 0.75}, back.imageStd());
    String text = Files.readString(file);
    assertTrue(text.contains("\"processor_class\" : \"Qwen2_5_VLProcessor\""), text);
    assertTrue(text.contains("\"image_processor_type\" : \"Qwen2VLImageProcessor\""), text);
  }

  @Test
  void aMissingOrCorruptFileIsAnErrorNamingIt() throws IOException {
    Path bad = dir.resolve("preprocessor_config.json");
    Files.writeString(bad, "{\"min_pixels\": ");
    Exception e = assertThrows(IllegalArgumentException.class, () -> QwenPreprocessorConfig.read(bad));
    assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
    assertThrows(IOException.class, () -> QwenPreprocessorConfig.read(dir.resolve("none.json")));
  }
}
