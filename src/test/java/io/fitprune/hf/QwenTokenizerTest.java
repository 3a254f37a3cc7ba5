package io.fitprune.hf;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Qwen2-VL's chat template through Jinjava, a generated Qwen2-style tokenizer through DJL, and <|image_pad|> expansion. */
class QwenTokenizerTest {
  static final String SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n";
  static final ChatTemplate QWEN = new ChatTemplate(TokenizerFiles.QWEN2_VL_TEMPLATE, "qwen2-vl");
  @TempDir static Path tmp;
  static Path tiny, big;
  static QwenTokens tinyIds, bigIds;

  @BeforeAll
  static void write() throws IOException {
    tiny = Files.createDirectories(tmp.resolve("tiny"));
    big = Files.createDirectories(tmp.resolve("big"));
    tinyIds = TokenizerFiles.writeQwen(tiny, 613);
    bigIds = TokenizerFiles.writeQwen(big, 151936);
  }

  static Map<String, String> special(Path dir) throws IOException {
    JsonNode c = ConfigJson.JSON.readTree(dir.resolve(ModelFolder.TOKENIZER_CONFIG).toFile());
    return Map.of("eos_token", c.get("eos_token").asText(), "pad_token", c.get("pad_token").asText());
  }

  static PromptTokenizer open(Path dir, QwenTokens ids) throws IOException {
    return PromptTokenizer.open(dir.resolve("tokenizer.json"), QWEN, special(dir),
        new PromptTokenizer.ImageToken(QwenTokens.IMAGE_PAD, ids.imagePad(), "image_token_id"), 0);
  }

  /** The expected prompts are the published form; Jinja2 3.1.6 with transformers' settings renders these same strings. */
  @Test
  void theTemplateRendersAsJinja2Does() {
    for (String q : List.of("What is shown in this image?", "image", "video", "text", "", "Grüße, 世界 😀\n{{ x }}")) {
      assertEquals(SYSTEM + "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>" + q
          + "<|im_end|>\n<|im_start|>assistant\n", QWEN.render(q, true, Map.of()), q);
      assertEquals(SYSTEM + "<|im_start|>user\n" + q + "<|im_end|>\n<|im_start|>assistant\n", QWEN.render(q, false, Map.of()), q);
    }
    // a chat_template.jinja file ending in a newline renders the same (Jinja2 drops the source's last newline)
    assertEquals(QWEN.render("Why?", true, Map.of()), new ChatTemplate(TokenizerFiles.QWEN2_VL_TEMPLATE + "\n", "f")
        .render("Why?", true, Map.of()));
  }

  @Test
  void jinja2sRulesWhereJinjavaDiffers() {
    // template, then what Jinja2 3.1.6 renders with transformers' settings (trim_blocks, lstrip_blocks,
    // no keep_trailing_newline) for messages = [{"role": "user", "content": [{"type": "text", "text": "Q"}]}]
    String[] cases = {
        "{% for m in messages %}\n{{ m['role'] }}\n{% for c in m['content'] %}\n{{ c['text'] }}\n{% endfor %}\n{% endfor %}\n", "user\nQ\n",
        "  {% for m in messages %}\n    {{ m['role'] }}:\n    {% if true %}\n  yes\n    {% endif %}\n  {% endfor %}\nend", "    user:\n  yes\nend",
        "a {% if true %}b{% endif %}\n\t{% if true %}c{% endif %} d {# note #}\n  {# note #}\ne{{ 'x' }}  {% if true %}f{% endif %}", "a bc d ex  f",
        "x\n  {%+ if true %}keep{% endif %}\n  {%- if true %}minus{% endif %}\n  {{ '%}' }} {% set s = '{% x %}' %}{{ s }}\n", "x\n  keepminus  %} {% x %}",
        "{% raw %}  {% if %}\n{% endraw %}\n  {% if true %}r{% endif %}", "  {% if %}\nr",
        "{{ messages[0]['role'] }}\n\n", "user\n",
    };
    for (int i = 0; i < cases.length; i += 2)
      assertEquals(cases[i + 1], new ChatTemplate(cases[i], "t").render("Q", false, Map.of()), cases[i]);
    // output is not interpreted again
    assertEquals("{{ 7 * 6 }}{% if %}", new ChatTemplate("{{ messages[0]['content'][0]['text'] }}", "t")
        .render("{{ 7 * 6 }}{% if %}", false, Map.of()));
    // the context's strings pass `is string`; lists and maps do not
    assertEquals("S L M", new ChatTemplate("{% set m = messages[0] %}{% if m['role'] is string %}S{% endif %} "
        + "{% if m['content'] is not string %}L{% endif %} {% if m['content'][0] is not string %}M{% endif %}", "t")
        .render("q", false, Map.of()));
    // `in` on a mapping tests its keys, as Python's does
    assertEquals("K", new ChatTemplate("{% set c = messages[0]['content'][0] %}{% if 'text' in c %}K{% endif %}"
        + "{% if 'Why?' in c %}V{% endif %}", "t").render("Why?", false, Map.of()));
  }

