package io.fitprune.hf;

import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.image.QwenPreprocessorConfig;
import io.fitprune.io.AtomicFiles;
import io.fitprune.io.DType;
import io.fitprune.io.ShardedWriter;
import io.fitprune.io.StagingDirectory;
import io.fitprune.model.Geometry;
import io.fitprune.vision.qwen.QwenVisionConfig;
import io.fitprune.vision.qwen.QwenVisionFamily;
import io.fitprune.vision.qwen.QwenVisionTensors;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A complete seeded random Qwen2-VL or Qwen2.5-VL model folder as the Hub lays one out:
 * {@code config.json}, {@code preprocessor_config.json}, the Qwen2-style tokenizer with its config,
 * chat template and {@code generation_config.json}, and sharded safetensors holding the language
 * model (q/k/v biases; no LM head when {@code tie_word_embeddings}) and the vision tower, in either
 * name layout. Built in a hidden sibling folder and renamed into place, as {@link RandomModelFolder}.
 */
public final class RandomQwenFolder {
  private RandomQwenFolder() {}

  /**
   * The two name layouts: {@code visual} (the published checkpoints: {@code visual.*},
   * {@code model.layers.*}, {@code lm_head}) and {@code model-visual} (transformers 4.52 and later:
   * {@code model.visual.*}, {@code model.language_model.*}, {@code lm_head}).
   */
  public enum Layout {
    VISUAL(RandomCheckpoint.Layout.LLAMA, QwenVisionTensors.Layout.VISUAL),
    MODEL_VISUAL(RandomCheckpoint.Layout.QWEN2_VL, QwenVisionTensors.Layout.MODEL_VISUAL);

    final RandomCheckpoint.Layout text;
    final QwenVisionTensors.Layout vision;

    Layout(RandomCheckpoint.Layout text, QwenVisionTensors.Layout vision) {
      this.text = text;
      this.vision = vision;
    }

    /** {@code visual} or {@code model-visual}; {@code option} names the argument in the error. */
    public static Layout parse(String option, String s) {
      return switch (s.toLowerCase(Locale.ROOT)) {
        case "visual" -> VISUAL;
        case "model-visual" -> MODEL_VISUAL;
        default -> throw new IllegalArgumentException(option + " must be visual (visual.*, model.layers.*, as published) "
            + "or model-visual (model.visual.*, model.language_model.*) for a Qwen model, got " + s);
      };
    }
  }

  /**
   * The image processor bundled for a model name ({@code qwen2-vl-tiny}: small pixel bounds), else
   * the published one, with the tower's patch, frame and merge sizes.
   */
  public static QwenPreprocessorConfig preprocessor(String name, QwenVisionConfig v) throws IOException {
    QwenPreprocessorConfig p = QwenPreprocessorConfig.published();
    if (name != null && !name.contains("/")) {
      try (InputStream in = RandomQwenFolder.class.getResourceAsStream(name + ".preprocessor.json")) {
        if (in != null) p = QwenPreprocessorConfig.parse(in.readAllBytes(), "bundled preprocessor config " + name);
      }
    }
    if (p.patchSize() != v.patchSize() || p.temporalPatchSize() != v.temporalPatchSize()
        || p.mergeSize() != v.spatialMergeSize())
      throw new IllegalArgumentException("the image processor's patch_size " + p.patchSize() + ", temporal_patch_size "
          + p.temporalPatchSize() + " and merge_size " + p.mergeSize() + " differ from vision_config's " + v.patchSize()
          + ", " + v.temporalPatchSize() + " and " + v.spatialMergeSize());
    return p;
  }

