package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.cli.CliRun.Result;
import io.fitprune.hf.ModelFolder;
import io.fitprune.image.QwenImageProcessor;
import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * random-checkpoint --vision, embed, ask and fit --images on the two tiny Qwen models: qwen2-vl-tiny
 * written in the published layout (visual.*, model.layers.*), qwen2.5-vl-tiny in the newer one
 * (model.visual.*, model.language_model.*).
 */
class QwenCliTest {
  static final String Q = AskCliTest.QUESTION;
  static final int IMAGE_PAD = 510, VISION_START = 507, D = 64, PATCH_VALUES = 3 * 2 * 14 * 14;
  @TempDir static Path shared;
  static final Map<String, Path> models = new HashMap<>();

  @TempDir Path dir;

  @BeforeAll
  static void folders() throws Exception {
    for (String[] m : new String[][] {{"qwen2-vl-tiny", "visual"}, {"qwen2.5-vl-tiny", "model-visual"}}) {
      Path out = shared.resolve(m[0]);
      Result r = CliRun.run("random-checkpoint", "--model", m[0], "--vision", "--dtype", "f32", "--layout", m[1], "--out",
          out.toString());
      assertEquals(0, r.code(), r.err());
      models.put(m[0], out);
    }
  }

  static Path png(Path dir, String name, int h, int w, long seed) throws Exception {
    return AskCliTest.png(dir, name, w, h, seed);
  }

  /** The processor's grid in patches (t, h, w) for an image of h x w. */
  static int[] grid(Path model, int h, int w) throws Exception {
    int[] hw = QwenImageProcessor.fromFile(model.resolve(ModelFolder.PREPROCESSOR)).resizedSize(h, w);
    return new int[] {1, hw[0] / 14, hw[1] / 14};
  }

  static long[][] ropeIndex(long[] ids, int[] grid) {
    return io.fitprune.testutil.RopeIndexReference.of(ids, IMAGE_PAD, new int[][] {grid}, 2);
  }

  @ParameterizedTest
  @ValueSource(strings = {"qwen2-vl-tiny", "qwen2.5-vl-tiny"})
  void randomCheckpointWritesACompleteFolderInEitherLayout(String name) throws Exception {
    Path m = models.get(name);
    for (String f : new String[] {"config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
        "chat_template.json", "generation_config.json", "model.safetensors.index.json"})
      assertTrue(Files.isRegularFile(m.resolve(f)), f);
    ModelFolder folder = ModelFolder.open(m);
    assertNotNull(folder.qwen());
    assertTrue(folder.perImageCounts());
    assertEquals(name.startsWith("qwen2.5") ? "qwen2_5_vl" : "qwen2_vl", folder.qwen().config().modelType());
    String index = Files.readString(m.resolve("model.safetensors.index.json"));
    if (name.startsWith("qwen2.5")) {
      assertTrue(index.contains("\"model.visual.blocks.0.attn.qkv.weight\""), index);
      assertTrue(index.contains("\"model.language_model.layers.0.self_attn.q_proj.bias\""), index);
      assertFalse(index.contains("\"lm_head.weight\""), "tied embeddings: no LM head");
    } else {
      assertTrue(index.contains("\"visual.blocks.0.attn.qkv.weight\""), index);
      assertTrue(index.contains("\"model.layers.0.self_attn.q_proj.bias\""), index);
      assertTrue(index.contains("\"lm_head.weight\""), index);
    }
    // the other layout of the same model, and the refused ones
    Path other = dir.resolve("other");
    String otherLayout = name.startsWith("qwen2.5") ? "visual" : "model-visual";
    Result r = CliRun.run("random-checkpoint", "--model", name, "--vision", "--layout", otherLayout, "--out", other.toString());
    assertEquals(0, r.code(), r.err());
    assertNotNull(ModelFolder.open(other).qwen());
    // another vocabulary and depth: the special ids follow the generated tokenizer, and the folder runs
    Path small = dir.resolve("small");
    r = CliRun.run("random-checkpoint", "--model", name, "--vision", "--vocab", "400", "--layers", "1", "--out",
        small.toString());
    assertEquals(0, r.code(), r.err());
    ModelFolder sf = ModelFolder.open(small);
    assertEquals(400, sf.text().vocab());
    assertEquals(1, sf.text().layers());
    assertEquals(400 - 14 + 12, sf.imageTokenId());
    Path e = dir.resolve("small.safetensors");
    r = CliRun.run("embed", "--model", small.toString(), "--image", png(dir, "s.png", 50, 70, 1).toString(), "--prompt", Q,
        "--out", e.toString());
    assertEquals(0, r.code(), r.err());
    ModelFolderCliTest.oneLineError(CliRun.run("random-checkpoint", "--model", name, "--vision", "--layout", "llava-hf",
        "--out", dir.resolve("no").toString()), "--layout", "llava-hf", "visual");
    assertFalse(Files.exists(dir.resolve("no")));
  }

