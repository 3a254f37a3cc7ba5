package io.fitprune.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.decoder.Tensors;
import io.fitprune.io.DType;
import io.fitprune.kernels.Spans;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.RopeIndex;
import io.fitprune.testutil.ReadmeBlocks;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Qwen2-VL and Qwen2.5-VL configs as published on the Hub and as newer transformers writes them. */
class QwenVlConfigTest {
  static final String README_BEGIN = "// README qwen: begin", README_END = "// README qwen: end";
  // Qwen/Qwen2-VL-7B-Instruct's config.json: the text keys at the top level
  static final String QWEN2_VL_7B = """
      {"architectures": ["Qwen2VLForConditionalGeneration"], "attention_dropout": 0.0, "bos_token_id": 151643,
       "eos_token_id": 151645, "vision_start_token_id": 151652, "vision_end_token_id": 151653,
       "vision_token_id": 151654, "image_token_id": 151655, "video_token_id": 151656, "hidden_act": "silu",
       "hidden_size": 3584, "initializer_range": 0.02, "intermediate_size": 18944, "max_position_embeddings": 32768,
       "max_window_layers": 28, "model_type": "qwen2_vl", "num_attention_heads": 28, "num_hidden_layers": 28,
       "num_key_value_heads": 4, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
       "tie_word_embeddings": false, "torch_dtype": "bfloat16", "transformers_version": "4.41.2", "use_cache": true,
       "use_sliding_window": false,
       "vision_config": {"depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16, "in_chans": 3,
         "hidden_size": 3584, "patch_size": 14, "spatial_merge_size": 2, "spatial_patch_size": 14,
         "temporal_patch_size": 2},
       "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}, "vocab_size": 152064}
      """;
  // Qwen/Qwen2-VL-2B-Instruct's differences: a smaller model whose LM head is its embedding table
  static final String QWEN2_VL_2B = QWEN2_VL_7B.replace("\"hidden_size\": 3584, \"initializer", "\"hidden_size\": 1536, \"initializer")
      .replace("18944", "8960").replace("\"num_attention_heads\": 28", "\"num_attention_heads\": 12")
      .replace("\"num_key_value_heads\": 4", "\"num_key_value_heads\": 2").replace("\"tie_word_embeddings\": false",
          "\"tie_word_embeddings\": true").replace("\"vocab_size\": 152064", "\"vocab_size\": 151936");
  // the layout newer transformers writes: the language model under text_config, RoPE under rope_parameters
  static final String NEWER = """
      {"architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl", "image_token_id": 151655,
       "video_token_id": 151656, "vision_start_token_id": 151652, "vision_end_token_id": 151653,
       "text_config": {"model_type": "qwen2_5_vl_text", "hidden_size": 3584, "intermediate_size": 18944,
         "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
         "max_position_embeddings": 128000, "rms_norm_eps": 1e-06, "tie_word_embeddings": false,
         "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}},
       "vision_config": {"model_type": "qwen2_5_vl", "depth": 32, "hidden_size": 1280, "out_hidden_size": 3584,
         "spatial_merge_size": 2, "fullatt_block_indexes": [7, 15, 23, 31], "window_size": 112}}
      """;

  static QwenVlConfig parse(String json) {
    return QwenVlConfig.parse(json.getBytes(StandardCharsets.UTF_8), "config.json");
  }

  static String error(String json) {
    return assertThrows(IllegalArgumentException.class, () -> parse(json)).getMessage();
  }

  @Test
  void qwen2Vl7bAsPublished() {
    QwenVlConfig c = parse(QWEN2_VL_7B);
    assertEquals("qwen2_vl", c.modelType());
    assertNull(c.name());
    assertEquals(new TextConfig(152064, 3584, 18944, 28, 28, 4, 128, 1e-6, 1e6, 32768, false), c.text());
    assertEquals(List.of(16, 24, 24), c.mropeSection());
    assertArrayEquals(new int[] {151655, 151656, 151652, 151653},
        new int[] {c.imageTokenId(), c.videoTokenId(), c.visionStartTokenId(), c.visionEndTokenId()});
    assertEquals(2, c.spatialMergeSize());
    assertEquals(32, c.vision().integer("depth", 0)); // raw, for the vision tower's own parser
    assertTrue(c.vision().where().endsWith("vision_config"));
    DecoderConfig d = c.decoderConfig(64, 14, 8);
    assertEquals(List.of(16, 24, 24), d.mropeSection());
    assertEquals(128, d.headDim());
    assertEquals(1e6, d.ropeTheta());
  }

  @Test
  void qwen2Vl2bTiesItsEmbeddings() {
    QwenVlConfig c = parse(QWEN2_VL_2B);
    assertEquals(new TextConfig(151936, 1536, 8960, 28, 12, 2, 128, 1e-6, 1e6, 32768, true), c.text());
  }

