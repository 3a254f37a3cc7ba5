package io.fitprune.vision.qwen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.decoder.Tensors;
import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.io.Checkpoint;
import io.fitprune.io.DType;
import io.fitprune.io.ShardedWriter;
import io.fitprune.vision.TestTensorFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Binding a Qwen checkpoint's vision tower by its Hugging Face names, both families, both layouts; wrong shapes refused. */
class QwenVisionCheckpointTest {
  @TempDir
  Path dir;

  /** The tensors of {@code w} under the names Qwen2VLForConditionalGeneration / Qwen2_5_VL... save (prefix "visual." or "model.visual."). */
  static Map<String, Tensor> named(QwenVisionWeights w, String v) {
    QwenVisionConfig c = w.config();
    Map<String, Tensor> m = new LinkedHashMap<>();
    m.put(v + "patch_embed.proj.weight",
        w.patch.view(c.hiddenSize(), c.inChannels(), c.temporalPatchSize(), c.patchSize(), c.patchSize()));
    for (int l = 0; l < w.blocks.size(); l++) {
      VisionBlock b = w.blocks.get(l);
      String n = v + "blocks." + l + ".";
      m.put(n + "norm1.weight", b.norm1().weight());
      if (b.norm1().bias() != null) m.put(n + "norm1.bias", b.norm1().bias());
      m.put(n + "norm2.weight", b.norm2().weight());
      if (b.norm2().bias() != null) m.put(n + "norm2.bias", b.norm2().bias());
      m.put(n + "attn.qkv.weight", b.qkv());
      m.put(n + "attn.qkv.bias", b.qkvBias());
      m.put(n + "attn.proj.weight", b.proj());
      m.put(n + "attn.proj.bias", b.projBias());
      VisionMlp mlp = b.mlp();
      boolean gated = mlp.up() != null;
      m.put(n + (gated ? "mlp.gate_proj.weight" : "mlp.fc1.weight"), mlp.in());
      m.put(n + (gated ? "mlp.gate_proj.bias" : "mlp.fc1.bias"), mlp.inBias());
      if (gated) {
        m.put(n + "mlp.up_proj.weight", mlp.up());
        m.put(n + "mlp.up_proj.bias", mlp.upBias());
      }
      m.put(n + (gated ? "mlp.down_proj.weight" : "mlp.fc2.weight"), mlp.out());
      m.put(n + (gated ? "mlp.down_proj.bias" : "mlp.fc2.bias"), mlp.outBias());
    }
    m.put(v + "merger.ln_q.weight", w.merger.norm().weight());
    if (w.merger.norm().bias() != null) m.put(v + "merger.ln_q.bias", w.merger.norm().bias());
    m.put(v + "merger.mlp.0.weight", w.merger.fc1());
    m.put(v + "merger.mlp.0.bias", w.merger.fc1Bias());
    m.put(v + "merger.mlp.2.weight", w.merger.fc2());
    m.put(v + "merger.mlp.2.bias", w.merger.fc2Bias());
    return m;
  }

  /** Writes the tensors (matrices BF16 with {@code bf16}, norms F32) beside a language-model tensor of the layout. */
  Path write(Map<String, Tensor> m, String file, boolean bf16) throws IOException {
    return TestTensorFiles.write(dir.resolve(file), m, bf16 ? DType.BF16 : DType.F32,
        k -> k.contains("norm") || k.contains("ln_q"), "model.layers.0.input_layernorm.weight");
  }

  static float[] features(QwenVisionWeights w, float[] px, int[][] g) {
    return QwenVisionTowerTest.run(w, px, g);
  }

  @Test
  void theTableNamesEveryTensorTheModelSaves() {
    for (QwenVisionConfig c : List.of(QwenVisionTowerTest.QWEN2, QwenVisionTowerTest.QWEN25)) {
      Map<String, Tensor> m = named(QwenVisionWeights.random(c, 1), "model.visual.");
      Map<String, long[]> want = QwenVisionTensors.expected(c, QwenVisionTensors.Layout.MODEL_VISUAL);
      assertEquals(m.keySet(), want.keySet());
      for (Map.Entry<String, Tensor> e : m.entrySet()) {
        Tensor t = e.getValue();
        long[] shape = new long[(int) t.dim()];
        for (int i = 0; i < shape.length; i++) shape[i] = t.size(i);
        assertArrayEquals(want.get(e.getKey()), shape, e.getKey());
      }
    }
    // Qwen2-VL-7B's tower: 675,759,104 parameters, Qwen2.5-VL-7B's: 676,550,144 (the published sizes of visual.*)
    assertEquals(675_759_104L, params(QwenVisionConfig.qwen2VlDefaults()));
    QwenVisionConfig d25 = QwenVisionConfig.qwen25VlDefaults();
    assertEquals(676_550_144L, params(new QwenVisionConfig(d25.family(), 32, 1280, 3420, 3584, 16, 3, 14, 2, 2, "silu", 112,
        d25.fullattBlockIndexes())));
  }

  static long params(QwenVisionConfig c) {
    long n = 0;
    for (long[] s : QwenVisionTensors.expected(c, QwenVisionTensors.Layout.VISUAL).values()) {
      long k = 1;
      for (long x : s) k *= x;
      n += k;
    }
    return n;
  }

