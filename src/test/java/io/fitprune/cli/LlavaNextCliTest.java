package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.cli.CliRun.Result;
import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.hf.LlavaConfig;
import io.fitprune.hf.LlavaNextConfig;
import io.fitprune.hf.ModelFolder;
import io.fitprune.hf.RandomModelFolder;
import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.llava.LlavaNextPipelineTest;
import io.fitprune.model.Geometries;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.regex.Matcher;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** embed, ask and fit --images on a llava-next-tiny folder written by random-checkpoint --vision. */
class LlavaNextCliTest {
  static final String Q = AskCliTest.QUESTION;
  @TempDir static Path shared;
  static Path model;

  @TempDir Path dir;

  @BeforeAll
  static void folder() throws Exception {
    model = shared.resolve("next");
    Result r = CliRun.run("random-checkpoint", "--model", "llava-next-tiny", "--vision", "--dtype", "f32", "--out",
        model.toString());
    assertEquals(0, r.code(), r.err());
    assertNotNull(ModelFolder.open(model).anyres());
  }

  static Path png(Path dir, String name, int h, int w, long seed) throws Exception {
    return AskCliTest.png(dir, name, w, h, seed);
  }

  @Test
  void embedWritesAsManyImageRowsAsTheProcessorCountsWithEveryViewsPixels() throws Exception {
    int[][] sizes = {{23, 100}, {90, 17}, {50, 50}, {3, 2}};
    for (int i = 0; i < sizes.length; i++) {
      int h = sizes[i][0], w = sizes[i][1];
      Path img = png(dir, "i" + i + ".png", h, w, i), out = dir.resolve("e" + i + ".safetensors");
      Result r = CliRun.run("embed", "--model", model.toString(), "--image", img.toString(), "--prompt", Q, "--out",
          out.toString());
      assertEquals(0, r.code(), r.err());
      int V = LlavaNextPipelineTest.processorCount(h, w), D = 64;
      int[] best = LlavaNextPipelineTest.best(h, w, new int[][] {{42, 84}, {84, 42}, {84, 84}, {126, 42}, {42, 126}});
      int views = 1 + (best[0] / 42) * (best[1] / 42);
      try (SafetensorsFile f = SafetensorsFile.open(out)) {
        assertEquals(Set.of("embeds", "spans", "input_ids", "pixel_values", "image_sizes"), f.tensors().keySet());
        long[] spans = f.readLongs("spans");
        assertEquals(V, spans[1], "visual rows for " + h + "x" + w);
        long n = f.tensors().get("input_ids").shape()[0];
        f.require("embeds", DType.F32, n, D);
        f.require("pixel_values", DType.F32, views, 3, 42, 42);
        f.require("image_sizes", DType.I64, 2);
        assertArrayEquals(new long[] {h, w}, f.readLongs("image_sizes"));
        long[] ids = f.readLongs("input_ids");
        for (long k = spans[0]; k < spans[0] + V; k++) assertEquals(480, ids[(int) k]);
        assertNotEquals(480, ids[(int) spans[0] - 1]);
        assertNotEquals(480, ids[(int) (spans[0] + V)]);
      }
    }
  }

