package io.fitprune.hf;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A working LLaMA-style tokenizer of any vocabulary size, written as the llava-1.5 folders hold
 * theirs ({@code tokenizer.json}, {@code tokenizer_config.json}, {@code special_tokens_map.json},
 * {@code chat_template.json}), for random model folders. The model is SentencePiece-style BPE with
 * byte fallback: {@code <unk>} 0, {@code <s>} 1, {@code </s>} 2, the 256 byte tokens, then
 * single characters and merges generated deterministically (every prefix of a token is a token),
 * with {@code <image>} at the image token index and {@code <pad>} after it, as in llava-hf.
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

  private TokenizerFiles() {}

  /** The smallest vocabulary a tokenizer with image token {@code imageToken} can have. */
  static void check(int vocab, int imageToken) {
    int min = FIRST_ORDINARY + ALPHABET.length();
    if (imageToken < min || imageToken >= vocab)
      throw new IllegalArgumentException("a generated tokenizer needs image_token_index in [" + min + ", vocab_size = "
          + vocab + "), got " + imageToken);
  }

  /** Writes the four tokenizer files into {@code dir}. */
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
    fillOrdinary(tokens, merges);

    ObjectNode root = ConfigJson.JSON.createObjectNode();
    root.put("version", "1.0").putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    for (int id : pad > 0 ? new int[] {0, 1, 2, imageToken, pad} : new int[] {0, 1, 2, imageToken})
      added.addObject().put("id", id).put("content", tokens[id]).put("single_word", false).put("lstrip", false)
          .put("rstrip", false).put("normalized", false).put("special", true);
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
    ObjectNode v = model.putObject("vocab");
    for (int i = 0; i < vocab; i++) v.put(tokens[i], i);
    ArrayNode m = model.putArray("merges");
    merges.forEach(m::add);
    AtomicFiles.write(dir.resolve("tokenizer.json"), ConfigJson.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));

    ObjectNode cfg = ConfigJson.JSON.createObjectNode();
    cfg.put("add_bos_token", true).put("add_eos_token", false);
    ObjectNode dcd = cfg.putObject("added_tokens_decoder");
    for (var t : added)
      dcd.putObject(t.get("id").asText()).put("content", t.get("content").asText()).put("lstrip", false)
          .put("normalized", false).put("rstrip", false).put("single_word", false).put("special", true);
    cfg.put("bos_token", "<s>").put("clean_up_tokenization_spaces", false).put("eos_token", "</s>").put("legacy", false)
        .put("model_max_length", 4096);
    if (pad > 0) cfg.put("pad_token", "<pad>");
    cfg.put("padding_side", "left").put("processor_class", "LlavaProcessor").put("tokenizer_class", "LlamaTokenizer")
        .put("unk_token", "<unk>");
    AtomicFiles.write(dir.resolve("tokenizer_config.json"), ConfigJson.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(cfg));

    ObjectNode map = ConfigJson.JSON.createObjectNode();
    map.put("bos_token", "<s>").put("eos_token", "</s>").put("unk_token", "<unk>");
    if (pad > 0) map.put("pad_token", "<pad>");
    map.putArray("additional_special_tokens").add(IMAGE_TOKEN);
    AtomicFiles.write(dir.resolve("special_tokens_map.json"), ConfigJson.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(map));

    ObjectNode tpl = ConfigJson.JSON.createObjectNode().put("chat_template", LLAVA_TEMPLATE);
    AtomicFiles.write(dir.resolve("chat_template.json"), ConfigJson.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(tpl));
  }

  /** Fills the free ids in order: the alphabet's characters, then ever longer tokens (prefix + one character). */
  private static void fillOrdinary(String[] tokens, List<String> merges) {
    int next = FIRST_ORDINARY;
    List<String> level = new ArrayList<>();
    for (int i = 0; i < ALPHABET.length(); i++) {
      next = free(tokens, next);
      String s = ALPHABET.substring(i, i + 1);
      tokens[next++] = s;
      level.add(s);
    }
    while (true) {
      List<String> longer = new ArrayList<>();
      for (String prefix : level) {
        for (int i = 0; i < ALPHABET.length(); i++) {
          char c = ALPHABET.charAt(i);
          if (c == SPACE.charAt(0)) continue; // pieces start at a space, they never end in one
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
