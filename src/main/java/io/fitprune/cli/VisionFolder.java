package io.fitprune.cli;

import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.hf.LlavaConfig;
import io.fitprune.hf.LlavaNextConfig;
import io.fitprune.hf.ModelFolder;
import io.fitprune.hf.RandomModelFolder;
import io.fitprune.io.DType;
import io.fitprune.io.ShardedWriter;
import io.fitprune.model.Geometry;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code random-checkpoint --vision}: a complete Hugging Face LLaVA or LLaVA-NeXT model folder
 * instead of the decoder's weights alone.
 *
 * @param llava the LLaVA fields (LLaVA-NeXT's shared ones when {@code next} is set)
 * @param next  the LLaVA-NeXT config, or null for a LLaVA folder
 */
record VisionFolder(LlavaConfig llava, LlavaNextConfig next) {

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

  /** The folder's tensors, for the size checks before anything is written. */
  List<ShardedWriter.Entry> entries(RandomCheckpoint.Layout layout, DType dtype) {
    return next != null ? RandomModelFolder.entries(next, layout, dtype) : RandomModelFolder.entries(llava, layout, dtype);
  }

  void write(Path out, RandomCheckpoint.Layout layout, DType dtype, long seed, long shardBytes) throws IOException {
    if (out == null) throw new IllegalArgumentException("--vision writes a model folder: give --out DIR");
    long t0 = System.nanoTime();
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
