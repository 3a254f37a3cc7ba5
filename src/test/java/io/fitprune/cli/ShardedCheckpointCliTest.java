package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.pruning.Pruner;
import io.fitprune.decoder.Tensors;
import io.fitprune.io.Checkpoint;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.kernels.Spans;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A small sharded BF16 checkpoint end to end through the command line: write, fit on its own statistics, prefill, decode. */
class ShardedCheckpointCliTest {
  @TempDir Path dir;
  static final int P = 3, V = 24, T = 5, N = P + V + T;
  static final DecoderConfig CFG = new DecoderConfig(new io.fitprune.model.Geometry("tiny-llava", 3, 64, 4, 2, 16, 96, V, P, T), 50, 10000.0, 1e-5);

  Path geometry() throws Exception {
    Path f = dir.resolve("tiny-llava.json");
    Files.writeString(f, "{\"name\": \"tiny-llava\", \"layers\": 3, \"hidden\": 64, \"heads\": 4, \"kvHeads\": 2, "
        + "\"headDim\": 16, \"mlp\": 96, \"visualTokens\": " + V + ", \"prefixTokens\": " + P + ", \"textTokens\": 9}");
    return f;
  }

  @Test
  void writeFitPrefillAndDecodeASmallShardedBf16Checkpoint() throws Exception {
    Path model = geometry(), ck = dir.resolve("ck"), emb = dir.resolve("e.safetensors"), cal = dir.resolve("c.safetensors");
    CliRun.Result r = CliRun.run("random-checkpoint", "--model", model.toString(), "--vocab", "50", "--out", ck.toString(),
        "--shard-size", "40KB", "--seed", "3", "--text", String.valueOf(T), "--embeds", emb.toString(),
        "--calibration", cal.toString(), "--samples", "2");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("BF16") && r.out().contains("shard(s)"), r.out());
    String second;
    try (Checkpoint c = Checkpoint.open(ck)) {
      assertTrue(c.shards() > 2, r.out());
      second = c.fileOf(c.tensors().keySet().stream().filter(n -> n.contains("layers.1.mlp.up")).findFirst().orElseThrow())
          .getFileName().toString();
    }
    try (SafetensorsFile f = SafetensorsFile.open(emb)) {
      assertEquals("[" + N + ", 64]", f.tensors().get("embeds").shapeString());
    }

    Path recipe = dir.resolve("r.json");
    r = CliRun.run("fit", "--model", model.toString(), "--weights", ck.toString(), "--calibration", cal.toString(),
        "--budget", "0.3", "--scope", "full", "--out", recipe.toString());
    assertEquals(0, r.code(), r.err());
    Recipe rec = RecipeFiles.read(recipe);
    assertTrue(rec.full().reduction() >= 0.3 && Arrays.stream(rec.prune()).sum() > 0, r.out());

    r = CliRun.run("prefill", "--model", model.toString(), "--weights", ck.resolve(Checkpoint.INDEX).toString(), "--embeds",
        emb.toString(), "--recipe", recipe.toString(), "--generate", "4");
    assertEquals(0, r.code(), r.err());
    // The same run through the API: the command used the detected layout and the BF16 weights as stored.
    DecoderWeights w = DecoderWeights.load(ck, CFG, null);
    assertTrue(Tensors.is(w.layer(0).q(), torch.ScalarType.BFloat16));
    Decoder dec = new Decoder(w);
    float[] e;
    try (SafetensorsFile f = SafetensorsFile.open(emb)) {
      e = f.readFloats("embeds");
    }
    Decoder.Prefill p = dec.prefill(e, new Spans(P, V), Pruner.fitprune(rec.prune(), V), 4);
    assertTrue(r.out().contains("visual tokens kept after each layer: " + Arrays.toString(p.visualAfter())), r.out());
    assertTrue(r.out().contains("output ids: " + Arrays.toString(dec.generate(p, 4))), r.out());

    // Errors: one line naming the file.
    r = CliRun.run("random-checkpoint", "--model", model.toString(), "--out", ck.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("not an empty directory") && r.err().lines().count() == 1, r.err());
    Files.delete(ck.resolve(second));
    r = CliRun.run("prefill", "--model", model.toString(), "--weights", ck.toString(), "--embeds", emb.toString());
    assertNotEquals(0, r.code());
    assertTrue(r.err().contains(Checkpoint.INDEX) && r.err().contains(second)
        && r.err().lines().count() == 1, r.err());
  }
}
