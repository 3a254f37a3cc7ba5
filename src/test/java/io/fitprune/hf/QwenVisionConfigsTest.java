package io.fitprune.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.vision.qwen.QwenVisionConfig;
import io.fitprune.vision.qwen.QwenVisionFamily;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Qwen2-VL and Qwen2.5-VL vision_config objects: the published ones, transformers' defaults, the round trip, bad values. */
class QwenVisionConfigsTest {
  static QwenVisionConfig parse(String json, QwenVisionFamily f) {
    return QwenVisionConfigs.parse(ConfigJson.parse(json.getBytes(StandardCharsets.UTF_8), "config.json vision_config"), f);
  }

  /** Qwen/Qwen2-VL-7B-Instruct's config.json vision_config, as published. */
  static final String QWEN2_VL_7B = "{\"depth\": 32, \"embed_dim\": 1280, \"mlp_ratio\": 4, \"num_heads\": 16, \"in_chans\": 3,"
      + " \"hidden_size\": 3584, \"patch_size\": 14, \"spatial_merge_size\": 2, \"spatial_patch_size\": 14,"
      + " \"temporal_patch_size\": 2}";
  /** Qwen/Qwen2.5-VL-7B-Instruct's vision_config as transformers 4.53 re-saves it (in_channels beside in_chans). */
  static final String QWEN25_VL_7B = "{\"depth\": 32, \"fullatt_block_indexes\": [7, 15, 23, 31], \"hidden_act\": \"silu\","
      + " \"hidden_size\": 1280, \"in_channels\": 3, \"in_chans\": 3, \"initializer_range\": 0.02, \"intermediate_size\": 3420,"
      + " \"model_type\": \"qwen2_5_vl\", \"num_heads\": 16, \"out_hidden_size\": 3584, \"patch_size\": 14,"
      + " \"spatial_merge_size\": 2, \"spatial_patch_size\": 14, \"temporal_patch_size\": 2, \"tokens_per_second\": 2,"
      + " \"torch_dtype\": \"float32\", \"window_size\": 112}";

  @Test
  void publishedConfigsGiveTheSevenBillionTowers() {
    QwenVisionConfig q2 = parse(QWEN2_VL_7B, QwenVisionFamily.QWEN2_VL);
    assertEquals(new QwenVisionConfig(QwenVisionFamily.QWEN2_VL, 32, 1280, 5120, 3584, 16, 3, 14, 2, 2, "quick_gelu", 0,
        List.of()), q2);
    assertEquals(QwenVisionConfig.qwen2VlDefaults(), q2);
    assertEquals(1176, q2.patchValues());
    QwenVisionConfig q25 = parse(QWEN25_VL_7B, QwenVisionFamily.QWEN2_5_VL);
    assertEquals(new QwenVisionConfig(QwenVisionFamily.QWEN2_5_VL, 32, 1280, 3420, 3584, 16, 3, 14, 2, 2, "silu", 112,
        List.of(7, 15, 23, 31)), q25);
    assertEquals(4, q25.mergerWindow());
    assertTrue(q25.fullAttention(7) && !q25.fullAttention(8));
  }

  @Test
  void omittedKeysTakeTransformersDefaults() {
    assertEquals(QwenVisionConfig.qwen2VlDefaults(), parse("{}", QwenVisionFamily.QWEN2_VL));
    QwenVisionConfig d = parse("{}", QwenVisionFamily.QWEN2_5_VL);
    assertEquals(QwenVisionConfig.qwen25VlDefaults(), d);
    assertEquals(3584, d.hiddenSize()); // Qwen2_5_VLVisionConfig's own default, unlike every published tower
  }

  @Test
  void writtenConfigsReadBackEqual() {
    List<QwenVisionConfig> all = List.of(QwenVisionConfig.qwen2VlDefaults(), QwenVisionConfig.qwen25VlDefaults(),
        new QwenVisionConfig(QwenVisionFamily.QWEN2_VL, 2, 40, 52, 23, 5, 3, 3, 2, 2, "quick_gelu", 0, List.of()),
        new QwenVisionConfig(QwenVisionFamily.QWEN2_5_VL, 3, 40, 44, 23, 5, 1, 3, 1, 3, "gelu", 18, List.of(1, 2)));
    for (QwenVisionConfig c : all) {
      ObjectNode o = ConfigJson.JSON.createObjectNode();
      QwenVisionConfigs.write(c, o);
      assertEquals(c, parse(o.toString(), c.family()), o.toString());
    }
  }

  @Test
  void badValuesAreOneLineNamingFileAndKey() {
    String[][] bad = {{"{\"model_type\": \"qwen2_vl\"}", "'model_type' is 'qwen2_vl'"},
        {"{\"fullatt_block_indexes\": 7}", "'fullatt_block_indexes' must be a list of integers"},
        {"{\"fullatt_block_indexes\": [7, \"x\"]}", "'fullatt_block_indexes' must be a list of integers"},
        {"{\"hidden_size\": 1280, \"num_heads\": 12}", "hidden_size (1280) must be a multiple of num_heads (12)"},
        {"{\"window_size\": 20}", "window_size must be in [spatial_merge_size * patch_size = 28,"}, {"{\"depth\": 0}", "depth must be in [1,"},
        {"{\"hidden_size\": 96, \"num_heads\": 16}", "must be a multiple of 4"}, {"{\"patch_size\": 1.5}", "'patch_size'"}};
    for (String[] b : bad) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(b[0], QwenVisionFamily.QWEN2_5_VL));
      assertTrue(e.getMessage().startsWith("config.json vision_config: ") && e.getMessage().contains(b[1])
          && !e.getMessage().contains("\n"), b[0] + ": " + e.getMessage());
    }
    IllegalArgumentException r = assertThrows(IllegalArgumentException.class,
        () -> parse("{\"mlp_ratio\": -1}", QwenVisionFamily.QWEN2_VL));
    assertTrue(r.getMessage().contains("'mlp_ratio'"), r.getMessage());
    IllegalArgumentException f = assertThrows(IllegalArgumentException.class, () -> QwenVisionFamily.of("llava"));
    assertTrue(f.getMessage().contains("'llava'"), f.getMessage());
  }
}
