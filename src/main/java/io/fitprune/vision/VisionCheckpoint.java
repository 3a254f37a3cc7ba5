package io.fitprune.vision;

import io.fitprune.decoder.CheckpointTensors;
import io.fitprune.io.Checkpoint;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.bytedeco.pytorch.Tensor;

/**
 * Binds a LLaVA checkpoint's vision tower and projector by their Hugging Face names, in place (the
 * matrices stay in their stored type over the mapped file). Names are
 * {@code P + "vision_tower.vision_model..."} and {@code P + "multi_modal_projector..."}: {@code P}
 * is empty in the llava-hf layout and {@code "model."} in the newer one, detected when no prefix
 * is given. Every tensor is checked against the configurations (an error names it); a tower
 * tensor this code does not use is an error, except {@code post_layernorm} (LLaVA's features skip
 * it) and the {@code position_ids} buffer older checkpoints saved.
 */
public final class VisionCheckpoint {
  static final String TOWER = "vision_tower.vision_model.", PROJECTOR = "multi_modal_projector.";
  private static final String PROBE = TOWER + "embeddings.patch_embedding.weight";

  private VisionCheckpoint() {}

  /**
   * Loads from a safetensors file, a {@code model.safetensors.index.json} or the directory holding
   * either. {@code prefix} null detects the layout.
   */
  public static VisionWeights load(Path path, ClipVisionConfig c, ProjectorConfig pc, String prefix) throws IOException {
    if (path == null) throw new IllegalArgumentException("weights: no file given");
    try (Checkpoint ck = Checkpoint.open(path)) {
      return bind(ck, c, pc, prefix);
    }
  }

  /** The name prefix in front of {@code vision_tower.} in a checkpoint's names. */
  public static String detectPrefix(Set<String> names, Object where) {
    Set<String> found = new TreeSet<>();
    for (String n : names) if (n.endsWith(PROBE)) found.add(n.substring(0, n.length() - PROBE.length()));
    if (found.isEmpty())
      throw new IllegalArgumentException("weights: " + where + " holds no vision tower (no tensor named '..." + PROBE + "')");
    if (found.size() > 1)
      throw new IllegalArgumentException("weights: " + where + " holds several vision towers (prefixes " + found
          + "): give the name prefix");
    return found.iterator().next();
  }

  /** Binds the tensors of an open checkpoint (the tensors stay valid after it is closed). */
  public static VisionWeights bind(Checkpoint ck, ClipVisionConfig c, ProjectorConfig pc, String prefix)
      throws IOException {
    VisionWeights.checkPair(c, pc);
    String p = prefix != null ? prefix : detectPrefix(ck.tensors().keySet(), ck.path());
    String t = p + TOWER, e = t + "embeddings.";
    CheckpointTensors ld = new CheckpointTensors(ck);
    int d = c.hiddenSize(), f = c.intermediateSize(), ps = c.patchSize(), ch = c.channels();
    String extra = t + "encoder.layers." + c.layers() + ".self_attn.q_proj.weight";
    if (ld.has(extra))
      throw new IllegalArgumentException("weights: " + ck.path() + " has more vision layers than the config's "
          + c.layers() + " (found '" + extra + "')");
    Tensor patch = ld.weight(e + "patch_embedding.weight", d, ch, ps, ps);
    ClipEmbeddings emb = new ClipEmbeddings(patch.view(d, (long) ch * ps * ps), ld.norm(e + "class_embedding", d),
        ld.norm(e + "position_embedding.weight", c.positions(), d));
    LayerNorm pre = norm(ld, t + "pre_layrnorm.", d, c.layerNormEps());
    Activation act = Activation.of("hidden_act", c.hiddenAct());
    List<ClipEncoderLayer> layers = new ArrayList<>();
    for (int l = 0; l < c.layers(); l++) {
      String n = t + "encoder.layers." + l + ".";
      layers.add(new ClipEncoderLayer(norm(ld, n + "layer_norm1.", d, c.layerNormEps()),
          ld.weight(n + "self_attn.q_proj.weight", d, d), ld.weight(n + "self_attn.q_proj.bias", d),
          ld.weight(n + "self_attn.k_proj.weight", d, d), ld.weight(n + "self_attn.k_proj.bias", d),
          ld.weight(n + "self_attn.v_proj.weight", d, d), ld.weight(n + "self_attn.v_proj.bias", d),
          ld.weight(n + "self_attn.out_proj.weight", d, d), ld.weight(n + "self_attn.out_proj.bias", d),
          norm(ld, n + "layer_norm2.", d, c.layerNormEps()), ld.weight(n + "mlp.fc1.weight", f, d),
          ld.weight(n + "mlp.fc1.bias", f), ld.weight(n + "mlp.fc2.weight", d, f), ld.weight(n + "mlp.fc2.bias", d), act));
    }
    for (String name : ck.tensors().keySet())
      if (name.startsWith(t) && !ld.used(name) && !name.startsWith(t + "post_layernorm.")
          && !name.equals(e + "position_ids"))
        throw new IllegalArgumentException("weights: tensor '" + name + "' in " + ck.fileOf(name)
            + " belongs to the vision tower but this tower has no use for it");
    LlavaProjector proj = projector(ld, p + PROJECTOR, pc);
    return new VisionWeights(c, pc, emb, pre, layers, proj, ld.keepAlive(), ck.path().toString());
  }

  private static LlavaProjector projector(CheckpointTensors ld, String n, ProjectorConfig pc) throws IOException {
    int v = pc.visionHidden(), t = pc.textHidden();
    for (String b : new String[] {n + "linear_1.bias", n + "linear_2.bias"})
      if (pc.bias() != ld.has(b))
        throw new IllegalArgumentException("weights: " + (pc.bias() ? "no tensor '" + b + "' in " + ld.checkpoint().path()
            + " but multimodal_projector_bias is true" : "tensor '" + b + "' is present but multimodal_projector_bias is false"));
    Tensor w1 = ld.weight(n + "linear_1.weight", t, v), w2 = ld.weight(n + "linear_2.weight", t, t);
    return new LlavaProjector(w1, ld.bias(n + "linear_1.bias", w1, t), w2, ld.bias(n + "linear_2.bias", w2, t),
        Activation.of("projector_hidden_act", pc.act()));
  }

  private static LayerNorm norm(CheckpointTensors ld, String n, int d, double eps) throws IOException {
    return new LayerNorm(ld.norm(n + "weight", d), ld.norm(n + "bias", d), eps);
  }
}
