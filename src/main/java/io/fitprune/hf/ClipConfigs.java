package io.fitprune.hf;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.vision.ClipVisionConfig;

/** {@code vision_config} to and from {@link ClipVisionConfig}, with transformers' {@code CLIPVisionConfig} defaults. */
final class ClipConfigs {
  // CLIPVisionConfig's defaults (ViT-B/32 at 224 px).
  static final int HIDDEN = 768, INTERMEDIATE = 3072, LAYERS = 12, HEADS = 12, CHANNELS = 3, IMAGE = 224, PATCH = 32,
      PROJECTION = 512;
  static final double EPS = 1e-5;
  static final String ACT = "quick_gelu";

  /** LlavaConfig's vision tower when {@code vision_config} is absent: CLIP ViT-L/14 at 336 px. */
  static final ClipVisionConfig LLAVA_DEFAULT = new ClipVisionConfig(1024, 4096, 24, 16, CHANNELS, 336, 14, EPS, ACT);

  private ClipConfigs() {}

  /** Reads {@code vision_config}; {@code model_type} absent means clip_vision_model, as LlavaConfig assumes. */
  static ClipVisionConfig parse(ConfigJson c) {
    String type = c.string("model_type", "clip_vision_model");
    if (!type.equals("clip_vision_model"))
      throw c.error("model_type", "is '" + type + "'; only CLIP vision towers ('clip_vision_model') are supported");
    try {
      return new ClipVisionConfig(c.integer("hidden_size", HIDDEN), c.integer("intermediate_size", INTERMEDIATE),
          c.integer("num_hidden_layers", LAYERS), c.integer("num_attention_heads", HEADS),
          c.integer("num_channels", CHANNELS), c.integer("image_size", IMAGE), c.integer("patch_size", PATCH),
          c.number("layer_norm_eps", EPS), c.string("hidden_act", ACT));
    } catch (IllegalArgumentException e) {
      if (e.getMessage().startsWith(c.where)) throw e;
      throw c.error(e.getMessage());
    }
  }

  /** The keys as the Hub writes them: those equal to CLIPVisionConfig's defaults left out. */
  static void write(ClipVisionConfig v, ObjectNode o) {
    o.put("model_type", "clip_vision_model");
    if (v.hiddenSize() != HIDDEN) o.put("hidden_size", v.hiddenSize());
    if (v.intermediateSize() != INTERMEDIATE) o.put("intermediate_size", v.intermediateSize());
    if (v.layers() != LAYERS) o.put("num_hidden_layers", v.layers());
    if (v.heads() != HEADS) o.put("num_attention_heads", v.heads());
    if (v.channels() != CHANNELS) o.put("num_channels", v.channels());
    if (v.imageSize() != IMAGE) o.put("image_size", v.imageSize());
    if (v.patchSize() != PATCH) o.put("patch_size", v.patchSize());
    if (v.layerNormEps() != EPS) o.put("layer_norm_eps", v.layerNormEps());
    if (!v.hiddenAct().equals(ACT)) o.put("hidden_act", v.hiddenAct());
  }
}
