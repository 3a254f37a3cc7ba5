package io.fitprune.hf;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.decoder.DecoderWeights;
import io.fitprune.io.DType;
import io.fitprune.io.ShardedWriter;
import io.fitprune.model.Geometries;
import io.fitprune.model.Geometry;
import io.fitprune.vision.qwen.QwenVisionConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Qwen2-VL and Qwen2.5-VL model folders: the bundled configs, random folders in both layouts, the checks on open. */
class QwenFolderTest {
  @TempDir Path dir;

  static long bytes(List<ShardedWriter.Entry> entries) {
    long b = 0;
    for (ShardedWriter.Entry e : entries) b += e.bytes();
    return b;
  }

  @Test
  void qwen2Vl7bIsThePublishedArchitectureAtFullSize() throws Exception {
    QwenVlConfig c = QwenVlConfig.bundled("qwen2-vl-7b");
    assertEquals(List.of(16, 24, 24), c.mropeSection());
    assertEquals(151655, c.imageTokenId());
    QwenVisionConfig v = c.visionConfig();
    assertEquals(32, v.depth());
    assertEquals(5120, v.intermediateSize());
    // parameters counted from the architecture: the Qwen2 decoder with q/k/v biases and an LM head,
    // the tower (patch embedding without bias, 32 LayerNorm blocks, the merger)
    long V = 152064, D = 3584, F = 18944, L = 28, kv = 512, e = 1280;
    long text = 2 * V * D + L * (2 * D * D + 2 * kv * D + D + 2 * kv + 3 * F * D + 2 * D) + D;
    long block = 4 * e + 3 * e * e + 3 * e + e * e + e + 4 * e * e + 4 * e + 4 * e * e + e;
    long vision = e * 3 * 2 * 14 * 14 + 32 * block + 2 * e + 5120 * 5120 + 5120 + 3584 * 5120 + 3584;
    for (RandomQwenFolder.Layout l : RandomQwenFolder.Layout.values())
      assertEquals(2 * (text + vision), bytes(RandomQwenFolder.entries(c, l, DType.BF16)), l.name());
    assertTrue(RandomQwenFolder.entries(c, RandomQwenFolder.Layout.VISUAL, DType.BF16).stream()
        .anyMatch(x -> x.name().equals("visual.merger.mlp.2.weight")));
    assertTrue(RandomQwenFolder.entries(c, RandomQwenFolder.Layout.MODEL_VISUAL, DType.BF16).stream()
        .anyMatch(x -> x.name().equals("model.language_model.layers.27.self_attn.v_proj.bias")));
  }

  @Test
  void tinyConfigsExerciseGqaWindowsAndTiedEmbeddings() throws Exception {
    QwenVlConfig q2 = QwenVlConfig.bundled("qwen2-vl-tiny"), q25 = QwenVlConfig.bundled("qwen2.5-vl-tiny");
    assertEquals(2, q2.text().kvHeads());
    assertFalse(q2.text().tieWordEmbeddings());
    assertTrue(q25.text().tieWordEmbeddings());
    QwenVisionConfig v = q25.visionConfig();
    assertTrue(v.family().windowed());
    assertEquals(2, v.mergerWindow());
    assertTrue(v.fullAttention(1));
    assertFalse(v.fullAttention(0));
    assertNull(QwenVlConfig.bundled("llava-tiny"));
    assertNull(QwenVlConfig.bundled("no-such-model"));
  }

  @Test
  void randomFoldersOpenWithTheBundledGeometryAndLoadInBothLayouts() throws Exception {
    for (String name : new String[] {"qwen2-vl-tiny", "qwen2.5-vl-tiny"}) {
      QwenVlConfig c = QwenVlConfig.bundled(name);
      for (RandomQwenFolder.Layout l : RandomQwenFolder.Layout.values()) {
        Path out = dir.resolve(name + "-" + l);
        RandomQwenFolder.write(out, c, RandomQwenFolder.preprocessor(name, c.visionConfig()), l, DType.F32, 3, 1L << 30);
        ModelFolder f = ModelFolder.open(out);
        Geometry g = f.geometry(), bundled = Geometries.resolve(name);
        assertEquals(bundled, new Geometry(bundled.name(), g.layers(), g.hidden(), g.heads(), g.kvHeads(), g.headDim(),
            g.mlp(), g.visualTokens(), g.prefixTokens(), g.textTokens()), name);
        assertEquals(List.of(2, 3, 3), f.decoderConfig().mropeSection());
        DecoderWeights w = f.loadDecoder();
        assertNotNull(w.embed());
        if (c.text().tieWordEmbeddings()) assertSame(w.embed(), w.lmHead());
      }
    }
  }

  @Test
  void aPreprocessorOrTowerThatDisagreesWithTheModelIsOneLineNamingTheFile() throws Exception {
    QwenVlConfig c = QwenVlConfig.bundled("qwen2-vl-tiny");
    Path out = dir.resolve("m");
    RandomQwenFolder.write(out, c, RandomQwenFolder.preprocessor("qwen2-vl-tiny", c.visionConfig()),
        RandomQwenFolder.Layout.VISUAL, DType.F32, 3, 1L << 30);
    Path pre = out.resolve(ModelFolder.PREPROCESSOR), cfg = out.resolve(ModelFolder.CONFIG);
    String p = Files.readString(pre), j = Files.readString(cfg);
    Files.writeString(pre, p.replace("\"merge_size\" : 2", "\"merge_size\" : 1"));
    String err = assertThrows(IllegalArgumentException.class, () -> ModelFolder.open(out)).getMessage();
    assertTrue(err.contains(pre.toString()) && err.contains("merge_size 1") && err.contains("spatial_merge_size 2"), err);
    Files.writeString(pre, p);
    Files.writeString(cfg, j.replace("\"hidden_size\" : 64,\n    \"patch_size\"", "\"hidden_size\" : 48,\n    \"patch_size\""));
    err = assertThrows(IllegalArgumentException.class, () -> ModelFolder.open(out)).getMessage();
    assertTrue(err.contains("config.json") && err.contains("48") && err.contains("64"), err);
  }
}
