package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.cli.CliRun.Result;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.decoder.Tensors;
import io.fitprune.hf.ModelFolder;
import io.fitprune.hf.Prompt;
import io.fitprune.hf.PromptTokenizer;
import io.fitprune.image.ImageProcessor;
import io.fitprune.image.PixelValues;
import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.model.Geometry;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import io.fitprune.vision.LlavaImageEncoder;
import io.fitprune.vision.VisionCheckpoint;
import io.fitprune.testutil.RandomPng;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** embed, ask and fit --images on a tiny LLaVA folder written by random-checkpoint --vision, with random images. */
class AskCliTest {
  /** The form of ask's timing line, as the README documents it. */
  static final Pattern TIMING = Pattern.compile("ask: vision (\\d+\\.\\d) ms, prefill (\\d+\\.\\d) ms, tokens per layer "
      + "(\\d+(?:,\\d+)*), decode (\\d+\\.\\d|n/a) ms per token \\((\\d+) tokens\\)");
  static final String QUESTION = "What is in this picture?";

  @TempDir static Path shared;
  static Path model, img1, img2;

  @TempDir Path dir;

  @BeforeAll
  static void folderAndImages() throws Exception {
    model = shared.resolve("tiny");
    Result r = CliRun.run("random-checkpoint", "--model", "llava-tiny", "--vision", "--dtype", "f32", "--out", model.toString());
    assertEquals(0, r.code(), r.err());
    img1 = png(shared, "one.png", 37, 23, 1);
    img2 = png(shared, "two.png", 61, 64, 2);
  }

  static Path png(Path dir, String name, int w, int h, long seed) throws Exception {
    return RandomPng.write(dir, name, h, w, seed);
  }

  @Test
  void embedWritesTheLanguageModelsInputWithTheImageFeaturesInPlace() throws Exception {
    Path out = dir.resolve("e.safetensors");
    Result r = CliRun.run("embed", "--model", model.toString(), "--image", img1.toString(), "--prompt", QUESTION, "--out",
        out.toString());
    assertEquals(0, r.code(), r.err());
    ModelFolder folder = ModelFolder.open(model);
    int D = folder.config().text().hidden(), side = folder.config().vision().imageSize();
    Prompt prompt;
    try (PromptTokenizer tok = folder.tokenizer()) {
      prompt = tok.chat(QUESTION, true);
    }
    int n = prompt.length(), P = prompt.prefix(), V = prompt.visual();
    assertEquals(16, V);
    assertTrue(P > 0 && n - P - V > 0, "text on both sides of the image");
    PixelValues px = ImageProcessor.fromFile(model.resolve(ModelFolder.PREPROCESSOR)).process(img1);
    float[] features = new LlavaImageEncoder(VisionCheckpoint.load(folder.weights(), folder.config().vision(),
        folder.config().projector(), null)).encode(px.data(), 1);
    float[] table = Tensors.toArray(DecoderWeights.load(folder.weights(), folder.decoderConfig(), null).embed());
    try (SafetensorsFile f = SafetensorsFile.open(out)) {
      assertEquals(java.util.Set.of("embeds", "spans", "input_ids", "pixel_values"), f.tensors().keySet());
      f.require("embeds", DType.F32, n, D);
      f.require("spans", DType.I64, 2);
      f.require("input_ids", DType.I64, n);
      f.require("pixel_values", DType.F32, 3, side, side);
      assertArrayEquals(new long[] {P, V}, f.readLongs("spans"));
      long[] ids = f.readLongs("input_ids");
      assertArrayEquals(prompt.ids(), ids);
      for (int i = P; i < P + V; i++) assertEquals(folder.config().imageTokenIndex(), ids[i]);
      assertArrayEquals(px.data(), f.readFloats("pixel_values"));
      float[] e = f.readFloats("embeds");
      for (int i = 0; i < n; i++) {
        float[] row = Arrays.copyOfRange(e, i * D, (i + 1) * D);
        float[] want = i >= P && i < P + V ? Arrays.copyOfRange(features, (i - P) * D, (i - P + 1) * D)
            : Arrays.copyOfRange(table, (int) ids[i] * D, (int) (ids[i] + 1) * D);
        assertArrayEquals(want, row, "row " + i);
      }
    }
  }