  @Test
  void theNewerLayoutReadsTextConfigAndRopeParameters() {
    QwenVlConfig c = parse(NEWER);
    assertEquals("qwen2_5_vl", c.modelType());
    assertEquals(new TextConfig(152064, 3584, 18944, 28, 28, 4, 128, 1e-6, 1e6, 128000, false), c.text());
    assertEquals(List.of(16, 24, 24), c.mropeSection());
    assertArrayEquals(new int[] {7, 15, 23, 31}, c.vision().integers("fullatt_block_indexes", null));
  }

  @Test
  void keysLeftOutTakeTransformersDefaults() {
    QwenVlConfig c = parse("{\"model_type\": \"qwen2_vl\", \"rope_scaling\": {\"type\": \"mrope\", \"mrope_section\": [16, 24, 24]}}");
    assertEquals(new TextConfig(152064, 8192, 29568, 80, 64, 8, 128, 1e-5, 1e6, 32768, false), c.text());
    assertArrayEquals(new int[] {151655, 151656, 151652, 151653},
        new int[] {c.imageTokenId(), c.videoTokenId(), c.visionStartTokenId(), c.visionEndTokenId()});
    assertEquals(2, c.spatialMergeSize());
    assertTrue(c.vision().json().isEmpty());
  }

  @Test
  void anMropeSectionThatDoesNotSumToHalfTheHeadDimIsOneLineNamingTheFileAndValue() {
    String m = error(QWEN2_VL_7B.replace("[16, 24, 24]", "[16, 24, 20]"));
    assertTrue(m.startsWith("config.json rope_scaling: 'mrope_section' [16, 24, 20]") && m.contains("128 / 2 = 64")
        && !m.contains("\n"), m);
    m = error(NEWER.replace("[16, 24, 24]", "[32, 32]"));
    assertTrue(m.startsWith("config.json text_config rope_parameters: 'mrope_section' [32, 32]"), m);
    m = error(QWEN2_VL_7B.replace("\"rope_scaling\": {\"type\": \"mrope\", \"mrope_section\": [16, 24, 24]},", ""));
    assertTrue(m.contains("no 'mrope_section'"), m);
  }

