package io.fitprune.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.RopeIndex;
import io.fitprune.vision.qwen.QwenVisionConfig;
import io.fitprune.vision.qwen.QwenVisionFamily;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

/**
 * A Qwen2-VL or Qwen2.5-VL {@code config.json} ({@code Qwen2VLForConditionalGeneration},
 * {@code Qwen2_5_VLForConditionalGeneration}) with transformers' defaults ({@code Qwen2VLConfig},
 * {@code Qwen2VLTextConfig}; Qwen2.5-VL's are the same) for every key the file leaves out. The
 * language model's keys are read from {@code text_config} when the file has one (what newer
 * transformers writes), else from the top level (the published files). Every error is one line
 * naming the file and the key.
 *
 * <p>The language model is Qwen2: q/k/v biases, no o_proj or MLP bias, SwiGLU, RMSNorm, head size
 * {@code hidden_size / num_attention_heads}, and M-RoPE split by {@code mrope_section}.
 *
 * @param modelType          {@code qwen2_vl} or {@code qwen2_5_vl}
 * @param name               {@code _name_or_path}'s last segment, or null when the file has none
 * @param text               the language model's sizes, RoPE base, epsilon and {@code tie_word_embeddings}
 * @param mropeSection       (t, h, w) counts of rotary frequencies, summing to half the head size
 * @param imageTokenId       the id each visual row of an image holds in {@code input_ids}
 * @param videoTokenId       the video's (videos are not supported: only refused)
 * @param visionStartTokenId the id before an image's rows
 * @param visionEndTokenId   the id after them
 * @param spatialMergeSize   {@code vision_config.spatial_merge_size}: patches merged per side into one visual row
 * @param vision             {@code vision_config} as written (empty when absent), for the vision tower's parser
 */
