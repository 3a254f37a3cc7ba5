package io.fitprune.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.io.DType;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Binding a checkpoint's vision tower and projector by their Hugging Face names, in both layouts. */
class VisionCheckpointTest {
  static final ClipVisionConfig C = VisionCases.B;
  static final ProjectorConfig PC = VisionCases.projector(C, -2, "default", 19, true);

  @TempDir
  Path dir;

  /** The tensors of {@code w} under their checkpoint names (prefix + vision_tower... / multi_modal_projector...). */
  static Map<String, Tensor> named(VisionWeights w, String prefix) {
    Map<String, Tensor> m = new LinkedHashMap<>();
    String t = prefix + "vision_tower.vision_model.", e = t + "embeddings.";
    ClipVisionConfig c = w.towerConfig();
    m.put(e + "class_embedding", w.embeddings.cls());
    m.put(e + "patch_embedding.weight", w.embeddings.patch().view(c.hiddenSize(), c.channels(), c.patchSize(), c.patchSize()));
    m.put(e + "position_embedding.weight", w.embeddings.pos());
    m.put(t + "pre_layrnorm.weight", w.preNorm.weight());
    m.put(t + "pre_layrnorm.bias", w.preNorm.bias());
    for (int l = 0; l < w.layers.size(); l++) {
      ClipEncoderLayer x = w.layers.get(l);
      String n = t + "encoder.layers." + l + ".";
      m.put(n + "layer_norm1.weight", x.norm1().weight());
      m.put(n + "layer_norm1.bias", x.norm1().bias());
      String[] names = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1", "mlp.fc2"};
      Tensor[] ws = {x.q(), x.k(), x.v(), x.out(), x.fc1(), x.fc2()}, bs = {x.qBias(), x.kBias(), x.vBias(), x.outBias(),
          x.fc1Bias(), x.fc2Bias()};
      for (int i = 0; i < names.length; i++) {
        m.put(n + names[i] + ".weight", ws[i]);
        m.put(n + names[i] + ".bias", bs[i]);
      }
      m.put(n + "layer_norm2.weight", x.norm2().weight());
      m.put(n + "layer_norm2.bias", x.norm2().bias());
    }
    m.put(t + "post_layernorm.weight", w.preNorm.weight()); // unused by LLaVA's features, but present in checkpoints
    m.put(t + "post_layernorm.bias", w.preNorm.bias());
    String p = prefix + "multi_modal_projector.";
    m.put(p + "linear_1.weight", w.proj.linear1());
    m.put(p + "linear_2.weight", w.proj.linear2());
    if (w.proj.bias1() != null) m.put(p + "linear_1.bias", w.proj.bias1());
    if (w.proj.bias2() != null) m.put(p + "linear_2.bias", w.proj.bias2());
    return m;
  }

  /**
   * Writes the tensors plus an unrelated language-model tensor: all F32, or with {@code bf16} the
   * matrices and their biases BF16 and the norms and embeddings F32 (as {@link VisionWeights#converted} has them).
   */
  Path write(Map<String, Tensor> m, String file, boolean bf16) throws IOException {
    return write(m, file, bf16 ? DType.BF16 : DType.F32);
  }

  Path write(Map<String, Tensor> m, String file, DType matrices) throws IOException {
    return TestTensorFiles.write(dir.resolve(file), m, matrices,
        k -> k.contains("norm") || k.endsWith("class_embedding") || k.contains("position_embedding"),
        "language_model.model.norm.weight");
  }

  static float[] encode(VisionWeights w, float[] px, int images) {
    return new LlavaImageEncoder(w).encode(px, images);
  }