  @Test
  void whatTheDecoderCannotRunIsRefusedNamingTheKey() {
    assertTrue(error(QWEN2_VL_7B.replace("\"qwen2_vl\"", "\"qwen3_vl\"")).contains("'model_type' is 'qwen3_vl'"));
    assertTrue(error("{\"rope_scaling\": {}}").contains("no 'model_type'"));
    assertTrue(error(QWEN2_VL_7B.replace("\"type\": \"mrope\"", "\"type\": \"yarn\"")).contains("'rope_type' is 'yarn'"));
    assertTrue(error(QWEN2_VL_7B.replace("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"")).contains("'hidden_act'"));
    assertTrue(error(QWEN2_VL_7B.replace("\"num_attention_heads\": 28", "\"num_attention_heads\": 27"))
        .contains("'hidden_size' (3584) must be a positive multiple"));
    assertTrue(error(QWEN2_VL_7B.replace("\"num_key_value_heads\": 4", "\"num_key_value_heads\": 3"))
        .contains("num_key_value_heads"));
  }

  /**
   * Qwen2VLTextConfig (configuration_qwen2_vl.py, transformers commit 018c8e03) makes layer i sliding
   * only when {@code use_sliding_window} is set, {@code sliding_window} is not None and
   * {@code i >= max_window_layers} (default 80); before {@code layer_types} existed, Qwen2VLAttention
   * applied the window by the same rule. So the published 7B config with the flag set (28 layers,
   * {@code max_window_layers} 28) is all full attention, as is the defaults' 80 of 80.
   */
  @Test
  void slidingWindowIsRefusedOnlyWhereSomeLayerWouldUseIt() {
    String on = QWEN2_VL_7B.replace("\"use_sliding_window\": false", "\"use_sliding_window\": true");
    assertEquals(parse(QWEN2_VL_7B).text(), parse(on).text());
    parse("{\"model_type\": \"qwen2_vl\", \"use_sliding_window\": true, "
        + "\"rope_scaling\": {\"type\": \"mrope\", \"mrope_section\": [16, 24, 24]}}");
    // sliding_window null: no layer has a window, whatever max_window_layers says
    parse(on.replace("\"max_window_layers\": 28", "\"max_window_layers\": 20").replace("\"sliding_window\": 32768",
        "\"sliding_window\": null"));
    String m = error(on.replace("\"max_window_layers\": 28", "\"max_window_layers\": 27"));
    assertTrue(m.startsWith("config.json: 'use_sliding_window'") && m.contains("layers 27 to 27")
        && m.contains("max_window_layers 27"), m);
    // explicit layer_types decide: all full attention runs even with the flag set
    parse(on.replace("\"max_window_layers\": 28", "\"max_window_layers\": 1, \"layer_types\": ["
        + String.join(", ", java.util.Collections.nCopies(28, "\"full_attention\"")) + "]"));
    m = error(QWEN2_VL_7B.replace("\"max_window_layers\": 28", "\"layer_types\": [\"sliding_attention\"]"));
    assertTrue(m.contains("'layer_types'") && m.contains("sliding_attention"), m);
  }

  @Test
  void toJsonReadsBackTheSameConfig() throws Exception {
    for (String json : new String[] {QWEN2_VL_7B, QWEN2_VL_2B, NEWER}) {
      QwenVlConfig c = parse(json);
      QwenVlConfig back = QwenVlConfig.parse(c.toJson(), "written");
      assertEquals(c.modelType(), back.modelType());
      assertEquals(c.text(), back.text());
      assertEquals(c.mropeSection(), back.mropeSection());
      assertArrayEquals(new int[] {c.imageTokenId(), c.videoTokenId(), c.visionStartTokenId(), c.visionEndTokenId(),
          c.spatialMergeSize()}, new int[] {back.imageTokenId(), back.videoTokenId(), back.visionStartTokenId(),
          back.visionEndTokenId(), back.spatialMergeSize()});
      assertEquals(c.vision().json(), back.vision().json());
    }
  }

  @Test
  void ropeIndexUsesTheConfigsTokensAndMergeSize() {
    QwenVlConfig c = parse(QWEN2_VL_7B);
    int[] ids = {9, 151652, 151655, 151655, 151653, 11};
    io.fitprune.pruning.RopeIndex r = c.ropeIndex(ids, new int[][] {{1, 2, 4}}); // a 1 x 2 merged grid
    assertArrayEquals(new int[] {0, 1, 2, 2, 4, 5}, r.positions()[0]);
    assertArrayEquals(new int[] {0, 1, 2, 2, 4, 5}, r.positions()[1]);
    assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, r.positions()[2]);
    assertEquals(6, r.nextPosition());
  }

  @TempDir
  Path tmp;

  /** The README's Qwen2-VL block, on a random tied Qwen2 checkpoint with a tiny config. */
  @Test
  void theReadmeBlockRunsOnARandomFolder() throws Exception {
    Path folder = tmp.resolve("qwen-tiny");
    QwenVlConfig tiny = parse("""
        {"model_type": "qwen2_vl", "hidden_size": 48, "intermediate_size": 40, "num_hidden_layers": 2,
         "num_attention_heads": 3, "num_key_value_heads": 1, "vocab_size": 60, "tie_word_embeddings": true,
         "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]}, "image_token_id": 50, "video_token_id": 51,
         "vision_start_token_id": 52, "vision_end_token_id": 53}""");
    RandomCheckpoint.write(folder, tiny.decoderConfig(6, 3, 3), RandomCheckpoint.Layout.LLAMA, DType.F32, true, true, 1,
        1 << 20);
    Files.write(folder.resolve("config.json"), tiny.toJson());
    int[] inputIds = {1, 2, 52, 50, 50, 50, 50, 50, 50, 53, 3, 4, 5};
    int[][] imageGridThw = {{1, 4, 6}};
    int visual = 6, prefix = 3, text = 4, n = inputIds.length;
    float[] values = new float[n * 48];
    SplittableRandom r = new SplittableRandom(2);
    for (int i = 0; i < values.length; i++) values[i] = (float) r.nextGaussian();
    Tensor embeds = Tensors.of(values, n, 48);
    Spans spans = new Spans(prefix, visual);
    Pruner pruner = Pruner.fitprune(new int[] {2, 1}, visual);
    int[] tokens;
    // README qwen: begin
    QwenVlConfig q = QwenVlConfig.parse(Files.readAllBytes(folder.resolve("config.json")), "config.json");
    DecoderConfig c = q.decoderConfig(visual, prefix, text);                   // M-RoPE split by mrope_section
    DecoderWeights w = DecoderWeights.load(folder, c, null, false, q.text().tieWordEmbeddings());
    RopeIndex pos = q.ropeIndex(inputIds, imageGridThw);                      // get_rope_index: [3][n] and the next id
    Decoder dec = new Decoder(w);
    try (Decoder.Prefill p = dec.prefill(embeds, spans, pos.positions(), pruner, 8)) { // survivors keep their ids
      tokens = dec.generate(p, 8);                                            // decoding from pos.nextPosition()
    }
    // README qwen: end
    assertEquals(8, tokens.length);
    // ids 0, 1, 2 for the text and vision start; the 2 x 3 grid from 3 (largest 3 + 2); 6 for the vision end; 7, 8, 9
    assertEquals(10, pos.nextPosition());
    ReadmeBlocks.requireShown("src/test/java/io/fitprune/hf/QwenVlConfigTest.java", README_BEGIN, README_END);
  }
}
