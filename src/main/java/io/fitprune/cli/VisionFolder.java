package io.fitprune.cli;

import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.hf.LlavaConfig;
import io.fitprune.hf.ModelFolder;
import io.fitprune.hf.RandomModelFolder;
import io.fitprune.io.DType;
import io.fitprune.model.Geometry;
import java.nio.file.Path;
import java.util.Locale;

/** {@code random-checkpoint --vision}: a complete Hugging Face LLaVA model folder instead of the decoder's weights alone. */
final class VisionFolder {
  private VisionFolder() {}

  /**
   * The LLaVA config to write for {@code --model}: a model folder's own, the Hugging Face config
   * bundled for the name ({@code llava-tiny}, {@code llava-1.5-7b}), else LlavaConfig's defaults
   * around the geometry. {@code vocab} (null: not given) and {@code layers} override.
   */
  static LlavaConfig config(String model, Geometry g, Integer vocab, Integer layers) throws java.io.IOException {
    Path p = Path.of(model);
    LlavaConfig c = ModelFolder.isModelFolder(p) ? ModelFolder.open(p).config().withName(g.name())
        : LlavaConfig.bundled(g.name());
    if (c == null) return LlavaConfig.forGeometry(layers == null ? g : withLayers(g, layers),
        vocab == null ? 32064 : vocab, 10000.0, 1e-5);
    if (c.text().layers() != g.layers() || c.text().hidden() != g.hidden() || c.imageSeqLength() != g.visualTokens())
      throw new IllegalArgumentException("--model " + model + ": the geometry (L=" + g.layers() + ", D=" + g.hidden() + ", V="
          + g.visualTokens() + ") disagrees with its Hugging Face config");
    return vocab == null && layers == null ? c
        : c.withText(vocab == null ? c.text().vocab() : vocab, layers == null ? c.text().layers() : layers);
  }

  private static Geometry withLayers(Geometry g, int l) {
    return new Geometry(g.name(), l, g.hidden(), g.heads(), g.kvHeads(), g.headDim(), g.mlp(), g.visualTokens(),
        g.prefixTokens(), g.textTokens());
  }

  static void write(Path out, LlavaConfig c, RandomCheckpoint.Layout layout, DType dtype, long seed, long shardBytes)
      throws java.io.IOException {
    if (out == null) throw new IllegalArgumentException("--vision writes a model folder: give --out DIR");
    long t0 = System.nanoTime();
    int shards = RandomModelFolder.write(out, c, layout, dtype, seed, shardBytes);
    System.out.printf(Locale.ROOT, "wrote %s: %s model folder (L=%d, D=%d, F=%d, vocab %d; vision L=%d, D=%d, %dx%d px, "
        + "%d visual tokens), %s, %d shard(s), %.1f s%n", out, c.name(), c.text().layers(), c.text().hidden(),
        c.text().intermediate(), c.text().vocab(), c.vision().layers(), c.vision().hiddenSize(), c.vision().imageSize(),
        c.vision().imageSize(), c.imageSeqLength(), dtype, shards, (System.nanoTime() - t0) / 1e9);
  }
}
