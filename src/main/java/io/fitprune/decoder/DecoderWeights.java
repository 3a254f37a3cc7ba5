package io.fitprune.decoder;

import io.fitprune.io.Checkpoint;
import io.fitprune.io.TensorInfo;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The weights of a LLaMA-family decoder as contiguous CPU tensors, in Hugging Face's
 * layouts ({@code nn.Linear} weights are {@code [out, in]}). Either seeded random
 * ({@link #random}) or loaded from a safetensors checkpoint ({@link #load}), single-file or
 * sharded: every projection, the LM head and the embedding table stay in their stored dtype (F32,
 * BF16 or F16), wrapped over the memory-mapped file without a copy. Only the norms' weights (D
 * values each) and q/k/v biases of another dtype than their projection are converted.
 */
public final class DecoderWeights {
  /** One decoder layer. */
  public record Layer(Tensor inputNorm, Tensor q, Tensor k, Tensor v, Tensor o, Tensor postNorm, Tensor gate,
      Tensor up, Tensor down, Tensor qBias, Tensor kBias, Tensor vBias) {
    /** A layer without projection biases (LLaMA). */
    public Layer(Tensor inputNorm, Tensor q, Tensor k, Tensor v, Tensor o, Tensor postNorm, Tensor gate, Tensor up,
        Tensor down) {
      this(inputNorm, q, k, v, o, postNorm, gate, up, down, null, null, null);
    }
  }

  private final DecoderConfig config;
  private final List<Layer> layers;
  private final Tensor finalNorm, lmHead, embed; // embed may be null (then no decoding)
  private final List<Object> keepAlive;           // memory mappings the tensors point into
  private final String source;

  DecoderWeights(DecoderConfig config, List<Layer> layers, Tensor finalNorm, Tensor lmHead, Tensor embed,
      List<Object> keepAlive, String source) {
    this.config = config;
    this.layers = List.copyOf(layers);
    this.finalNorm = finalNorm;
    this.lmHead = lmHead;
    this.embed = embed;
    this.keepAlive = keepAlive;
    this.source = source;
  }

  public DecoderConfig config() {
    return config;
  }

  public Layer layer(int l) {
    return layers.get(l);
  }

  public Tensor finalNorm() {
    return finalNorm;
  }

  public Tensor lmHead() {
    return lmHead;
  }

  /** The token embedding table {@code [vocab, D]}, or null when the checkpoint has none. */
  public Tensor embed() {
    return embed;
  }

  /** Where the weights came from ("random seed 1" or the checkpoint path). */
  public String source() {
    return source;
  }

  // ---------------------------------------------------------------- random

  /**
   * Seeded random weights: projections uniform with standard deviation {@code 1/sqrt(in)} (the
   * output and down projections also scaled by {@code 1/sqrt(2L)} so the residual stream stays
   * well conditioned), norms 1, embeddings with standard deviation 1. Same seed, same weights.
   */
  public static DecoderWeights random(DecoderConfig c, long seed) {
    int D = c.hidden(), F = c.mlp(), kv = c.kvWidth();
    double res = 1.0 / Math.sqrt(2.0 * c.layers());
    SplittableRandom root = new SplittableRandom(seed);
    List<Layer> layers = new ArrayList<>();
    for (int l = 0; l < c.layers(); l++) {
      layers.add(new Layer(ones(D), uniform(root.nextLong(), 1 / Math.sqrt(D), D, D),
          uniform(root.nextLong(), 1 / Math.sqrt(D), kv, D), uniform(root.nextLong(), 1 / Math.sqrt(D), kv, D),
          uniform(root.nextLong(), res / Math.sqrt(D), D, D), ones(D), uniform(root.nextLong(), 1 / Math.sqrt(D), F, D),
          uniform(root.nextLong(), 1 / Math.sqrt(D), F, D), uniform(root.nextLong(), res / Math.sqrt(F), D, F)));
    }
    Tensor lm = uniform(root.nextLong(), 1 / Math.sqrt(D), c.vocab(), D);
    Tensor emb = uniform(root.nextLong(), 1.0, c.vocab(), D);
    return new DecoderWeights(c, layers, ones(D), lm, emb, List.of(), "random seed " + seed);
  }

  /**
   * A copy with the projections, biases, LM head and embedding table converted to {@code type}
   * (norms stay float32): e.g. the bf16 twin of random weights, to compare precisions on the same
   * values. New memory: loading never does this.
   */
  public DecoderWeights converted(torch.ScalarType type) {
    List<Layer> out = new ArrayList<>();
    for (Layer l : layers)
      out.add(new Layer(l.inputNorm(), conv(l.q(), type), conv(l.k(), type), conv(l.v(), type), conv(l.o(), type),
          l.postNorm(), conv(l.gate(), type), conv(l.up(), type), conv(l.down(), type), conv(l.qBias(), type),
          conv(l.kBias(), type), conv(l.vBias(), type)));
    return new DecoderWeights(config, out, finalNorm, conv(lmHead, type), conv(embed, type), keepAlive,
        source + " as " + type);
  }

  /**
   * A copy of every matrix (projections, biases, LM head, embeddings) in the process's own memory,
   * in its stored type. A decode step reads every weight once per token, and on some machines the
   * pages of a memory-mapped file stream markedly slower than anonymous memory: on the 2-core
   * development VM a 7B BF16 decode step took about 0.29 s with the weights in memory against about
   * 0.5 s from the mapped checkpoint. The copy costs the weights' size in memory; the mapped pages
   * are clean page cache that the kernel reclaims under pressure, and the mappings are released
   * once nothing references the original weights.
   */
  public DecoderWeights inMemory() {
    List<Layer> out = new ArrayList<>();
    for (Layer l : layers)
      out.add(new Layer(l.inputNorm(), copy(l.q()), copy(l.k()), copy(l.v()), copy(l.o()), l.postNorm(), copy(l.gate()),
          copy(l.up()), copy(l.down()), copy(l.qBias()), copy(l.kBias()), copy(l.vBias())));
    return new DecoderWeights(config, out, copy(finalNorm), copy(lmHead), copy(embed), List.of(), source + ", in memory");
  }

  private static Tensor copy(Tensor t) {
    return t == null ? null : t.clone();
  }

  private static Tensor conv(Tensor t, torch.ScalarType type) {
    return t == null ? null : t.to(type).contiguous();
  }

  /**
   * The same weights with seeded random q/k/v biases (standard deviation {@code std}) added to
   * every layer, as Qwen2-family models have them.
   */
  public DecoderWeights withRandomBiases(long seed, double std) {
    SplittableRandom r = new SplittableRandom(seed);
    List<Layer> out = new ArrayList<>();
    for (Layer l : layers)
      out.add(new Layer(l.inputNorm(), l.q(), l.k(), l.v(), l.o(), l.postNorm(), l.gate(), l.up(), l.down(),
          uniform(r.nextLong(), std, config.hidden()), uniform(r.nextLong(), std, config.kvWidth()),
          uniform(r.nextLong(), std, config.kvWidth())));
    return new DecoderWeights(config, out, finalNorm, lmHead, embed, keepAlive, source + " with q/k/v biases");
  }

  static Tensor ones(long n) {
    Tensor t = torch.empty(n);
    t.fill_(new org.bytedeco.pytorch.Scalar(1.0f));
    return t;
  }

  /** A new tensor, uniform in [-a, a] with a = std*sqrt(3), filled in parallel but deterministically. */
  public static Tensor uniform(long seed, double std, long... shape) {
    Tensor t = torch.empty(shape);
    long n = t.numel();
    FloatBuffer b = t.data_ptr_float().capacity(n).asBuffer();
    float a = (float) (std * Math.sqrt(3));
    final int chunk = 1 << 16;
    int chunks = (int) ((n + chunk - 1) / chunk);
    IntStream.range(0, chunks).parallel().forEach(ci -> {
      SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + ci);
      int from = ci * chunk, to = (int) Math.min(n, (long) from + chunk);
      for (int i = from; i < to; i++) b.put(i, (float) ((2 * r.nextDouble() - 1) * a));
    });
    return t;
  }

  // ---------------------------------------------------------------- checkpoints

  /** Hugging Face names of one layer's tensors in the plain LLaMA layout. */
  public static String layerName(int l, String part) {
    return "model.layers." + l + "." + part + ".weight";
  }

  /**
   * Loads a Hugging Face LLaMA-family checkpoint and checks every tensor's presence, dtype and
   * shape against {@code config} (the LM head must have {@code config.vocab()} rows;
   * {@link #load(Path, DecoderConfig, String, boolean)} can take the vocabulary from the checkpoint
   * instead). {@code path} is a safetensors file, a {@code model.safetensors.index.json} or the
   * directory holding it. {@code prefix} null detects the name layout ({@link NameLayout});
   * otherwise names are {@code prefix + "model.layers.{i}..."} and {@code prefix + "lm_head.weight"}.
   * The embedding table is optional: only decoding needs it.
   */
  public static DecoderWeights load(Path path, DecoderConfig config, String prefix) throws IOException {
    return load(path, config, prefix, false);
  }

  /** As {@link #load(Path, DecoderConfig, String)}; with {@code inferVocab} the vocabulary comes from the LM head. */
  public static DecoderWeights load(Path path, DecoderConfig config, String prefix, boolean inferVocab)
      throws IOException {
    return load(path, config, prefix, inferVocab, false);
  }

  /**
   * As {@link #load(Path, DecoderConfig, String, boolean)}; with {@code tiedEmbeddings} (a config's
   * {@code tie_word_embeddings}, as Qwen2-VL-2B has) the LM head is the embedding table, which must
   * be there, and an {@code lm_head.weight} in the checkpoint is ignored, as transformers ties it.
   */
  public static DecoderWeights load(Path path, DecoderConfig config, String prefix, boolean inferVocab,
      boolean tiedEmbeddings) throws IOException {
    if (path == null) throw new IllegalArgumentException("weights: no file given");
    try (Checkpoint ck = Checkpoint.open(path)) {
      NameLayout names = prefix == null ? NameLayout.detect(ck.tensors().keySet(), ck.path()) : NameLayout.ofPrefix(prefix);
      String head = tiedEmbeddings ? names.embed() : names.lmHead();
      TensorInfo lmInfo = ck.tensors().get(head);
      if (lmInfo == null) throw new IllegalArgumentException("weights: " + ck.path() + " has no tensor '" + head + "'"
          + (tiedEmbeddings ? " (tie_word_embeddings: the LM head is the embedding table)" : "")
          + (prefix == null ? "" : hint(ck, prefix)));
      DecoderConfig c = inferVocab ? config.withVocab(Math.toIntExact(lmInfo.shape().length == 2 ? lmInfo.shape()[0] : 1)) : config;
      String extra = names.layer(c.layers(), "self_attn.q_proj.weight");
      if (ck.tensors().containsKey(extra))
        throw new IllegalArgumentException("weights: " + ck.path() + " has more layers than the model's " + c.layers()
            + " (found '" + extra + "'): wrong --model?");
      CheckpointTensors ld = new CheckpointTensors(ck);
      int D = c.hidden(), F = c.mlp(), kv = c.kvWidth();
      List<Layer> layers = new ArrayList<>();
      for (int l = 0; l < c.layers(); l++) {
        Tensor q = ld.weight(names.layer(l, "self_attn.q_proj.weight"), D, D);
        Tensor k = ld.weight(names.layer(l, "self_attn.k_proj.weight"), kv, D);
        Tensor v = ld.weight(names.layer(l, "self_attn.v_proj.weight"), kv, D);
        layers.add(new Layer(ld.norm(names.layer(l, "input_layernorm.weight"), D), q, k, v,
            ld.weight(names.layer(l, "self_attn.o_proj.weight"), D, D), ld.norm(names.layer(l, "post_attention_layernorm.weight"), D),
            ld.weight(names.layer(l, "mlp.gate_proj.weight"), F, D), ld.weight(names.layer(l, "mlp.up_proj.weight"), F, D),
            ld.weight(names.layer(l, "mlp.down_proj.weight"), D, F), ld.bias(names.layer(l, "self_attn.q_proj.bias"), q, D),
            ld.bias(names.layer(l, "self_attn.k_proj.bias"), k, kv), ld.bias(names.layer(l, "self_attn.v_proj.bias"), v, kv)));
      }
      Tensor norm = ld.norm(names.norm(), D);
      Tensor lm = tiedEmbeddings ? null : ld.weight(names.lmHead(), c.vocab(), D);
      Tensor emb = ck.tensors().containsKey(names.embed()) ? ld.weight(names.embed(), c.vocab(), D) : null;
      if (tiedEmbeddings) lm = emb;
      for (String name : ck.tensors().keySet()) {
        if (tiedEmbeddings && name.equals(names.lmHead())) continue; // replaced by the embedding table
        if (names.inside(name) && !ld.used(name) && !name.endsWith(".rotary_emb.inv_freq"))
          throw new IllegalArgumentException("weights: tensor '" + name + "' in " + ck.fileOf(name)
              + " belongs to the language model but this decoder has no use for it");
      }
      return new DecoderWeights(c, layers, norm, lm, emb, ld.keepAlive(), ck.path().toString());
    }
  }

  private static String hint(Checkpoint ck, String prefix) {
    try {
      NameLayout found = NameLayout.detect(ck.tensors().keySet(), ck.path());
      String base = found.base();
      if (base.equals(prefix + "model.")) return "";
      if (!base.equals("model.") && !base.endsWith(".model."))
        return " (its decoder is under '" + base + "': give no name prefix to detect its layout)";
      String actual = base.substring(0, base.length() - "model.".length());
      return actual.isEmpty() ? " (its tensors have no name prefix: set an empty one)"
          : " (its tensors start with '" + actual + "': set that name prefix, or none to detect the layout)";
    } catch (IllegalArgumentException e) {
      // no recognisable layout: nothing to suggest
    }
    return "";
  }

  /**
   * Writes the weights (converted to float32) as an F32 safetensors checkpoint with Hugging Face names, each preceded by
   * {@code prefix} (atomically). {@link #load} reads it back.
   */
  public void save(Path file, String prefix) throws IOException {
    String p = prefix == null ? "" : prefix;
    io.fitprune.io.SafetensorsWriter sw = new io.fitprune.io.SafetensorsWriter();
    String[] parts = {"input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
        "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
    for (int l = 0; l < layers.size(); l++) {
      Layer lw = layers.get(l);
      Tensor[] ts = {lw.inputNorm(), lw.q(), lw.k(), lw.v(), lw.o(), lw.postNorm(), lw.gate(), lw.up(), lw.down()};
      for (int i = 0; i < ts.length; i++) put(sw, p + layerName(l, parts[i]), ts[i]);
      Tensor[] biases = {lw.qBias(), lw.kBias(), lw.vBias()};
      for (int i = 0; i < 3; i++)
        if (biases[i] != null) put(sw, p + "model.layers." + l + "." + parts[1 + i] + ".bias", biases[i]);
    }
    put(sw, p + "model.norm.weight", finalNorm);
    put(sw, p + "lm_head.weight", lmHead);
    if (embed != null) put(sw, p + "model.embed_tokens.weight", embed);
    sw.metadata("format", "pt");
    sw.metadata("generator", "fitprune " + source);
    sw.write(file);
  }

  private static void put(io.fitprune.io.SafetensorsWriter sw, String name, Tensor t) {
    long[] shape = new long[(int) t.dim()];
    for (int i = 0; i < shape.length; i++) shape[i] = t.size(i);
    try (Tensor ct = t.to(torch.ScalarType.Float).contiguous()) {
      sw.putFloats(name, ct.data_ptr_float().capacity(ct.numel()).asBuffer(), shape);
    }
  }

  /** Memory the tensors point into (mapped files); kept reachable for the weights' lifetime. */
  List<Object> keepAlive() {
    return keepAlive;
  }
}
