package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.fitting.FitResult;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** prefill and score refuse, up front and naming the option and the limit, what would hang or fail deep inside. */
class PrefillLimitsCliTest {
  @TempDir Path dir;
  static final int P = DecoderCliTest.P, V = DecoderCliTest.V, T = DecoderCliTest.T, N = DecoderCliTest.N, D = 64;

  static void refused(CliRun.Result r, String... parts) {
    assertEquals(2, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    for (String p : parts) assertTrue(r.err().contains(p), "expected '" + p + "' in: " + r.err());
    assertFalse(r.out().contains("output ids"), r.out());
  }

  @Test
  void generationCacheAndBatchLimits() throws Exception {
    Path model = dir.resolve("tiny-llama.json");
    java.nio.file.Files.writeString(model, "{\"name\": \"tiny-llama\", \"layers\": 3, \"hidden\": 64, \"heads\": 4, "
        + "\"kvHeads\": 2, \"headDim\": 16, \"mlp\": 96, \"visualTokens\": " + V + ", \"prefixTokens\": " + P
        + ", \"textTokens\": " + T + "}");
    Path weights = dir.resolve("w.safetensors"), emb = dir.resolve("e.safetensors");
    DecoderWeights w = DecoderWeights.random(DecoderCliTest.CFG, 5);
    w.save(weights, "");
    new SafetensorsWriter().putFloats("embeds", DecoderCliTest.embeds(2), N, D).putLongs("spans", new long[] {P, V}, 2).write(emb);
    String[] base = {"prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds", emb.toString()};
    refused(CliRun.run(concat(base, "--generate", "2147483647")), "--generate 2147483647", "more than the 2^31 - 1 a cache holds");
    refused(CliRun.run(concat(base, "--generate", "16777216")), "--generate 16777216", "positions up to " + (N + 16777216),
        "past the 2^24 a float32 RoPE angle tells apart");

    // A recipe for V visual tokens on an input with fewer: the CLI's own option is the way out.
    Geometry g = DecoderCliTest.CFG.geometry(V, P, T);
    int[] prune = {0, 8, 6};
    FlopsModel full = new FlopsModel(g, Scope.FULL, P, T);
    Path recipe = dir.resolve("r.json");
    RecipeFiles.write(recipe, Recipe.of(g, new FitResult(prune, 1.0, 0.5, io.fitprune.fitting.Mode.FAST, full.evaluate(prune), 1),
        Scope.FULL, full, 0));
    CliRun.Result r = CliRun.run(concat(base, "--recipe", recipe.toString(), "--visual", "12"));
    refused(r, "--visual-policy scale");
    assertFalse(r.err().contains("VisualCountPolicy"), r.err());

    // Packed: spans outside a sequence are named (not "integer overflow"); too many sequences are refused.
    Path packed = dir.resolve("p.safetensors");
    new SafetensorsWriter().putFloats("embeds", DecoderCliTest.embeds(3), N, D).putLongs("cu_seqlens", new long[] {0, 10, N}, 3)
        .putLongs("spans", new long[] {1, 4, 1L << 40, 3}, 2, 2).write(packed);
    refused(CliRun.run("prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds", packed.toString()),
        "tensor 'spans' [1] = (1099511627776, 3)");
    long[] cu = new long[PrefillCommand.MAX_REQUESTS + 2];
    for (int i = 0; i < cu.length; i++) cu[i] = i;
    float[] rows = new float[(cu.length - 1) * D];
    for (int i = 0; i < rows.length; i++) rows[i] = (float) Math.sin(i * 0.37);
    new SafetensorsWriter().putFloats("embeds", rows, cu.length - 1, D).putLongs("cu_seqlens", cu, cu.length).write(packed);
    refused(CliRun.run("prefill", "--model", model.toString(), "--weights", weights.toString(), "--embeds", packed.toString()),
        "holds " + (cu.length - 1) + " sequences, more than the " + PrefillCommand.MAX_REQUESTS);

    // The library refuses a reserve that overflows a cache before libtorch sees a negative size.
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new Decoder(w).prefill(DecoderCliTest.embeds(2), new Spans(P, V), Pruner.none(), Integer.MAX_VALUE));
    assertTrue(e.getMessage().startsWith("decodeReserve: " + N + " tokens + 2147483647"), e.getMessage());
  }

  @Test
  void scoreRefusesMorePackedSequencesThanItTakes() throws Exception {
    int B = ScoreCommand.MAX_SEQUENCES + 1, d = 4;
    float[] q = new float[B * d];
    for (int i = 0; i < q.length; i++) q[i] = (float) Math.cos(i * 0.11);
    long[] cu = new long[B + 1], spans = new long[2 * B];
    for (int i = 0; i <= B; i++) cu[i] = i;
    Path in = dir.resolve("qkv.safetensors"), out = dir.resolve("s.safetensors");
    new SafetensorsWriter().putFloats("q", q, B, 1, d).putFloats("k", q, B, 1, d).putFloats("v", q, B, 1, d)
        .putLongs("cu_seqlens", cu, B + 1).putLongs("spans", spans, B, 2).write(in);
    CliRun.Result r = CliRun.run("score", "--qkv", in.toString(), "--out", out.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("holds " + B + " sequences, more than the " + ScoreCommand.MAX_SEQUENCES), r.err());
    assertFalse(java.nio.file.Files.exists(out));
  }

  static String[] concat(String[] a, String... b) {
    String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }
}
