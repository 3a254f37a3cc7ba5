package io.fitprune.cli;

import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.hf.LlavaConfig;
import io.fitprune.hf.LlavaNextConfig;
import io.fitprune.hf.ModelFolder;
import io.fitprune.hf.QwenVlConfig;
import io.fitprune.hf.RandomModelFolder;
import io.fitprune.hf.RandomQwenFolder;
import io.fitprune.hf.TextConfig;
import io.fitprune.image.QwenPreprocessorConfig;
import io.fitprune.vision.qwen.QwenVisionConfig;
import io.fitprune.io.DType;
import io.fitprune.io.ShardedWriter;
import io.fitprune.model.Geometry;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code random-checkpoint --vision}: a complete Hugging Face LLaVA, LLaVA-NeXT, Qwen2-VL or
 * Qwen2.5-VL model folder instead of the decoder's weights alone.
 *
 * @param llava    the LLaVA fields (LLaVA-NeXT's shared ones when {@code next} is set); null for Qwen
 * @param next     the LLaVA-NeXT config, or null
 * @param qwen     the Qwen config, or null
 * @param qwenPre  the Qwen image processor's settings, or null
 */
record VisionFolder(LlavaConfig llava, LlavaNextConfig next, QwenVlConfig qwen, QwenPreprocessorConfig qwenPre) {
  VisionFolder(LlavaConfig llava, LlavaNextConfig next) {
    this(llava, next, null, null);
  }

  /** A Qwen folder's config for {@code --model} (a folder's own, or the one bundled for its name), or null. */
  static VisionFolder qwen(String model, Geometry g, Integer vocab, Integer layers) throws IOException {
    Path p = Path.of(model);
    QwenVlConfig c;
    QwenPreprocessorConfig pre;
    if (ModelFolder.isModelFolder(p)) {
      ModelFolder f = ModelFolder.open(p);
      if (f.qwen() == null) return null;
      c = f.qwen().config().withName(g.name());
      pre = f.qwen().preprocessor() != null ? f.qwen().preprocessor()
          : RandomQwenFolder.preprocessor(null, f.qwen().vision());
    } else {
      c = QwenVlConfig.bundled(g.name());
      if (c == null) return null;
      pre = RandomQwenFolder.preprocessor(g.name(), c.visionConfig());
    }
    RandomQwenFolder.requireGeometry(model, g, c);
    if (vocab != null || layers != null) c = RandomQwenFolder.withText(c, vocab, layers);
    return new VisionFolder(null, null, c, pre);
  }

  /**
   * The config to write for {@code --model}: a model folder's own, the Hugging Face config bundled
   * for the name ({@code llava-tiny}, {@code llava-1.5-7b}, {@code llava-next-tiny},
   * {@code llava-v1.6-vicuna-7b}), else LlavaConfig's defaults around the geometry. {@code vocab}
   * (null: not given) and {@code layers} override.
   */
  static VisionFolder config(String model, Geometry g, Integer vocab, Integer layers) throws IOException {
    Path p = Path.of(model);
    LlavaConfig c;
    LlavaNextConfig n;
    if (ModelFolder.isModelFolder(p)) {
      ModelFolder f = ModelFolder.open(p);
      n = f.anyres() == null ? null : f.anyres().withName(g.name());
      c = n != null ? n.llava() : f.config().withName(g.name());
    } else {
      n = LlavaNextConfig.bundled(g.name());
      c = n != null ? n.llava() : LlavaConfig.bundled(g.name());
    }
    if (c == null) return new VisionFolder(LlavaConfig.forGeometry(layers == null ? g : withLayers(g, layers),
        vocab == null ? 32064 : vocab, 10000.0, 1e-5), null);
    int visual = n != null ? n.nominalTokens() : c.imageSeqLength();
    if (c.text().layers() != g.layers() || c.text().hidden() != g.hidden() || visual != g.visualTokens())
      throw new IllegalArgumentException("--model " + model + ": the geometry (L=" + g.layers() + ", D=" + g.hidden() + ", V="
          + g.visualTokens() + ") disagrees with its Hugging Face config");
    if (vocab == null && layers == null) return new VisionFolder(c, n);
    int v = vocab == null ? c.text().vocab() : vocab, l = layers == null ? c.text().layers() : layers;
    return n != null ? new VisionFolder(n.withText(v, l).llava(), n.withText(v, l)) : new VisionFolder(c.withText(v, l), null);
  }

  private static Geometry withLayers(Geometry g, int l) {
    return new Geometry(g.name(), l, g.hidden(), g.heads(), g.kvHeads(), g.headDim(), g.mlp(), g.visualTokens(),
        g.prefixTokens(), g.textTokens());
  }

  /** Qwen's weight layout from {@code --layout} ({@code visual} when not given). */
  static RandomQwenFolder.Layout qwenLayout(String layout, boolean given) {
    return given ? RandomQwenFolder.Layout.parse("--layout", layout) : RandomQwenFolder.Layout.VISUAL;
  }

  /** The folder's tensors, for the size checks before anything is written. */
  List<ShardedWriter.Entry> entries(RandomCheckpoint.Layout layout, RandomQwenFolder.Layout qwenLayout, DType dtype) {
    if (qwen != null) return RandomQwenFolder.entries(qwen, qwenLayout, dtype);
    return next != null ? RandomModelFolder.entries(next, layout, dtype) : RandomModelFolder.entries(llava, layout, dtype);
  }

  void write(Path out, RandomCheckpoint.Layout layout, RandomQwenFolder.Layout qwenLayout, DType dtype, long seed,
      long shardBytes) throws IOException {
    if (out == null) throw new IllegalArgumentException("--vision writes a model folder: give --out DIR");
    long t0 = System.nanoTime();
    if (qwen != null) {
      int shards = RandomQwenFolder.write(out, qwen, qwenPre, qwenLayout, dtype, seed, shardBytes);
      TextConfig t = qwen.text();
      QwenVisionConfig v = qwen.visionConfig();
      System.out.printf(Locale.ROOT, "wrote %s: %s model folder (L=%d, D=%d, F=%d, vocab %d; vision L=%d, D=%d, %d px "
          + "patches, %d to %d pixels per image), %s, %s, %d shard(s), %.1f s%n", out, qwen.name(), t.layers(), t.hidden(),
          t.intermediate(), t.vocab(), v.depth(), v.hiddenSize(), v.patchSize(), qwenPre.minPixels(), qwenPre.maxPixels(),
          qwenLayout.name().toLowerCase(Locale.ROOT).replace('_', '-'), dtype, shards, (System.nanoTime() - t0) / 1e9);
      return;
    }
    int shards = next != null ? RandomModelFolder.write(out, next, layout, dtype, seed, shardBytes)
        : RandomModelFolder.write(out, llava, layout, dtype, seed, shardBytes);
    LlavaConfig c = llava;
    String visual = next != null ? "anyres " + next.pinpoints().resolutions().size() + " canvases, up to "
        + next.nominalTokens() + " visual tokens" : c.imageSeqLength() + " visual tokens";
    System.out.printf(Locale.ROOT, "wrote %s: %s model folder (L=%d, D=%d, F=%d, vocab %d; vision L=%d, D=%d, %dx%d px, "
        + "%s), %s, %d shard(s), %.1f s%n", out, c.name(), c.text().layers(), c.text().hidden(),
        c.text().intermediate(), c.text().vocab(), c.vision().layers(), c.vision().hiddenSize(), c.vision().imageSize(),
        c.vision().imageSize(), visual, dtype, shards, (System.nanoTime() - t0) / 1e9);
  }
}