  @Test
  void theUserMarkerIsChatMlsTurnStartOrTheTextBeforeTheImage() {
    assertEquals("<|im_start|>", QWEN.userMarker(Map.of("eos_token", "<|im_end|>"), QwenTokens.IMAGE_PAD));
    assertEquals("USER:", ChatTemplate.llava15Fallback().userMarker(Map.of(), TokenizerFiles.IMAGE_TOKEN));
    assertEquals("", QWEN.userMarker(Map.of(), TokenizerFiles.IMAGE_TOKEN), "no such image string in the render");
  }

  @Test
  void specialTokensHaveThePublishedIdsOrArePackedAtTheEnd() throws IOException {
    assertEquals(151643, bigIds.endOfText());
    assertEquals(151645, bigIds.imEnd());
    assertEquals(151652, bigIds.visionStart());
    assertEquals(151653, bigIds.visionEnd());
    assertEquals(151655, bigIds.imagePad());
    assertEquals(151656, bigIds.videoPad());
    assertEquals(151644, bigIds.id(QwenTokens.IM_START));
    assertEquals(151643, QwenTokens.forVocab(152064).first(), "Qwen2.5-VL-7B's larger table, the same ids");
    assertEquals(613 - 14, tinyIds.first());
    assertEquals(612, tinyIds.videoPad());
    assertEquals(QwenTokens.MIN_VOCAB - 14, QwenTokens.forVocab(QwenTokens.MIN_VOCAB).first());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> QwenTokens.forVocab(269)).getMessage().contains("vocab_size >= 270"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> tinyIds.id("<image>")).getMessage().contains("<image>"));
    for (var e : Map.of(tiny, tinyIds, big, bigIds).entrySet()) {
      QwenTokens ids = e.getValue();
      JsonNode tok = ConfigJson.JSON.readTree(e.getKey().resolve("tokenizer.json").toFile());
      JsonNode cfg = ConfigJson.JSON.readTree(e.getKey().resolve(ModelFolder.TOKENIZER_CONFIG).toFile());
      assertEquals("<|im_end|>", cfg.get("eos_token").asText());
      assertEquals("<|endoftext|>", cfg.get("pad_token").asText());
      assertTrue(cfg.get("bos_token").isNull());
      assertEquals(TokenizerFiles.QWEN2_VL_TEMPLATE, cfg.get("chat_template").asText());
      assertEquals(14, tok.get("added_tokens").size());
      JsonNode vocab = tok.get("model").get("vocab");
      assertEquals(ids.first(), vocab.size(), "ordinary tokens fill the ids below the special ones");
      boolean[] seen = new boolean[ids.first()];
      vocab.fields().forEachRemaining(f -> seen[f.getValue().intValue()] = true);
      for (int i = 0; i < seen.length; i++) assertTrue(seen[i], "id " + i);
      for (int i = 0; i < 14; i++) {
        String t = QwenTokens.ADDED.get(i);
        assertEquals(ids.first() + i, tok.get("added_tokens").get(i).get("id").intValue());
        assertEquals(t, cfg.get("added_tokens_decoder").get(Integer.toString(ids.first() + i)).get("content").asText());
      }
      assertArrayEquals(new int[] {ids.imEnd(), ids.endOfText()}, GenerationConfig.eosTokenIds(e.getKey()));
      try (PromptTokenizer t = open(e.getKey(), ids)) {
        for (String s : QwenTokens.ADDED) {
          assertArrayEquals(new long[] {ids.id(s)}, t.ids(s), s);
          assertEquals(ids.id(s), t.specialTokenId(s));
          assertEquals("", t.decode(t.ids(s), true));
        }
        assertEquals(-1, t.specialTokenId("ab"));
        assertEquals("hi<|im_end|>\n", t.decode(t.ids("hi<|im_end|>\n"), false));
      }
    }
  }

  @Test
  void anyTextRoundTripsThroughDjl() throws IOException {
    SplittableRandom r = new SplittableRandom(11);
    String[] pool = {"a", "b", "Z", "q", "e", "0", "7", " ", " ", "  ", "\n", "\t", "\r\n", ".", ",", "?", "!", "'s", "'LL",
        "-", "\"", "(", "ä", "ß", "é", "e\u0301", "€", "中", "文", "😀", "\u00A0", "<", "|", "<|im", "_end|"};
    for (var e : Map.of(tiny, tinyIds, big, bigIds).entrySet()) {
      try (PromptTokenizer t = open(e.getKey(), e.getValue())) {
        int n = e.getValue().first();
        for (int i = 0; i < 300; i++) {
          StringBuilder b = new StringBuilder();
          int len = i == 0 ? 0 : 1 + r.nextInt(30);
          for (int k = 0; k < len; k++) b.append(pool[r.nextInt(pool.length)]);
          String s = b.toString();
          long[] ids = t.ids(s);
          for (long id : ids) assertTrue(id >= 0 && id < n, s + " -> " + Arrays.toString(ids));
          // Qwen2's normalizer is NFC, so a decomposed é comes back composed
          assertEquals(Normalizer.normalize(s, Normalizer.Form.NFC), t.decode(ids, true), Arrays.toString(ids));
        }
        // the generated merges are used: a common word is fewer tokens than bytes
        assertTrue(t.ids(" hello world").length < 12, Arrays.toString(t.ids(" hello world")));
      }
    }
    // Qwen2's split runs before BPE: "12" is a token, but \p{N} makes each digit a piece of its own
    JsonNode vocab = ConfigJson.JSON.readTree(big.resolve("tokenizer.json").toFile()).get("model").get("vocab");
    assertTrue(vocab.has("12") && vocab.has("ab") && vocab.has("\u0120ab"));
    try (PromptTokenizer t = open(big, bigIds)) {
      assertEquals(2, t.ids("12").length);
      assertArrayEquals(new long[] {vocab.get("ab").longValue()}, t.ids("ab"));
      assertArrayEquals(new long[] {vocab.get("\u0120ab").longValue()}, t.ids(" ab"), "a word takes the space before it");
      assertEquals(2, t.ids("ab ").length, "but not the one after it");
    }
  }

  @Test
  void theImageExpandsToTheGivenCountAndSpansComeFromTheIds() throws IOException {
    for (var e : Map.of(tiny, tinyIds, big, bigIds).entrySet()) {
      QwenTokens ids = e.getValue();
      try (PromptTokenizer t = open(e.getKey(), ids)) {
        String q = "What is in the picture, exactly? Ünïcödé 中文";
        String before = SYSTEM + "<|im_start|>user\n<|vision_start|>";
        String after = "<|vision_end|>" + q + "<|im_end|>\n<|im_start|>assistant\n";
        for (int n : new int[] {1, 2, 4, 7, 64, 333}) {
          Prompt p = t.chat(q, true, n);
          long[] expected = LongStream.concat(LongStream.concat(LongStream.of(t.ids(before)),
              LongStream.generate(ids::imagePad).limit(n)), LongStream.of(t.ids(after))).toArray();
          assertArrayEquals(expected, p.ids(), "n = " + n);
          assertEquals(t.ids(before).length, p.prefix());
          assertEquals(n, p.visual());
          assertEquals(ids.visionStart(), p.ids()[p.prefix() - 1], "the prefix ends with <|vision_start|>");
          assertEquals(ids.visionEnd(), p.ids()[p.prefix() + n], "the text starts with <|vision_end|>");
          assertEquals(p.length() - p.prefix() - n, p.text());
          assertEquals(before, t.decode(Arrays.copyOfRange(p.ids(), 0, p.prefix()), false));
          assertEquals(after, t.decode(Arrays.copyOfRange(p.ids(), p.prefix() + n, p.length()), false));
          assertEquals(p.ids().length, t.encode(before + QwenTokens.IMAGE_PAD + after, 1, n).length());
        }
        Prompt text = t.chat(q, false);
        assertEquals(0, text.visual());
        assertEquals(text.length(), text.prefix());
        assertArrayEquals(t.ids(SYSTEM + "<|im_start|>user\n" + q + "<|im_end|>\n<|im_start|>assistant\n"), text.ids());
        Prompt only = t.encode(QwenTokens.IMAGE_PAD, 1, 3);
        assertEquals(0, only.prefix());
        assertEquals(0, only.text());
        assertEquals(3, only.visual());
        List<String> errors = new ArrayList<>();
        for (Runnable bad : List.<Runnable>of(() -> t.chat(q, true), () -> t.chat(q, true, 0),
            () -> t.encode("<|image_pad|><|image_pad|>", 1, 2), () -> t.encode("x", 1, 2),
            () -> t.encode("<|image_pad|>", 0, 2), () -> t.encode("<|image_pad|>", 1, Integer.MAX_VALUE)))
          errors.add(assertThrows(IllegalArgumentException.class, bad::run).getMessage());
        assertTrue(errors.get(0).contains("imageTokens") && errors.get(0).contains("no fixed count"), errors.get(0));
        assertTrue(errors.get(2).contains("one image per prompt"), errors.get(2));
        assertTrue(errors.get(3).contains("no '<|image_pad|>'"), errors.get(3));
        assertTrue(errors.get(4).contains("no image is given"), errors.get(4));
        assertTrue(errors.get(5).contains("do not fit"), errors.get(5));
      }
    }
  }

  @Test
  void aTokenizerWhoseImageStringIsNotTheConfigsIdIsRefused() {
    Throwable e = assertThrows(IllegalArgumentException.class, () -> PromptTokenizer.open(tiny.resolve("tokenizer.json"),
        QWEN, Map.of(), new PromptTokenizer.ImageToken(QwenTokens.IMAGE_PAD, 151655, "image_token_id"), 0));
    assertTrue(e.getMessage().contains("image_token_id 151655") && e.getMessage().contains("[611]"), e.getMessage());
    assertEquals("template is null", assertThrows(IllegalArgumentException.class, () -> PromptTokenizer.open(
        tiny.resolve("tokenizer.json"), null, Map.of(), new PromptTokenizer.ImageToken("x", 1, "k"), 0)).getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> PromptTokenizer.open(tiny.resolve("tokenizer.json"), QWEN,
        Map.of(), new PromptTokenizer.ImageToken(QwenTokens.IMAGE_PAD, 611, "k"), -1)).getMessage().contains("imageSeqLength"));
  }

  @Test
  void generationConfigsEosIsOneIdOrAList() throws IOException {
    Path d = Files.createDirectories(tmp.resolve("gen"));
    assertArrayEquals(new int[0], GenerationConfig.eosTokenIds(d));
    Files.writeString(d.resolve(GenerationConfig.FILE), "{\"eos_token_id\": 2}");
    assertArrayEquals(new int[] {2}, GenerationConfig.eosTokenIds(d));
    Files.writeString(d.resolve(GenerationConfig.FILE), "{\"eos_token_id\": [7, 3]}");
    assertArrayEquals(new int[] {7, 3}, GenerationConfig.eosTokenIds(d));
    Files.writeString(d.resolve(GenerationConfig.FILE), "{\"eos_token_id\": [7, \"x\"]}");
    String m = assertThrows(IllegalArgumentException.class, () -> GenerationConfig.eosTokenIds(d)).getMessage();
    assertTrue(m.contains(GenerationConfig.FILE) && m.contains("eos_token_id") && !m.contains("\n"), m);
  }

  @Test
  void generationConfigsRepetitionPenaltyDefaultsToOne() throws IOException {
    Path d = Files.createDirectories(tmp.resolve("penalty"));
    assertEquals(1, GenerationConfig.repetitionPenalty(d));
    Files.writeString(d.resolve(GenerationConfig.FILE), "{\"eos_token_id\": [151645, 151643]}");
    assertEquals(1, GenerationConfig.repetitionPenalty(d));
    Files.writeString(d.resolve(GenerationConfig.FILE), "{\"bos_token_id\": 151643, \"do_sample\": true, "
        + "\"eos_token_id\": [151645, 151643], \"repetition_penalty\": 1.05, \"top_k\": 1, \"top_p\": 0.001}");
    assertEquals(1.05, GenerationConfig.repetitionPenalty(d));
    for (String bad : new String[] {"0", "-1.05", "\"x\""}) {
      Files.writeString(d.resolve(GenerationConfig.FILE), "{\"repetition_penalty\": " + bad + "}");
      String m = assertThrows(IllegalArgumentException.class, () -> GenerationConfig.repetitionPenalty(d)).getMessage();
      assertTrue(m.contains(GenerationConfig.FILE) && m.contains("repetition_penalty") && !m.contains("\n"), m);
    }
  }
}
