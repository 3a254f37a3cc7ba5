package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.calibration.DecoderRunner;
import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.decoder.Tensors;
import io.fitprune.fitting.ExactFitter;
import io.fitprune.fitting.FastFitter;
import io.fitprune.fitting.StatsRecorder;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import io.fitprune.stats.AttentionStats;
import io.fitprune.stats.StatsFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code fit --calibration A B ...}: files whose samples have different visual counts, one recipe for the model's. */
class MixedCalibrationCliTest {
  @TempDir Path dir;
  static final int P = 3, V = 24, T = 5, D = 64;
  static final DecoderConfig CFG = new DecoderConfig(new Geometry("tiny-llama", 3, D, 4, 2, 16, 96, V, P, T), 50, 10000.0, 1e-5);

  Path geometry() throws Exception {
    Path f = dir.resolve("tiny-llama.json");
    Files.writeString(f, "{\"name\": \"tiny-llama\", \"layers\": 3, \"hidden\": 64, \"heads\": 4, \"kvHeads\": 2, "
        + "\"headDim\": 16, \"mlp\": 96, \"visualTokens\": " + V + ", \"prefixTokens\": " + P + ", \"textTokens\": " + T + "}");
    return f;
  }

  /** One calibration file of {@code samples} sequences, each prefix p, visual v and T text tokens, random embeddings. */
  Path calibration(String name, int samples, int p, int v, long seed, List<float[]> all, List<Spans> spans)
      throws Exception {
    int n = p + v + T;
    Random r = new Random(seed);
    float[] e = new float[samples * n * D];
    for (int i = 0; i < e.length; i++) e[i] = (float) r.nextGaussian();
    for (int s = 0; s < samples; s++) {
      all.add(java.util.Arrays.copyOfRange(e, s * n * D, (s + 1) * n * D));
      spans.add(new Spans(p, v));
    }
    Path f = dir.resolve(name);
    new SafetensorsWriter().putFloats("embeds", e, samples, n, D).putLongs("spans", new long[] {p, v}, 2).write(f);
    return f;
  }

  @Test
  void fitsOneRecipeFromFilesOfDifferentVisualCounts() throws Exception {
    Path model = geometry(), weights = dir.resolve("w.safetensors");
    DecoderWeights w = DecoderWeights.random(CFG, 6);
    w.save(weights, "");
    List<float[]> embeds = new ArrayList<>();
    List<Spans> spans = new ArrayList<>();
    Path a = calibration("a.safetensors", 2, P, V, 1, embeds, spans);
    Path b = calibration("b.safetensors", 1, 2, 9, 2, embeds, spans);   // a smaller image
    Path c = calibration("c.safetensors", 1, 4, 31, 3, embeds, spans);  // a larger one
    Path out = dir.resolve("r.json"), stats = dir.resolve("s.safetensors");
    CliRun.Result r = CliRun.run("fit", "--model", model.toString(), "--weights", weights.toString(), "--calibration",
        a.toString(), b.toString(), "--calibration", c.toString(), "--budget", "0.3", "--scope", "full", "--stats-out",
        stats.toString(), "--out", out.toString());
    assertEquals(0, r.code(), r.err());

    // The same samples recorded and fitted in process: each at its own count, one recipe for V = 24.
    List<org.bytedeco.pytorch.Tensor> ts = new ArrayList<>();
    for (int s = 0; s < embeds.size(); s++)
      ts.add(Tensors.of(embeds.get(s), spans.get(s).prefix() + spans.get(s).visual() + T, D));
    DecoderRunner runner = new DecoderRunner(new Decoder(w), ts, spans);
    AttentionStats want = StatsRecorder.record(runner, 3, V);
    assertTrue(want.hasCounts());
    FlopsModel full = new FlopsModel(CFG.geometry(), Scope.FULL, P, T);
    Recipe recipe = RecipeFiles.read(out);
    assertEquals(V, recipe.visualTokens());
    assertEquals(4, recipe.calibrationSamples());
    assertArrayEquals(new FastFitter(want, full).fit(0.3).prune(), recipe.prune());
    assertTrue(recipe.full().reduction() >= 0.3, r.out());

    AttentionStats back = StatsFiles.read(stats, CFG.geometry());
    assertArrayEquals(new int[] {24, 24, 9, 31}, new int[] {back.visual(0), back.visual(1), back.visual(2), back.visual(3)});
    assertArrayEquals(want.self(), back.self());
    assertArrayEquals(want.cross(), back.cross());
    Path again = dir.resolve("again.json");
    r = CliRun.run("fit", "--model", model.toString(), "--stats", stats.toString(), "--budget", "0.3", "--scope", "full",
        "--out", again.toString());
    assertEquals(0, r.code(), r.err());
    assertArrayEquals(recipe.prune(), RecipeFiles.read(again).prune(), "fit --stats on the written statistics");

    // Exact mode runs every sample at its own count too.
    Path exact = dir.resolve("exact.json");
    r = CliRun.run("fit", "--model", model.toString(), "--mode", "exact", "--weights", weights.toString(),
        "--calibration", a.toString(), b.toString(), c.toString(), "--budget", "0.3", "--scope", "full", "--out",
        exact.toString());
    assertEquals(0, r.code(), r.err());
    assertArrayEquals(new ExactFitter(runner, want, full).fit(0.3).prune(), RecipeFiles.read(exact).prune());
  }

  @Test
  void aSampleWithoutVisualTokensIsRefusedNamingIt() throws Exception {
    Path model = geometry(), weights = dir.resolve("w.safetensors");
    DecoderWeights.random(CFG, 6).save(weights, "");
    List<float[]> embeds = new ArrayList<>();
    List<Spans> spans = new ArrayList<>();
    Path a = calibration("a.safetensors", 2, P, V, 1, embeds, spans);
    Path none = calibration("none.safetensors", 1, P, 0, 2, embeds, spans);
    Path out = dir.resolve("r.json");
    CliRun.Result r = CliRun.run("fit", "--model", model.toString(), "--weights", weights.toString(), "--calibration",
        a.toString(), none.toString(), "--budget", "0.3", "--out", out.toString());
    assertEquals(2, r.code(), r.out());
    assertTrue(r.err().contains("calibration sample 2 has no visual tokens"), r.err());
    assertFalse(Files.exists(out));
  }
}