  /**
   * {@code c} with another vocabulary size or number of decoder layers (null: unchanged); the
   * special token ids follow the generated tokenizer of that vocabulary ({@link QwenTokens}).
   */
  public static QwenVlConfig withText(QwenVlConfig c, Integer vocab, Integer layers) {
    TextConfig t = c.text();
    int v = vocab == null ? t.vocab() : vocab, l = layers == null ? t.layers() : layers;
    QwenTokens ids = QwenTokens.forVocab(v);
    TextConfig nt = new TextConfig(v, t.hidden(), t.intermediate(), l, t.heads(), t.kvHeads(), t.headDim(), t.rmsEps(),
        t.ropeTheta(), t.maxPositions(), t.tieWordEmbeddings());
    return new QwenVlConfig(c.modelType(), c.name(), nt, c.mropeSection(), ids.imagePad(), ids.videoPad(),
        ids.visionStart(), ids.visionEnd(), c.spatialMergeSize(), c.vision());
  }

  /** The decoder {@code c} describes (token counts do not matter for weights). */
  static DecoderConfig decoder(QwenVlConfig c) {
    return c.decoderConfig(1, 0, 0);
  }

  /** The folder's tensors: the language model's (with q/k/v biases), then the tower's. */
  public static List<ShardedWriter.Entry> entries(QwenVlConfig c, Layout layout, DType dtype) {
    List<ShardedWriter.Entry> out = new ArrayList<>(
        RandomCheckpoint.entries(decoder(c), layout.text, dtype, true, c.text().tieWordEmbeddings()));
    QwenVisionTensors.expected(c.visionConfig(), layout.vision)
        .forEach((n, s) -> out.add(new ShardedWriter.Entry(n, dtype, s)));
    return out;
  }

  /**
   * Writes the folder {@code out} (new, or an empty directory); returns the number of weight
   * shards. The config's special token ids must be the generated tokenizer's for its vocabulary.
   */
  public static int write(Path out, QwenVlConfig c, QwenPreprocessorConfig pre, Layout layout, DType dtype, long seed,
      long maxShardBytes) throws IOException {
    QwenTokens ids = QwenTokens.forVocab(c.text().vocab());
    int[] have = {c.imageTokenId(), c.videoTokenId(), c.visionStartTokenId(), c.visionEndTokenId()};
    int[] want = {ids.imagePad(), ids.videoPad(), ids.visionStart(), ids.visionEnd()};
    if (!java.util.Arrays.equals(have, want))
      throw new IllegalArgumentException("config: image/video/vision start/end token ids " + java.util.Arrays.toString(have)
          + " are not the generated tokenizer's " + java.util.Arrays.toString(want) + " for vocab_size " + c.text().vocab());
    List<ShardedWriter.Entry> entries = entries(c, layout, dtype);
    String processor = QwenVisionFamily.of(c.modelType()).windowed() ? "Qwen2_5_VLProcessor" : "Qwen2VLProcessor";
    Path target = out.toAbsolutePath().normalize();
    try (StagingDirectory stage = StagingDirectory.create("--out", target)) {
      Path tmp = stage.path();
      int shards = RandomCheckpoint.write(tmp, entries, seed, maxShardBytes, "fitprune random-checkpoint --vision ("
          + c.name() + ", " + layout.name().toLowerCase(Locale.ROOT) + ", seed " + seed + ")");
      AtomicFiles.write(tmp.resolve(ModelFolder.CONFIG), c.toJson());
      AtomicFiles.write(tmp.resolve(ModelFolder.PREPROCESSOR), pre.toJson(processor));
      TokenizerFiles.writeQwen(tmp, c.text().vocab());
      stage.commit();
      return shards;
    }
  }

  /** The geometry check of {@code random-checkpoint}: the bundled geometry's decoder must be the config's. */
  public static void requireGeometry(String model, Geometry g, QwenVlConfig c) {
    TextConfig t = c.text();
    if (t.layers() != g.layers() || t.hidden() != g.hidden() || t.heads() != g.heads() || t.kvHeads() != g.kvHeads()
        || t.intermediate() != g.mlp())
      throw new IllegalArgumentException("--model " + model + ": the geometry (L=" + g.layers() + ", D=" + g.hidden()
          + ") disagrees with its Hugging Face config (L=" + t.layers() + ", D=" + t.hidden() + ")");
  }
}
