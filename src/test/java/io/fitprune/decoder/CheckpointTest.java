package io.fitprune.decoder;

import io.fitprune.kernels.Bf16;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.io.HalfFloats;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.io.TensorInfo;
import io.fitprune.kernels.Spans;
import io.fitprune.pruning.Pruner;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
  static final DecoderConfig CFG = DecoderTest.CFG;
  static final String PREFIX = "language_model.";
  @TempDir Path dir;

  Path saved(String prefix) throws Exception {
    Path f = dir.resolve("w-" + prefix.length() + ".safetensors");
    DecoderWeights.random(CFG, 21).save(f, prefix);
    return f;
  }

  static String message(Class<? extends Throwable> type, org.junit.jupiter.api.function.Executable e) {
    return assertThrows(type, e).getMessage();
  }

  @Test
  void savedCheckpointLoadsBackMemoryMappedAndGivesTheSameOutputs() throws Exception {
    Path f = saved(PREFIX);
    DecoderWeights w = DecoderWeights.load(f, CFG, PREFIX);
    Decoder a = new Decoder(DecoderWeights.random(CFG, 21)), b = new Decoder(w);
    float[] e = DecoderTest.embeds(3, DecoderTest.N, CFG.hidden());
    Spans sp = new Spans(DecoderTest.P, DecoderTest.V);
    Decoder.Prefill pa = a.prefill(e, sp, Pruner.fitprune(new int[] {3, 2, 0}, DecoderTest.V), 3);
    Decoder.Prefill pb = b.prefill(e, sp, Pruner.fitprune(new int[] {3, 2, 0}, DecoderTest.V), 3);
    assertArrayEquals(pa.lastHidden(), pb.lastHidden());
    assertArrayEquals(a.generate(pa, 3), b.generate(pb, 3));
    // the weights copied out of the mapping: the same bits
    Decoder c = new Decoder(w.inMemory());
    Decoder.Prefill pc = c.prefill(e, sp, Pruner.fitprune(new int[] {3, 2, 0}, DecoderTest.V), 3);
    assertArrayEquals(pa.lastHidden(), pc.lastHidden());
    assertArrayEquals(a.generate(a.prefill(e, sp, Pruner.fitprune(new int[] {3, 2, 0}, DecoderTest.V), 3), 3), c.generate(pc, 3));
    // the vocabulary can come from the checkpoint
    assertEquals(CFG.vocab(), DecoderWeights.load(f, CFG.withVocab(1), PREFIX, true).config().vocab());
  }

  /** Rewrites a checkpoint, letting {@code edit} drop (null) or replace tensors. */
  Path rewrite(Path src, String name, BiFunction<String, SafetensorsWriter, Boolean> edit) throws Exception {
    Path out = dir.resolve(name);
    SafetensorsWriter w = new SafetensorsWriter();
    try (SafetensorsFile f = SafetensorsFile.open(src)) {
      for (Map.Entry<String, TensorInfo> t : f.tensors().entrySet())
        if (!edit.apply(t.getKey(), w)) w.putFloats(t.getKey(), f.readFloats(t.getKey()), t.getValue().shape());
    }
    w.write(out);
    return out;
  }

  @Test
  void errorsNameTheTensorAndWhatIsWrong() throws Exception {
    Path ok = saved(PREFIX);
    String q1 = PREFIX + "model.layers.1.self_attn.q_proj.weight";
    Path missing = rewrite(ok, "missing.safetensors", (n, w) -> n.equals(q1));
    String m = message(IllegalArgumentException.class, () -> DecoderWeights.load(missing, CFG, PREFIX));
    assertTrue(m.contains("no tensor") && m.contains(q1), m);

    Path shape = rewrite(ok, "shape.safetensors", (n, w) -> {
      if (!n.equals(q1)) return false;
      w.putFloats(n, new float[CFG.hidden() * (CFG.hidden() + 1)], CFG.hidden(), CFG.hidden() + 1);
      return true;
    });
    m = message(IllegalArgumentException.class, () -> DecoderWeights.load(shape, CFG, PREFIX));
    assertTrue(m.contains(q1) && m.contains("shape") && m.contains("[32, 32]") && m.contains("33"), m);

    Path dtype = rewrite(ok, "dtype.safetensors", (n, w) -> {
      if (!n.equals(q1)) return false;
      w.putInts(n, new int[CFG.hidden() * CFG.hidden()], CFG.hidden(), CFG.hidden());
      return true;
    });
    m = message(IllegalArgumentException.class, () -> DecoderWeights.load(dtype, CFG, PREFIX));
    assertTrue(m.contains(q1) && m.contains("I32") && m.contains("F32"), m);

    m = message(IllegalArgumentException.class, () -> DecoderWeights.load(ok, CFG, ""));
    assertTrue(m.contains("lm_head.weight") && m.contains("language_model."), m);

    m = message(IllegalArgumentException.class, () -> DecoderWeights.load(ok, CFG.withLayers(2), PREFIX));
    assertTrue(m.contains("more layers"), m);

    m = message(IllegalArgumentException.class, () -> DecoderWeights.load(ok, CFG.withVocab(99), PREFIX));
    assertTrue(m.contains("lm_head.weight") && m.contains("99"), m);

    Path noEmbed = rewrite(ok, "noembed.safetensors", (n, w) -> n.endsWith("embed_tokens.weight"));
    DecoderWeights w = DecoderWeights.load(noEmbed, CFG, PREFIX);
    assertNull(w.embed());
    Decoder d = new Decoder(w);
    Decoder.Prefill p = d.prefill(DecoderTest.embeds(1, DecoderTest.N, CFG.hidden()), new Spans(3, 12), null, 2);
    assertTrue(assertThrows(IllegalStateException.class, () -> d.generate(p, 2)).getMessage().contains("embed_tokens"));
  }

  @Test
  void bf16AndF16CheckpointsStayInTheirDtypeAndRunCloseToFloat32() throws Exception {
    Path ok = saved("");
    for (String dt : new String[] {"BF16", "F16"}) {
      Path half = dir.resolve(dt + ".safetensors");
      writeHalf(ok, half, dt);
      DecoderWeights w = DecoderWeights.load(half, CFG, "");
      assertTrue(Tensors.is(w.layer(2).down(), dt.equals("BF16") ? org.bytedeco.pytorch.global.torch.ScalarType.BFloat16
          : org.bytedeco.pytorch.global.torch.ScalarType.Half), dt);
      float[] want = Tensors.toArray(DecoderWeights.random(CFG, 21).layer(2).down());
      float[] got = Tensors.toArray(w.layer(2).down());
      double tol = dt.equals("BF16") ? 1.0 / 256 : 1.0 / 2048; // half an ulp, relative
      for (int i = 0; i < want.length; i++)
        assertTrue(Math.abs(want[i] - got[i]) <= tol * Math.abs(want[i]) + 1e-7, dt + " at " + i + ": " + want[i] + " vs " + got[i]);
      Decoder a = new Decoder(DecoderWeights.random(CFG, 21)), b = new Decoder(w);
      float[] e = DecoderTest.embeds(4, DecoderTest.N, CFG.hidden());
      float[] ha = a.prefill(e, new Spans(3, 12), null, -1).lastHidden(), hb = b.prefill(e, new Spans(3, 12), null, -1).lastHidden();
      double cos = io.fitprune.eval.Evaluation.cosine(ha, hb);
      assertTrue(cos > 0.999, dt + " cosine " + cos);
    }
  }

  /** A safetensors file with every tensor of {@code src} stored as BF16 or F16 (round to nearest even for BF16). */
  static void writeHalf(Path src, Path dst, String dtype) throws Exception {
    ObjectMapper json = new ObjectMapper();
    ObjectNode header = json.createObjectNode();
    ByteArrayOutputStream data = new ByteArrayOutputStream();
    try (SafetensorsFile f = SafetensorsFile.open(src)) {
      for (Map.Entry<String, TensorInfo> t : f.tensors().entrySet()) {
        float[] v = f.readFloats(t.getKey());
        ByteBuffer b = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putShort(dtype.equals("BF16") ? Bf16.fromFloat(x) : HalfFloats.toF16(x));
        ObjectNode e = header.putObject(t.getKey());
        e.put("dtype", dtype);
        var shape = e.putArray("shape");
        for (long s : t.getValue().shape()) shape.add(s);
        var off = e.putArray("data_offsets");
        off.add(data.size());
        data.write(b.array());
        off.add(data.size());
      }
    }
    byte[] h = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
    int padded = (h.length + 7) / 8 * 8;
    ByteBuffer out = ByteBuffer.allocate(8 + padded + data.size()).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(padded).put(h);
    for (int i = h.length; i < padded; i++) out.put((byte) ' ');
    out.put(data.toByteArray());
    Files.write(dst, out.array());
  }
}
