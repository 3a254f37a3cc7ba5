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

class PreprocessorConfigTest {
  @TempDir Path dir;

  static PreprocessorConfig parse(String json) {
    return PreprocessorConfig.parse(json.getBytes(StandardCharsets.UTF_8), "cfg.json");
  }

  @Test
  void omittedKeysTakeTransformersDefaults() {
    PreprocessorConfig c = parse("{}");
    assertTrue(c.doResize());
    assertEquals(224, c.shortestEdge());
    assertEquals(Resampling.BICUBIC, c.resample());
    assertTrue(c.doCenterCrop());
    assertEquals(224, c.cropHeight());
    assertEquals(224, c.cropWidth());
    assertTrue(c.doRescale());
    assertEquals(1 / 255.0, c.rescaleFactor());
    assertTrue(c.doNormalize());
    assertArrayEquals(new double[] {0.48145466, 0.4578275, 0.40821073}, c.imageMean());
    assertArrayEquals(new double[] {0.26862954, 0.26130258, 0.27577711}, c.imageStd());
    assertTrue(c.doConvertRgb());
    assertFalse(c.doPad());
  }

  @Test
  void legacyIntAndListSizesConvertAsGetSizeDictDoes() {
    PreprocessorConfig c = parse("{\"size\": 336, \"crop_size\": 300, \"image_mean\": 0.5, \"image_std\": [1, 2, 3]}");
    assertEquals(336, c.shortestEdge()); // int size: shortest edge
    assertEquals(300, c.cropHeight()); // int crop: a square
    assertEquals(300, c.cropWidth());
    assertArrayEquals(new double[] {0.5, 0.5, 0.5}, c.imageMean());
    PreprocessorConfig l = parse("{\"size\": [20, 30], \"crop_size\": [10, 12]}");
    assertEquals(0, l.shortestEdge());
    assertEquals(20, l.resizeHeight());
    assertEquals(30, l.resizeWidth());
    assertEquals(10, l.cropHeight());
    assertEquals(12, l.cropWidth());
  }

  @Test
  void doPadIsReadByTheLlavaProcessorOnly() {
    assertTrue(parse("{\"image_processor_type\": \"LlavaImageProcessor\", \"do_pad\": true}").doPad());
    assertTrue(parse("{\"do_pad\": true}").doPad());
    assertFalse(parse("{\"image_processor_type\": \"CLIPImageProcessor\", \"do_pad\": true}").doPad());
    assertTrue(parse("{}").withPad(true).doPad());
  }

  @Test
  void badValuesNameTheFileAndTheKey() {
    String[][] cases = {
      {"{\"size\": {\"longest_edge\": 5}}", "size"},
      {"{\"size\": {\"shortest_edge\": 0}}", "size.shortest_edge"},
      {"{\"crop_size\": {\"height\": 5}}", "crop_size"},
      {"{\"crop_size\": {\"height\": -1, \"width\": 3}}", "crop_size.height"},
      {"{\"resample\": 1}", "resample"},
      {"{\"resample\": \"bicubic\"}", "resample"},
      {"{\"do_resize\": \"yes\"}", "do_resize"},
      {"{\"rescale_factor\": 0}", "rescale_factor"},
      {"{\"image_mean\": [0.5, 0.5]}", "image_mean"},
      {"{\"image_std\": [0.5, 0, 0.5]}", "image_std"},
      {"{\"image_processor_type\": \"LlavaNextImageProcessor\"}", "image_processor_type"},
      {"[1, 2]", "JSON object"},
      {"{\"size\": ", "not valid JSON"},
    };
    for (String[] c : cases) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(c[0]), c[0]);
      assertTrue(e.getMessage().startsWith("cfg.json: "), e.getMessage());
      assertTrue(e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
    }
  }

  @Test
  void readNamesAMissingOrDirectoryPath() throws IOException {
    assertThrows(IOException.class, () -> PreprocessorConfig.read(dir.resolve("nope.json")));
    Path f = dir.resolve("preprocessor_config.json");
    Files.writeString(f, "{\"size\": {\"shortest_edge\": 17}}");
    assertEquals(17, PreprocessorConfig.read(f).shortestEdge());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
      Files.writeString(f, "{\"do_normalize\": 1}");
      PreprocessorConfig.read(f);
    });
    assertTrue(e.getMessage().startsWith(f + ": do_normalize"), e.getMessage());
  }
}
