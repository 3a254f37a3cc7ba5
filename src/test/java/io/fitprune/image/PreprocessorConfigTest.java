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

  /** A LLaVA-NeXT config with 32-pixel tiles, open for one more key. */
  static final String NEXT = "{\"image_processor_type\": \"LlavaNextImageProcessor\", \"crop_size\": 32, ";

  @Test
  void llavaNextReadsPinpointsWithTheSourceDefault() {
    PreprocessorConfig c = parse("{\"image_processor_type\": \"LlavaNextImageProcessor\", \"crop_size\": 336,"
        + " \"size\": 336, \"do_pad\": true}");
    assertTrue(c.anyres());
    assertArrayEquals(new int[][] {{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}}, c.gridPinpoints());
    assertFalse(c.doPad()); // LLaVA-NeXT's do_pad pads a batch's tile counts, not the image to a square
    PreprocessorConfig d = parse(NEXT + "\"image_grid_pinpoints\": [[64, 32], [32, 96]]}");
    assertArrayEquals(new int[][] {{64, 32}, {32, 96}}, d.gridPinpoints());
    d.gridPinpoints()[0][0] = 5; // a copy
    assertEquals(64, d.gridPinpoints()[0][0]);
    assertEquals(d.gridPinpoints()[0][0], d.withPad(false).gridPinpoints()[0][0]);
    // other processors ignore the key, as transformers' do
    assertFalse(parse("{\"image_processor_type\": \"CLIPImageProcessor\", \"image_grid_pinpoints\": [[1, 1]]}").anyres());
    assertFalse(parse("{}").anyres());
    assertThrows(IllegalStateException.class, d::toJson);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.withPad(true));
    assertTrue(e.getMessage().contains("do_pad"), e.getMessage());
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
      {"{\"image_processor_type\": \"Qwen2VLImageProcessor\"}", "image_processor_type"},
      // LlavaNextImageProcessor's own defaults: 336-pixel pinpoints cut into 224-pixel tiles leave remainders
      {"{\"image_processor_type\": \"LlavaNextImageProcessor\"}", "image_grid_pinpoints[0] = [336, 672]"},
      {NEXT + "\"do_pad\": 1}", "do_pad must be true or false"},
      {NEXT + "\"image_grid_pinpoints\": 5}", "image_grid_pinpoints must be a non-empty list"},
      {NEXT + "\"image_grid_pinpoints\": []}", "image_grid_pinpoints must be a non-empty list"},
      {NEXT + "\"image_grid_pinpoints\": [[32, 64], [32]]}", "image_grid_pinpoints[1] must be a [height, width] pair"},
      {NEXT + "\"image_grid_pinpoints\": [[32, 64], 32]}", "image_grid_pinpoints[1] must be a [height, width] pair"},
      {NEXT + "\"image_grid_pinpoints\": [[32, \"64\"]]}", "image_grid_pinpoints[0][1] must be an integer"},
      {NEXT + "\"image_grid_pinpoints\": [[32, 64.5]]}", "image_grid_pinpoints[0][1] must be an integer"},
      {NEXT + "\"image_grid_pinpoints\": [[0, 64]]}", "image_grid_pinpoints[0] = [0, 64]"},
      {NEXT + "\"image_grid_pinpoints\": [[64, 64], [48, 64]]}", "multiple of crop_size.height 32"},
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
