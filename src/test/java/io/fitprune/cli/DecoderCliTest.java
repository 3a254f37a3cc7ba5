package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.calibration.DecoderRunner;
import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.decoder.Tensors;
import io.fitprune.fitting.ExactFitter;
import io.fitprune.fitting.FastFitter;
import io.fitprune.fitting.FitResult;
import io.fitprune.fitting.StatsRecorder;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DecoderCliTest {
  @TempDir Path dir;
  static final int P = 3, V = 24, T = 5, N = P + V + T;
  static final DecoderConfig CFG = new DecoderConfig(new Geometry("tiny-llama", 3, 64, 4, 2, 16, 96, V, P, T), 50, 10000.0, 1e-5);

  Path geometry() throws Exception {
    Path f = dir.resolve("tiny-llama.json");
    Files.writeString(f, "{\"name\": \"tiny-llama\", \"layers\": 3, \"hidden\": 64, \"heads\": 4, \"kvHeads\": 2, "
        + "\"headDim\": 16, \"mlp\": 96, \"visualTokens\": " + V + ", \"prefixTokens\": " + P + ", \"textTokens\": " + T + "}");
    return f;
  }

  static float[] embeds(long seed) {
    Random r = new Random(seed);
    float[] e = new float[N * CFG.hidden()];
    for (int i = 0; i < e.length; i++) e[i] = (float) r.nextGaussian();
    return e;
  }

  @Test
  void prefillRunsACheckpointWithAndWithoutARecipe() throws Exception {
    Path model = geometry(), weights = dir.resolve("w.safetensors"), emb = dir.resolve("e.safetensors");
    DecoderWeights w = DecoderWeights.random(CFG, 5);
    w.save(weights, "language_model.");
    float[] e = embeds(1);
    new SafetensorsWriter().putFloats("embeds", e, N, CFG.hidden()).putLongs("spans", new long[] {P, V}, 2).write(emb);

    CliRun.Result r = CliRun.run("prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds",
        emb.toString(), "--name-prefix", "language_model.", "--generate", "4");
    assertEquals(0, r.code(), r.err());
    Decoder dec = new Decoder(w);
    int[] want = dec.generate(dec.prefill(e, new Spans(P, V), Pruner.none(), 4), 4);
    assertTrue(r.out().contains("output ids: " + Arrays.toString(want)), r.out());
    assertTrue(r.out().contains("unpruned") && r.out().contains("tokens entering each layer: [32, 32, 32]"), r.out());
    assertTrue(r.out().matches("(?s).*\\ndecode: 3 steps in [0-9.]+ s \\([0-9.]+ ms per token\\)\\n.*"), r.out()); // a contract
    assertTrue(r.out().matches("(?s).*\\ndecode bandwidth: [0-9.]+ GB of weights per token, [0-9.]+ GB/s; read probe over "
        + "the same weights [0-9.]+ GB/s before decode, [0-9.]+ after \\([0-9]+-[0-9]+%\\)\\n.*"), r.out());
    assertTrue(r.out().matches("(?s).*\\ndecode step times: median [0-9.]+ ms, [0-9.]+-[0-9.]+ \\(the first [0-9.]+\\)\\n.*"),
        r.out());

    // A recipe fitted on the decoder's own statistics.
    Geometry g = CFG.geometry(V, P, T);
    DecoderRunner runner = new DecoderRunner(dec, List.of(Tensors.of(embeds(2), N, 64), Tensors.of(embeds(3), N, 64)),
        List.of(new Spans(P, V), new Spans(P, V)));
    FlopsModel full = new FlopsModel(g, Scope.FULL, P, T);
    FitResult fit = new FastFitter(StatsRecorder.record(runner, 3, V), full).fit(0.3);
    Path recipe = dir.resolve("r.json");
    RecipeFiles.write(recipe, Recipe.of(g, fit, Scope.FULL, full, 2));
    r = CliRun.run("prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds", emb.toString(),
        "--name-prefix", "language_model.", "--recipe", recipe.toString(), "--generate", "3");
    assertEquals(0, r.code(), r.err());
    Decoder.Prefill pr = dec.prefill(e, new Spans(P, V), Pruner.fitprune(fit.prune(), V), 3);
    assertTrue(r.out().contains("visual tokens kept after each layer: " + Arrays.toString(pr.visualAfter())), r.out());
    assertTrue(r.out().contains("kv cache length per layer: "), r.out());
    assertTrue(r.out().contains("output ids: " + Arrays.toString(dec.generate(pr, 3))), r.out());
    assertTrue(r.out().contains("predicted speedup"), r.out());
    // the same recipe on an input with fewer visual tokens: refused naming both counts, or scaled when asked
    r = CliRun.run("prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds", emb.toString(),
        "--name-prefix", "language_model.", "--recipe", recipe.toString(), "--visual", "12");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains(V + " visual tokens") && r.err().contains("with 12"), r.err());
    r = CliRun.run("prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds", emb.toString(),
        "--name-prefix", "language_model.", "--recipe", recipe.toString(), "--visual", "12", "--visual-policy", "scale");
    assertEquals(0, r.code(), r.err());

    // Without --name-prefix the layout is detected; an explicit wrong one is honoured and refused.
    r = CliRun.run("prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds", emb.toString());
    assertEquals(0, r.code(), r.err());
    // Errors: one line, exit 2, naming what is wrong.
    r = CliRun.run("prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds", emb.toString(),
        "--name-prefix", "");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("lm_head.weight") && r.err().contains("language_model."), r.err());
    Path badEmb = dir.resolve("bad.safetensors");
    new SafetensorsWriter().putFloats("embeds", new float[N * 8], N, 8).write(badEmb);
    r = CliRun.run("prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds", badEmb.toString(),
        "--name-prefix", "language_model.");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("--embeds") && r.err().contains("[n, 64]"), r.err());
    r = CliRun.run("prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds", emb.toString(),
        "--name-prefix", "language_model.", "--visual", "40");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("--prefix/--visual"), r.err());
  }

  /** A batch: one file with cu_seqlens, or several files; one recipe for all or one per request ('none' unpruned). */
  @Test
  void prefillTakesABatchWithARecipePerRequest() throws Exception {
    Path model = geometry(), weights = dir.resolve("w.safetensors"), packed = dir.resolve("packed.safetensors");
    DecoderWeights w = DecoderWeights.random(CFG, 15);
    w.save(weights, "");
    Decoder dec = new Decoder(w);
    float[] a = embeds(31), b = Arrays.copyOf(embeds(32), (N - 7) * CFG.hidden()), both = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, both, a.length, b.length);
    new SafetensorsWriter().putFloats("embeds", both, 2 * N - 7, CFG.hidden()).putLongs("cu_seqlens", new long[] {0, N, 2 * N - 7}, 3)
        .putLongs("spans", new long[] {P, V, 1, V - 7}, 2, 2).write(packed);
    CliRun.Result r = CliRun.run("prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds",
        packed.toString(), "--generate", "3");
    assertEquals(0, r.code(), r.err());
    int[] want0 = dec.generate(dec.prefill(a, new Spans(P, V), Pruner.none(), 3), 3);
    int[] want1 = dec.generate(dec.prefill(b, new Spans(1, V - 7), Pruner.none(), 3), 3);
    assertTrue(r.out().contains("prefill of 2 requests together"), r.out());
    assertTrue(r.out().contains("request 0 output ids: " + Arrays.toString(want0)), r.out());
    assertTrue(r.out().contains("request 1 output ids: " + Arrays.toString(want1)), r.out());
    assertTrue(r.out().contains("\ndecode: 2 steps in ") && r.out().contains("ms per token), 2 requests per step"), r.out());
    assertTrue(r.out().matches("(?s).*\\ndecode step times: median [0-9.]+ ms, [0-9.]+-[0-9.]+ \\(the first [0-9.]+\\)\\n.*"),
        r.out());

    // two files, the first unpruned, the second with a recipe
    Path ea = dir.resolve("a.safetensors"), eb = dir.resolve("b.safetensors"), recipe = dir.resolve("r.json");
    new SafetensorsWriter().putFloats("embeds", a, N, CFG.hidden()).putLongs("spans", new long[] {P, V}, 2).write(ea);
    new SafetensorsWriter().putFloats("embeds", embeds(33), N, CFG.hidden()).putLongs("spans", new long[] {P, V}, 2).write(eb);
    Geometry g = CFG.geometry(V, P, T);
    int[] prune = {0, 8, 6};
    FlopsModel full = new FlopsModel(g, Scope.FULL, P, T);
    RecipeFiles.write(recipe, Recipe.of(g, new FitResult(prune, 1.0, 0.5, io.fitprune.fitting.Mode.FAST, full.evaluate(prune), 1), Scope.FULL, full, 0));
    r = CliRun.run("prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds", ea.toString(),
        "--embeds", eb.toString(), "--recipe", "none", "--recipe", recipe.toString(), "--generate", "2");
    assertEquals(0, r.code(), r.err());
    int[] wantB = dec.generate(dec.prefill(embeds(33), new Spans(P, V), Pruner.fitprune(prune, V), 2), 2);
    assertTrue(r.out().contains("request 0 prefill: unpruned"), r.out());
    assertTrue(r.out().contains("request 1 visual tokens kept after each layer: [24, 16, 10]"), r.out());
    assertTrue(r.out().contains("request 1 output ids: " + Arrays.toString(wantB)), r.out());
    r = CliRun.run("prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds", ea.toString(),
        "--embeds", eb.toString(), "--recipe", "none", "--recipe", "none", "--recipe", "none");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("--recipe: give one for every request or one per request (2), got 3"), r.err());
  }

  @Test
  void fitExactRunsTheReferenceDecoderOnACheckpoint() throws Exception {
    Path model = geometry(), weights = dir.resolve("w.safetensors"), cal = dir.resolve("cal.safetensors");
    DecoderWeights.random(CFG, 6).save(weights, "");
    float[] a = embeds(7), b = embeds(8), both = Arrays.copyOf(a, a.length * 2);
    System.arraycopy(b, 0, both, a.length, b.length);
    new SafetensorsWriter().putFloats("embeds", both, 2, N, CFG.hidden()).putLongs("spans", new long[] {P, V}, 2).write(cal);
    Path out = dir.resolve("exact.json");
    CliRun.Result r = CliRun.run("fit", "--model", model.toString(), "--mode", "exact", "--weights", weights.toString(),
        "--calibration", cal.toString(), "--budget", "0.3", "--scope", "full", "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    Recipe rec = RecipeFiles.read(out);
    assertEquals("exact", rec.mode());
    assertTrue(rec.full().reduction() >= 0.3, r.out());

    // float64 embeddings (numpy's default) and the decoder's RoPE base and RMSNorm epsilon, as prefill takes them
    Path cal64 = dir.resolve("cal64.safetensors");
    double[] both64 = new double[both.length];
    for (int i = 0; i < both.length; i++) both64[i] = both[i];
    new SafetensorsWriter().putDoubles("embeds", both64, 2, N, CFG.hidden()).putLongs("spans", new long[] {P, V}, 2)
        .write(cal64);
    r = CliRun.run("fit", "--model", model.toString(), "--mode", "exact", "--weights", weights.toString(),
        "--calibration", cal64.toString(), "--budget", "0.3", "--scope", "full", "--rope-theta", "500000", "--rms-eps",
        "1e-6", "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    DecoderConfig c2 = new DecoderConfig(CFG.geometry(), CFG.vocab(), 500000, 1e-6);
    DecoderRunner runner = new DecoderRunner(new Decoder(DecoderWeights.random(c2, 6)),
        List.of(Tensors.of(a, N, CFG.hidden()), Tensors.of(b, N, CFG.hidden())), List.of(new Spans(P, V), new Spans(P, V)));
    FlopsModel full = new FlopsModel(CFG.geometry(), Scope.FULL, P, T);
    FitResult want = new ExactFitter(runner, StatsRecorder.record(runner, 3, V), full).fit(0.3);
    assertArrayEquals(want.prune(), RecipeFiles.read(out).prune(), "exact fit on the decoder with --rope-theta, --rms-eps");

    r = CliRun.run("fit", "--model", model.toString(), "--mode", "exact", "--weights", weights.toString(), "--budget",
        "0.3", "--out", out.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("--calibration"), r.err());
  }

  @Test
  void demoRunsATinyConfigurationAndWritesItsFiles() throws Exception {
    Path out = dir.resolve("demo");
    CliRun.Result r = CliRun.run("demo", "--size", "tiny", "--out", out.toString(), "--sweep", "0.3");
    assertEquals(0, r.code(), r.err());
    for (String f : new String[] {"recipe-fast.json", "recipe-exact.json", "stats.safetensors", "report.md",
        "survivors.png", "quality-vs-flops.png"})
      assertTrue(Files.size(out.resolve(f)) > 0, f);
    for (String p : new String[] {"fitprune-fast", "fitprune-exact", "random", "fastv", "measured speedup"})
      assertTrue(r.out().contains(p), r.out());
    Recipe fast = RecipeFiles.read(out.resolve("recipe-fast.json"));
    assertEquals(4, fast.prune().length);
    assertEquals(2, CliRun.run("demo", "--size", "huge").code());
    assertEquals(2, CliRun.run("demo", "--size", "tiny", "--budget", "1.5", "--out", out.toString()).code());
  }
}
