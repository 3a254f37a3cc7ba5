package io.fitprune.vision.qwen;

import io.fitprune.decoder.CheckpointTensors;
import io.fitprune.io.Checkpoint;
import io.fitprune.vision.Activation;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * Binds a Qwen2-VL or Qwen2.5-VL checkpoint's vision tower by its Hugging Face names, in place (the
 * matrices stay in their stored type over the mapped file), after {@link QwenVisionTensors#check}
 * has compared every tensor with the configuration.
 */
public final class QwenVisionCheckpoint {
  private QwenVisionCheckpoint() {}

  /** Loads from a safetensors file, a {@code model.safetensors.index.json} or the directory holding either. */
  public static QwenVisionWeights load(Path path, QwenVisionConfig c) throws IOException {
    if (path == null) throw new IllegalArgumentException("weights: no file given");
    try (Checkpoint ck = Checkpoint.open(path)) {
      return bind(ck, c, null);
    }
  }

  /**
   * Binds the tower of an open checkpoint (the tensors stay valid after it is closed); {@code config}
   * names where {@code c} came from in errors (null: "vision_config").
   */
  public static QwenVisionWeights bind(Checkpoint ck, QwenVisionConfig c, String config) throws IOException {
    if (c == null) throw new IllegalArgumentException("vision config is null");
    Activation act = Activation.of("hidden_act", c.hiddenAct());
    String v = QwenVisionTensors.check(ck, c, config).prefix();
    CheckpointTensors ld = new CheckpointTensors(ck);
    long d = c.hiddenSize(), f = c.intermediateSize(), mw = c.mergedWidth();
    boolean qwen25 = c.family().windowed();
    Tensor patch = ld.weight(v + "patch_embed.proj.weight", d, c.inChannels(), c.temporalPatchSize(), c.patchSize(),
        c.patchSize()).view(d, c.patchValues());
    List<VisionBlock> blocks = new ArrayList<>();
    for (int l = 0; l < c.depth(); l++) {
      String b = v + "blocks." + l + ".";
      VisionMlp mlp = qwen25
          ? new VisionMlp(ld.weight(b + "mlp.gate_proj.weight", f, d), ld.weight(b + "mlp.gate_proj.bias", f),
              ld.weight(b + "mlp.up_proj.weight", f, d), ld.weight(b + "mlp.up_proj.bias", f),
              ld.weight(b + "mlp.down_proj.weight", d, f), ld.weight(b + "mlp.down_proj.bias", d), act)
          : new VisionMlp(ld.weight(b + "mlp.fc1.weight", f, d), ld.weight(b + "mlp.fc1.bias", f), null, null,
              ld.weight(b + "mlp.fc2.weight", d, f), ld.weight(b + "mlp.fc2.bias", d), act);
      blocks.add(new VisionBlock(norm(ld, b + "norm1.", d, qwen25), ld.weight(b + "attn.qkv.weight", 3 * d, d),
          ld.weight(b + "attn.qkv.bias", 3 * d), ld.weight(b + "attn.proj.weight", d, d), ld.weight(b + "attn.proj.bias", d),
          norm(ld, b + "norm2.", d, qwen25), mlp));
    }
    PatchMerger merger = new PatchMerger(norm(ld, v + "merger.ln_q.", d, qwen25), ld.weight(v + "merger.mlp.0.weight", mw, mw),
        ld.weight(v + "merger.mlp.0.bias", mw), ld.weight(v + "merger.mlp.2.weight", c.outHiddenSize(), mw),
        ld.weight(v + "merger.mlp.2.bias", c.outHiddenSize()));
    return new QwenVisionWeights(c, patch, blocks, merger, ld.keepAlive(), ck.path().toString());
  }

  private static VisionNorm norm(CheckpointTensors ld, String n, long d, boolean rms) throws IOException {
    return new VisionNorm(ld.norm(n + "weight", d), rms ? null : ld.norm(n + "bias", d));
  }
}
