package io.fitprune.hf;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.vision.ClipVisionConfig;
import io.fitprune.vision.ProjectorConfig;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** config.json with transformers' defaults for what it leaves out, and every bad config refused with the file named. */
class LlavaConfigTest {
  /** llava-hf/llava-1.5-7b-hf's config.json, key for key: its text_config names neither the width nor the depth. */
  static final String HUB_7B = """
      {
        "architectures": ["LlavaForConditionalGeneration"],
        "ignore_index": -100,
        "image_token_index": 32000,
        "model_type": "llava",
        "pad_token_id": 32001,
        "projector_hidden_act": "gelu",
        "text_config": {
          "_name_or_path": "lmsys/vicuna-7b-v1.5",
          "architectures": ["LlamaForCausalLM"],
          "max_position_embeddings": 4096,
          "model_type": "llama",
          "rms_norm_eps": 1e-05,
          "torch_dtype": "float16",
          "vocab_size": 32064
        },
        "tie_word_embeddings": false,
        "torch_dtype": "float16",
        "transformers_version": "4.36.0.dev0",
        "vision_config": {
          "hidden_size": 1024,
          "image_size": 336,
          "intermediate_size": 4096,
          "model_type": "clip_vision_model",
          "num_attention_heads": 16,
          "num_hidden_layers": 24,
          "patch_size": 14,
          "projection_dim": 768,
          "vocab_size": 32000
        },
        "vision_feature_layer": -2,
        "vision_feature_select_strategy": "default"
      }""";

  static LlavaConfig parse(String json) {
    return LlavaConfig.parse(json.getBytes(StandardCharsets.UTF_8), "dir/config.json");
  }

  @Test
  void hubConfigGetsLlamaAndClipDefaults() throws Exception {
    LlavaConfig c = parse(HUB_7B);
    assertEquals(new TextConfig(32064, 4096, 11008, 32, 32, 32, 128, 1e-5, 10000, 4096, false), c.text());
    assertEquals(new ClipVisionConfig(1024, 4096, 24, 16, 3, 336, 14, 1e-5, "quick_gelu"), c.vision());
    assertEquals(new ProjectorConfig(-2, "default", 1024, 4096, "gelu", true), c.projector());
    assertEquals(32000, c.imageTokenIndex());
    assertEquals(576, c.imageSeqLength());
    assertNull(c.name());
    assertEquals(c, LlavaConfig.bundled("llava-1.5-7b").withName(null), "the bundled file is the Hub's");
  }

  @Test
  void bareConfigIsLlavaConfigsDefault() {
    LlavaConfig c = parse("{\"model_type\": \"llava\"}");
    assertEquals(new TextConfig(32000, 4096, 11008, 32, 32, 32, 128, 1e-6, 10000, 2048, false), c.text());
    assertEquals(new ClipVisionConfig(1024, 4096, 24, 16, 3, 336, 14, 1e-5, "quick_gelu"), c.vision());
    assertEquals(576, c.imageSeqLength());
    // vision_config present but empty: CLIPVisionConfig's own defaults (ViT-B/32 at 224), 7x7 patches
    LlavaConfig b = parse("{\"model_type\": \"llava\", \"vision_config\": {}, \"vision_feature_select_strategy\": \"full\"}");
    assertEquals(new ClipVisionConfig(768, 3072, 12, 12, 3, 224, 32, 1e-5, "quick_gelu"), b.vision());
    assertEquals(50, b.imageSeqLength());
  }

  @Test
  void newerSpellings() {
    LlavaConfig c = parse("""
        {"model_type": "llava", "image_token_id": 7, "_name_or_path": "org/some-model/",
         "text_config": {"vocab_size": 100, "hidden_size": 96, "num_attention_heads": 6, "num_key_value_heads": 2,
                         "head_dim": 24, "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}},
         "vision_config": {"image_size": 28, "patch_size": 14, "hidden_size": 8, "num_attention_heads": 2,
                           "num_hidden_layers": 3}, "vision_feature_layer": 3}""");
    assertEquals(7, c.imageTokenIndex());
    assertEquals("some-model", c.name());
    assertEquals(new TextConfig(100, 96, 11008, 32, 6, 2, 24, 1e-6, 500000.0, 2048, false), c.text());
    assertEquals(4, c.imageSeqLength());
    assertEquals(3, c.projector().stateIndex(3));
  }

