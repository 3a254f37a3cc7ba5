package io.fitprune.decoder;

import io.fitprune.io.DType;
import io.fitprune.io.HalfFloats;
import io.fitprune.io.ShardedWriter;
import io.fitprune.kernels.Bf16;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * A seeded random checkpoint of any decoder geometry, written as Hugging Face writes one (sharded
 * safetensors plus {@code model.safetensors.index.json}) so that real-size runs are reproducible
 * without downloading weights. Values are streamed to disk: the model is never held in memory.
 *
 * <p>Scale as in trained LLaMA-family models, so activations stay finite over many layers:
 * projections, embeddings and the LM head uniform with standard deviation 0.02, norm weights
 * 1 + the same noise. The LLaVA layouts also hold a two-layer projector
 * ({@code multi_modal_projector.linear_{1,2}}, from a 1024-wide vision feature) that the decoder
 * must ignore; there is no vision tower ({@code io.fitprune.hf.RandomModelFolder} writes whole LLaVA
 * model folders, tower included, through {@link #write(Path, List, long, long, String)}). Every value depends only on the seed, the tensor's name
 * and its position, never on sharding or threads.
 */
public final class RandomCheckpoint {
  /**
   * Name layouts: llava-hf ({@code language_model.model...}), the newer LLaVA one
   * ({@code model.language_model...}), plain LLaMA ({@code model.layers...}, also the published
   * Qwen2-VL checkpoints' language model), and the newer Qwen2-VL one
   * ({@code model.language_model...} with a top-level {@code lm_head}, no projector).
   */
  public enum Layout {
    LLAVA_HF("language_model.model.", "language_model.lm_head.weight", "multi_modal_projector."),
    LLAVA("model.language_model.", "lm_head.weight", "model.multi_modal_projector."),
    LLAMA("model.", "lm_head.weight", null),
    QWEN2_VL("model.language_model.", "lm_head.weight", null);

    final NameLayout names;
    final String projector; // null: no projector

    Layout(String base, String lmHead, String projector) {
      this.names = new NameLayout(base, lmHead);
      this.projector = projector;
    }

    public NameLayout names() {
      return names;
    }

    /** The projector's name prefix, or null for plain LLaMA. */
    public String projector() {
      return projector;
    }

    public static Layout parse(String s) {
      return switch (s.toLowerCase(Locale.ROOT)) {
        case "llava-hf" -> LLAVA_HF;
        case "llava" -> LLAVA;
        case "llama" -> LLAMA;
        default -> throw new IllegalArgumentException("--layout must be llava-hf, llava or llama, got " + s);
      };
    }
  }

  static final double STD = 0.02;
  static final int VISION_WIDTH = 1024; // CLIP ViT-L/14's width, the projector's input
  private static final int BLOCK = 1 << 16; // elements per independently seeded block

  private RandomCheckpoint() {}

  /** The tensors of the checkpoint, in the order they are written. {@code biases}: q/k/v biases (Qwen2-style). */
  public static List<ShardedWriter.Entry> entries(DecoderConfig c, Layout layout, DType dtype, boolean biases) {
    return entries(c, layout, dtype, biases, false);
  }

  /**
   * As {@link #entries(DecoderConfig, Layout, DType, boolean)}; {@code tied}: no LM head, the
   * embedding table serves as one ({@code tie_word_embeddings}, as Hugging Face saves such a model).
   */
  public static List<ShardedWriter.Entry> entries(DecoderConfig c, Layout layout, DType dtype, boolean biases,
      boolean tied) {
    NameLayout n = layout.names;
    long D = c.hidden(), F = c.mlp(), kv = c.kvWidth();
    List<ShardedWriter.Entry> out = new ArrayList<>();
    out.add(new ShardedWriter.Entry(n.embed(), dtype, new long[] {c.vocab(), D}));
    for (int l = 0; l < c.layers(); l++) {
      out.add(new ShardedWriter.Entry(n.layer(l, "input_layernorm.weight"), dtype, new long[] {D}));
      out.add(new ShardedWriter.Entry(n.layer(l, "self_attn.q_proj.weight"), dtype, new long[] {D, D}));
      out.add(new ShardedWriter.Entry(n.layer(l, "self_attn.k_proj.weight"), dtype, new long[] {kv, D}));
      out.add(new ShardedWriter.Entry(n.layer(l, "self_attn.v_proj.weight"), dtype, new long[] {kv, D}));
      if (biases) {
        out.add(new ShardedWriter.Entry(n.layer(l, "self_attn.q_proj.bias"), dtype, new long[] {D}));
        out.add(new ShardedWriter.Entry(n.layer(l, "self_attn.k_proj.bias"), dtype, new long[] {kv}));
        out.add(new ShardedWriter.Entry(n.layer(l, "self_attn.v_proj.bias"), dtype, new long[] {kv}));
      }
      out.add(new ShardedWriter.Entry(n.layer(l, "self_attn.o_proj.weight"), dtype, new long[] {D, D}));
      out.add(new ShardedWriter.Entry(n.layer(l, "post_attention_layernorm.weight"), dtype, new long[] {D}));
      out.add(new ShardedWriter.Entry(n.layer(l, "mlp.gate_proj.weight"), dtype, new long[] {F, D}));
      out.add(new ShardedWriter.Entry(n.layer(l, "mlp.up_proj.weight"), dtype, new long[] {F, D}));
      out.add(new ShardedWriter.Entry(n.layer(l, "mlp.down_proj.weight"), dtype, new long[] {D, F}));
    }
    out.add(new ShardedWriter.Entry(n.norm(), dtype, new long[] {D}));
    if (!tied) out.add(new ShardedWriter.Entry(n.lmHead(), dtype, new long[] {c.vocab(), D}));
    if (layout.projector != null) {
      String p = layout.projector;
      out.add(new ShardedWriter.Entry(p + "linear_1.weight", dtype, new long[] {D, VISION_WIDTH}));
      out.add(new ShardedWriter.Entry(p + "linear_1.bias", dtype, new long[] {D}));
      out.add(new ShardedWriter.Entry(p + "linear_2.weight", dtype, new long[] {D, D}));
      out.add(new ShardedWriter.Entry(p + "linear_2.bias", dtype, new long[] {D}));
    }
    return out;
  }

  /** Writes the checkpoint into {@code dir} (new or empty); returns the number of shards. */
  public static int write(Path dir, DecoderConfig c, Layout layout, DType dtype, boolean biases, long seed,
      long maxShardBytes) throws IOException {
    return write(dir, c, layout, dtype, biases, false, seed, maxShardBytes);
  }

  /**
   * As {@link #write(Path, DecoderConfig, Layout, DType, boolean, long, long)}, without an LM head
   * when {@code tied}: a Qwen2 language model is {@code (config, Layout.LLAMA or QWEN2_VL, dtype,
   * true, tie_word_embeddings)}.
   */
  public static int write(Path dir, DecoderConfig c, Layout layout, DType dtype, boolean biases, boolean tied,
      long seed, long maxShardBytes) throws IOException {
    if (dtype != DType.BF16 && dtype != DType.F16 && dtype != DType.F32)
      throw new IllegalArgumentException("--dtype must be bf16, f16 or f32, got " + dtype);
    return write(dir, entries(c, layout, dtype, biases, tied), seed, maxShardBytes,
        "fitprune random-checkpoint (" + c.name() + ", " + layout.name().toLowerCase(Locale.ROOT) + ", seed " + seed + ")");
  }

  /**
   * Writes any list of tensors with seeded random values on the scale above (norm weights, named
   * {@code ...norm.weight}, {@code ...layer_norm1.weight} or the Qwen vision merger's
   * {@code ...ln_q.weight}, around 1); returns the number of shards.
   */
  public static int write(Path dir, List<ShardedWriter.Entry> entries, long seed, long maxShardBytes, String generator)
      throws IOException {
    Map<String, Long> seeds = new HashMap<>();
    for (ShardedWriter.Entry e : entries) seeds.put(e.name(), new SplittableRandom(seed ^ e.name().hashCode() * 0x9E3779B97F4A7C15L).nextLong());
    Map<String, String> meta = Map.of("format", "pt", "generator", generator);
    return ShardedWriter.write(dir, entries, maxShardBytes, meta, (e, at, dst) -> fill(e, seeds.get(e.name()), at, dst));
  }

  /** Fills {@code dst} with the tensor's elements from byte {@code at}; chunks start on block boundaries. */
  private static void fill(ShardedWriter.Entry e, long seed, long at, ByteBuffer dst) {
    int size = e.dtype().bytes();
    long first = at / size;
    if (first % BLOCK != 0) throw new IllegalStateException("chunk not aligned to a block");
    int count = dst.remaining() / size;
    boolean norm = e.name().endsWith("norm.weight") || e.name().matches(".*norm\\d\\.weight")
        || e.name().endsWith("ln_q.weight");
    float mean = norm ? 1f : 0f, a = (float) (STD * Math.sqrt(3)); // uniform [-a, a] has std a / sqrt(3)
    IntStream.range(0, (count + BLOCK - 1) / BLOCK).parallel().forEach(b -> {
      SplittableRandom r = new SplittableRandom(seed + (first / BLOCK + b) * 0x9E3779B97F4A7C15L);
      int from = b * BLOCK, to = Math.min(count, from + BLOCK);
      long bits = 0;
      for (int i = from; i < to; i++) {
        if (((i - from) & 3) == 0) bits = r.nextLong();
        float u = ((bits & 0xffff) + 0.5f) * 0x1p-16f; // 16 random bits: plenty for a random weight
        bits >>>= 16;
        float v = mean + (2 * u - 1) * a;
        switch (e.dtype()) {
          case BF16 -> dst.putShort(i * 2, Bf16.fromFloat(v));
          case F16 -> dst.putShort(i * 2, HalfFloats.toF16(v));
          default -> dst.putFloat(i * 4, v);
        }
      }
    });
  }
}
