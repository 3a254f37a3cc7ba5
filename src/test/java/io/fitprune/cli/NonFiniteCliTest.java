package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.pruning.Pruner;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.io.TensorInfo;
import io.fitprune.kernels.Spans;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** NaN embeddings, calibration data or weights: an error naming the tensor, never a recipe or tokens. */
class NonFiniteCliTest {
  @TempDir Path dir;
  static final int P = DecoderCliTest.P, V = DecoderCliTest.V, N = DecoderCliTest.N, D = 64;

  Path model() throws Exception {
    Path f = dir.resolve("tiny-llama.json");
    Files.writeString(f, "{\"name\": \"tiny-llama\", \"layers\": 3, \"hidden\": 64, \"heads\": 4, \"kvHeads\": 2, "
        + "\"headDim\": 16, \"mlp\": 96, \"visualTokens\": " + V + ", \"prefixTokens\": " + P + ", \"textTokens\": "
        + DecoderCliTest.T + "}");
    return f;
  }

  /** Overwrites one float of a tensor in a safetensors file. */
  static void poke(Path file, String tensor, long index, float value) throws Exception {
    long begin, headerLen;
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      TensorInfo t = f.tensors().get(tensor);
      begin = t.begin();
    }
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      byte[] len = new byte[8];
      raf.readFully(len);
      headerLen = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
      raf.seek(8 + headerLen + begin + 4 * index);
      raf.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(value).array());
    }
  }

  @Test
  void prefillRefusesNaNEmbeddings() throws Exception {
    Path weights = dir.resolve("w.safetensors"), emb = dir.resolve("e.safetensors");
    DecoderWeights w = DecoderWeights.random(DecoderCliTest.CFG, 5);
    w.save(weights, "");
    float[] e = DecoderCliTest.embeds(1);
    e[9 * D + 5] = Float.NaN;
    new SafetensorsWriter().putFloats("embeds", e, N, D).putLongs("spans", new long[] {P, V}, 2).write(emb);
    CliRun.Result r = CliRun.run("prefill", "--model", model().toString(), "--weights", weights.toString(), "--embeds",
        emb.toString(), "--generate", "3");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--embeds " + emb) && r.err().contains("embeds [n,D] is not finite at [9, 5] (NaN)"), r.err());
    assertFalse(r.out().contains("output ids"), r.out());
    // The library entry point too.
    IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
        () -> new Decoder(w).prefill(e, new Spans(P, V), Pruner.none(), 1));
    assertTrue(ex.getMessage().contains("embeds [n,D] is not finite at [9, 5]"), ex.getMessage());
  }

  @Test
  void exactFitRefusesNaNCalibrationAndNaNWeights() throws Exception {
    Path weights = dir.resolve("w.safetensors"), cal = dir.resolve("cal.safetensors"), out = dir.resolve("r.json");
    DecoderWeights.random(DecoderCliTest.CFG, 6).save(weights, "");
    float[] a = DecoderCliTest.embeds(7);
    float[] both = java.util.Arrays.copyOf(a, a.length * 2);
    System.arraycopy(DecoderCliTest.embeds(8), 0, both, a.length, a.length);
    both[a.length + 3 * D + 1] = Float.POSITIVE_INFINITY; // sample 1, token 3, channel 1
    new SafetensorsWriter().putFloats("embeds", both, 2, N, D).putLongs("spans", new long[] {P, V}, 2).write(cal);
    String[] fit = {"fit", "--model", model().toString(), "--mode", "exact", "--weights", weights.toString(),
        "--calibration", cal.toString(), "--budget", "0.3", "--scope", "full", "--out", out.toString()};
    CliRun.Result r = CliRun.run(fit);
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--calibration " + cal) && r.err().contains("[S,n,D] is not finite at [1, 3, 1] (Infinity)"),
        r.err());
    assertFalse(Files.exists(out));

    // Finite calibration, one NaN in a layer-1 weight: the attention that consumes it refuses.
    both[a.length + 3 * D + 1] = 0.5f;
    new SafetensorsWriter().putFloats("embeds", both, 2, N, D).putLongs("spans", new long[] {P, V}, 2).write(cal);
    poke(weights, "model.layers.1.self_attn.k_proj.weight", 77, Float.NaN);
    r = CliRun.run(fit);
    assertNotEquals(0, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().contains("is not finite"), r.err());
    assertFalse(Files.exists(out));
  }
}
