package io.fitprune.llava;

import io.fitprune.decoder.DecoderWeights;
import io.fitprune.decoder.TextStream;
import io.fitprune.hf.GenerationConfig;
import io.fitprune.hf.LlavaConfig;
import io.fitprune.hf.ModelFolder;
import io.fitprune.hf.Prompt;
import io.fitprune.hf.PromptTokenizer;
import io.fitprune.image.ImageProcessor;
import io.fitprune.image.PixelValues;
import io.fitprune.vision.LlavaImageEncoder;
import io.fitprune.vision.VisionCheckpoint;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A LLaVA model folder from image file and question to the language model's input, as
 * transformers' {@code LlavaProcessor} and {@code LlavaModel} do it: the question through the chat
 * template (which places the image), {@code <image>} expanded and tokenized; the image decoded and
 * preprocessed; the vision tower and projector; and the features spliced into the embedding
 * lookup ({@link ImageSplice}). The weights stay memory-mapped in their stored type.
 */
public final class LlavaPipeline implements AutoCloseable {
  private static final String IMAGE = "<image>";

  private final ModelFolder folder;
  private final PromptTokenizer tokenizer;
  private final ImageProcessor images;
  private final DecoderWeights decoder;
  private final LlavaImageEncoder encoder;
  private final int[] eosIds;

  private LlavaPipeline(ModelFolder folder, PromptTokenizer tokenizer, ImageProcessor images, DecoderWeights decoder,
      LlavaImageEncoder encoder, int[] eosIds) {
    this.folder = folder;
    this.eosIds = eosIds;
    this.tokenizer = tokenizer;
    this.images = images;
    this.decoder = decoder;
    this.encoder = encoder;
  }

  /**
   * Opens a model folder: its configs, tokenizer, image processor settings and weights (language
   * model, vision tower and projector, every tensor checked against {@code config.json}). A folder
   * without a tokenizer, a {@code preprocessor_config.json} or an embedding table is refused,
   * naming what is missing.
   */
  public static LlavaPipeline open(Path dir) throws IOException {
    ModelFolder f = ModelFolder.open(dir);
    if (f.preprocessor() == null)
      throw new IllegalArgumentException(dir.resolve(ModelFolder.PREPROCESSOR) + ": no such file (the image processor's "
          + "settings)");
    PromptTokenizer tok = f.tokenizer();
    try {
      int[] eosIds = GenerationConfig.eosTokenIds(f.dir()); // a bad file is refused before the weights load
      DecoderWeights w = f.loadDecoder();
      if (w.embed() == null)
        throw new IllegalArgumentException(f.weights() + ": no embedding table (language_model.model.embed_tokens.weight), "
            + "which the input embeddings are looked up in");
      LlavaConfig c = f.config();
      LlavaImageEncoder enc = new LlavaImageEncoder(VisionCheckpoint.load(f.weights(), c.vision(), c.projector(), null));
      return new LlavaPipeline(f, tok, ImageProcessor.fromConfig(f.preprocessor()), w, enc, eosIds);
    } catch (IOException | RuntimeException e) {
      tok.close();
      throw e;
    }
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

  public LlavaImageEncoder encoder() {
    return encoder;
  }

  /**
   * Refuses a question that holds {@code <image>}: the chat template places the image itself, so a
   * second marker would be a second image. {@code option} names the argument in the message.
   */
  public static void requireQuestion(String option, String question) {
    if (question == null) throw new IllegalArgumentException(option + ": no question given");
    if (question.contains(IMAGE))
      throw new IllegalArgumentException(option + ": the text holds '" + IMAGE + "', but the chat template places the "
          + "image itself; give the question alone");
  }

  /** The templated prompt for a question about one image. */
  public Prompt prompt(String question) {
    requireQuestion("question", question);
    return tokenizer.chat(question, true);
  }

  /** One image and a question to the language model's input; the prompt is checked before the image is read. */
  public LlavaInput prepare(Path image, String question) throws IOException {
    Prompt p = prompt(question);
    return prepare(p, images.process(image));
  }

  /** Each image with the same question, one input per image, in order. */
  public List<LlavaInput> prepare(List<Path> imageFiles, String question) throws IOException {
    Prompt p = prompt(question);
    List<PixelValues> pixels = new ArrayList<>();
    for (Path f : imageFiles) pixels.add(images.process(f)); // every file decoded before the tower runs
    List<LlavaInput> out = new ArrayList<>();
    for (PixelValues px : pixels) out.add(prepare(p, px));
    return out;
  }

  private LlavaInput prepare(Prompt p, PixelValues px) {
    long t0 = System.nanoTime();
    float[] features = encoder.encode(px.data(), px.images());
    double seconds = (System.nanoTime() - t0) / 1e9;
    float[] embeds = ImageSplice.embeds(p.ids(), folder.config().imageTokenIndex(), decoder.embed(), features);
    return new LlavaInput(p, px, embeds, encoder.textHidden(), seconds);
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