  static Matcher timing(Result r) {
    assertEquals(0, r.code(), r.err());
    List<String> lines = r.out().lines().toList();
    assertTrue(lines.size() >= 2, r.out());
    Matcher m = TIMING.matcher(lines.get(lines.size() - 1));
    assertTrue(m.matches(), lines.get(lines.size() - 1));
    return m;
  }

  static String answer(Result r) {
    String out = r.out();
    int last = out.stripTrailing().lastIndexOf('\n');
    return out.substring(0, last);
  }

  static int[] perLayer(Matcher m) {
    return Arrays.stream(m.group(3).split(",")).mapToInt(Integer::parseInt).toArray();
  }

  @Test
  void askStreamsAnAnswerUnprunedAndPrunedThenOneTimingLine() throws Exception {
    Geometry g = ModelFolder.open(model).geometry();
    Prompt prompt;
    try (PromptTokenizer tok = ModelFolder.open(model).tokenizer()) {
      prompt = tok.chat(QUESTION, true);
    }
    int n = prompt.length();
    Matcher m = timing(CliRun.run("ask", "--model", model.toString(), "--image", img1.toString(), "--prompt", QUESTION,
        "--max-new-tokens", "6"));
    int[] all = new int[g.layers()];
    Arrays.fill(all, n);
    assertArrayEquals(all, perLayer(m));
    int tokens = Integer.parseInt(m.group(5));
    assertTrue(tokens >= 1 && tokens <= 6, m.group());

    Path recipe = dir.resolve("r.json");
    Recipe r = Recipe.builder(g).drop(1, 8).drop(2, 5).tokens(prompt.prefix(), prompt.text()).build();
    RecipeFiles.write(recipe, r);
    m = timing(CliRun.run("ask", "--model", model.toString(), "--image", img1.toString(), "--prompt", QUESTION,
        "--recipe", recipe.toString(), "--max-new-tokens", "6"));
    assertArrayEquals(new int[] {n, n, n - 8, n - 13}, perLayer(m));
  }

  /** ask's greedy answer is the text of prefill --generate's ids on embed's file, unpruned and pruned alike. */
  @Test
  void askAnswersWhatPrefillGeneratesFromEmbedsFile() throws Exception {
    Path e = dir.resolve("e.safetensors");
    Result r = CliRun.run("embed", "--model", model.toString(), "--image", img2.toString(), "--prompt", QUESTION, "--out",
        e.toString());
    assertEquals(0, r.code(), r.err());
    Geometry g = ModelFolder.open(model).geometry();
    Path recipe = dir.resolve("r.json");
    RecipeFiles.write(recipe, Recipe.builder(g).drop(0, 7).drop(2, 6).build());
    for (String[] extra : new String[][] {{}, {"--recipe", recipe.toString()}}) {
      String[] prefill = {"prefill", "--model", model.toString(), "--weights", model.toString(), "--embeds", e.toString(),
          "--generate", "10"};
      String[] ask = {"ask", "--model", model.toString(), "--image", img2.toString(), "--prompt", QUESTION,
          "--max-new-tokens", "10"};
      Result p = CliRun.run(concat(prefill, extra)), a = CliRun.run(concat(ask, extra));
      assertEquals(0, p.code(), p.err());
      timing(a);
      Matcher ids = Pattern.compile("output ids: \\[([0-9, ]+)\\]").matcher(p.out());
      assertTrue(ids.find(), p.out());
      long[] tokens = Arrays.stream(ids.group(1).split(", ")).mapToLong(Long::parseLong).toArray();
      String want;
      try (PromptTokenizer tok = ModelFolder.open(model).tokenizer()) {
        int end = 0;
        while (end < tokens.length && tokens[end] != 2) end++; // </s> is id 2 in the tiny tokenizer
        want = tok.decode(Arrays.copyOf(tokens, end), true);
      }
      for (String stop : new String[] {"USER:", "</s>"}) if (want.contains(stop)) want = want.substring(0, want.indexOf(stop));
      assertFalse(want.isBlank(), "the seeded tiny model answers with text: " + Arrays.toString(tokens));
      assertEquals(want, answer(a), "ask " + String.join(" ", extra));
    }
  }

