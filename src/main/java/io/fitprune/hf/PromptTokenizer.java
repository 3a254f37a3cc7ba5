package io.fitprune.hf;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model folder's tokenizer ({@code tokenizer.json}, run by Hugging Face's own tokenizers library
 * through DJL) with its chat template, expanding the image marker as the processors do
 * ({@code LlavaProcessor}, {@code LlavaNextProcessor}): the prompt string's one {@code <image>}
 * becomes as many of them as the image has visual tokens before tokenizing, and the spans are read
 * off the ids. The count is the config's fixed {@code image_seq_length} or, for models whose count
 * depends on the image (LLaVA-NeXT's anyres), one given per call.
 */
public final class PromptTokenizer implements AutoCloseable {
  private final HuggingFaceTokenizer tokenizer;
  private final ChatTemplate template;
  private final Map<String, String> specialTokens;
  private final int imageToken, imageSeqLength;
  /** The string standing for one image token, which the template writes once per image ("<image>" for LLaVA). */
  private final String marker;
  private final Path file;

  private PromptTokenizer(HuggingFaceTokenizer tokenizer, ChatTemplate template, Map<String, String> specialTokens,
      String marker, int imageToken, int imageSeqLength, Path file) {
    this.marker = marker;
    this.tokenizer = tokenizer;
    this.template = template;
    this.specialTokens = specialTokens;
    this.imageToken = imageToken;
    this.imageSeqLength = imageSeqLength;
    this.file = file;
  }

  /** Loads the folder's {@code tokenizer.json}; one that does not parse, or whose {@code <image>} is not the config's image token, is refused. */
  public static PromptTokenizer open(ModelFolder folder) throws IOException {
    Path file = folder.dir().resolve("tokenizer.json");
    if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + ": no such file (the model folder's tokenizer)");
    ConfigJson.read(file); // a clear one-line error for broken JSON before the native parser sees it
    HuggingFaceTokenizer t;
    try {
      t = HuggingFaceTokenizer.newInstance(file, Map.of("addSpecialTokens", "true", "truncation", "false",
          "padding", "false", "maxLength", "-1"));
    } catch (RuntimeException e) {
      String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
      throw new IllegalArgumentException(file + ": not a tokenizer Hugging Face's tokenizers library can load (" + msg + ")");
    }
    int id = folder.config().imageTokenIndex();
    String marker = TokenizerFiles.IMAGE_TOKEN;
    long[] ids = t.encode(marker, false, false).getIds();
    if (ids.length != 1 || ids[0] != id) {
      t.close();
      throw new IllegalArgumentException(file + ": '" + marker + "' encodes to " + java.util.Arrays.toString(ids)
          + ", not to config.json's image_token_index " + id);
    }
    return new PromptTokenizer(t, folder.chatTemplate(), folder.specialTokens(), marker, id,
        folder.config().imageSeqLength(), file);
  }

  public ChatTemplate template() {
    return template;
  }

  /** The chat-templated prompt for one user turn, tokenized with the image (if {@code image}) expanded to {@code image_seq_length}. */
  public Prompt chat(String question, boolean image) {
    return image ? chat(question, imageSeqLength) : chatText(question);
  }

  /** The chat-templated prompt for one user turn about an image of {@code imageTokens} visual tokens. */
  public Prompt chat(String question, int imageTokens) {
    if (question == null) throw new IllegalArgumentException("question is null");
    return encode(template.render(question, true, specialTokens), 1, imageTokens);
  }

  private Prompt chatText(String question) {
    if (question == null) throw new IllegalArgumentException("question is null");
    return encode(template.render(question, false, specialTokens), 0, 0);
  }

  /**
   * Tokenizes an already templated prompt holding {@code images} (0 or 1) {@code <image>} markers,
   * expanding each to {@code image_seq_length} image tokens first; a prompt whose marker count
   * differs from {@code images} is refused.
   */
  public Prompt encode(String prompt, int images) {
    return encode(prompt, images, imageSeqLength);
  }

  /**
   * As {@link #encode(String, int)}, the image's marker expanded to {@code imageTokens} image
   * tokens: the count the processor computes for this image (LLaVA-NeXT's depends on its size).
   */
  public Prompt encode(String prompt, int images, int imageTokens) {
    if (prompt == null) throw new IllegalArgumentException("prompt is null");
    if (images < 0 || images > 1) throw new IllegalArgumentException("images must be 0 or 1 (one image per prompt), got " + images);
    if (images == 1 && imageTokens < 1)
      throw new IllegalArgumentException("imageTokens must be >= 1 for an image, got " + imageTokens);
    int markers = count(prompt, marker);
    if (markers > 1) throw new IllegalArgumentException("prompt: " + markers + " '" + marker + "' markers; one image per prompt is supported");
    if (markers != images)
      throw new IllegalArgumentException(images == 1 ? "prompt: an image is given but the prompt has no '" + marker + "'"
          : "prompt: it has '" + marker + "' but no image is given");
    if ((long) imageTokens * marker.length() > Integer.MAX_VALUE - 8L - prompt.length())
      throw new IllegalArgumentException("imageTokens: " + imageTokens + " markers do not fit in one prompt string");
    String expanded = images == 0 ? prompt : prompt.replace(marker, marker.repeat(imageTokens));
    long[] ids = tokenizer.encode(expanded, true, false).getIds();
    int first = -1, run = 0, total = 0;
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] != imageToken) continue;
      total++;
      if (first < 0) first = i;
      if (i == first + run) run++;
    }
    long want = images == 0 ? 0 : imageTokens;
    if (total != run || run != want)
      throw new IllegalArgumentException(file + ": the prompt's image became " + total + " image tokens"
          + (total != run ? " in several runs" : "") + ", expected one run of " + want);
    return images == 0 ? new Prompt(ids, ids.length, 0) : new Prompt(ids, first, run);
  }

  public String decode(long[] ids, boolean skipSpecial) {
    return tokenizer.decode(ids, skipSpecial);
  }

  /** Encodes plain text (no special tokens added). */
  public long[] ids(String text) {
    Encoding e = tokenizer.encode(text, false, false);
    return e.getIds();
  }

  private static int count(String s, String what) {
    int n = 0;
    for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + what.length())) n++;
    return n;
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
