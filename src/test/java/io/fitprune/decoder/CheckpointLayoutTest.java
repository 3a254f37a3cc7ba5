package io.fitprune.decoder;

import io.fitprune.kernels.Bf16;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.decoder.RandomCheckpoint.Layout;
import io.fitprune.io.Checkpoint;
import io.fitprune.io.DType;
import io.fitprune.io.HalfFloats;
import io.fitprune.io.ShardedWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointLayoutTest {
  static final DecoderConfig CFG = new DecoderConfig(new io.fitprune.model.Geometry("tiny-gqa", 2, 64, 4, 2, 16, 96, 24, 3, 5), 50, 10000.0, 1e-5);
  @TempDir Path dir;

  /** The file whose mapping holds {@code address} in this process, from /proc/self/maps (null if none). */
  static String mappedFile(long address) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
      String[] f = line.trim().split("\\s+");
      String[] range = f[0].split("-");
      long lo = Long.parseUnsignedLong(range[0], 16), hi = Long.parseUnsignedLong(range[1], 16);
      if (Long.compareUnsigned(address, lo) >= 0 && Long.compareUnsigned(address, hi) < 0)
        return f.length >= 6 ? f[5] : "";
    }
    return null;
  }

  static float[] fileValues(Checkpoint ck, String name) throws IOException {
    ByteBuffer b = ck.bytes(name);
    DType dt = ck.tensors().get(name).dtype();
    float[] out = new float[b.remaining() / dt.bytes()];
    for (int i = 0; i < out.length; i++)
      out[i] = switch (dt) {
        case BF16 -> Bf16.toFloat(b.getShort(2 * i));
        case F16 -> HalfFloats.f16ToFloat(b.getShort(2 * i));
        default -> b.getFloat(4 * i);
      };
    return out;
  }

  static float[] floats(Tensor t) {
    try (Tensor f = t.to(torch.ScalarType.Float)) {
      return Tensors.toArray(f);
    }
  }

  @Test
  void everyLayoutIsDetectedAndLoadsMemoryMappedInItsOwnDtype() throws IOException {
    for (Layout layout : Layout.values()) {
      for (DType dt : new DType[] {DType.BF16, DType.F16}) {
        Path out = dir.resolve(layout + "-" + dt);
        int shards = RandomCheckpoint.write(out, CFG, layout, dt, false, 3, 20_000);
        assertTrue(shards >= 3, "shards " + shards);
        DecoderWeights w = DecoderWeights.load(out, CFG, null); // detected layout
        NameLayout names = layout.names();
        Tensor gate = w.layer(1).gate();
        torch.ScalarType type = dt == DType.BF16 ? torch.ScalarType.BFloat16 : torch.ScalarType.Half;
        assertTrue(Tensors.is(gate, type) && Tensors.is(w.lmHead(), type) && Tensors.is(w.embed(), type), layout + " " + dt);
        assertTrue(Tensors.is(w.layer(0).inputNorm(), torch.ScalarType.Float)); // norms read as float32
        assertNull(w.layer(0).qBias());
        try (Checkpoint ck = Checkpoint.open(out)) {
          String gateName = names.layer(1, "mlp.gate_proj.weight");
          String file = mappedFile(gate.data_ptr().address());
          assertEquals(ck.fileOf(gateName).toString(), file, "gate_proj must point into its shard's mapping");
          assertEquals(ck.fileOf(names.lmHead()).toString(), mappedFile(w.lmHead().data_ptr().address()));
          float[] want = fileValues(ck, gateName), got = floats(gate);
          assertEquals(want.length, got.length);
          for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 0f, gateName + " at " + i);
          float[] norm = fileValues(ck, names.norm());
          assertEquals(norm[5], floats(w.finalNorm())[5], 0f);
          // Realistic scale: standard deviation 0.02, norms near 1.
          double ss = 0;
          for (float v : want) ss += v * v;
          assertEquals(0.02, Math.sqrt(ss / want.length), 0.002, "std of " + gateName);
          assertEquals(1.0, norm[5], 0.05);
        }
      }
    }
    // Deterministic by seed, independent of sharding; another seed differs.
    Path a = dir.resolve("a"), b = dir.resolve("b"), c = dir.resolve("c");
    RandomCheckpoint.write(a, CFG, Layout.LLAMA, DType.BF16, false, 9, 1L << 30);
    RandomCheckpoint.write(b, CFG, Layout.LLAMA, DType.BF16, false, 9, 30_000);
    RandomCheckpoint.write(c, CFG, Layout.LLAMA, DType.BF16, false, 10, 1L << 30);
    try (Checkpoint ca = Checkpoint.open(a); Checkpoint cb = Checkpoint.open(b); Checkpoint cc = Checkpoint.open(c)) {
      for (String name : ca.tensors().keySet()) {
        assertEquals(ca.bytes(name), cb.bytes(name), name);
        assertTrue(!ca.bytes(name).equals(cc.bytes(name)), name);
      }
    }
  }

  /** A checkpoint of the given layout plus {@code extra} tensors (zero-filled). */
  Path withExtra(String name, Layout layout, boolean biases, String... extra) throws IOException {
    List<ShardedWriter.Entry> entries = new ArrayList<>(RandomCheckpoint.entries(CFG, layout, DType.BF16, biases));
    for (String e : extra) entries.add(new ShardedWriter.Entry(e, DType.BF16, new long[] {4, 8}));
    Path out = dir.resolve(name);
    ShardedWriter.write(out, entries, 50_000, Map.of(), (e, at, dst) -> {
      for (int i = 0; i + 1 < dst.remaining(); i += 2) dst.putShort(i, Bf16.fromFloat(e.name().endsWith("norm.weight") ? 1f : 0.01f));
    });
    return out;
  }

  static String message(org.junit.jupiter.api.function.Executable e) {
    return assertThrows(IllegalArgumentException.class, e).getMessage();
  }

  @Test
  void outsideTensorsAreIgnoredUnusedInsideOnesAreErrorsAndTheExplicitPrefixIsHonoured() throws IOException {
    Path ok = withExtra("ok", Layout.LLAVA_HF, false, "vision_tower.vision_model.embeddings.patch_embedding.weight",
        "language_model.model.layers.0.self_attn.rotary_emb.inv_freq");
    assertNotNull(DecoderWeights.load(ok, CFG, null).layer(1).down());
    assertNotNull(DecoderWeights.load(ok.resolve(Checkpoint.INDEX), CFG, "language_model.").layer(1).down());
    String m = message(() -> DecoderWeights.load(ok, CFG, ""));
    assertTrue(m.contains("'lm_head.weight'") && m.contains("language_model."), m);

    Path newerOk = withExtra("newer-ok", Layout.LLAVA, false);
    m = message(() -> DecoderWeights.load(newerOk, CFG, "language_model."));
    assertTrue(m.contains("'model.language_model.'") && m.contains("no name prefix"), m);

    String stray = "language_model.model.layers.1.mlp.gate_proj.scales";
    Path bad = withExtra("bad", Layout.LLAVA_HF, false, stray);
    m = message(() -> DecoderWeights.load(bad, CFG, null));
    assertTrue(m.contains("'" + stray + "'") && m.contains("model-0000") && m.contains("no use"), m);

    Path newer = withExtra("newer", Layout.LLAVA, false, "model.vision_tower.blocks.0.weight", "model.language_model.extra.weight");
    m = message(() -> DecoderWeights.load(newer, CFG, null));
    assertTrue(m.contains("'model.language_model.extra.weight'"), m);

    Path two = withExtra("two", Layout.LLAMA, false, "other.model.layers.0.self_attn.q_proj.weight");
    m = message(() -> DecoderWeights.load(two, CFG, null));
    assertTrue(m.contains("several decoders") && m.contains("other.model."), m);

    m = message(() -> DecoderWeights.load(ok, CFG.withLayers(1), null));
    assertTrue(m.contains("more layers"), m);
  }

  @Test
  void qkvBiasesAreLoadedInTheProjectionsDtype() throws IOException {
    Path out = dir.resolve("qwen");
    RandomCheckpoint.write(out, CFG, Layout.LLAMA, DType.BF16, true, 4, 1L << 30);
    DecoderWeights w = DecoderWeights.load(out, CFG, null);
    for (int l = 0; l < CFG.layers(); l++) {
      assertEquals(CFG.hidden(), w.layer(l).qBias().size(0));
      assertEquals(CFG.kvWidth(), w.layer(l).kBias().size(0));
      assertTrue(Tensors.is(w.layer(l).vBias(), torch.ScalarType.BFloat16));
    }
  }
}
