package io.fitprune.hf;

import com.fasterxml.jackson.databind.JsonNode;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.image.PreprocessorConfig;
import io.fitprune.image.QwenImageProcessor;
import io.fitprune.image.QwenPreprocessorConfig;
import io.fitprune.io.Checkpoint;
import io.fitprune.model.Geometry;
import io.fitprune.vision.GridPinpoints;
import io.fitprune.vision.VisionTensors;
import io.fitprune.vision.qwen.QwenVisionConfig;
import io.fitprune.vision.qwen.QwenVisionTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face LLaVA or LLaVA-NeXT model folder as the Hub publishes one: {@code config.json}, optionally
 * {@code preprocessor_config.json} and {@code processor_config.json}, the tokenizer files and chat
 * template, and the weights (sharded safetensors with {@code model.safetensors.index.json}, or one
 * {@code model.safetensors}). Opening reads and cross-checks the configs; the tokenizer (DJL) and
 * the weights (libtorch) are touched only by the methods that need them. A LLaVA-NeXT folder
 * ({@code model_type} {@code llava_next}) has {@link #anyres()}: its visual count depends on each
 * image's size, and its weights hold {@code image_newline}. A Qwen2-VL or Qwen2.5-VL folder
 * ({@code model_type} {@code qwen2_vl}, {@code qwen2_5_vl}) has {@link #qwen()}: its language model
 * uses M-RoPE, its tower is {@code vision.qwen}'s, and each image brings its own count too.
 */
public final class ModelFolder {
  public static final String CONFIG = "config.json", PREPROCESSOR = "preprocessor_config.json",
      PROCESSOR = "processor_config.json", TOKENIZER_CONFIG = "tokenizer_config.json";
  /** The question whose templated prompt gives a folder's default prefix and text token counts. */
  public static final String EXAMPLE_QUESTION = "What is shown in this image?";

  private final Path dir;
  private final LlavaConfig config; // null: a Qwen folder
  private final LlavaNextConfig anyres; // null: a LLaVA-1.5 or Qwen folder
  private final PreprocessorConfig preprocessor; // null: the folder has none, or is Qwen's
  private final Qwen qwen; // null: a LLaVA folder
  private final ChatTemplate template;
  private final Map<String, String> specialTokens;

  /**
   * A Qwen2-VL or Qwen2.5-VL folder's configs.
   *
   * @param config       {@code config.json}
   * @param vision       its {@code vision_config}
   * @param preprocessor {@code preprocessor_config.json}, or null when the folder has none
   */
  public record Qwen(QwenVlConfig config, QwenVisionConfig vision, QwenPreprocessorConfig preprocessor) {}

  private ModelFolder(Path dir, LlavaConfig config, LlavaNextConfig anyres, PreprocessorConfig preprocessor, Qwen qwen,
      ChatTemplate template, Map<String, String> specialTokens) {
    this.dir = dir;
    this.config = config;
    this.anyres = anyres;
    this.preprocessor = preprocessor;
    this.qwen = qwen;
    this.template = template;
    this.specialTokens = specialTokens;
  }

  /** Whether {@code p} is a directory holding a {@code config.json}. */
  public static boolean isModelFolder(Path p) {
    return Files.isDirectory(p) && Files.isRegularFile(p.resolve(CONFIG));
  }

  /** Reads the folder's configs; every inconsistency is a one-line error naming the file. */
  public static ModelFolder open(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) throw new IllegalArgumentException(dir + ": not a directory");
    ConfigJson configJson = ConfigJson.read(dir.resolve(CONFIG));
    Qwen qwen = QwenVlConfig.isQwenVl(configJson) ? qwen(dir, configJson) : null;
    LlavaNextConfig anyres = qwen == null && LlavaNextConfig.isLlavaNext(configJson) ? LlavaNextConfig.parse(configJson) : null;
    LlavaConfig config = qwen != null ? null : anyres != null ? anyres.llava() : LlavaConfig.parse(configJson);
    PreprocessorConfig pre = null;
    Path preFile = dir.resolve(PREPROCESSOR);
    if (qwen == null && Files.exists(preFile)) {
      pre = PreprocessorConfig.read(preFile);
      int side = config.vision().imageSize();
      if (pre.cropHeight() != side || pre.cropWidth() != side)
        throw new IllegalArgumentException(preFile + ": crop_size " + pre.cropHeight() + "x" + pre.cropWidth()
            + " does not match config.json's vision image_size " + side);
      checkAnyres(preFile, pre, anyres);
    }
    Path procFile = dir.resolve(PROCESSOR);
    if (qwen == null && Files.exists(procFile)) checkProcessor(ConfigJson.read(procFile), config);
    Map<String, String> special = new HashMap<>();
    ChatTemplate template = null;
    Path tokFile = dir.resolve(TOKENIZER_CONFIG);
    ConfigJson tok = Files.exists(tokFile) ? ConfigJson.read(tokFile) : null;
    if (tok != null) {
      for (String k : new String[] {"bos_token", "eos_token", "unk_token", "pad_token"}) {
        JsonNode n = tok.node.get(k);
        if (n != null && n.isTextual()) special.put(k, n.textValue());
        else if (n != null && n.isObject() && n.path("content").isTextual()) special.put(k, n.get("content").textValue());
      }
    }
    Path jinja = dir.resolve("chat_template.jinja"), json = dir.resolve("chat_template.json");
    if (Files.isRegularFile(jinja)) template = new ChatTemplate(Files.readString(jinja), jinja.toString());
    else if (Files.isRegularFile(json))
      template = new ChatTemplate(ConfigJson.read(json).string("chat_template", null), json.toString());
    else if (tok != null && tok.has("chat_template")) template = new ChatTemplate(templateOf(tok), tokFile.toString());
    if (template == null || template.source() == null) template = ChatTemplate.llava15Fallback();
    return new ModelFolder(dir, config, anyres, pre, qwen, template, Map.copyOf(special));
  }

  /**
   * A Qwen folder's config, its vision config (whose output width must be the language model's) and
   * image processor (whose patch, frame and merge sizes must be the tower's).
   */
  private static Qwen qwen(Path dir, ConfigJson configJson) throws IOException {
    QwenVlConfig c = QwenVlConfig.parse(configJson);
    QwenVisionConfig v = c.visionConfig();
    if (v.outHiddenSize() != c.text().hidden())
      throw configJson.error("vision_config", "gives the merger an output width of " + v.outHiddenSize()
          + " but the language model's hidden_size is " + c.text().hidden());
    Path preFile = dir.resolve(PREPROCESSOR);
    QwenPreprocessorConfig pre = null;
    if (Files.exists(preFile)) {
      pre = QwenPreprocessorConfig.read(preFile);
      int[][] pairs = {{pre.patchSize(), v.patchSize()}, {pre.temporalPatchSize(), v.temporalPatchSize()},
          {pre.mergeSize(), v.spatialMergeSize()}};
      String[] keys = {"patch_size", "temporal_patch_size", "merge_size"};
      for (int i = 0; i < 3; i++)
        if (pairs[i][0] != pairs[i][1])
          throw new IllegalArgumentException(preFile + ": " + keys[i] + " " + pairs[i][0] + " differs from config.json's "
              + "vision_config " + (i == 2 ? "spatial_merge_size" : keys[i]) + " " + pairs[i][1]);
    }
    return new Qwen(c, v, pre);
  }

  /** The image processor must be the model's kind, and an anyres one must tile onto the model's canvases. */
  private static void checkAnyres(Path preFile, PreprocessorConfig pre, LlavaNextConfig anyres) {
    if (anyres == null && pre.anyres())
      throw new IllegalArgumentException(preFile + ": a LlavaNextImageProcessor (image_grid_pinpoints) but config.json's "
          + "model_type is 'llava', whose tower sees one view");
    if (anyres == null) return;
    if (!pre.anyres())
      throw new IllegalArgumentException(preFile + ": config.json's model_type is 'llava_next', so the image processor "
          + "must be LlavaNextImageProcessor (with image_grid_pinpoints)");
    List<GridPinpoints.Resolution> want = anyres.pinpoints().resolutions();
    int[][] have = pre.gridPinpoints();
    boolean same = have.length == want.size();
    for (int i = 0; same && i < have.length; i++)
      same = have[i][0] == want.get(i).height() && have[i][1] == want.get(i).width();
    if (!same)
      throw new IllegalArgumentException(preFile + ": image_grid_pinpoints " + Arrays.deepToString(have)
          + " differ from config.json's " + want.stream().map(r -> "[" + r.height() + ", " + r.width() + "]").toList()
          + " (the processor would cut tiles the model does not lay out)");
  }

  /** {@code chat_template}: a string, or a list of named templates of which "default" is used. */
  private static String templateOf(ConfigJson tok) {
    JsonNode n = tok.node.get("chat_template");
    if (n.isTextual()) return n.textValue();
    if (n.isArray())
      for (JsonNode t : n)
        if ("default".equals(t.path("name").asText()) && t.path("template").isTextual()) return t.get("template").textValue();
    throw tok.error("chat_template", "must be a string or a list holding a template named 'default'");
  }

  /** processor_config.json's patch size, strategy and extra tokens must give config.json's visual token count. */
  private static void checkProcessor(ConfigJson p, LlavaConfig c) {
    int patch = p.integer("patch_size", c.vision().patchSize());
    if (patch != c.vision().patchSize())
      throw p.error("patch_size", "is " + patch + " but config.json's vision patch_size is " + c.vision().patchSize());
    String strategy = p.string("vision_feature_select_strategy", c.projector().selectStrategy());
    if (!strategy.equals(c.projector().selectStrategy()))
      throw p.error("vision_feature_select_strategy", "is '" + strategy + "' but config.json says '"
          + c.projector().selectStrategy() + "'");
    int side = c.vision().imageSize() / patch;
    long tokens = (long) side * side + p.integer("num_additional_image_tokens", 0) - ("default".equals(strategy) ? 1 : 0);
    if (tokens != c.imageSeqLength())
      throw p.error("num_additional_image_tokens", "gives " + tokens + " image tokens per image but the model produces "
          + c.imageSeqLength());
  }

  public Path dir() {
    return dir;
  }

  /**
   * The fields LLaVA and LLaVA-NeXT share (for LLaVA-NeXT, {@code imageSeqLength} is one tile's
   * count); an error for a Qwen folder ({@link #qwen()}).
   */
  public LlavaConfig config() {
    if (config == null) throw new IllegalStateException(dir + " is a Qwen folder: its configs are qwen()");
    return config;
  }

  /** The Qwen2-VL / Qwen2.5-VL configs, or null for a LLaVA folder. */
  public Qwen qwen() {
    return qwen;
  }

  /** Whether each image brings its own visual count (LLaVA-NeXT, Qwen2-VL, Qwen2.5-VL). */
  public boolean perImageCounts() {
    return anyres != null || qwen != null;
  }

  /** The language model's config, whatever the family. */
  public TextConfig text() {
    return qwen != null ? qwen.config().text() : config.text();
  }

  /** The id each visual row holds in the prompt's ids ({@code image_token_index} / {@code image_token_id}). */
  public int imageTokenId() {
    return qwen != null ? qwen.config().imageTokenId() : config.imageTokenIndex();
  }

  /**
   * The visual count a model-level figure uses: a fixed-count model's, LLaVA-NeXT's
   * {@link LlavaNextConfig#nominalTokens}, and for Qwen the count of a square image of
   * {@code max_pixels} (the most one image brings).
   */
  public int nominalVisualTokens() {
    if (qwen != null) {
      QwenPreprocessorConfig p = qwen.preprocessor() != null ? qwen.preprocessor() : QwenPreprocessorConfig.published();
      int side = (int) Math.min(Integer.MAX_VALUE, (long) Math.sqrt((double) p.maxPixels()));
      return QwenImageProcessor.fromConfig(p).imageTokens(side, side);
    }
    return anyres != null ? anyres.nominalTokens() : config.imageSeqLength();
  }

  /** The LLaVA-NeXT config (canvases, per-image counts), or null for a LLaVA folder. */
  public LlavaNextConfig anyres() {
    return anyres;
  }

  /** The image processor's settings, or null when the folder has no {@code preprocessor_config.json}. */
  public PreprocessorConfig preprocessor() {
    return preprocessor;
  }

  /** The chat template, or LLaVA-1.5's form when the folder has none ({@link ChatTemplate#from()} says which). */
  public ChatTemplate chatTemplate() {
    return template;
  }

  /** {@code bos_token}, {@code eos_token}, ... from {@code tokenizer_config.json}, for templates that use them. */
  public Map<String, String> specialTokens() {
    return specialTokens;
  }

  /** {@code _name_or_path}'s last segment, else the folder's name. */
  public String name() {
    String n = qwen != null ? qwen.config().name() : config.name();
    return n != null ? n : dir.toAbsolutePath().normalize().getFileName().toString();
  }

  /** The tokenizer and template (needs DJL's tokenizers and Jinjava on the class path). */
  public PromptTokenizer tokenizer() throws IOException {
    try {
      return PromptTokenizer.open(this);
    } catch (NoClassDefFoundError e) {
      throw new IllegalStateException("reading " + dir + "'s tokenizer needs ai.djl.huggingface:tokenizers and "
          + "com.hubspot.jinjava:jinjava on the class path (optional dependencies of fitprune)");
    }
  }

  /**
   * The pruning geometry: the language model's shape from {@code config.json}, the visual tokens per
   * image (LLaVA-NeXT's {@link LlavaNextConfig#nominalTokens}: each image brings its own), and prefix
   * and text token counts from the templated {@link #EXAMPLE_QUESTION}.
   */
  public Geometry geometry() throws IOException {
    Prompt p;
    try (PromptTokenizer t = tokenizer()) {
      p = t.chat(EXAMPLE_QUESTION, true);
    }
    TextConfig t = text();
    try {
      return new Geometry(name(), t.layers(), t.hidden(), t.heads(), t.kvHeads(), t.headDim(), t.intermediate(),
          nominalVisualTokens(), p.prefix(), p.text());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(dir.resolve(CONFIG) + ": text_config: " + e.getMessage());
    }
  }

  /** The decoder's configuration: {@link #geometry()} with the vocabulary, RoPE base and RMSNorm epsilon of {@code text_config}. */
  public DecoderConfig decoderConfig() throws IOException {
    Geometry g = geometry();
    TextConfig t = text();
    return qwen != null ? DecoderConfig.of(g, t.vocab(), t.ropeTheta(), t.rmsEps(), qwen.config().mropeSection())
        : DecoderConfig.of(g, t.vocab(), t.ropeTheta(), t.rmsEps());
  }

  /** The weights: {@code model.safetensors.index.json}, else {@code model.safetensors}. */
  public Path weights() {
    Path index = dir.resolve(Checkpoint.INDEX), single = dir.resolve(Checkpoint.SINGLE);
    if (Files.exists(index)) return index;
    if (Files.exists(single)) return single;
    throw new IllegalArgumentException(dir + ": no " + Checkpoint.INDEX + " or " + Checkpoint.SINGLE + " (the weights)");
  }

  /** Checks the vision tower's and projector's tensors against {@code config.json} (names and shapes). */
  public void checkVisionWeights() throws IOException {
    try (Checkpoint ck = Checkpoint.open(weights())) {
      checkVision(ck);
    }
  }

  private void checkVision(Checkpoint ck) {
    if (qwen != null) QwenVisionTensors.check(ck, qwen.vision(), dir.resolve(CONFIG).toString());
    else if (anyres != null) anyres.checkVisionWeights(ck);
    else VisionTensors.check(ck, config.vision(), config.projector());
  }

  /** LLaVA-NeXT's {@code image_newline} {@code [text hidden]} as float32; an error for a LLaVA folder. */
  public float[] imageNewline() throws IOException {
    if (anyres == null) throw new IllegalStateException(dir + " is a LLaVA folder: it has no image_newline");
    try (Checkpoint ck = Checkpoint.open(weights())) {
      return ImageNewline.read(ck, config.text().hidden());
    }
  }

  /**
   * Checks another checkpoint's vision tower and projector against {@code config.json}, when it
   * holds any (a decoder-only checkpoint passes).
   */
  public void checkVisionWeights(Path checkpoint) throws IOException {
    try (Checkpoint ck = Checkpoint.open(checkpoint)) {
      if (qwen != null ? holdsQwenTower(ck) : VisionTensors.holdsAny(ck)) checkVision(ck);
    }
  }

  /**
   * The language model's weights in either layout, every tensor checked against {@code config.json};
   * the vision tower and projector are checked too, so a folder whose weights disagree with its
   * config is refused as a whole.
   */
  public DecoderWeights loadDecoder() throws IOException {
    checkVisionWeights();
    return DecoderWeights.load(weights(), decoderConfig(), null, false, text().tieWordEmbeddings());
  }

  private static boolean holdsQwenTower(Checkpoint ck) {
    for (String n : ck.tensors().keySet())
      for (QwenVisionTensors.Layout l : QwenVisionTensors.Layout.values()) if (n.startsWith(l.prefix())) return true;
    return false;
  }
}
