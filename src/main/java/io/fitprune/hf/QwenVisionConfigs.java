package io.fitprune.hf;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.vision.qwen.QwenVisionConfig;
import io.fitprune.vision.qwen.QwenVisionFamily;
import java.util.List;

/**
 * A Qwen2-VL or Qwen2.5-VL {@code vision_config} to and from {@link QwenVisionConfig}, with the
 * defaults of transformers' {@code Qwen2VLVisionConfig} and {@code Qwen2_5_VLVisionConfig} for the
 * keys it leaves out. As in transformers, keys the class does not take are ignored: the published
 * configs' {@code in_chans}, {@code spatial_patch_size}, {@code tokens_per_second} (the tower reads
 * {@code in_channels}, default 3).
 */
final class QwenVisionConfigs {
  private QwenVisionConfigs() {}

  /** Reads {@code vision_config} of a model whose top-level {@code model_type} gave {@code family}. */
  static QwenVisionConfig parse(ConfigJson c, QwenVisionFamily family) {
    String type = c.string("model_type", family.modelType());
    if (!type.equals(family.modelType()))
      throw c.error("model_type", "is '" + type + "'; a " + family.modelType() + " model's vision_config must be '"
          + family.modelType() + "'");
    boolean q25 = family.windowed();
    QwenVisionConfig d = q25 ? QwenVisionConfig.qwen25VlDefaults() : QwenVisionConfig.qwen2VlDefaults();
    try {
      if (!q25) {
        int embed = c.integer("embed_dim", d.hiddenSize());
        double ratio = c.number("mlp_ratio", 4);
        double inner = embed * ratio; // int(embed_dim * mlp_ratio), truncating as Python's int() does
        if (!(inner >= 1 && inner < (1 << 30))) throw c.error("mlp_ratio", "gives an MLP width of " + inner + " (embed_dim * mlp_ratio)");
        return new QwenVisionConfig(family, c.integer("depth", d.depth()), embed, (int) inner,
            c.integer("hidden_size", d.outHiddenSize()), c.integer("num_heads", d.heads()),
            c.integer("in_channels", d.inChannels()), c.integer("patch_size", d.patchSize()),
            c.integer("temporal_patch_size", d.temporalPatchSize()), c.integer("spatial_merge_size", d.spatialMergeSize()),
            c.string("hidden_act", d.hiddenAct()), 0, List.of());
      }
      return new QwenVisionConfig(family, c.integer("depth", d.depth()), c.integer("hidden_size", d.hiddenSize()),
          c.integer("intermediate_size", d.intermediateSize()), c.integer("out_hidden_size", d.outHiddenSize()),
          c.integer("num_heads", d.heads()), c.integer("in_channels", d.inChannels()), c.integer("patch_size", d.patchSize()),
          c.integer("temporal_patch_size", d.temporalPatchSize()), c.integer("spatial_merge_size", d.spatialMergeSize()),
          c.string("hidden_act", d.hiddenAct()), c.integer("window_size", d.windowSize()),
          fullatt(c, d.fullattBlockIndexes()));
    } catch (IllegalArgumentException e) {
      if (e.getMessage().startsWith(c.where)) throw e;
      throw c.error(e.getMessage());
    }
  }

  private static List<Integer> fullatt(ConfigJson c, List<Integer> dflt) {
    int[] a = c.integers("fullatt_block_indexes", null);
    return a == null ? dflt : java.util.stream.IntStream.of(a).boxed().toList();
  }

  /** Every key the tower's class takes, written out as the published Qwen configs write them. */
  static void write(QwenVisionConfig v, ObjectNode o) {
    o.put("model_type", v.family().modelType());
    o.put("depth", v.depth());
    if (v.family().windowed()) {
      o.put("hidden_size", v.hiddenSize());
      o.put("intermediate_size", v.intermediateSize());
      o.put("out_hidden_size", v.outHiddenSize());
    } else {
      o.put("embed_dim", v.hiddenSize());
      o.put("hidden_size", v.outHiddenSize());
      if (v.intermediateSize() % v.hiddenSize() == 0) o.put("mlp_ratio", v.intermediateSize() / v.hiddenSize());
      else {
        double ratio = (double) v.intermediateSize() / v.hiddenSize();
        if ((int) (v.hiddenSize() * ratio) != v.intermediateSize())
          throw new IllegalArgumentException("vision_config: no mlp_ratio gives an MLP width of " + v.intermediateSize()
              + " for embed_dim " + v.hiddenSize());
        o.put("mlp_ratio", ratio);
      }
    }
    o.put("hidden_act", v.hiddenAct());
    o.put("num_heads", v.heads());
    o.put("in_channels", v.inChannels());
    o.put("patch_size", v.patchSize());
    o.put("spatial_merge_size", v.spatialMergeSize());
    o.put("temporal_patch_size", v.temporalPatchSize());
    if (v.family().windowed()) {
      o.put("window_size", v.windowSize());
      ArrayNode a = o.putArray("fullatt_block_indexes");
      for (int i : v.fullattBlockIndexes()) a.add(i);
    }
  }
}
