package io.fitprune.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.fitprune.vision.GridPinpoints;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The bundled llava-v1.6-vicuna-7b config is llava-hf's published file, and reads as transformers reads it. */
class LlavaNextHubConfigTest {
  /** https://huggingface.co/llava-hf/llava-v1.6-vicuna-7b-hf/blob/main/config.json (revision 78d9aec). */
  static final String HUB = """
      {
        "architectures": ["LlavaNextForConditionalGeneration"],
        "ignore_index": -100,
        "image_grid_pinpoints": [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]],
        "image_token_index": 32000,
        "model_type": "llava_next",
        "projector_hidden_act": "gelu",
        "text_config": {
          "_name_or_path": "lmsys/vicuna-7b-v1.5",
          "architectures": ["LlamaForCausalLM"],
          "max_position_embeddings": 4096,
          "model_type": "llama",
          "pad_token_id": 0,
          "rms_norm_eps": 1e-05,
          "torch_dtype": "float16",
          "vocab_size": 32064
        },
        "torch_dtype": "float16",
        "transformers_version": "4.39.0.dev0",
        "use_image_newline_parameter": true,
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
        "vision_feature_select_strategy": "default",
        "vocab_size": 32064
      }""";

  @Test
  void theBundledFileIsTheHubsFile() throws Exception {
    byte[] bundled;
    try (InputStream in = LlavaNextConfig.class.getResourceAsStream("llava-v1.6-vicuna-7b.json")) {
      bundled = in.readAllBytes();
    }
    assertEquals(ConfigJson.JSON.readTree(HUB), ConfigJson.JSON.readTree(bundled));
  }

  /**
   * Read as transformers reads it: LlavaNextConfig's and LlamaConfig's defaults fill what the file
   * leaves out, and the LM head is untied (no tie_word_embeddings in text_config, LlamaConfig's
   * default false; the top level has none, and LlavaNextForConditionalGeneration ties through its
   * language model).
   */
  @Test
  void theHubsFileReadsWithTransformersDefaults() throws Exception {
    LlavaNextConfig c = LlavaNextConfig.parse(HUB.getBytes(StandardCharsets.UTF_8), "config.json");
    TextConfig t = c.llava().text();
    assertEquals(List.of(4096, 11008, 32, 32, 32, 128, 32064, 4096), List.of(t.hidden(), t.intermediate(), t.layers(),
        t.heads(), t.kvHeads(), t.headDim(), t.vocab(), t.maxPositions()));
    assertEquals(1e-5, t.rmsEps());
    assertEquals(10000.0, t.ropeTheta());
    assertFalse(t.tieWordEmbeddings());
    assertEquals(32000, c.llava().imageTokenIndex());
    assertEquals(-2, c.llava().projector().featureLayer());
    assertEquals(true, c.llava().projector().dropsCls());
    assertEquals(GridPinpoints.LLAVA_V16, c.pinpoints());
    assertEquals(c.withName("llava-v1.6-vicuna-7b"), LlavaNextConfig.bundled("llava-v1.6-vicuna-7b"));
  }
}