  @Test
  void writtenConfigsLeaveDefaultsOutAndReadBack() throws Exception {
    SplittableRandom r = new SplittableRandom(11);
    for (int i = 0; i < 50; i++) {
      int heads = 1 + r.nextInt(8), kv = heads % 2 == 0 && r.nextBoolean() ? heads / 2 : heads, hd = 2 * (1 + r.nextInt(9));
      int patch = 1 + r.nextInt(15), side = 1 + r.nextInt(7), vh = 1 + r.nextInt(5), vlayers = 1 + r.nextInt(4);
      int vocab = 3 + r.nextInt(100000);
      TextConfig t = new TextConfig(vocab, heads * hd, 1 + r.nextInt(999), 1 + r.nextInt(40), heads, kv, hd,
          r.nextBoolean() ? 1e-6 : 1e-5, r.nextBoolean() ? 10000 : 1e6, r.nextBoolean() ? 2048 : 4096, false);
      ClipVisionConfig v = new ClipVisionConfig(vh * 4, 1 + r.nextInt(300), vlayers, vh, 3, side * patch, patch,
          r.nextBoolean() ? 1e-5 : 1e-6, "quick_gelu");
      String strategy = r.nextBoolean() ? "default" : "full";
      ProjectorConfig p = new ProjectorConfig(-1 - r.nextInt(vlayers + 1), strategy, v.hiddenSize(), t.hidden(), "gelu",
          r.nextBoolean());
      LlavaConfig c = new LlavaConfig(r.nextBoolean() ? null : "m" + i, t, v, p, r.nextInt(vocab),
          side * side + (strategy.equals("full") ? 1 : 0));
      byte[] json = c.toJson();
      assertEquals(c, LlavaConfig.parse(json, "x"), new String(json, StandardCharsets.UTF_8));
    }
    JsonNode hub = ConfigJson.JSON.readTree(LlavaConfig.bundled("llava-1.5-7b").toJson());
    for (String k : new String[] {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "rope_theta"})
      assertFalse(hub.get("text_config").has(k), k + " equals LlamaConfig's default and is left out, as on the Hub");
    assertEquals(32064, hub.get("text_config").get("vocab_size").intValue());
    assertEquals(1024, hub.get("vision_config").get("hidden_size").intValue());
  }

  static String edit(String json, String path, Object value) throws Exception {
    ObjectNode root = (ObjectNode) ConfigJson.JSON.readTree(json);
    ObjectNode at = root;
    String[] keys = path.split("\\.");
    for (int i = 0; i < keys.length - 1; i++) at = (ObjectNode) at.get(keys[i]);
    at.set(keys[keys.length - 1], ConfigJson.JSON.valueToTree(value));
    return ConfigJson.JSON.writeValueAsString(root);
  }

  static void refused(String json, String... parts) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(json));
    assertTrue(e.getMessage().startsWith("dir/config.json"), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
    for (String p : parts) assertTrue(e.getMessage().contains(p), e.getMessage());
  }

  @Test
  void badConfigsNameTheFileAndTheKey() throws Exception {
    refused(edit(HUB_7B, "model_type", "llava_next"), "model_type", "llava_next");
    refused(edit(HUB_7B, "text_config.model_type", "mistral"), "text_config", "mistral");
    refused(edit(HUB_7B, "vision_config.model_type", "siglip_vision_model"), "vision_config", "siglip");
    refused(edit(HUB_7B, "vision_feature_layer", -26), "vision_feature_layer -26", "24 layers");
    refused(edit(HUB_7B, "vision_feature_layer", 25), "vision_feature_layer 25");
    refused(edit(HUB_7B, "vision_feature_layer", new int[] {-2, -5}), "vision_feature_layer");
    refused(edit(HUB_7B, "vision_feature_select_strategy", "cls"), "vision_feature_select_strategy");
    refused(edit(HUB_7B, "image_token_index", -1), "image_token_index", "-1");
    refused(edit(HUB_7B, "image_seq_length", 577), "image_seq_length", "576");
    refused(edit(HUB_7B, "text_config.hidden_act", "gelu"), "hidden_act");
    refused(edit(HUB_7B, "text_config.rope_scaling", java.util.Map.of("type", "linear", "factor", 2.0)), "linear");
    refused(edit(HUB_7B, "vision_config.image_size", 335), "image_size");
    refused(edit(HUB_7B, "text_config.num_hidden_layers", "32"), "num_hidden_layers", "integer");
    refused(edit(HUB_7B, "text_config.vocab_size", 0), "text_config", "vocab_size", "0");
    refused(edit(HUB_7B, "text_config.num_key_value_heads", 5), "text_config", "num_key_value_heads");
    refused(edit(HUB_7B, "text_config.rms_norm_eps", -1e-5), "text_config", "rms_norm_eps");
    refused(edit(HUB_7B, "vision_config.hidden_size", -8), "vision_config", "hidden_size");
    refused("{\"model_type\": \"llava\", ", "dir/config.json");
    refused("[1, 2]", "JSON object");
    refused("{}", "model_type");
  }
}