public record QwenVlConfig(String modelType, String name, TextConfig text, List<Integer> mropeSection,
    int imageTokenId, int videoTokenId, int visionStartTokenId, int visionEndTokenId, int spatialMergeSize,
    ConfigJson vision) {

  public static final String QWEN2_VL = "qwen2_vl", QWEN2_5_VL = "qwen2_5_vl";

  // Qwen2VLTextConfig's (and Qwen2_5_VLTextConfig's) defaults.
  static final int VOCAB = 152064, HIDDEN = 8192, INTERMEDIATE = 29568, LAYERS = 80, HEADS = 64, KV_HEADS = 8,
      MAX_POSITIONS = 32768, MAX_WINDOW_LAYERS = 80;
  static final double RMS_EPS = 1e-5, ROPE_THETA = 1e6;
  // Qwen2VLConfig's token ids, and the vision config's merge size.
  static final int IMAGE = 151655, VIDEO = 151656, VISION_START = 151652, VISION_END = 151653, MERGE = 2;

  public QwenVlConfig {
    mropeSection = List.copyOf(mropeSection);
  }

  /** Parses {@code config.json}; {@code where} names the file in every error. */
  public static QwenVlConfig parse(byte[] json, String where) {
    return parse(ConfigJson.parse(json, where));
  }

  static QwenVlConfig parse(ConfigJson c) {
    if (!c.has("model_type")) throw c.error("no 'model_type' (expected '" + QWEN2_VL + "' or '" + QWEN2_5_VL + "')");
    String type = c.string("model_type", null);
    if (!type.equals(QWEN2_VL) && !type.equals(QWEN2_5_VL))
      throw c.error("model_type", "is '" + type + "'; only Qwen2-VL ('" + QWEN2_VL + "') and Qwen2.5-VL ('" + QWEN2_5_VL
          + "') configs are read here");
    ConfigJson t = c.has("text_config") ? c.object("text_config") : c; // transformers: text_config wins when given
    int hidden = t.integer("hidden_size", HIDDEN), heads = t.integer("num_attention_heads", HEADS);
    if (heads <= 0) throw t.error("num_attention_heads", "must be > 0, got " + heads);
    if (hidden <= 0 || hidden % heads != 0)
      throw t.error("hidden_size", "(" + hidden + ") must be a positive multiple of num_attention_heads (" + heads + ")");
    int kv = t.node.has("num_key_value_heads") && t.node.get("num_key_value_heads").isNull() ? heads
        : t.integer("num_key_value_heads", KV_HEADS); // an explicit null means one per query head
    if (kv <= 0) throw t.error("num_key_value_heads", "must be > 0, got " + kv);
    String act = t.string("hidden_act", "silu");
    if (!act.equals("silu")) throw t.error("hidden_act", "is '" + act + "'; the decoder's MLP is SwiGLU (silu)");
    if (t.has("layer_types")) {
      JsonNode lt = t.node.get("layer_types");
      for (JsonNode e : lt)
        if (!"full_attention".equals(e.asText()))
          throw t.error("layer_types", "holds '" + e.asText() + "'; the decoder has only full attention");
    } else if (t.bool("use_sliding_window", false) && !(t.node.has("sliding_window") && t.node.get("sliding_window").isNull())) {
      // as transformers: only layers from max_window_layers on get the window, so the flag alone changes nothing
      int layers = t.integer("num_hidden_layers", LAYERS), full = t.integer("max_window_layers", MAX_WINDOW_LAYERS);
      if (full < layers)
        throw t.error("use_sliding_window", "is true with max_window_layers " + full + ": layers " + Math.max(full, 0)
            + " to " + (layers - 1) + " would use sliding-window attention, which the decoder does not have");
    }
    ConfigJson rope = t.has("rope_scaling") ? t.object("rope_scaling") : t.object("rope_parameters");
    double theta = rope.number("rope_theta", t.number("rope_theta", ROPE_THETA));
    String ropeType = rope.string("rope_type", rope.string("type", "default"));
    if (!ropeType.equals("mrope") && !ropeType.equals("default"))
      throw rope.error("rope_type", "is '" + ropeType + "'; the decoder implements unscaled M-RoPE ('mrope' or 'default')");
    if (rope.bool("mrope_interleaved", false))
      throw rope.error("mrope_interleaved", "is true; Qwen2-VL's M-RoPE takes the sections in order");
    int[] section = rope.integers("mrope_section", null);
    if (section == null) throw rope.error("no 'mrope_section': Qwen2-VL's M-RoPE needs the (t, h, w) split");
    int half = hidden / heads / 2;
    if (section.length != 3 || IntStream.of(section).anyMatch(s -> s < 0) || IntStream.of(section).asLongStream().sum() != half)
      throw rope.error("mrope_section", Arrays.toString(section) + " must be 3 counts >= 0 summing to half the head dim ("
          + hidden / heads + " / 2 = " + half + ")");
    boolean tie = t.bool("tie_word_embeddings", c.bool("tie_word_embeddings", false));
    TextConfig text;
    try {
      text = new TextConfig(t.integer("vocab_size", VOCAB), hidden, t.integer("intermediate_size", INTERMEDIATE),
          t.integer("num_hidden_layers", LAYERS), heads, kv, hidden / heads, t.number("rms_norm_eps", RMS_EPS), theta,
          t.integer("max_position_embeddings", MAX_POSITIONS), tie);
    } catch (IllegalArgumentException e) {
      throw t.error(e.getMessage());
    }
    int[] ids = new int[4];
    String[] keys = {"image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"};
    int[] dflt = {IMAGE, VIDEO, VISION_START, VISION_END};
    for (int i = 0; i < 4; i++)
      if ((ids[i] = c.integer(keys[i], dflt[i])) < 0) throw c.error(keys[i], "must be >= 0, got " + ids[i]);
    ConfigJson vision = c.object("vision_config");
    // one source of truth: the merge size the tower's own parser reads (and checks) from vision_config
    int merge = QwenVisionConfigs.parse(vision, QwenVisionFamily.of(type)).spatialMergeSize();
    return new QwenVlConfig(type, c.nameOrPath(), text, IntStream.of(section).boxed().toList(), ids[0], ids[1], ids[2],
        ids[3], merge, vision);
  }

  /** Whether {@code c} is a Qwen2-VL or Qwen2.5-VL config (by {@code model_type}). */
  static boolean isQwenVl(ConfigJson c) {
    String t = c.string("model_type", "");
    return t.equals(QWEN2_VL) || t.equals(QWEN2_5_VL);
  }

  /**
   * The Hugging Face config bundled for a model name ({@code qwen2-vl-tiny}, {@code qwen2.5-vl-tiny},
   * {@code qwen2-vl-7b}), or null when none is, or the bundled one is not Qwen's.
   */
  public static QwenVlConfig bundled(String name) throws IOException {
    if (name == null || name.contains("/")) return null;
    try (java.io.InputStream in = QwenVlConfig.class.getResourceAsStream(name + ".json")) {
      if (in == null) return null;
      ConfigJson c = ConfigJson.parse(in.readAllBytes(), "bundled Hugging Face config " + name);
      return isQwenVl(c) ? parse(c).withName(name) : null;
    }
  }

  public QwenVlConfig withName(String n) {
    return new QwenVlConfig(modelType, n, text, mropeSection, imageTokenId, videoTokenId, visionStartTokenId,
        visionEndTokenId, spatialMergeSize, vision);
  }

  /** The vision tower's shape: {@code vision_config} read with its family's transformers defaults. */
  public QwenVisionConfig visionConfig() {
    return QwenVisionConfigs.parse(vision, QwenVisionFamily.of(modelType));
  }

  /** The language model as the reference decoder runs it, with the pruning geometry's token counts. */
  public DecoderConfig decoderConfig(int visualTokens, int prefixTokens, int textTokens) {
    TextConfig t = text;
    Geometry g = new Geometry(name == null ? modelType : name, t.layers(), t.hidden(), t.heads(), t.kvHeads(),
        t.headDim(), t.intermediate(), visualTokens, prefixTokens, textTokens);
    return DecoderConfig.of(g, t.vocab(), t.ropeTheta(), t.rmsEps(), mropeSection);
  }

  /** The 3-D position ids of {@code inputIds} with images of patch grids {@code imageGrids} ({t, h, w} each). */
  public RopeIndex ropeIndex(int[] inputIds, int[][] imageGrids) {
    return RopeIndex.of(inputIds, imageGrids, spatialMergeSize, imageTokenId, videoTokenId, visionStartTokenId);
  }

  /**
   * {@code config.json} in the published layout: the language model's keys at the top level, all
   * written out as Qwen's files do, {@code rope_scaling} of type {@code mrope}, and
   * {@code vision_config} as it was read.
   */
  public byte[] toJson() throws IOException {
    ObjectNode o = ConfigJson.JSON.createObjectNode();
    if (name != null) o.put("_name_or_path", name);
    o.putArray("architectures").add(modelType.equals(QWEN2_VL) ? "Qwen2VLForConditionalGeneration"
        : "Qwen2_5_VLForConditionalGeneration");
    o.put("model_type", modelType);
    TextConfig t = text;
    o.put("hidden_act", "silu");
    o.put("hidden_size", t.hidden());
    o.put("intermediate_size", t.intermediate());
    o.put("num_hidden_layers", t.layers());
    o.put("num_attention_heads", t.heads());
    o.put("num_key_value_heads", t.kvHeads());
    o.put("max_position_embeddings", t.maxPositions());
    o.put("rms_norm_eps", t.rmsEps());
    o.put("rope_theta", t.ropeTheta());
    ObjectNode rs = o.putObject("rope_scaling");
    rs.put("type", "mrope");
    ArrayNode sec = rs.putArray("mrope_section");
    mropeSection.forEach(sec::add);
    o.put("tie_word_embeddings", t.tieWordEmbeddings());
    o.put("use_sliding_window", false);
    o.put("vocab_size", t.vocab());
    o.put("image_token_id", imageTokenId);
    o.put("video_token_id", videoTokenId);
    o.put("vision_start_token_id", visionStartTokenId);
    o.put("vision_end_token_id", visionEndTokenId);
    ObjectNode v = vision.json();
    if (spatialMergeSize != MERGE || v.has("spatial_merge_size")) v.put("spatial_merge_size", spatialMergeSize);
    o.set("vision_config", v);
    return ConfigJson.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(o);
  }
}