  static String[] concat(String[] a, String[] b) {
    String[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @Test
  void aSeedRepeatsASampledAnswer() {
    String[] args = {"ask", "--model", model.toString(), "--image", img2.toString(), "--prompt", QUESTION,
        "--temperature", "1.5", "--top-p", "0.9", "--seed", "11", "--max-new-tokens", "8"};
    Result a = CliRun.run(args), b = CliRun.run(args);
    timing(a);
    timing(b);
    assertEquals(answer(a), answer(b));
  }

  @Test
  void fitFromImagesRecordsTheStatisticsOfTheirEmbeddingsBitForBit() throws Exception {
    Path e1 = dir.resolve("e1.safetensors"), e2 = dir.resolve("e2.safetensors");
    for (Path[] io : new Path[][] {{img1, e1}, {img2, e2}}) {
      Result r = CliRun.run("embed", "--model", model.toString(), "--image", io[0].toString(), "--prompt", QUESTION, "--out",
          io[1].toString());
      assertEquals(0, r.code(), r.err());
    }
    // the two embeddings as one calibration file [2, n, D], the form fit --calibration reads
    Path cal = dir.resolve("cal.safetensors");
    try (SafetensorsFile a = SafetensorsFile.open(e1); SafetensorsFile b = SafetensorsFile.open(e2)) {
      long[] shape = a.tensors().get("embeds").shape();
      float[] x = a.readFloats("embeds"), y = b.readFloats("embeds");
      float[] both = Arrays.copyOf(x, x.length + y.length);
      System.arraycopy(y, 0, both, x.length, y.length);
      assertArrayEquals(a.readLongs("spans"), b.readLongs("spans"));
      new SafetensorsWriter().putFloats("embeds", both, 2, shape[0], shape[1]).putLongs("spans", a.readLongs("spans"), 2)
          .write(cal);
    }
    Path s1 = dir.resolve("s1.safetensors"), s2 = dir.resolve("s2.safetensors");
    Path r1 = dir.resolve("r1.json"), r2 = dir.resolve("r2.json");
    Result byEmbeds = CliRun.run("fit", "--model", model.toString(), "--weights", model.toString(), "--calibration",
        cal.toString(), "--budget", "0.3", "--out", r1.toString(), "--stats-out", s1.toString());
    assertEquals(0, byEmbeds.code(), byEmbeds.err());
    Result byImages = CliRun.run("fit", "--model", model.toString(), "--images", img1.toString(), img2.toString(),
        "--prompt", QUESTION, "--budget", "0.3", "--out", r2.toString(), "--stats-out", s2.toString());
    assertEquals(0, byImages.code(), byImages.err());
    try (SafetensorsFile a = SafetensorsFile.open(s1); SafetensorsFile b = SafetensorsFile.open(s2)) {
      assertArrayEquals(a.tensors().get("self").shape(), new long[] {2, 4, 16});
      for (String t : new String[] {"self", "cross"}) {
        float[] x = a.readFloats(t), y = b.readFloats(t);
        double sum = 0;
        for (float v : x) sum += v;
        assertTrue(sum > 0, t + " holds statistics");
        assertArrayEquals(x, y, t);
      }
    }
    assertEquals(Files.readString(r1), Files.readString(r2));
    assertTrue(Arrays.stream(RecipeFiles.read(r2).prune()).sum() > 0, Files.readString(r2));

    Path r3 = dir.resolve("r3.json");
    Result exact = CliRun.run("fit", "--model", model.toString(), "--images", img1.toString(), "--prompt", QUESTION,
        "--budget", "0.3", "--mode", "exact", "--out", r3.toString());
    assertEquals(0, exact.code(), exact.err());
    assertEquals("exact", RecipeFiles.read(r3).mode().toString().toLowerCase(java.util.Locale.ROOT));
  }

  @Test
  void badInputIsOneLineNamingItAndWritesNothing() throws Exception {
    Path out = dir.resolve("out.safetensors");
    String m = model.toString(), q = QUESTION;
    ModelFolderCliTest.oneLineError(CliRun.run("embed", "--model", m, "--image", dir.resolve("none.png").toString(),
        "--prompt", q, "--out", out.toString()), "--image", "none.png");
    Path corrupt = dir.resolve("corrupt.png");
    Files.write(corrupt, new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 13, 'I', 'H', 'D', 'R', 1, 2});
    ModelFolderCliTest.oneLineError(CliRun.run("embed", "--model", m, "--image", corrupt.toString(), "--prompt", q, "--out",
        out.toString()), "corrupt.png");
    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", m, "--image", corrupt.toString(), "--prompt", q),
        "corrupt.png");
    ModelFolderCliTest.oneLineError(CliRun.run("embed", "--model", m, "--image", img1.toString(), "--prompt",
        "<image>\nWhat is this?", "--out", out.toString()), "--prompt", "<image>");
    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", m, "--image", img1.toString(), "--prompt", "<image> hi"),
        "--prompt", "<image>");
    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", m, "--image", img1.toString(), "--prompt", q,
        "--max-new-tokens", "0"), "--max-new-tokens", "0");
    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", m, "--image", img1.toString(), "--prompt", q,
        "--max-new-tokens", "100000"), "--max-new-tokens", "max_position_embeddings");
    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", m, "--image", img1.toString(), "--prompt", q,
        "--top-p", "0.5"), "--top-p", "--temperature");
    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", m, "--image", img1.toString(), "--prompt", q,
        "--repetition-penalty", "0"), "--repetition-penalty", "> 0");
    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", dir.toString(), "--image", img1.toString(), "--prompt", q),
        "--model", "config.json");
    ModelFolderCliTest.oneLineError(CliRun.run("fit", "--model", m, "--images", img1.toString(), "--budget", "0.3", "--out",
        dir.resolve("r.json").toString()), "--images", "--prompt");
    ModelFolderCliTest.oneLineError(CliRun.run("fit", "--model", m, "--images", img1.toString(), "--prompt", q, "--weights",
        m, "--budget", "0.3", "--out", dir.resolve("r.json").toString()), "--images", "--weights");
    ModelFolderCliTest.oneLineError(CliRun.run("fit", "--model", m, "--images", img1.toString(), "--prompt", q,
        "--rope-theta", "500", "--budget", "0.3", "--out", dir.resolve("r.json").toString()), "--images", "--rope-theta");

    Path noTok = dir.resolve("no-tokenizer");
    Files.createDirectories(noTok);
    try (Stream<Path> s = Files.list(model)) {
      for (Path f : s.toList())
        if (!f.getFileName().toString().equals("tokenizer.json")) Files.copy(f, noTok.resolve(f.getFileName()));
    }
    ModelFolderCliTest.oneLineError(CliRun.run("embed", "--model", noTok.toString(), "--image", img1.toString(), "--prompt",
        q, "--out", out.toString()), "tokenizer.json");
    ModelFolderCliTest.oneLineError(CliRun.run("ask", "--model", noTok.toString(), "--image", img1.toString(), "--prompt",
        q), "tokenizer.json");
    assertFalse(Files.exists(out), "nothing written");
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(f -> f.endsWith(".json") && !f.equals("r.json")
          || f.startsWith("out")).toList());
    }
  }
}