  @Test
  void askRunsUnprunedAndWithARecipeFittedAtAnotherCountScaledToThisImage() throws Exception {
    Path a1 = png(dir, "a1.png", 40, 60, 1), a2 = png(dir, "a2.png", 40, 60, 2), b = png(dir, "b.png", 70, 25, 3);
    int va = LlavaNextPipelineTest.processorCount(40, 60), vb = LlavaNextPipelineTest.processorCount(70, 25);
    assertNotEquals(va, vb);
    Path recipe = dir.resolve("r.json");
    Result fit = CliRun.run("fit", "--model", model.toString(), "--images", a1.toString(), a2.toString(), "--prompt", Q,
        "--budget", "0.5", "--out", recipe.toString(), "--stats-out", dir.resolve("s.safetensors").toString());
    assertEquals(0, fit.code(), fit.err());
    Recipe r = RecipeFiles.read(recipe);
    assertEquals(va, r.visualTokens());
    int[] prune = r.prune();
    assertTrue(Arrays.stream(prune).sum() > 0, Arrays.toString(prune));
    // the recording fits again without the model, at its own count; flops and sweep read both at that count
    Path again = dir.resolve("again.json");
    Result refit = CliRun.run("fit", "--model", model.toString(), "--stats", dir.resolve("s.safetensors").toString(),
        "--budget", "0.5", "--out", again.toString());
    assertEquals(0, refit.code(), refit.err());
    assertArrayEquals(prune, RecipeFiles.read(again).prune());
    Result flops = CliRun.run("flops", "--model", model.toString(), "--recipe", recipe.toString());
    assertEquals(0, flops.code(), flops.err());
    Result sweep = CliRun.run("sweep", "--model", model.toString(), "--stats", dir.resolve("s.safetensors").toString(),
        "--budgets", "0.3,0.5", "--out", dir.resolve("sweep").toString());
    assertEquals(0, sweep.code(), sweep.err());

    Matcher plain = AskCliTest.timing(CliRun.run("ask", "--model", model.toString(), "--image", b.toString(), "--prompt", Q,
        "--max-new-tokens", "4"));
    int[] all = AskCliTest.perLayer(plain);
    int n = all[0];
    for (int x : all) assertEquals(n, x);

    Matcher pruned = AskCliTest.timing(CliRun.run("ask", "--model", model.toString(), "--image", b.toString(), "--prompt",
        Q, "--recipe", recipe.toString(), "--max-new-tokens", "4"));
    // SCALE: after layer l, floor(cumulative drops * vb / va) of this image's tokens are gone
    int[] want = new int[all.length];
    long cum = 0;
    want[0] = n;
    for (int l = 1; l < want.length; l++) {
      cum += prune[l - 1];
      want[l] = (int) (n - cum * vb / va);
    }
    assertArrayEquals(want, AskCliTest.perLayer(pruned));
    // prefill on embed's file applies the same recipe the same way
    Path e = dir.resolve("b.safetensors");
    Result emb = CliRun.run("embed", "--model", model.toString(), "--image", b.toString(), "--prompt", Q, "--out",
        e.toString());
    assertEquals(0, emb.code(), emb.err());
    Result pre = CliRun.run("prefill", "--model", model.toString(), "--weights", model.toString(), "--embeds", e.toString(),
        "--recipe", recipe.toString());
    assertEquals(0, pre.code(), pre.err());
    assertTrue(pre.out().contains("tokens entering each layer: " + Arrays.toString(want)), pre.out());

    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", model.toString(), "--image", b.toString(), "--prompt", Q,
        "--recipe", recipe.toString(), "--visual-policy", "REFUSE"), "--recipe", String.valueOf(va), String.valueOf(vb));
    // at its own count the recipe applies as fitted
    Matcher same = AskCliTest.timing(CliRun.run("ask", "--model", model.toString(), "--image", a1.toString(), "--prompt", Q,
        "--recipe", recipe.toString(), "--visual-policy", "REFUSE", "--max-new-tokens", "2"));
    assertEquals(AskCliTest.perLayer(same)[0] - prune[0], AskCliTest.perLayer(same)[1]);
  }

  @Test
  void fitOnImagesOfDifferentCountsGivesOneRecipeAndBadInputIsOneLine() throws Exception {
    Path a = png(dir, "a.png", 40, 60, 1), b = png(dir, "b.png", 70, 25, 3);
    int va = LlavaNextPipelineTest.processorCount(40, 60), vb = LlavaNextPipelineTest.processorCount(70, 25);
    assertNotEquals(va, vb);
    Path out = dir.resolve("r.json"), stats = dir.resolve("mixed.safetensors");
    Result fit = CliRun.run("fit", "--model", model.toString(), "--images", a.toString(), b.toString(), "--prompt", Q,
        "--budget", "0.5", "--out", out.toString(), "--stats-out", stats.toString());
    assertEquals(0, fit.code(), fit.err());
    // one recipe at the larger count, from each image's statistics at its own count
    Recipe r = RecipeFiles.read(out);
    assertEquals(Math.max(va, vb), r.visualTokens());
    Path again = dir.resolve("again.json");
    Result refit = CliRun.run("fit", "--model", model.toString(), "--stats", stats.toString(), "--budget", "0.5", "--out",
        again.toString());
    assertEquals(0, refit.code(), refit.err());
    assertArrayEquals(r.prune(), RecipeFiles.read(again).prune());
    for (Path img : new Path[] {a, b}) {
      Result ask = CliRun.run("ask", "--model", model.toString(), "--image", img.toString(), "--prompt", Q, "--recipe",
          out.toString(), "--max-new-tokens", "2");
      assertEquals(0, ask.code(), ask.err());
    }
    Path corrupt = dir.resolve("corrupt.png");
    Files.write(corrupt, new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 13, 'I', 'H', 'D', 'R', 1, 2});
    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", model.toString(), "--image", corrupt.toString(), "--prompt",
        Q), "corrupt.png");
    ModelFolderCliTest.oneLineError(CliRun.run("embed", "--model", model.toString(), "--image", a.toString(), "--prompt",
        "<image> what?", "--out", dir.resolve("e.safetensors").toString()), "--prompt", "<image>");
  }

  @Test
  void theBundledV16IsLlavaHfsShapeAndMistralStaysRefused() throws Exception {
    LlavaNextConfig c = LlavaNextConfig.bundled("llava-v1.6-vicuna-7b");
    assertEquals(2928, c.nominalTokens()); // 576 base + 48 rows of 48 and a newline
    assertEquals(Geometries.resolve("llava-v1.6-vicuna-7b").visualTokens(), c.nominalTokens());
    assertEquals(Geometries.resolve("llava-next-tiny").visualTokens(), LlavaNextConfig.bundled("llava-next-tiny").nominalTokens());
    // llava-1.5-7b's 7,063,427,072 parameters and image_newline's 4096
    long params = RandomModelFolder.weightBytes(c, RandomCheckpoint.Layout.LLAVA_HF, DType.BF16) / 2;
    assertEquals(RandomModelFolder.weightBytes(LlavaConfig.bundled("llava-1.5-7b"), RandomCheckpoint.Layout.LLAVA_HF,
        DType.BF16) / 2 + 4096, params);
    assertEquals(7_063_427_072L + 4096, params);
    assertNull(LlavaNextConfig.bundled("llava-1.5-7b"), "a LLaVA-1.5 config is not LLaVA-NeXT's");

    Path mistral = dir.resolve("mistral");
    Files.createDirectories(mistral);
    String cfg = new String(c.toJson()).replace("\"model_type\" : \"llama\"", "\"model_type\" : \"mistral\"");
    assertTrue(cfg.contains("mistral"), cfg);
    Files.writeString(mistral.resolve("config.json"), cfg);
    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", mistral.toString(), "--image",
        png(dir, "m.png", 9, 9, 4).toString(), "--prompt", Q), "config.json", "mistral", "llama");
  }
}
