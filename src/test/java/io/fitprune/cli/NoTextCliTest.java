package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.NoTextPolicy;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.VisualCountPolicy;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code prefill} on inputs whose text or image is missing, with a recipe that prunes: no text
 * after the image is refused naming the cause unless {@code --no-text-policy self-only}; a
 * text-only input (visual 0) runs unpruned.
 */
class NoTextCliTest {
  @TempDir Path dir;

  @Test
  void noTextAfterTheImageIsRefusedUnlessAPolicySaysOtherwise() throws Exception {
    int P = DecoderCliTest.P, V = DecoderCliTest.V;
    Path model = dir.resolve("tiny-llama.json"), weights = dir.resolve("w.safetensors");
    Files.writeString(model, "{\"name\": \"tiny-llama\", \"layers\": 3, \"hidden\": 64, \"heads\": 4, \"kvHeads\": 2, "
        + "\"headDim\": 16, \"mlp\": 96, \"visualTokens\": " + V + ", \"prefixTokens\": " + P + ", \"textTokens\": 5}");
    DecoderWeights w = DecoderWeights.random(DecoderCliTest.CFG, 5);
    w.save(weights, "language_model.");
    Geometry g = DecoderCliTest.CFG.geometry();
    Path recipe = dir.resolve("r.json");
    RecipeFiles.write(recipe, Recipe.builder(g).prune(6, 0, 5).build());

    int n = P + V; // the image is the end of the input
    float[] e = embeds(n, 7);
    Path noText = dir.resolve("no-text.safetensors");
    new SafetensorsWriter().putFloats("embeds", e, n, 64).putLongs("spans", new long[] {P, V}, 2).write(noText);
    CliRun.Result r = run(model, weights, noText, recipe);
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("no text follows the image") && r.err().contains("--no-text-policy self-only"), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());

    r = run(model, weights, noText, recipe, "--no-text-policy", "self-only");
    assertEquals(0, r.code(), r.err());
    Decoder dec = new Decoder(w);
    Pruner selfOnly = Pruner.fitprune(new int[] {6, 0, 5}, V, VisualCountPolicy.REFUSE, NoTextPolicy.SELF_ONLY, "s");
    try (Decoder.Prefill want = dec.prefill(e, new Spans(P, V), selfOnly, 0)) {
      assertTrue(r.out().contains("visual tokens kept after each layer: " + Arrays.toString(want.visualAfter())), r.out());
      assertTrue(r.out().contains("output ids: [" + want.nextToken() + "]"), r.out());
    }

    r = run(model, weights, noText, recipe, "--no-text-policy", "positional");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--no-text-policy") && r.err().contains("self-only"), r.err());

    // text only: nothing visual to prune, nothing to refuse
    int m = 9;
    Path textOnly = dir.resolve("text-only.safetensors");
    new SafetensorsWriter().putFloats("embeds", embeds(m, 8), m, 64).putLongs("spans", new long[] {m, 0}, 2)
        .write(textOnly);
    r = run(model, weights, textOnly, recipe);
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("visual tokens kept after each layer: [0, 0, 0]"), r.out());
    assertTrue(r.out().contains("kv cache length per layer: [9, 9, 9]"), r.out());
  }

  static CliRun.Result run(Path model, Path weights, Path embeds, Path recipe, String... more) throws Exception {
    String[] base = {"prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds",
        embeds.toString(), "--name-prefix", "language_model.", "--recipe", recipe.toString()};
    String[] all = Arrays.copyOf(base, base.length + more.length);
    System.arraycopy(more, 0, all, base.length, more.length);
    return CliRun.run(all);
  }

  static float[] embeds(int n, long seed) {
    Random r = new Random(seed);
    float[] e = new float[n * 64];
    for (int i = 0; i < e.length; i++) e[i] = (float) r.nextGaussian();
    return e;
  }
}
