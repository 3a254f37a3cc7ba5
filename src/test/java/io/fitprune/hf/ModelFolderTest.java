package io.fitprune.hf;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.image.PreprocessorConfig;
import io.fitprune.io.DType;
import io.fitprune.model.Geometries;
import io.fitprune.model.Geometry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** llava-tiny written as a Hub model folder in both weight layouts, then read back: configs, tokenizer, template, spans, weights. */
class ModelFolderTest {
  @TempDir static Path tmp;
  static Path hf, newer;
  static LlavaConfig tiny;

  @BeforeAll
  static void write() throws IOException {
    tiny = LlavaConfig.bundled("llava-tiny");
    hf = tmp.resolve("tiny-hf");
    newer = tmp.resolve("tiny-newer");
    assertEquals(1, RandomModelFolder.write(hf, tiny, RandomCheckpoint.Layout.LLAVA_HF, DType.F32, 3, 5_000_000_000L));
    assertTrue(RandomModelFolder.write(newer, tiny, RandomCheckpoint.Layout.LLAVA, DType.BF16, 4, 200_000) > 1, "sharded");
  }

  @Test
  void folderHoldsWhatTheHubPublishes() throws IOException {
    for (String f : List.of("config.json", "preprocessor_config.json", "processor_config.json", "tokenizer.json",
        "tokenizer_config.json", "special_tokens_map.json", "chat_template.json", "model.safetensors.index.json",
        "model-00001-of-00001.safetensors"))
      assertTrue(Files.isRegularFile(hf.resolve(f)), f);
    try (Stream<Path> s = Files.list(tmp)) {
      assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList(),
          "no temporary folder left behind");
    }
    JsonNode cfg = ConfigJson.JSON.readTree(hf.resolve("config.json").toFile());
    assertEquals("llava", cfg.get("model_type").asText());
    assertEquals("LlavaForConditionalGeneration", cfg.get("architectures").get(0).asText());
    assertEquals("llama", cfg.get("text_config").get("model_type").asText());
    assertEquals("clip_vision_model", cfg.get("vision_config").get("model_type").asText());
    JsonNode pre = ConfigJson.JSON.readTree(hf.resolve("preprocessor_config.json").toFile());
    assertEquals(56, pre.get("crop_size").get("height").intValue());
    assertEquals(56, pre.get("size").get("shortest_edge").intValue());
  }

  @Test
  void geometryAndDecoderComeFromTheFolder() throws IOException {
    ModelFolder f = ModelFolder.open(hf);
    assertEquals(tiny, f.config());
    Geometry g = f.geometry();
    assertEquals(Geometries.resolve("llava-tiny"), g, "the bundled llava-tiny is this folder's geometry");
    assertEquals(g, Geometries.resolve(hf.toString()), "--model takes the folder");
    assertEquals(16, g.visualTokens());
    DecoderConfig d = f.decoderConfig();
    assertEquals(512, d.vocab());
    assertEquals(10000.0, d.ropeTheta());
    assertEquals(1e-5, d.rmsEps());
    assertEquals(PreprocessorConfig.clip(56).cropHeight(), f.preprocessor().cropHeight());
  }

  @Test
  void tokenizerCoversTheVocabularyAndRoundTrips() throws IOException {
    JsonNode vocab = ConfigJson.JSON.readTree(hf.resolve("tokenizer.json").toFile()).get("model").get("vocab");
    assertEquals(512, vocab.size());
    boolean[] seen = new boolean[512];
    vocab.fields().forEachRemaining(e -> seen[e.getValue().intValue()] = true);
    for (int i = 0; i < 512; i++) assertTrue(seen[i], "id " + i);
    assertEquals(480, vocab.get("<image>").intValue());
    SplittableRandom r = new SplittableRandom(5);
    String chars = "abcXYZ019 .,?!\n\täöß€中";
    try (PromptTokenizer t = ModelFolder.open(hf).tokenizer()) {
      for (int i = 0; i < 200; i++) {
        StringBuilder b = new StringBuilder();
        int n = 1 + r.nextInt(40);
        b.append(chars.charAt(r.nextInt(3))); // a leading space is the text's own start marker, as in LLaMA's tokenizer
        for (int k = 1; k < n; k++) b.append(chars.charAt(r.nextInt(chars.length())));
        String s = b.toString();
        long[] ids = t.ids(s);
        for (long id : ids) assertTrue(id >= 3 && id < 512 && id != 480, s + " -> " + Arrays.toString(ids));
        assertEquals(s, t.decode(ids, true), Arrays.toString(ids));
      }
    }
  }

  @Test
  void chatPromptExpandsTheImageAndSpansComeFromTheIds() throws IOException {
    String q = "What is in the picture, exactly?";
    try (PromptTokenizer t = ModelFolder.open(hf).tokenizer()) {
      Prompt p = t.chat(q, true);
      long[] ids = p.ids();
      assertEquals(1, ids[0], "<s> first");
      assertEquals(16, p.visual());
      for (int i = 0; i < ids.length; i++)
        assertEquals(i >= p.prefix() && i < p.prefix() + 16, ids[i] == 480, "id " + i + " of " + Arrays.toString(ids));
      assertEquals("USER: ", t.decode(Arrays.copyOfRange(ids, 1, p.prefix()), false));
      assertEquals("\n" + q + " ASSISTANT:", t.decode(Arrays.copyOfRange(ids, p.prefix() + 16, ids.length), false));
      assertEquals(ids.length - p.prefix() - 16, p.text());
      assertEquals(p.prefix(), p.spans().prefix());
      // the same prompt by hand: the processor's string form gives the same ids
      assertArrayEquals(ids, t.encode("USER: <image>\n" + q + " ASSISTANT:", 1).ids());
      Prompt textOnly = t.chat(q, false);
      assertEquals(0, textOnly.visual());
      for (long id : textOnly.ids()) assertNotEquals(480, id);
      assertEquals("USER: " + q + " ASSISTANT:", t.decode(textOnly.ids(), true));
      // n = 1: an image and nothing else
      Prompt only = t.encode("<image>", 1);
      assertEquals(1, only.prefix());
      assertEquals(0, only.text());
    }
  }

  @Test
  void longPromptsAreNotTruncated() throws IOException {
    try (PromptTokenizer t = ModelFolder.open(hf).tokenizer()) {
      String q = "Describe every detail, one by one; ".repeat(60);
      Prompt p = t.chat(q, true);
      assertTrue(p.length() > 1000, "length " + p.length());
      assertEquals("\n" + q + " ASSISTANT:", t.decode(Arrays.copyOfRange(p.ids(), p.prefix() + 16, p.length()), false));
    }
  }

  @Test
  void promptAndImageMustAgree() throws IOException {
    try (PromptTokenizer t = ModelFolder.open(hf).tokenizer()) {
      assertTrue(assertThrows(IllegalArgumentException.class, () -> t.encode("USER: hi ASSISTANT:", 1)).getMessage()
          .contains("no '<image>'"));
      assertTrue(assertThrows(IllegalArgumentException.class, () -> t.encode("USER: <image>\nhi", 0)).getMessage()
          .contains("no image is given"));
      assertTrue(assertThrows(IllegalArgumentException.class, () -> t.encode("<image><image>", 1)).getMessage()
          .contains("one image per prompt"));
    }
  }

  static Path copy(Path from, String name) throws IOException {
    Path to = Files.createDirectories(tmp.resolve("copies").resolve(name));
    try (Stream<Path> s = Files.list(from)) {
      for (Path p : s.toList()) Files.copy(p, to.resolve(p.getFileName()));
    }
    return to;
  }

  static String oneLine(Class<? extends Throwable> type, org.junit.jupiter.api.function.Executable run, String... parts) {
    Throwable e = assertThrows(type, run);
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
    for (String p : parts) assertTrue(e.getMessage().contains(p), e.getMessage());
    return e.getMessage();
  }

  @Test
  void brokenTokenizerIsRefusedNamingTheFile() throws IOException {
    Path d = copy(hf, "broken-tokenizer");
    String json = Files.readString(d.resolve("tokenizer.json"));
    Files.writeString(d.resolve("tokenizer.json"), json.substring(0, json.length() / 2));
    oneLine(IllegalArgumentException.class, () -> ModelFolder.open(d).tokenizer(), "tokenizer.json");
    Files.writeString(d.resolve("tokenizer.json"), "{\"model\": {\"type\": \"Nonsense\"}}");
    oneLine(IllegalArgumentException.class, () -> ModelFolder.open(d).tokenizer(), "tokenizer.json", "tokenizers library");
    Files.writeString(d.resolve("tokenizer.json"), json.replace("\"<image>\"", "\"<img>\""));
    oneLine(IllegalArgumentException.class, () -> ModelFolder.open(d).tokenizer(), "tokenizer.json", "image_token_index 480");
    Files.delete(d.resolve("tokenizer.json"));
    oneLine(IllegalArgumentException.class, () -> ModelFolder.open(d).geometry(), "tokenizer.json", "no such file");
  }

  @Test
  void folderWithoutTemplateFallsBackToLlava15() throws IOException {
    Path d = copy(hf, "no-template");
    Files.delete(d.resolve("chat_template.json"));
    ModelFolder f = ModelFolder.open(d);
    assertTrue(f.chatTemplate().from().contains("no chat template"), f.chatTemplate().from());
    try (PromptTokenizer t = f.tokenizer()) {
      assertEquals("USER: <image>\nWhy? ASSISTANT:", f.chatTemplate().render("Why?", true, f.specialTokens()));
      assertArrayEquals(ModelFolder.open(hf).tokenizer().chat("Why?", true).ids(), t.chat("Why?", true).ids());
    }
    // the template in tokenizer_config.json, as older folders keep it
    Path o = copy(hf, "template-in-tokenizer-config");
    Files.delete(o.resolve("chat_template.json"));
    String tc = Files.readString(o.resolve("tokenizer_config.json"));
    Files.writeString(o.resolve("tokenizer_config.json"), tc.replaceFirst("\\{", "{\"chat_template\": \"{{ bos_token }}Q: "
        + "{% for m in messages %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}"
        + "{% endif %}{% endfor %}{% endfor %} A:\","));
    ModelFolder fo = ModelFolder.open(o);
    assertTrue(fo.chatTemplate().from().endsWith("tokenizer_config.json"));
    assertEquals("<s>Q: <image>Why? A:", fo.chatTemplate().render("Why?", true, fo.specialTokens()));
  }

  @Test
  void bothWeightLayoutsLoadTheLanguageModel() throws IOException {
    for (Path d : List.of(hf, newer)) {
      ModelFolder f = ModelFolder.open(d);
      DecoderWeights w = f.loadDecoder();
      assertEquals(4, w.config().layers());
      assertEquals(512, w.config().vocab());
      assertArrayEquals(new long[] {512, 64}, w.lmHead().sizes().vec().get());
      assertNotNull(w.embed());
    }
  }

  @Test
  void weightsThatDisagreeWithTheConfigAreRefusedNamingTheTensor() throws IOException {
    Path v = copy(hf, "vision-mismatch");
    Files.writeString(v.resolve("config.json"), Files.readString(v.resolve("config.json"))
        .replace("\"intermediate_size\" : 128", "\"intermediate_size\" : 96"));
    assertEquals(96, ModelFolder.open(v).config().vision().intermediateSize());
    oneLine(IllegalArgumentException.class, () -> ModelFolder.open(v).loadDecoder(), "mlp.fc1.weight", "[96, 32]",
        "[128, 32]");
    Path t = copy(newer, "text-mismatch");
    Files.writeString(t.resolve("config.json"), Files.readString(t.resolve("config.json"))
        .replace("\"intermediate_size\" : 172", "\"intermediate_size\" : 170"));
    oneLine(IllegalArgumentException.class, () -> ModelFolder.open(t).loadDecoder(), "model.language_model.layers.0.mlp.gate_proj.weight");
    Path p = copy(hf, "crop-mismatch");
    Files.writeString(p.resolve("preprocessor_config.json"), Files.readString(p.resolve("preprocessor_config.json"))
        .replace("\"height\" : 56", "\"height\" : 60"));
    oneLine(IllegalArgumentException.class, () -> ModelFolder.open(p), "preprocessor_config.json", "crop_size 60x56");
    Path q = copy(hf, "processor-mismatch");
    Files.writeString(q.resolve("processor_config.json"), Files.readString(q.resolve("processor_config.json"))
        .replace("\"num_additional_image_tokens\" : 1", "\"num_additional_image_tokens\" : 0"));
    oneLine(IllegalArgumentException.class, () -> ModelFolder.open(q), "processor_config.json", "15 image tokens");
  }

  @Test
  void anyGeometryGetsLlavasDefaultTower() {
    Geometry g = new Geometry("odd", 3, 40, 5, 5, 8, 70, 36, 2, 3);
    LlavaConfig c = LlavaConfig.forGeometry(g, 32100, 10000, 1e-5);
    assertEquals(84, c.vision().imageSize(), "6 x 6 patches of 14 px");
    assertEquals(36, c.imageSeqLength());
    assertEquals(1024, c.vision().hiddenSize());
    long clip = 1024 + 1024L * 3 * 14 * 14 + 37L * 1024 + 2 * 1024
        + 24L * (4 * (1024L * 1024 + 1024) + 2 * 2 * 1024 + (4096L * 1024 + 4096) + (1024L * 4096 + 1024)) + 2 * 1024;
    long lm = 2L * 32100 * 40 + 3L * (2 * 40 * 40 + 2 * 40 * 40 + 3 * 40 * 70 + 2 * 40) + 40;
    long projector = 40L * 1024 + 40 + 40 * 40 + 40;
    assertEquals(4 * (lm + clip + projector), RandomModelFolder.weightBytes(c, RandomCheckpoint.Layout.LLAVA, DType.F32));
    assertThrows(IllegalArgumentException.class, () -> LlavaConfig.forGeometry(
        new Geometry("odd", 3, 40, 5, 5, 8, 70, 35, 2, 3), 32100, 10000, 1e-5));
    assertThrows(IllegalArgumentException.class, () -> LlavaConfig.forGeometry(g, 32001, 10000, 1e-5));
  }

  @Test
  void realSizeFolderIsLlava15Sized() throws IOException {
    LlavaConfig c = LlavaConfig.bundled("llava-1.5-7b");
    // llava-hf/llava-1.5-7b-hf: 7,063,427,072 parameters (Vicuna-7B with 32064 rows, CLIP ViT-L/14-336, projector)
    long lm = 2L * 32064 * 4096 + 32L * (4L * 4096 * 4096 + 3L * 4096 * 11008 + 2 * 4096) + 4096;
    long clip = 1024 + 1024L * 3 * 14 * 14 + 577L * 1024 + 2 * 1024
        + 24L * (4 * (1024L * 1024 + 1024) + 2 * 2 * 1024 + (4096L * 1024 + 4096) + (1024L * 4096 + 1024)) + 2 * 1024;
    long projector = 4096L * 1024 + 4096 + 4096L * 4096 + 4096;
    assertEquals(7_063_427_072L, lm + clip + projector);
    assertEquals(2 * 7_063_427_072L, RandomModelFolder.weightBytes(c, RandomCheckpoint.Layout.LLAVA_HF, DType.BF16));
    assertEquals(2 * 7_063_427_072L, RandomModelFolder.weightBytes(c, RandomCheckpoint.Layout.LLAVA, DType.F16));
  }
}