  @ParameterizedTest
  @ValueSource(strings = {"qwen2-vl-tiny", "qwen2.5-vl-tiny"})
  void embedWritesTheContractTensors(String name) throws Exception {
    Path m = models.get(name);
    int[][] sizes = {{100, 150}, {61, 200}, {200, 45}, {30, 30}};
    for (int k = 0; k < sizes.length; k++) {
      int h = sizes[k][0], w = sizes[k][1];
      Path img = png(dir, "i" + k + ".png", h, w, k), out = dir.resolve("e" + k + ".safetensors");
      Result r = CliRun.run("embed", "--model", m.toString(), "--image", img.toString(), "--prompt", Q, "--out",
          out.toString());
      assertEquals(0, r.code(), r.err());
      int[] g = grid(m, h, w);
      int V = g[1] * g[2] / 4;
      try (SafetensorsFile f = SafetensorsFile.open(out)) {
        assertEquals(Set.of("embeds", "spans", "input_ids", "pixel_values", "position_ids", "image_grid_thw"),
            f.tensors().keySet());
        long n = f.tensors().get("input_ids").shape()[0];
        f.require("input_ids", DType.I64, n);
        f.require("embeds", DType.F32, n, D);
        f.require("spans", DType.I64, 2);
        f.require("pixel_values", DType.F32, (long) g[1] * g[2], PATCH_VALUES);
        f.require("position_ids", DType.I64, 3, n);
        f.require("image_grid_thw", DType.I64, 3);
        assertArrayEquals(new long[] {g[0], g[1], g[2]}, f.readLongs("image_grid_thw"));
        long[] spans = f.readLongs("spans"), ids = f.readLongs("input_ids");
        assertEquals(V, spans[1], name + " " + h + "x" + w);
        assertEquals(VISION_START, ids[(int) spans[0] - 1]);
        for (int i = 0; i < n; i++)
          assertEquals(i >= spans[0] && i < spans[0] + V, ids[i] == IMAGE_PAD, "input_ids[" + i + "]");
        long[] pos = f.readLongs("position_ids");
        long[][] want = ropeIndex(ids, g);
        for (int c = 0; c < 3; c++)
          assertArrayEquals(want[c], Arrays.copyOfRange(pos, c * (int) n, (c + 1) * (int) n), "component " + c);
        float[] px = f.readFloats("pixel_values");
        assertTrue(Stream.of(0, px.length / 2, px.length - 1).allMatch(i -> Float.isFinite(px[i])));
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"qwen2-vl-tiny", "qwen2.5-vl-tiny"})
  void fitOnTwoSizesThenAskUnprunedAndPrunedAtAThirdThroughScale(String name) throws Exception {
    Path m = models.get(name);
    Path a = png(dir, "a.png", 100, 150, 1), b = png(dir, "b.png", 200, 45, 2), c = png(dir, "c.png", 61, 200, 3);
    int va = count(m, 100, 150), vb = count(m, 200, 45), vc = count(m, 61, 200);
    assertNotEquals(va, vb);
    assertNotEquals(Math.max(va, vb), vc);
    Path recipe = dir.resolve("r.json");
    Result fit = CliRun.run("fit", "--model", m.toString(), "--images", a.toString(), b.toString(), "--prompt", Q,
        "--budget", "0.4", "--out", recipe.toString());
    assertEquals(0, fit.code(), fit.err());
    Recipe r = RecipeFiles.read(recipe);
    int fitted = Math.max(va, vb);
    assertEquals(fitted, r.visualTokens());
    int[] prune = r.prune();
    assertTrue(Arrays.stream(prune).sum() > 0, Arrays.toString(prune));

    int[] all = AskCliTest.perLayer(AskCliTest.timing(CliRun.run("ask", "--model", m.toString(), "--image", c.toString(),
        "--prompt", Q, "--max-new-tokens", "4")));
    int n = all[0];
    for (int x : all) assertEquals(n, x);
    Matcher pruned = AskCliTest.timing(CliRun.run("ask", "--model", m.toString(), "--image", c.toString(), "--prompt", Q,
        "--recipe", recipe.toString(), "--max-new-tokens", "4"));
    int[] want = new int[all.length];
    long cum = 0;
    want[0] = n;
    for (int l = 1; l < want.length; l++) {
      cum += prune[l - 1];
      want[l] = (int) (n - cum * vc / fitted);
    }
    assertArrayEquals(want, AskCliTest.perLayer(pruned));
    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", m.toString(), "--image", c.toString(), "--prompt", Q,
        "--recipe", recipe.toString(), "--visual-policy", "REFUSE"), "--recipe", String.valueOf(fitted),
        String.valueOf(vc));
    // prefill on embed's file (its position_ids) prunes as ask does
    Path e = dir.resolve("c.safetensors");
    assertEquals(0, CliRun.run("embed", "--model", m.toString(), "--image", c.toString(), "--prompt", Q, "--out",
        e.toString()).code());
    Result pre = CliRun.run("prefill", "--model", m.toString(), "--weights", m.toString(), "--embeds", e.toString(),
        "--recipe", recipe.toString());
    assertEquals(0, pre.code(), pre.err());
    assertTrue(pre.out().contains("tokens entering each layer: " + Arrays.toString(want)), pre.out());
  }

  /** A copy of a model folder with one file's text edited. */
  Path edited(Path model, String file, String from, String to) throws Exception {
    Path copy = Files.createTempDirectory(dir, "edited");
    try (Stream<Path> s = Files.list(model)) {
      for (Path p : s.toList()) Files.copy(p, copy.resolve(p.getFileName()));
    }
    String text = Files.readString(copy.resolve(file));
    assertTrue(text.contains(from), file + " holds " + from);
    Files.writeString(copy.resolve(file), text.replace(from, to));
    return copy;
  }

  /** embed and ask on {@code model} fail with one line naming every part, and write nothing. */
  void refused(Path model, Path image, String... parts) throws Exception {
    Path out = dir.resolve("never.safetensors");
    ModelFolderCliTest.oneLineError(CliRun.run("embed", "--model", model.toString(), "--image", image.toString(),
        "--prompt", Q, "--out", out.toString()), parts);
    assertFalse(Files.exists(out));
    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", model.toString(), "--image", image.toString(),
        "--prompt", Q), parts);
  }

  @Test
  void badInputIsOneLineNamingTheFileAndTheValueAndWritesNothing() throws Exception {
    Path m = models.get("qwen2-vl-tiny"), img = png(dir, "ok.png", 100, 150, 9);
    refused(edited(m, "config.json", "\"mrope_section\" : [ 2, 3, 3 ]", "\"mrope_section\" : [ 2, 3, 4 ]"), img,
        "config.json", "mrope_section", "[2, 3, 4]", "8");
    // visual.* shapes that disagree with vision_config (its width 32 becomes 48)
    refused(edited(m, "config.json", "\"embed_dim\" : 32", "\"embed_dim\" : 48"), img, "visual.", "48");
    // without resizing: an image under one merged patch, one over max_pixels, a grid not whole merge windows
    Path noResize = edited(m, "preprocessor_config.json", "\"do_resize\" : true", "\"do_resize\" : false");
    refused(noResize, png(dir, "small.png", 20, 56, 1), "small.png", "20 x 56", "merged patch");
    refused(noResize, png(dir, "large.png", 252, 252, 2), "large.png", "252 x 252", "max_pixels");
    refused(noResize, png(dir, "odd.png", 42, 56, 3), "odd.png", "3 x 4", "merge_size 2");
    // a question holding the image marker the template places itself
    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", m.toString(), "--image", img.toString(), "--prompt",
        "<|image_pad|> what?"), "--prompt", "<|image_pad|>");
  }

  @ParameterizedTest
  @ValueSource(strings = {"qwen2-vl-tiny", "qwen2.5-vl-tiny"})
  void embedThenFitCalibrationRecordsWhatFitImagesDoesBitForBitAtThe3dPositions(String name) throws Exception {
    Path m = models.get(name);
    Path a = png(dir, "a.png", 100, 150, 4), b = png(dir, "b.png", 200, 45, 5);
    Path ea = dir.resolve("ea.safetensors"), eb = dir.resolve("eb.safetensors");
    for (Path[] x : new Path[][] {{a, ea}, {b, eb}})
      assertEquals(0, CliRun.run("embed", "--model", m.toString(), "--image", x[0].toString(), "--prompt", Q, "--out",
          x[1].toString()).code());
    Path s1 = dir.resolve("s1.safetensors"), s2 = dir.resolve("s2.safetensors"), s3 = dir.resolve("s3.safetensors");
    Result byImages = CliRun.run("fit", "--model", m.toString(), "--images", a.toString(), b.toString(), "--prompt", Q,
        "--budget", "0.4", "--out", dir.resolve("r1.json").toString(), "--stats-out", s1.toString());
    assertEquals(0, byImages.code(), byImages.err());
    Result byEmbeds = CliRun.run("fit", "--model", m.toString(), "--weights", m.toString(), "--calibration", ea.toString(),
        eb.toString(), "--budget", "0.4", "--out", dir.resolve("r2.json").toString(), "--stats-out", s2.toString());
    assertEquals(0, byEmbeds.code(), byEmbeds.err());
    // the same embeddings at 1-D positions: what the recording would be had the ids been dropped
    Path flat = dir.resolve("flat.safetensors");
    try (SafetensorsFile f = SafetensorsFile.open(ea)) {
      long[] sh = f.tensors().get("embeds").shape();
      new io.fitprune.io.SafetensorsWriter().putFloats("embeds", f.readFloats("embeds"), sh[0], sh[1])
          .putLongs("spans", f.readLongs("spans"), 2).write(flat);
    }
    Result byFlat = CliRun.run("fit", "--model", m.toString(), "--weights", m.toString(), "--calibration", flat.toString(),
        eb.toString(), "--budget", "0.4", "--out", dir.resolve("r3.json").toString(), "--stats-out", s3.toString());
    assertEquals(0, byFlat.code(), byFlat.err());
    // the bundled name stands for the folder's decoder: M-RoPE, and tied embeddings where the config ties them
    Path s4 = dir.resolve("s4.safetensors");
    Result byName = CliRun.run("fit", "--model", name, "--weights", m.toString(), "--calibration", ea.toString(),
        eb.toString(), "--budget", "0.4", "--out", dir.resolve("r5.json").toString(), "--stats-out", s4.toString());
    assertEquals(0, byName.code(), byName.err());
    try (SafetensorsFile x = SafetensorsFile.open(s1); SafetensorsFile y = SafetensorsFile.open(s2);
        SafetensorsFile z = SafetensorsFile.open(s3); SafetensorsFile w = SafetensorsFile.open(s4)) {
      for (String t : new String[] {"self", "cross"}) {
        float[] u = x.readFloats(t);
        assertArrayEquals(u, y.readFloats(t), t);
        assertArrayEquals(u, w.readFloats(t), t + " with the bundled name");
        assertFalse(Arrays.equals(u, z.readFloats(t)), t + ": the 3-D positions change the statistics");
      }
    }
    // exact mode runs the same inputs at the same positions
    Result exact = CliRun.run("fit", "--model", m.toString(), "--images", a.toString(), b.toString(), "--prompt", Q,
        "--budget", "0.4", "--mode", "exact", "--out", dir.resolve("r4.json").toString());
    assertEquals(0, exact.code(), exact.err());
  }

  static int count(Path model, int h, int w) throws Exception {
    int[] g = grid(model, h, w);
    return g[1] * g[2] / 4;
  }
}