  @Test
  void bothLayoutsLoadAndGiveTheSameFeatures() throws IOException {
    VisionWeights w = VisionWeights.random(C, PC, 3);
    float[] px = VisionCases.pixels(4, C, 2), want = encode(w, px, 2);
    for (String prefix : new String[] {"", "model."}) {
      Path f = write(named(w, prefix), "f32-" + prefix + "safetensors", false);
      VisionWeights got = VisionCheckpoint.load(f, C, PC, null);
      assertEquals(torch.ScalarType.Float.value, got.matrixType().value);
      assertArrayEquals(want, encode(got, px, 2), "layout '" + prefix + "'");
      assertArrayEquals(want, encode(VisionCheckpoint.load(f, C, PC, prefix), px, 2), "explicit prefix '" + prefix + "'");
    }
    // BF16 stays BF16 and equals the bf16 twin of the same weights
    VisionWeights bf = w.converted(torch.ScalarType.BFloat16);
    VisionWeights got = VisionCheckpoint.load(write(named(w, ""), "bf16.safetensors", true), C, PC, null);
    assertEquals(torch.ScalarType.BFloat16.value, got.matrixType().value);
    assertEquals(torch.ScalarType.BFloat16.value, got.proj.linear2().scalar_type().value);
    assertArrayEquals(encode(bf, px, 2), encode(got, px, 2));
    // F16 stays F16 in memory (each matrix converted to bf16 for its call, as the decoder does)
    VisionWeights half = w.converted(torch.ScalarType.Half);
    VisionWeights h = VisionCheckpoint.load(write(named(w, "model."), "f16.safetensors", DType.F16), C, PC, null);
    assertEquals(torch.ScalarType.Half.value, h.matrixType().value);
    assertArrayEquals(encode(half, px, 2), encode(h, px, 2));
  }

  IllegalArgumentException refused(Consumer<Map<String, Tensor>> change) throws IOException {
    Map<String, Tensor> m = named(VisionWeights.random(C, PC, 5), "");
    change.accept(m);
    Path f = write(m, "bad.safetensors", false);
    return assertThrows(IllegalArgumentException.class, () -> VisionCheckpoint.load(f, C, PC, null));
  }

  @Test
  void wrongTensorsAreRefusedNamingThem() throws IOException {
    String q = "vision_tower.vision_model.encoder.layers.1.self_attn.q_proj.weight";
    assertTrue(refused(m -> m.remove(q)).getMessage().contains("no tensor '" + q + "'"));
    IllegalArgumentException shape = refused(m -> m.put(q, torch.ones(35, 34)));
    assertTrue(shape.getMessage().contains("'" + q + "' must have shape [35, 35]") && shape.getMessage().contains("[35, 34]"),
        shape.getMessage());
    String pos = "vision_tower.vision_model.embeddings.position_embedding.weight";
    assertTrue(refused(m -> m.put(pos, torch.ones(6, 35))).getMessage().contains("'" + pos + "' must have shape [5, 35]"));
    String extra = "vision_tower.vision_model.encoder.layers.2.self_attn.q_proj.weight";
    assertTrue(refused(m -> m.put(extra, torch.ones(35, 35))).getMessage().contains("more vision layers"));
    String odd = "vision_tower.vision_model.encoder.layers.0.mlp.fc3.weight";
    assertTrue(refused(m -> m.put(odd, torch.ones(2))).getMessage().contains("'" + odd + "'"));
    String b1 = "multi_modal_projector.linear_1.bias";
    assertTrue(refused(m -> m.remove(b1)).getMessage().contains(b1));
    assertTrue(refused(m -> m.keySet().removeIf(k -> k.startsWith("vision_tower"))).getMessage().contains("no vision tower"));
    Map<String, Tensor> two = named(VisionWeights.random(C, PC, 5), "");
    two.putAll(named(VisionWeights.random(C, PC, 6), "model."));
    Path f = write(two, "two.safetensors", false);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VisionCheckpoint.load(f, C, PC, null));
    assertTrue(e.getMessage().contains("several vision towers"), e.getMessage());
    // a projector without biases where the config says it has them none
    Map<String, Tensor> nb = named(VisionWeights.random(C, PC, 5), "");
    Path g = write(nb, "biased.safetensors", false);
    ProjectorConfig noBias = VisionCases.projector(C, -2, "default", 19, false);
    e = assertThrows(IllegalArgumentException.class, () -> VisionCheckpoint.load(g, C, noBias, null));
    assertTrue(e.getMessage().contains("multimodal_projector_bias is false"), e.getMessage());
  }
}
