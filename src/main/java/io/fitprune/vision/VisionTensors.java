package io.fitprune.vision;

import io.fitprune.io.Checkpoint;
import io.fitprune.io.TensorInfo;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Names and shapes of a LLaVA checkpoint's CLIP vision tower and projector, as
 * {@code LlavaForConditionalGeneration} saves them, in either layout: {@code vision_tower.} and
 * {@code multi_modal_projector.} (llava-hf), or the same under {@code model.} (the newer one, whose
 * language model is {@code model.language_model.} with a top-level {@code lm_head}). Torch-free, so a
 * model folder is checked without libtorch.
 */
public final class VisionTensors {
  /** The two layouts' prefixes for the tower and the projector. */
  public enum Layout {
    LLAVA_HF("vision_tower.", "multi_modal_projector."),
    LLAVA("model.vision_tower.", "model.multi_modal_projector.");

    final String tower, projector;

    Layout(String tower, String projector) {
      this.tower = tower;
      this.projector = projector;
    }
  }

  private VisionTensors() {}

  /** Every tensor of the tower and projector with its shape, in the order a checkpoint holds them. */
  public static Map<String, long[]> expected(ClipVisionConfig v, ProjectorConfig p, Layout layout) {
    Map<String, long[]> m = new LinkedHashMap<>();
    long h = v.hiddenSize(), f = v.intermediateSize(), t = p.textHidden();
    String e = layout.tower + "vision_model.";
    m.put(e + "embeddings.class_embedding", new long[] {h});
    m.put(e + "embeddings.patch_embedding.weight", new long[] {h, v.channels(), v.patchSize(), v.patchSize()});
    m.put(e + "embeddings.position_embedding.weight", new long[] {v.positions(), h});
    norm(m, e + "pre_layrnorm", h);
    for (int l = 0; l < v.layers(); l++) {
      String b = e + "encoder.layers." + l + ".";
      for (String proj : new String[] {"q_proj", "k_proj", "v_proj", "out_proj"}) linear(m, b + "self_attn." + proj, h, h, true);
      norm(m, b + "layer_norm1", h);
      linear(m, b + "mlp.fc1", f, h, true);
      linear(m, b + "mlp.fc2", h, f, true);
      norm(m, b + "layer_norm2", h);
    }
    norm(m, e + "post_layernorm", h);
    linear(m, layout.projector + "linear_1", t, p.visionHidden(), p.bias());
    linear(m, layout.projector + "linear_2", t, t, p.bias());
    return m;
  }

  private static void norm(Map<String, long[]> m, String name, long h) {
    m.put(name + ".weight", new long[] {h});
    m.put(name + ".bias", new long[] {h});
  }

  private static void linear(Map<String, long[]> m, String name, long out, long in, boolean bias) {
    m.put(name + ".weight", new long[] {out, in});
    if (bias) m.put(name + ".bias", new long[] {out});
  }

  /** Whether the checkpoint holds any tower or projector tensor, in either layout. */
  public static boolean holdsAny(Checkpoint ck) {
    for (String n : ck.tensors().keySet())
      for (Layout l : Layout.values()) if (n.startsWith(l.tower) || n.startsWith(l.projector)) return true;
    return false;
  }

  /** The layout of a checkpoint's vision tensors, from their names. */
  public static Layout detect(Checkpoint ck) {
    for (String n : ck.tensors().keySet()) if (n.startsWith(Layout.LLAVA.tower) || n.startsWith(Layout.LLAVA.projector)) return Layout.LLAVA;
    return Layout.LLAVA_HF;
  }

  /**
   * Checks that {@code ck} holds the tower and projector the configurations describe: each tensor
   * present with its shape, and nothing else under their prefixes (the position-id buffer older
   * checkpoints saved excepted). The error is one line naming the tensor and its file.
   */
  public static void check(Checkpoint ck, ClipVisionConfig vision, ProjectorConfig projector) {
    Layout layout = detect(ck);
    Map<String, long[]> want = expected(vision, projector, layout);
    for (Map.Entry<String, long[]> w : want.entrySet()) {
      TensorInfo t = ck.tensors().get(w.getKey());
      if (t == null) throw new IllegalArgumentException("weights: " + ck.path() + " has no tensor '" + w.getKey() + "'");
      if (!Arrays.equals(t.shape(), w.getValue()))
        throw new IllegalArgumentException("weights: tensor '" + w.getKey() + "' in " + ck.fileOf(w.getKey())
            + " must have shape " + Arrays.toString(w.getValue()) + " for config.json, got " + t.shapeString());
    }
    List<String> extra = new ArrayList<>();
    for (String n : ck.tensors().keySet())
      if ((n.startsWith(layout.tower) || n.startsWith(layout.projector)) && !want.containsKey(n)
          && !n.endsWith("embeddings.position_ids"))
        extra.add(n);
    if (!extra.isEmpty())
      throw new IllegalArgumentException("weights: tensor '" + extra.get(0) + "' in " + ck.fileOf(extra.get(0))
          + " is not part of the vision tower or projector config.json describes");
  }
}
