package io.fitprune.llava;

import io.fitprune.decoder.DecoderWeights;
import io.fitprune.decoder.TextStream;
import io.fitprune.hf.GenerationConfig;
import io.fitprune.hf.LlavaConfig;
import io.fitprune.hf.ModelFolder;
import io.fitprune.hf.Prompt;
import io.fitprune.hf.PromptTokenizer;
import io.fitprune.image.AnyresProcessor;
import io.fitprune.image.ImageProcessor;
import io.fitprune.image.QwenImageProcessor;
import io.fitprune.io.Checkpoint;
import io.fitprune.vision.LlavaImageEncoder;
import io.fitprune.vision.VisionCheckpoint;
import io.fitprune.vision.qwen.QwenVisionCheckpoint;
import io.fitprune.vision.qwen.QwenVisionTower;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A LLaVA or LLaVA-NeXT model folder from image file and question to the language model's input,
 * as transformers' {@code LlavaProcessor} and {@code LlavaModel} (or their LLaVA-NeXT versions) do
 * it: the image decoded and preprocessed ({@link #image}: one view, or LLaVA-NeXT's base view and
 * tiles); the question through the chat template (which places the image), {@code <image>} expanded
 * to the image's visual count and tokenized ({@link #prompt(String, LlavaImage)}); the vision tower
 * and projector on every view in one batch, LLaVA-NeXT's tiles packed with {@code image_newline};
 * and the features spliced into the embedding lookup ({@link ImageSplice}). Qwen2-VL and Qwen2.5-VL
 * folders take the same path with their processor's patches, their tower and merger, and 3-D
 * position ids ({@link LlavaInput#positions}). The folder's {@code model_type} picks the family
 * ({@link VisualFamily}). The weights stay memory-mapped in their stored type.
 */
public final class LlavaPipeline implements AutoCloseable {
  private final ModelFolder folder;
  private final PromptTokenizer tokenizer;
  private final VisualFamily family;
  private final DecoderWeights decoder;
  private final int[] eosIds;

  private LlavaPipeline(ModelFolder folder, PromptTokenizer tokenizer, VisualFamily family, DecoderWeights decoder,
      int[] eosIds) {
    this.folder = folder;
    this.eosIds = eosIds;
    this.tokenizer = tokenizer;
    this.family = family;
    this.decoder = decoder;
  }

  /**
   * Opens a model folder: its configs, tokenizer, image processor settings and weights (language
   * model, vision tower and projector, LLaVA-NeXT's {@code image_newline}; every tensor checked
   * against {@code config.json}). A folder without a tokenizer, a {@code preprocessor_config.json}
   * or an embedding table is refused, naming what is missing.
   */
  public static LlavaPipeline open(Path dir) throws IOException {
    ModelFolder f = ModelFolder.open(dir);
    if (f.qwen() != null ? f.qwen().preprocessor() == null : f.preprocessor() == null)
      throw new IllegalArgumentException(dir.resolve(ModelFolder.PREPROCESSOR) + ": no such file (the image processor's "
          + "settings)");
    PromptTokenizer tok = f.tokenizer();
    try {
      int[] eosIds = GenerationConfig.eosTokenIds(f.dir()); // a bad file is refused before the weights load
      DecoderWeights w = f.loadDecoder();
      if (w.embed() == null)
        throw new IllegalArgumentException(f.weights() + ": no embedding table (language_model.model.embed_tokens.weight), "
            + "which the input embeddings are looked up in");
      return new LlavaPipeline(f, tok, family(f), w, eosIds);
    } catch (IOException | RuntimeException e) {
      tok.close();
      throw e;
    }
  }

  /** The folder's family: its image processor, tower (and projector, packing) from the weights. */
  private static VisualFamily family(ModelFolder f) throws IOException {
    if (f.qwen() != null) {
      ModelFolder.Qwen q = f.qwen();
      QwenVisionTower tower;
      try (Checkpoint ck = Checkpoint.open(f.weights())) {
        tower = new QwenVisionTower(QwenVisionCheckpoint.bind(ck, q.vision(), f.dir().resolve(ModelFolder.CONFIG).toString()));
      }
      return new QwenFamily(q.config(), QwenImageProcessor.fromConfig(q.preprocessor()), tower);
    }
    LlavaConfig c = f.config();
    LlavaImageEncoder enc = new LlavaImageEncoder(VisionCheckpoint.load(f.weights(), c.vision(), c.projector(), null));
    if (f.anyres() == null) return ClipFamily.llava(ImageProcessor.fromConfig(f.preprocessor()), enc);
    return ClipFamily.next(AnyresProcessor.fromConfig(f.preprocessor()), f.anyres(), f.imageNewline(), enc);
  }

  public ModelFolder folder() {
    return folder;
  }

  public PromptTokenizer tokenizer() {
    return tokenizer;
  }

  /** The language model's weights (for {@code new Decoder(...)}). */
  public DecoderWeights decoderWeights() {
    return decoder;
  }

  /** LLaVA's and LLaVA-NeXT's CLIP tower and projector; an error for a Qwen folder ({@link #qwenTower()}). */
  public LlavaImageEncoder encoder() {
    if (family instanceof ClipFamily c) return c.encoder;
    throw new IllegalStateException(folder.dir() + " is a Qwen folder: its tower is qwenTower()");
  }

  /** Qwen2-VL's or Qwen2.5-VL's vision tower and merger; an error for a LLaVA folder. */
  public QwenVisionTower qwenTower() {
    if (family instanceof QwenFamily q) return q.tower;
    throw new IllegalStateException(folder.dir() + " is a LLaVA folder: its tower is encoder()");
  }

  /** The image markers a chat template writes itself: LLaVA's and Qwen2-VL's. */
  private static final List<String> MARKERS = List.of("<image>", "<|image_pad|>", "<|vision_start|>");

  /**
   * Refuses a question that holds an image marker ({@code <image>}, {@code <|image_pad|>}): the chat
   * template places the image itself, so a second marker would be a second image. {@code option}
   * names the argument in the message.
   */
  public static void requireQuestion(String option, String question) {
    if (question == null) throw new IllegalArgumentException(option + ": no question given");
    for (String m : MARKERS)
      if (question.contains(m))
        throw new IllegalArgumentException(option + ": the text holds '" + m + "', but the chat template places the "
            + "image itself; give the question alone");
  }

  /**
   * The templated prompt for a question about one image, for LLaVA, whose visual count is the same
   * for every image; LLaVA-NeXT's depends on the image: {@link #prompt(String, LlavaImage)}.
   */
  public Prompt prompt(String question) {
    if (!(family instanceof ClipFamily c) || c.fixedCount() == 0)
      throw new IllegalStateException(folder.dir() + ": each image brings its own visual count, so the prompt depends on "
          + "the image's size; use prompt(question, image(file))");
    requireQuestion("question", question);
    return tokenizer.chat(question, true, c.fixedCount());
  }

  /** The templated prompt for a question about {@code image}: {@code <image>} expanded to its visual count. */
  public Prompt prompt(String question, LlavaImage image) {
    requireQuestion("question", question);
    if (image == null) throw new IllegalArgumentException("image is null");
    return tokenizer.chat(question, true, image.visualTokens());
  }

  /**
   * An image file decoded and preprocessed by the folder's image processor: one view for LLaVA;
   * for LLaVA-NeXT the base view and the tiles of its canvas, with the count its size gives; for
   * Qwen the patches of its resized size and their grid. A bad file or size is a one-line error
   * naming it.
   */
  public LlavaImage image(Path file) throws IOException {
    return family.image(file);
  }

  /** One image and a question to the language model's input; the question is checked before the image is read. */
  public LlavaInput prepare(Path image, String question) throws IOException {
    requireQuestion("question", question);
    LlavaImage im = image(image);
    return encode(prompt(question, im), im);
  }

  /** Each image with the same question, one input per image, in order; every file is decoded before the tower runs. */
  public List<LlavaInput> prepare(List<Path> imageFiles, String question) throws IOException {
    requireQuestion("question", question);
    List<LlavaImage> ims = new ArrayList<>();
    for (Path f : imageFiles) ims.add(image(f));
    List<LlavaInput> out = new ArrayList<>();
    for (LlavaImage im : ims) out.add(encode(prompt(question, im), im));
    return out;
  }

  /**
   * The vision tower and projector on the image's views (one batch), LLaVA-NeXT's packed with
   * {@code image_newline}, or Qwen's tower and merger on its patches, spliced over the prompt's image
   * tokens; for Qwen also the 3-D position ids. The prompt must hold the image's count of image tokens.
   */
  public LlavaInput encode(Prompt p, LlavaImage image) {
    if (p == null || image == null) throw new IllegalArgumentException("prompt and image must not be null");
    if (p.visual() != image.visualTokens())
      throw new IllegalArgumentException("prompt: it holds " + p.visual() + " image tokens but the image gives "
          + image.visualTokens() + " visual tokens");
    if ((image.qwen() != null) != (family instanceof QwenFamily))
      throw new IllegalArgumentException("image: preprocessed for another model family than " + folder.dir() + "'s");
    int[][] positions = family.positions(p.ids(), image); // before the tower: a bad id list costs nothing
    long t0 = System.nanoTime();
    float[] features = family.features(image);
    double seconds = (System.nanoTime() - t0) / 1e9;
    float[] embeds = ImageSplice.embeds(p.ids(), folder.imageTokenId(), decoder.embed(), features);
    return new LlavaInput(p, image, embeds, family.hidden(), seconds, positions);
  }

  /**
   * A stream of the answer's text into {@code sink}: it ends at the tokenizer's {@code eos_token},
   * at any of {@code generation_config.json}'s {@code eos_token_id}, and where the text reaches the
   * eos token's text or the template's user-turn marker ({@link #userMarker()}), which a model that
   * goes on to write the next turn itself would produce; a marker that is one special token (never
   * in the decoded text) ends the answer as a token.
   */
  public TextStream answerStream(Consumer<String> sink) {
    List<String> stops = new ArrayList<>();
    Set<Integer> ends = new HashSet<>();
    for (int id : eosIds) ends.add(id);
    String eos = folder.specialTokens().get("eos_token");
    if (eos != null) {
      stops.add(eos);
      long[] ids = tokenizer.ids(eos);
      if (ids.length == 1) ends.add((int) ids[0]);
    }
    String marker = userMarker();
    if (!marker.isEmpty()) {
      int id = tokenizer.specialTokenId(marker);
      if (id >= 0) ends.add(id);
      else stops.add(marker);
    }
    return new TextStream(t -> tokenizer.decode(toLongs(t), true), ends::contains, stops, sink);
  }

  /** The template's user-turn marker ("USER:" for LLaVA-1.5, "<|im_start|>" for ChatML), or "". */
  String userMarker() {
    return folder.chatTemplate().userMarker(folder.specialTokens(), tokenizer.image().marker());
  }

  private static long[] toLongs(int[] t) {
    long[] out = new long[t.length];
    for (int i = 0; i < t.length; i++) out[i] = t[i];
    return out;
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
