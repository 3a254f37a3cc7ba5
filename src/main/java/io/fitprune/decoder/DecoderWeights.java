package io.fitprune.decoder;

import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The weights of a LLaMA-family decoder as contiguous float32 CPU tensors, in Hugging Face's
 * layouts ({@code nn.Linear} weights are {@code [out, in]}). Either seeded random
 * ({@link #random}) or loaded from a safetensors checkpoint ({@link #load}): F32 tensors are
 * memory-mapped and wrapped without a copy; BF16 and F16 tensors are converted to float32 on load.
 */
public final class DecoderWeights {
  /** One decoder layer. */
  public record Layer(Tensor inputNorm, Tensor q, Tensor k, Tensor v, Tensor o, Tensor postNorm, Tensor gate,
      Tensor up, Tensor down) {}

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

  /** Hugging Face names of one layer's tensors, without the prefix. */
  public static String layerName(int l, String part) {
    return "model.layers." + l + "." + part + ".weight";
  }

  /**
   * Loads a Hugging Face LLaMA checkpoint ({@code model.layers.{i}.self_attn.q_proj.weight} and so
   * on, each name preceded by {@code prefix}, e.g. {@code "language_model."} for LLaVA) and checks
   * every tensor's presence, dtype and shape against {@code config} (the LM head must have
   * {@code config.vocab()} rows; {@link #load(Path, DecoderConfig, String, boolean)} can take the
   * vocabulary from the checkpoint instead). The embedding table is optional: only decoding needs it.
   */
  public static DecoderWeights load(Path file, DecoderConfig config, String prefix) throws IOException {
    return load(file, config, prefix, false);
  }

  /** As {@link #load(Path, DecoderConfig, String)}; with {@code inferVocab} the vocabulary comes from the LM head. */
  public static DecoderWeights load(Path file, DecoderConfig config, String prefix, boolean inferVocab)
      throws IOException {
    if (file == null) throw new IllegalArgumentException("weights: no file given");
    if (prefix == null) prefix = "";
    try (SafetensorsFile f = SafetensorsFile.open(file)) {
      List<Object> keep = new ArrayList<>();
      int D = config.hidden(), F = config.mlp(), kv = config.kvWidth();
      String lmName = prefix + "lm_head.weight";
      TensorInfo lmInfo = f.tensors().get(lmName);
      if (lmInfo == null) throw new IllegalArgumentException("weights: " + file + " has no tensor '" + lmName + "'"
          + hint(f, prefix));
      DecoderConfig c = inferVocab ? config.withVocab(Math.toIntExact(lmInfo.shape().length == 2 ? lmInfo.shape()[0] : 1)) : config;
      Loader ld = new Loader(f, prefix, keep);
      List<Layer> layers = new ArrayList<>();
      for (int l = 0; l < c.layers(); l++) {
        layers.add(new Layer(ld.get(layerName(l, "input_layernorm"), D), ld.get(layerName(l, "self_attn.q_proj"), D, D),
            ld.get(layerName(l, "self_attn.k_proj"), kv, D), ld.get(layerName(l, "self_attn.v_proj"), kv, D),
            ld.get(layerName(l, "self_attn.o_proj"), D, D), ld.get(layerName(l, "post_attention_layernorm"), D),
            ld.get(layerName(l, "mlp.gate_proj"), F, D), ld.get(layerName(l, "mlp.up_proj"), F, D),
            ld.get(layerName(l, "mlp.down_proj"), D, F)));
      }
      String extra = prefix + layerName(c.layers(), "self_attn.q_proj");
      if (f.tensors().containsKey(extra))
        throw new IllegalArgumentException("weights: " + file + " has more layers than the model's " + c.layers()
            + " (found '" + extra + "'): wrong --model?");
      Tensor norm = ld.get("model.norm.weight", D);
      Tensor lm = ld.get("lm_head.weight", c.vocab(), D);
      Tensor emb = f.tensors().containsKey(prefix + "model.embed_tokens.weight")
          ? ld.get("model.embed_tokens.weight", c.vocab(), D) : null;
      return new DecoderWeights(c, layers, norm, lm, emb, keep, file.toString());
    }
  }

  private static String hint(SafetensorsFile f, String prefix) {
    for (String name : f.tensors().keySet()) {
      int i = name.indexOf("model.layers.");
      if (i < 0) continue;
      String actual = name.substring(0, i);
      if (actual.equals(prefix)) continue;
      return actual.isEmpty() ? " (its tensors have no name prefix: set an empty one)"
          : " (its tensors start with '" + actual + "': set that name prefix)";
    }
    return "";
  }

  private static final class Loader {
    final SafetensorsFile f;
    final String prefix;
    final List<Object> keep;

    Loader(SafetensorsFile f, String prefix, List<Object> keep) {
      this.f = f;
      this.prefix = prefix;
      this.keep = keep;
    }

    Tensor get(String shortName, long... shape) throws IOException {
      String name = prefix + shortName;
      TensorInfo t = f.tensors().get(name);
      if (t == null) throw new IllegalArgumentException("weights: " + f.path() + " has no tensor '" + name + "'");
      if (!java.util.Arrays.equals(t.shape(), shape))
        throw new IllegalArgumentException("weights: tensor '" + name + "' must have shape "
            + java.util.Arrays.toString(shape) + " for this model, got " + t.shapeString());
      switch (t.dtype()) {
        case F32 -> {
          FloatBuffer fb = f.floats(name); // memory-mapped: zero-copy
          keep.add(fb);
          return torch.from_blob(new FloatPointer(fb), shape);
        }
        case BF16, F16 -> {
          ByteBuffer bb = f.bytes(name);
          ShortBuffer sb = bb.asShortBuffer();
          Tensor out = torch.empty(shape);
          long n = out.numel();
          FloatBuffer dst = out.data_ptr_float().capacity(n).asBuffer();
          boolean bf = t.dtype() == DType.BF16;
          IntStream.range(0, (int) ((n + 65535) >> 16)).parallel().forEach(ci -> {
            int from = ci << 16, to = (int) Math.min(n, (long) from + 65536);
            for (int i = from; i < to; i++) {
              short s = sb.get(i);
              dst.put(i, bf ? Float.intBitsToFloat((s & 0xffff) << 16) : halfToFloat(s));
            }
          });
          return out;
        }
        default -> throw new IllegalArgumentException("weights: tensor '" + name + "' must be F32, BF16 or F16, got "
            + t.dtype());
      }
    }
  }

  /** IEEE 754 binary16 to float. */
  static float halfToFloat(short h) {
    int bits = h & 0xffff, sign = (bits & 0x8000) << 16, exp = (bits >> 10) & 0x1f, mant = bits & 0x3ff;
    if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    if (exp == 0) {
      if (mant == 0) return Float.intBitsToFloat(sign);
      float v = mant * 0x1p-24f;
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }

  /**
   * Writes the weights as an F32 safetensors checkpoint with Hugging Face names, each preceded by
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
    Tensor ct = t.contiguous();
    sw.putFloats(name, ct.data_ptr_float().capacity(ct.numel()).asBuffer(), shape);
  }

  /** Memory the tensors point into (mapped files); kept reachable for the weights' lifetime. */
  List<Object> keepAlive() {
    return keepAlive;
  }
}
