package io.fitprune.hf;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model folder's tokenizer ({@code tokenizer.json}, run by Hugging Face's own tokenizers library
 * through DJL) with its chat template, expanding the image marker as the processors do: the
 * prompt string's one marker ({@code <image>} for LLaVA, {@code <|image_pad|>} for Qwen2-VL)
 * becomes the image's count of them before tokenizing, and the spans are read off the ids. The
 * count is LLaVA's fixed {@code image_seq_length} by default, or given per call (LLaVA-NeXT's and
 * Qwen2-VL's depend on the image's size).
 */
public final class PromptTokenizer implements AutoCloseable {
  /**
   * The image placeholder: the string the chat template writes, and the id it must encode to.
   *
   * @param marker the template's image string
   * @param id     its token id
   * @param key    the config key that names the id, for error messages
   */
  public record ImageToken(String marker, int id, String key) {
    public ImageToken {
      if (marker == null || marker.isEmpty()) throw new IllegalArgumentException("image marker: must be a non-empty string");
    }
  }

  private final HuggingFaceTokenizer tokenizer;
  private final ChatTemplate template;
  private final Map<String, String> specialTokens;
  private final ImageToken image;
  private final int imageSeqLength;
  private final Path file;

  private PromptTokenizer(HuggingFaceTokenizer tokenizer, ChatTemplate template, Map<String, String> specialTokens,
      ImageToken image, int imageSeqLength, Path file) {
    this.tokenizer = tokenizer;
    this.template = template;
    this.specialTokens = specialTokens;
    this.image = image;
    this.imageSeqLength = imageSeqLength;
    this.file = file;
  }

  /**
   * Loads a model folder's {@code tokenizer.json}; one that does not parse, or whose image marker
   * ({@code <image>}, Qwen's {@code <|image_pad|>}) is not the config's image token, is refused.
   */
  public static PromptTokenizer open(ModelFolder folder) throws IOException {
    if (folder.qwen() != null)
      return open(folder.dir().resolve("tokenizer.json"), folder.chatTemplate(), folder.specialTokens(),
          new ImageToken(QwenTokens.IMAGE_PAD, folder.imageTokenId(), "image_token_id"), folder.nominalVisualTokens());
    return open(folder.dir().resolve("tokenizer.json"), folder.chatTemplate(), folder.specialTokens(),
        new ImageToken(TokenizerFiles.IMAGE_TOKEN, folder.config().imageTokenIndex(), "image_token_index"),
        folder.config().imageSeqLength());
  }

  /**
   * Loads {@code file} (a {@code tokenizer.json}) with its template and special tokens; one that
   * does not parse, or whose image marker does not encode to the image token alone, is refused.
   *
   * @param imageSeqLength the image token count of {@link #chat(String, boolean)} and
   *                       {@link #encode(String, int)}, or 0 where every call must give it
   */
  public static PromptTokenizer open(Path file, ChatTemplate template, Map<String, String> specialTokens,
      ImageToken image, int imageSeqLength) throws IOException {
    if (file == null || template == null || specialTokens == null || image == null)
      throw new IllegalArgumentException((file == null ? "file" : template == null ? "template"
          : specialTokens == null ? "specialTokens" : "image") + " is null");
    if (imageSeqLength < 0) throw new IllegalArgumentException("imageSeqLength must be >= 0, got " + imageSeqLength);
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
    long[] ids = t.encode(image.marker(), false, false).getIds();
    if (ids.length != 1 || ids[0] != image.id()) {
      t.close();
      throw new IllegalArgumentException(file + ": '" + image.marker() + "' encodes to "
          + java.util.Arrays.toString(ids) + ", not to config.json's " + image.key() + " " + image.id());
    }
    return new PromptTokenizer(t, template, Map.copyOf(specialTokens), image, imageSeqLength, file);
  }

  public ChatTemplate template() {
    return template;
  }

  /** The image placeholder the template writes and its id. */
  public ImageToken image() {
    return image;
  }

  /** The chat-templated prompt for one user turn, tokenized with the image (if {@code image}) expanded to the default count. */
  public Prompt chat(String question, boolean image) {
    return chat(question, image, imageSeqLength);
  }

  /** The chat-templated prompt for one user turn, the image (if {@code image}) expanded to {@code imageTokens} tokens. */
  public Prompt chat(String question, boolean image, int imageTokens) {
    if (question == null) throw new IllegalArgumentException("question is null");
    return encode(template.render(question, image, specialTokens), image ? 1 : 0, imageTokens);
  }

  /** {@link #encode(String, int, int)} with the default image token count. */
  public Prompt encode(String prompt, int images) {
    return encode(prompt, images, imageSeqLength);
  }

  /**
   * Tokenizes an already templated prompt holding {@code images} (0 or 1) image markers, expanding
   * each to {@code imageTokens} image tokens first; a prompt whose marker count differs from
   * {@code images} is refused.
   */
  public Prompt encode(String prompt, int images, int imageTokens) {
    if (prompt == null) throw new IllegalArgumentException("prompt is null");
    if (images < 0 || images > 1) throw new IllegalArgumentException("images must be 0 or 1 (one image per prompt), got " + images);
    String marker = image.marker();
    if (images == 1 && imageTokens < 1)
      throw new IllegalArgumentException("imageTokens: an image needs at least 1 image token, got " + imageTokens
          + (imageSeqLength == 0 ? " (this tokenizer has no fixed count: give the image's)" : ""));
    if ((long) marker.length() * imageTokens + prompt.length() > Integer.MAX_VALUE - 16)
      throw new IllegalArgumentException("imageTokens: " + imageTokens + " image tokens do not fit in one prompt string");
    int markers = count(prompt, marker);
    if (markers > 1) throw new IllegalArgumentException("prompt: " + markers + " '" + marker + "' markers; one image per prompt is supported");
    if (markers != images)
      throw new IllegalArgumentException(images == 1 ? "prompt: an image is given but the prompt has no '" + marker + "'"
          : "prompt: it has '" + marker + "' but no image is given");
    String expanded = images == 0 ? prompt : prompt.replace(marker, marker.repeat(imageTokens));
    long[] ids = tokenizer.encode(expanded, true, false).getIds();
    int first = -1, run = 0, total = 0;
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] != image.id()) continue;
      total++;
      if (first < 0) first = i;
      if (i == first + run) run++;
    }
    long expected = images == 0 ? 0 : imageTokens;
    if (total != run || run != expected)
      throw new IllegalArgumentException(file + ": the prompt's image became " + total + " image tokens"
          + (total != run ? " in several runs" : "") + ", expected one run of " + expected);
    return images == 0 ? new Prompt(ids, ids.length, 0) : new Prompt(ids, first, run);
  }

  /** The id of {@code text} when it is exactly one special token (which decoding drops), else -1. */
  public int specialTokenId(String text) {
    long[] ids = ids(text);
    return ids.length == 1 && tokenizer.decode(ids, true).isEmpty() ? (int) ids[0] : -1;
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
