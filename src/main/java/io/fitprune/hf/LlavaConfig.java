package io.fitprune.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.vision.ClipVisionConfig;
import io.fitprune.vision.ProjectorConfig;
import io.fitprune.model.Geometry;
import java.io.IOException;
import java.io.InputStream;

/**
 * A model folder's {@code config.json} ({@code LlavaForConditionalGeneration}) with transformers'
 * defaults ({@code LlavaConfig}, {@code LlamaConfig}, {@code CLIPVisionConfig}) for every key the
 * file leaves out.
 *
 * @param name            {@code _name_or_path}'s last segment, or null when the file has none
 * @param text            {@code text_config}
 * @param vision          {@code vision_config} (LlavaConfig's CLIP ViT-L/14-336 when absent)
 * @param projector       the projector's fields
 * @param imageTokenIndex {@code image_token_index}: the id that stands for one visual token (it may
 *                        lie past the vocabulary: the model replaces it before embedding)
 * @param imageSeqLength  visual tokens per image: the tower's patches, plus its CLS row with the
 *                        {@code full} strategy ({@code image_seq_length} must agree when given)
 */
public record LlavaConfig(String name, TextConfig text, ClipVisionConfig vision, ProjectorConfig projector,
    int imageTokenIndex, int imageSeqLength) {

  // LlavaConfig's defaults.
  static final int IMAGE_TOKEN_INDEX = 32000, IMAGE_SEQ_LENGTH = 576, FEATURE_LAYER = -2;
  static final String ACT = "gelu", STRATEGY = "default";

  /** Parses {@code config.json}; {@code where} names the file in every error. */
  public static LlavaConfig parse(byte[] json, String where) {
    return parse(ConfigJson.parse(json, where));
  }

  static LlavaConfig parse(ConfigJson c) {
    if (!c.has("model_type")) throw c.error("no 'model_type' (expected 'llava')");
    String type = c.string("model_type", null);
    if (type.equals(LlavaNextConfig.MODEL_TYPE))
      throw c.error("model_type", "is 'llava_next': LLaVA-NeXT configs are read by LlavaNextConfig (ModelFolder reads "
          + "either)");
    if (!type.equals("llava"))
      throw c.error("model_type", "is '" + type + "'; only LLaVA models ('llava', LlavaForConditionalGeneration) are supported");
    return parseFields(c);
  }

  /** The fields LlavaConfig and LlavaNextConfig share, with the same defaults; the caller checked model_type. */
  static LlavaConfig parseFields(ConfigJson c) {
    TextConfig text = TextConfig.parse(c.object("text_config"));
    ClipVisionConfig vision = c.has("vision_config") ? ClipConfigs.parse(c.object("vision_config")) : ClipConfigs.LLAVA_DEFAULT;
    JsonNode layer = c.node.get("vision_feature_layer");
    if (layer != null && layer.isArray())
      throw c.error("vision_feature_layer", "is a list " + layer + "; only one feature layer is supported");
    String strategy = c.string("vision_feature_select_strategy", STRATEGY);
    ProjectorConfig projector;
    try {
      projector = new ProjectorConfig(c.integer("vision_feature_layer", FEATURE_LAYER), strategy, vision.hiddenSize(),
          text.hidden(), c.string("projector_hidden_act", ACT), c.bool("multimodal_projector_bias", true));
      projector.stateIndex(vision.layers());
    } catch (IllegalArgumentException e) {
      throw c.error(e.getMessage());
    }
    int imageToken = c.integer("image_token_index", c.integer("image_token_id", IMAGE_TOKEN_INDEX));
    // It may lie past the vocabulary (LlavaConfig's own defaults do): the model never embeds it.
    if (imageToken < 0) throw c.error("image_token_index", "must be >= 0, got " + imageToken);
    int visual = vision.patches() + (projector.dropsCls() ? 0 : 1);
    if (c.has("image_seq_length") && c.integer("image_seq_length", 0) != visual)
      throw c.error("image_seq_length", "is " + c.integer("image_seq_length", 0) + " but the vision tower gives " + visual
          + " visual tokens (" + vision.patchesPerSide() + "x" + vision.patchesPerSide() + " patches"
          + (projector.dropsCls() ? "" : " + CLS") + ")");
    return new LlavaConfig(c.nameOrPath(), text, vision, projector, imageToken, visual);
  }

  /**
   * The Hugging Face config bundled for a model name ({@code llava-tiny}, {@code llava-1.5-7b}: the
   * latter is llava-hf's own file), or null when none is.
   */
  public static LlavaConfig bundled(String name) throws IOException {
    try (InputStream in = LlavaConfig.class.getResourceAsStream(name + ".json")) {
      if (in == null || name.contains("/")) return null;
      return parse(in.readAllBytes(), "bundled Hugging Face config " + name).withName(name);
    }
  }

  /**
   * LlavaConfig's defaults around a decoder geometry: CLIP ViT-L/14 at the image size whose patches
   * give the geometry's visual tokens, image token 32000 and pad 32001 (the vocabulary must hold them).
   */
  public static LlavaConfig forGeometry(Geometry g, int vocab, double ropeTheta, double rmsEps) {
    int side = (int) Math.round(Math.sqrt(g.visualTokens()));
    if (side * side != g.visualTokens())
      throw new IllegalArgumentException(g.name() + ": " + g.visualTokens() + " visual tokens are not a square grid of "
          + "patches; a LLaVA vision tower needs a square number");
    ClipVisionConfig d = ClipConfigs.LLAVA_DEFAULT;
    ClipVisionConfig v = new ClipVisionConfig(d.hiddenSize(), d.intermediateSize(), d.layers(), d.heads(), d.channels(),
        side * d.patchSize(), d.patchSize(), d.layerNormEps(), d.hiddenAct());
    if (vocab <= IMAGE_TOKEN_INDEX + 1)
      throw new IllegalArgumentException("--vocab " + vocab + " has no room for LLaVA's image token " + IMAGE_TOKEN_INDEX
          + " and pad token " + (IMAGE_TOKEN_INDEX + 1));
    TextConfig t = new TextConfig(vocab, g.hidden(), g.mlp(), g.layers(), g.heads(), g.kvHeads(), g.headDim(), rmsEps,
        ropeTheta, 4096, false);
    return new LlavaConfig(g.name(), t, v, new ProjectorConfig(FEATURE_LAYER, STRATEGY, v.hiddenSize(), t.hidden(), ACT, true),
        IMAGE_TOKEN_INDEX, v.patches());
  }

  public LlavaConfig withName(String n) {
    return new LlavaConfig(n, text, vision, projector, imageTokenIndex, imageSeqLength);
  }

  /** This config with another vocabulary size or number of decoder layers. */
  public LlavaConfig withText(int vocab, int layers) {
    TextConfig t = text;
    return new LlavaConfig(name, new TextConfig(vocab, t.hidden(), t.intermediate(), layers, t.heads(), t.kvHeads(),
        t.headDim(), t.rmsEps(), t.ropeTheta(), t.maxPositions(), t.tieWordEmbeddings()), vision, projector,
        imageTokenIndex, imageSeqLength);
  }

  /** {@code config.json} as the Hub writes it: keys equal to the defaults left out, {@link #parse} fills them back in. */
  public byte[] toJson() throws IOException {
    ObjectNode o = ConfigJson.JSON.createObjectNode();
    if (name != null) o.put("_name_or_path", name);
    o.putArray("architectures").add("LlavaForConditionalGeneration");
    o.put("ignore_index", -100);
    o.put("image_token_index", imageTokenIndex);
    if (imageSeqLength != IMAGE_SEQ_LENGTH) o.put("image_seq_length", imageSeqLength);
    o.put("model_type", "llava");
    if (imageTokenIndex + 1 < text.vocab()) o.put("pad_token_id", imageTokenIndex + 1);
    o.put("projector_hidden_act", projector.act());
    if (!projector.bias()) o.put("multimodal_projector_bias", false);
    text.write(o.putObject("text_config"));
    o.put("tie_word_embeddings", text.tieWordEmbeddings());
    ClipConfigs.write(vision, o.putObject("vision_config"));
    o.put("vision_feature_layer", projector.featureLayer());
    o.put("vision_feature_select_strategy", projector.selectStrategy());
    return ConfigJson.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(o);
  }
}