  @Test
  void bothLayoutsAndBothTypesLoadAndGiveTheSameFeatures() throws IOException {
    int[][] g = {{1, 6, 10}, {1, 2, 2}};
    for (QwenVisionConfig c : List.of(QwenVisionTowerTest.QWEN2, QwenVisionTowerTest.QWEN25)) {
      QwenVisionWeights w = QwenVisionWeights.random(c, 3);
      float[] px = QwenVisionTowerTest.pixels(4, QwenVisionTowerTest.rows(g), c.patchValues()), want = features(w, px, g);
      for (String v : new String[] {"visual.", "model.visual."}) {
        QwenVisionWeights got = QwenVisionCheckpoint.load(write(named(w, v), c.family() + v + "safetensors", false), c);
        assertEquals(torch.ScalarType.Float.value, got.matrixType().value);
        assertArrayEquals(want, features(got, px, g), c.family() + " " + v);
      }
      QwenVisionWeights bf = QwenVisionCheckpoint.load(write(named(w, "visual."), c.family() + "bf16.safetensors", true), c);
      assertEquals(torch.ScalarType.BFloat16.value, bf.matrixType().value);
      assertArrayEquals(features(w.converted(torch.ScalarType.BFloat16), px, g), features(bf, px, g), c.family() + " bf16");
    }
  }

  /** What a random model folder writer does: the table's names and shapes through RandomCheckpoint, bound back and run. */
  @Test
  void aRandomCheckpointFromTheTableBindsAndRuns() throws IOException {
    for (QwenVisionConfig c : List.of(QwenVisionTowerTest.QWEN2, QwenVisionTowerTest.QWEN25)) {
      List<ShardedWriter.Entry> entries = new java.util.ArrayList<>();
      QwenVisionTensors.expected(c, QwenVisionTensors.Layout.MODEL_VISUAL)
          .forEach((n, shape) -> entries.add(new ShardedWriter.Entry(n, DType.BF16, shape)));
      Path folder = dir.resolve("random-" + c.family());
      RandomCheckpoint.write(folder, entries, 7, 1 << 20, "test");
      QwenVisionWeights w = QwenVisionCheckpoint.load(folder, c);
      assertEquals(torch.ScalarType.BFloat16.value, w.matrixType().value);
      float[] ln = Tensors.toArray(w.merger.norm().weight());
      for (float x : ln) assertTrue(Math.abs(x - 1) < 0.1, "ln_q weight " + x + " should be near 1");
      int[][] g = {{1, 6, 10}, {1, 2, 2}};
      float[] y = features(w, QwenVisionTowerTest.pixels(1, QwenVisionTowerTest.rows(g), c.patchValues()), g);
      double sum = 0;
      for (float x : y) {
        assertTrue(Float.isFinite(x));
        sum += Math.abs(x);
      }
      assertTrue(sum > 0);
    }
  }

  IllegalArgumentException refused(QwenVisionConfig c, Consumer<Map<String, Tensor>> change) throws IOException {
    Map<String, Tensor> m = named(QwenVisionWeights.random(c, 5), "visual.");
    change.accept(m);
    Path f = write(m, "bad.safetensors", false);
    return assertThrows(IllegalArgumentException.class, () -> QwenVisionCheckpoint.load(f, c));
  }

  @Test
  void tensorsThatDisagreeWithTheConfigAreRefusedNamingFileTensorAndShape() throws IOException {
    QwenVisionConfig c = QwenVisionTowerTest.QWEN25;
    String qkv = "visual.blocks.1.attn.qkv.weight";
    IllegalArgumentException e = refused(c, m -> m.put(qkv, torch.ones(120, 41)));
    assertTrue(e.getMessage().matches("weights: tensor '" + qkv.replace(".", "\\.") + "' in .*bad\\.safetensors must have shape "
        + "\\[120, 40\\] for vision_config, got \\[120, 41\\]"), e.getMessage());
    String patch = "visual.patch_embed.proj.weight";
    e = refused(c, m -> m.put(patch, torch.ones(40, 3, 1, 3, 3)));
    assertTrue(e.getMessage().contains("'" + patch + "'") && e.getMessage().contains("[40, 3, 2, 3, 3]"), e.getMessage());
    String merger = "visual.merger.mlp.2.weight";
    e = refused(c, m -> m.put(merger, torch.ones(24, 160)));
    assertTrue(e.getMessage().contains("[23, 160]"), e.getMessage());
    e = refused(c, m -> m.remove("visual.blocks.2.mlp.up_proj.bias"));
    assertTrue(e.getMessage().contains("has no tensor 'visual.blocks.2.mlp.up_proj.bias'"), e.getMessage());
    e = refused(c, m -> m.put("visual.blocks.3.attn.qkv.weight", torch.ones(120, 40)));
    assertTrue(e.getMessage().contains("'visual.blocks.3.attn.qkv.weight'") && e.getMessage().contains("depth 3"),
        e.getMessage());
    e = refused(c, m -> m.put("visual.blocks.0.norm1.bias", torch.ones(40))); // a LayerNorm bias in a Qwen2.5-VL tower
    assertTrue(e.getMessage().contains("'visual.blocks.0.norm1.bias'") && e.getMessage().contains("qwen2_5_vl"),
        e.getMessage());
    QwenVisionConfig q2 = QwenVisionTowerTest.QWEN2; // a Qwen2-VL checkpoint read with a Qwen2.5-VL config
    Map<String, Tensor> m = named(QwenVisionWeights.random(q2, 5), "visual.");
    Path f = write(m, "qwen2.safetensors", false);
    try (Checkpoint ck = Checkpoint.open(f)) {
      e = assertThrows(IllegalArgumentException.class, () -> QwenVisionTensors.check(ck, c, "config.json"));
      assertTrue(e.getMessage().contains("for config.json vision_config") || e.getMessage().contains("has no tensor"),
          e.getMessage());
    }
    assertTrue(!e.getMessage().contains("\n"));
  }
}
