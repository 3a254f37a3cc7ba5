package io.fitprune.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A working tokenizer of any vocabulary size for random model folders, in one of two styles, each
 * written as the Hub's folders hold theirs. Both are BPE whose ordinary tokens are generated
 * deterministically (single characters, then ever longer ones: every prefix of a token is a token).
 *
 * <ul>
 *   <li>{@link #write}: LLaMA's, as llava-1.5 has it ({@code tokenizer.json},
 *       {@code tokenizer_config.json}, {@code special_tokens_map.json}, {@code chat_template.json}):
 *       SentencePiece-style BPE with byte fallback, {@code <unk>} 0, {@code <s>} 1, {@code </s>} 2,
 *       the 256 byte tokens, then the generated ones, with {@code <image>} at the image token index
 *       and {@code <pad>} after it, as in llava-hf.
 *   <li>{@link #writeQwen}: Qwen2's, as Qwen2-VL has it ({@code tokenizer.json},
 *       {@code tokenizer_config.json} with the chat template, {@code chat_template.json},
 *       {@code generation_config.json}'s token ids): byte-level BPE after Qwen2's regex split and NFC,
 *       the 256 byte tokens first, the generated ones, then Qwen2-VL's special tokens
 *       ({@link QwenTokens}).
 * </ul>
 */
public final class TokenizerFiles {
  static final String SPACE = "\u2581";
  /** Characters that become tokens of their own; anything else is spelt in byte tokens. */
  static final String ALPHABET = SPACE + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;?!'\"-()";
  static final int BYTES = 3, FIRST_ORDINARY = BYTES + 256;
  public static final String IMAGE_TOKEN = "<image>";

  /** llava-hf's template (its chat_template.json): images first, then the text, then "ASSISTANT:". */
  public static final String LLAVA_TEMPLATE = "{% for message in messages %}{% if message['role'] != 'system' %}"
      + "{{ message['role'].upper() + ': '}}{% endif %}{# Render all images first #}"
      + "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}"
      + "{# Render all text next #}{% if message['role'] != 'assistant' %}"
      + "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}"
      + "{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}"
      + "{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}"
      + "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";

  /**
   * Qwen2-VL-7B-Instruct's template (its chat_template.json; Qwen2.5-VL's renders images and text
   * the same): a default system turn, each image as {@code <|vision_start|><|image_pad|><|vision_end|>}.
   */
  public static final String QWEN2_VL_TEMPLATE = "{% set image_count = namespace(value=0) %}{% set video_count = "
      + "namespace(value=0) %}{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
      + "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
      + "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}"
      + "{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in content or "
      + "'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture "
      + "{{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == "
      + "'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
      + "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in "
      + "content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
      + "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  /** Qwen2's pre-tokenizer split (transformers' Qwen2Converter), before the byte-level mapping. */
  static final String QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?"
      + "[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

  private TokenizerFiles() {}

  /** The smallest vocabulary a tokenizer with image token {@code imageToken} can have. */
  static void check(int vocab, int imageToken) {
    int min = FIRST_ORDINARY + ALPHABET.length();
    if (imageToken < min || imageToken >= vocab)
      throw new IllegalArgumentException("a generated tokenizer needs image_token_index in [" + min + ", vocab_size = "
          + vocab + "), got " + imageToken);
  }

  /** Writes the four LLaMA-style tokenizer files into {@code dir}. */
  public static void write(Path dir, int vocab, int imageToken) throws IOException {
    check(vocab, imageToken);
    int pad = imageToken + 1 < vocab ? imageToken + 1 : -1;
    String[] tokens = new String[vocab];
    tokens[0] = "<unk>";
    tokens[1] = "<s>";
    tokens[2] = "</s>";
    for (int b = 0; b < 256; b++) tokens[BYTES + b] = String.format("<0x%02X>", b);
    tokens[imageToken] = IMAGE_TOKEN;
    if (pad > 0) tokens[pad] = "<pad>";
    List<String> merges = new ArrayList<>();
    fillOrdinary(tokens, FIRST_ORDINARY, ALPHABET, true, merges);
    List<Added> added = new ArrayList<>();
    for (int id : pad > 0 ? new int[] {0, 1, 2, imageToken, pad} : new int[] {0, 1, 2, imageToken})
      added.add(new Added(id, tokens[id], true));

    ObjectNode root = tokenizerJson(added);
    // As llava-hf's current tokenizer.json (legacy = false): spaces become U+2581, and only the text's start gets one.
    root.putNull("normalizer");
    root.putObject("pre_tokenizer").put("type", "Metaspace").put("replacement", SPACE).put("prepend_scheme", "first")
        .put("split", false);
    ObjectNode post = root.putObject("post_processor").put("type", "TemplateProcessing");
    post.putArray("single").add(special("<s>")).add(sequence("A"));
    post.putArray("pair").add(special("<s>")).add(sequence("A")).add(special("<s>")).add(sequence("B"));
    ObjectNode st = post.putObject("special_tokens").putObject("<s>").put("id", "<s>");
    st.putArray("ids").add(1);
    st.putArray("tokens").add("<s>");
    ObjectNode dec = root.putObject("decoder").put("type", "Sequence");
    ArrayNode ds = dec.putArray("decoders");
    ds.addObject().put("type", "Replace").put("content", " ").putObject("pattern").put("String", SPACE);
    ds.addObject().put("type", "ByteFallback");
    ds.addObject().put("type", "Fuse");
    ds.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
    ObjectNode model = root.putObject("model").put("type", "BPE").putNull("dropout");
    model.put("unk_token", "<unk>").putNull("continuing_subword_prefix");
    model.putNull("end_of_word_suffix");
    model.put("fuse_unk", true).put("byte_fallback", true);
    putVocab(model, tokens, merges);
    writeJson(dir.resolve("tokenizer.json"), root);

    ObjectNode cfg = ConfigJson.JSON.createObjectNode();
    cfg.put("add_bos_token", true).put("add_eos_token", false);
    putAddedTokensDecoder(cfg, added);
    cfg.put("bos_token", "<s>").put("clean_up_tokenization_spaces", false).put("eos_token", "</s>").put("legacy", false)
        .put("model_max_length", 4096);
    if (pad > 0) cfg.put("pad_token", "<pad>");
    cfg.put("padding_side", "left").put("processor_class", "LlavaProcessor").put("tokenizer_class", "LlamaTokenizer")
        .put("unk_token", "<unk>");
    writeJson(dir.resolve(ModelFolder.TOKENIZER_CONFIG), cfg);

    ObjectNode map = ConfigJson.JSON.createObjectNode();
    map.put("bos_token", "<s>").put("eos_token", "</s>").put("unk_token", "<unk>");
    if (pad > 0) map.put("pad_token", "<pad>");
    map.putArray("additional_special_tokens").add(IMAGE_TOKEN);
    writeJson(dir.resolve("special_tokens_map.json"), map);

    writeJson(dir.resolve("chat_template.json"), ConfigJson.JSON.createObjectNode().put("chat_template", LLAVA_TEMPLATE));
  }

  /**
   * Writes a Qwen2-style tokenizer of {@code vocab} ids into {@code dir}: {@code tokenizer.json},
   * {@code tokenizer_config.json} (eos {@code <|im_end|>}, pad {@code <|endoftext|>}, the chat
   * template, as Qwen2-VL-7B-Instruct's), {@code chat_template.json}, and
   * {@code generation_config.json} with the token ids generation stops at ({@code <|im_end|>} and
   * {@code <|endoftext|>}). Returns the special tokens' ids, which the folder's {@code config.json}
   * must name ({@code image_token_id}, {@code vision_start_token_id}, ...).
   */
  public static QwenTokens writeQwen(Path dir, int vocab) throws IOException {
    QwenTokens ids = QwenTokens.forVocab(vocab);
    String[] tokens = new String[ids.first()];
    System.arraycopy(ByteLevel.tokensInVocabOrder(), 0, tokens, 0, 256);
    StringBuilder alphabet = new StringBuilder();
    for (char c : ALPHABET.toCharArray()) alphabet.append(ByteLevel.of(c == SPACE.charAt(0) ? ' ' : c));
    List<String> merges = new ArrayList<>();
    fillOrdinary(tokens, 256, alphabet.toString(), false, merges);
    List<Added> added = new ArrayList<>();
    for (String t : QwenTokens.ADDED) added.add(new Added(ids.id(t), t, true));

    // As transformers' Qwen2Converter builds it, which is what Qwen2-VL's tokenizer.json holds.
    ObjectNode root = tokenizerJson(added);
    root.putObject("normalizer").put("type", "NFC");
    ObjectNode pre = root.putObject("pre_tokenizer").put("type", "Sequence");
    ArrayNode pres = pre.putArray("pretokenizers");
    ObjectNode split = pres.addObject().put("type", "Split");
    split.putObject("pattern").put("Regex", QWEN2_SPLIT);
    split.put("behavior", "Isolated").put("invert", false);
    byteLevel(pres.addObject());
    byteLevel(root.putObject("post_processor"));
    byteLevel(root.putObject("decoder"));
    ObjectNode model = root.putObject("model").put("type", "BPE").putNull("dropout");
    model.putNull("unk_token").put("continuing_subword_prefix", "").put("end_of_word_suffix", "").put("fuse_unk", false)
        .put("byte_fallback", false);
    putVocab(model, tokens, merges);
    writeJson(dir.resolve("tokenizer.json"), root);

    ObjectNode cfg = ConfigJson.JSON.createObjectNode();
    cfg.put("add_prefix_space", false);
    putAddedTokensDecoder(cfg, added);
    ArrayNode extra = cfg.putArray("additional_special_tokens");
    QwenTokens.ADDED.stream().skip(1).forEach(extra::add);
    cfg.putNull("bos_token");
    cfg.put("chat_template", QWEN2_VL_TEMPLATE).put("clean_up_tokenization_spaces", false)
        .put("eos_token", QwenTokens.IM_END).put("padding_side", "left").put("errors", "replace")
        .put("model_max_length", 32768).put("pad_token", QwenTokens.END_OF_TEXT).put("split_special_tokens", false)
        .put("tokenizer_class", "Qwen2Tokenizer").putNull("unk_token");
    writeJson(dir.resolve(ModelFolder.TOKENIZER_CONFIG), cfg);

    writeJson(dir.resolve("chat_template.json"), ConfigJson.JSON.createObjectNode().put("chat_template", QWEN2_VL_TEMPLATE));

    ObjectNode gen = ConfigJson.JSON.createObjectNode();
    gen.put("bos_token_id", ids.endOfText()).put("pad_token_id", ids.endOfText());
    gen.putArray("eos_token_id").add(ids.imEnd()).add(ids.endOfText());
    writeJson(dir.resolve(GenerationConfig.FILE), gen);
    return ids;
  }

  /** An added (special) token of {@code tokenizer.json}'s {@code added_tokens}. */
  private record Added(int id, String content, boolean special) {}

  /** The parts both styles share: version, no truncation or padding, the added tokens. */
  private static ObjectNode tokenizerJson(List<Added> added) {
    ObjectNode root = ConfigJson.JSON.createObjectNode();
    root.put("version", "1.0").putNull("truncation");
    root.putNull("padding");
    ArrayNode arr = root.putArray("added_tokens");
    for (Added t : added)
      arr.addObject().put("id", t.id()).put("content", t.content()).put("single_word", false).put("lstrip", false)
          .put("rstrip", false).put("normalized", false).put("special", t.special());
    return root;
  }

  /** {@code tokenizer_config.json}'s {@code added_tokens_decoder}: the added tokens by id. */
  private static void putAddedTokensDecoder(ObjectNode cfg, List<Added> added) {
    ObjectNode dcd = cfg.putObject("added_tokens_decoder");
    for (Added t : added)
      dcd.putObject(Integer.toString(t.id())).put("content", t.content()).put("lstrip", false).put("normalized", false)
          .put("rstrip", false).put("single_word", false).put("special", t.special());
  }

  private static void putVocab(ObjectNode model, String[] tokens, List<String> merges) {
    ObjectNode v = model.putObject("vocab");
    for (int i = 0; i < tokens.length; i++) if (tokens[i] != null) v.put(tokens[i], i);
    ArrayNode m = model.putArray("merges");
    merges.forEach(m::add);
  }

  private static void byteLevel(ObjectNode n) {
    n.put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", false).put("use_regex", false);
  }

  private static void writeJson(Path file, JsonNode n) throws IOException {
    AtomicFiles.write(file, ConfigJson.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(n));
  }

  /**
   * Fills the free ids from {@code from} on in order: the alphabet's characters (when {@code singles};
   * otherwise they are tokens already), then ever longer tokens (prefix + one character), each with
   * its merge. The alphabet's first character is the space, which only ever starts a token.
   */
  private static void fillOrdinary(String[] tokens, int from, String alphabet, boolean singles, List<String> merges) {
    int next = from;
    char space = alphabet.charAt(0);
    List<String> level = new ArrayList<>();
    for (int i = 0; i < alphabet.length(); i++) {
      String s = alphabet.substring(i, i + 1);
      if (singles) {
        next = free(tokens, next);
        tokens[next++] = s;
      }
      level.add(s);
    }
    while (true) {
      List<String> longer = new ArrayList<>();
      for (String prefix : level) {
        for (int i = 0; i < alphabet.length(); i++) {
          char c = alphabet.charAt(i);
          if (c == space) continue; // pieces start at a space, they never end in one
          next = free(tokens, next);
          if (next >= tokens.length) return;
          String s = prefix + c;
          tokens[next++] = s;
          merges.add(prefix + " " + c);
          longer.add(s);
        }
      }
      level = longer;
    }
  }

  private static int free(String[] tokens, int i) {
    while (i < tokens.length && tokens[i] != null) i++;
    return i;
  }

  private static ObjectNode special(String id) {
    ObjectNode n = ConfigJson.JSON.createObjectNode();
    n.putObject("SpecialToken").put("id", id).put("type_id", 0);
    return n;
  }

  private static ObjectNode sequence(String id) {
    ObjectNode n = ConfigJson.JSON.createObjectNode();
    n.putObject("Sequence").put("id", id).put("type_id", 0);
    return n;
  }
}
