package io.fitprune.vision.qwen;

import io.fitprune.io.Checkpoint;
import io.fitprune.io.TensorInfo;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Names and shapes of a Qwen2-VL or Qwen2.5-VL checkpoint's vision tower, as
 * {@code Qwen2VLForConditionalGeneration} / {@code Qwen2_5_VLForConditionalGeneration} save them,
 * in either layout: {@code visual.} (the published checkpoints, language model under
 * {@code model.}) or {@code model.visual.} (transformers 4.52 and later, language model under
 * {@code model.language_model.}). Torch-free: it checks a model folder without libtorch, and a
 * random-folder writer takes its shapes from {@link #expected} (F32 or BF16 values of those shapes,
 * norm scales near 1, written under these names, make a tower {@link QwenVisionCheckpoint} binds).
 */
public final class QwenVisionTensors {
  /** The two layouts' prefixes. */
  public enum Layout {
    VISUAL("visual."),
    MODEL_VISUAL("model.visual.");

    private final String prefix;

    Layout(String prefix) {
      this.prefix = prefix;
    }

    public String prefix() {
      return prefix;
    }
  }

  private QwenVisionTensors() {}

  /** Every tensor of the tower with its shape, in the order the model declares them. */
  public static Map<String, long[]> expected(QwenVisionConfig c, Layout layout) {
    if (c == null) throw new IllegalArgumentException("vision config is null");
    if (layout == null) throw new IllegalArgumentException("layout is null");
    Map<String, long[]> m = new LinkedHashMap<>();
    String v = layout.prefix;
    long d = c.hiddenSize(), f = c.intermediateSize(), mw = c.mergedWidth();
    boolean qwen25 = c.family().windowed();
    m.put(v + "patch_embed.proj.weight",
        new long[] {d, c.inChannels(), c.temporalPatchSize(), c.patchSize(), c.patchSize()});
    for (int l = 0; l < c.depth(); l++) {
      String b = v + "blocks." + l + ".";
      norm(m, b + "norm1", d, !qwen25);
      norm(m, b + "norm2", d, !qwen25);
      linear(m, b + "attn.qkv", 3 * d, d);
      linear(m, b + "attn.proj", d, d);
      if (qwen25) {
        linear(m, b + "mlp.gate_proj", f, d);
        linear(m, b + "mlp.up_proj", f, d);
        linear(m, b + "mlp.down_proj", d, f);
      } else {
        linear(m, b + "mlp.fc1", f, d);
        linear(m, b + "mlp.fc2", d, f);
      }
    }
    norm(m, v + "merger.ln_q", d, !qwen25);
    linear(m, v + "merger.mlp.0", mw, mw);
    linear(m, v + "merger.mlp.2", c.outHiddenSize(), mw);
    return m;
  }

  private static void norm(Map<String, long[]> m, String name, long d, boolean bias) {
    m.put(name + ".weight", new long[] {d});
    if (bias) m.put(name + ".bias", new long[] {d});
  }

  private static void linear(Map<String, long[]> m, String name, long out, long in) {
    m.put(name + ".weight", new long[] {out, in});
    m.put(name + ".bias", new long[] {out});
  }

  /** The layout of a checkpoint's tower, from its names ({@code model.visual.} if any name has it). */
  public static Layout detect(Checkpoint ck) {
    for (String n : ck.tensors().keySet()) if (n.startsWith(Layout.MODEL_VISUAL.prefix)) return Layout.MODEL_VISUAL;
    return Layout.VISUAL;
  }

  /**
   * Checks that {@code ck} holds the tower {@code c} describes: each tensor present with its shape,
   * and nothing else under the layout's prefix. The error is one line naming the file, the tensor
   * and the expected shape; {@code config} names the configuration it came from (e.g. the
   * config.json path).
   */
  public static Layout check(Checkpoint ck, QwenVisionConfig c, String config) {
    if (ck == null) throw new IllegalArgumentException("checkpoint is null");
    Layout layout = detect(ck);
    Map<String, long[]> want = expected(c, layout);
    String from = config == null ? "vision_config" : config + " vision_config";
    for (Map.Entry<String, long[]> w : want.entrySet()) {
      TensorInfo t = ck.tensors().get(w.getKey());
      if (t == null) throw new IllegalArgumentException("weights: " + ck.path() + " has no tensor '" + w.getKey() + "'");
      if (!Arrays.equals(t.shape(), w.getValue()))
        throw new IllegalArgumentException("weights: tensor '" + w.getKey() + "' in " + ck.fileOf(w.getKey())
            + " must have shape " + Arrays.toString(w.getValue()) + " for " + from + ", got " + t.shapeString());
    }
    for (String n : ck.tensors().keySet())
      if (n.startsWith(layout.prefix) && !want.containsKey(n))
        throw new IllegalArgumentException("weights: tensor '" + n + "' in " + ck.fileOf(n) + " is not part of the "
            + c.family().modelType() + " vision tower " + from + " describes (depth " + c.depth() + ")");
    return layout;
  }
}
