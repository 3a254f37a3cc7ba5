package io.fitprune.decoder;

/**
 * Everything the reference decoder needs to know about a LLaMA-family language model: the pruning
 * geometry (layers, widths, heads) plus the vocabulary, the RoPE base and the RMSNorm epsilon.
 *
 * @param name      model id (recipes and reports name it)
 * @param layers    decoder layers L
 * @param hidden    hidden size D (= heads * headDim)
 * @param heads     query heads H
 * @param kvHeads   key/value heads G (H % G == 0)
 * @param headDim   head dimension d (even: RoPE rotates pairs)
 * @param mlp       SwiGLU intermediate size F
 * @param vocab     vocabulary size (rows of the LM head)
 * @param ropeTheta RoPE base (10000 for LLaMA/Vicuna)
 * @param rmsEps    RMSNorm epsilon (1e-5 for LLaMA-2/Vicuna, 1e-6 for LLaMA-1)
 */
public record DecoderConfig(String name, int layers, int hidden, int heads, int kvHeads, int headDim, int mlp,
    int vocab, double ropeTheta, double rmsEps) {

  public DecoderConfig {
    if (name == null || name.isBlank()) throw new IllegalArgumentException("name must be a non-empty string");
    positive("layers", layers);
    positive("hidden", hidden);
    positive("heads", heads);
    positive("kvHeads", kvHeads);
    positive("headDim", headDim);
    positive("mlp", mlp);
    positive("vocab", vocab);
    if (heads % kvHeads != 0)
      throw new IllegalArgumentException("heads (" + heads + ") must be a multiple of kvHeads (" + kvHeads + ")");
    if ((long) heads * headDim != hidden)
      throw new IllegalArgumentException("hidden (" + hidden + ") must equal heads * headDim (" + heads + " * "
          + headDim + ")");
    if (headDim % 2 != 0) throw new IllegalArgumentException("headDim must be even (RoPE rotates pairs), got " + headDim);
    if (!(ropeTheta > 1) || Double.isInfinite(ropeTheta))
      throw new IllegalArgumentException("ropeTheta must be a finite number > 1, got " + ropeTheta);
    if (!(rmsEps > 0) || rmsEps >= 1) throw new IllegalArgumentException("rmsEps must be in (0, 1), got " + rmsEps);
  }

  /** LLaMA defaults for the RoPE base (10000) and RMSNorm epsilon (1e-5). */
  public static DecoderConfig of(String name, int layers, int hidden, int heads, int kvHeads, int mlp, int vocab) {
    if (heads <= 0) throw new IllegalArgumentException("heads must be > 0, got " + heads);
    if (hidden % heads != 0)
      throw new IllegalArgumentException("hidden (" + hidden + ") must be a multiple of heads (" + heads + ")");
    return new DecoderConfig(name, layers, hidden, heads, kvHeads, hidden / heads, mlp, vocab, 10000.0, 1e-5);
  }

  /** The decoder of a pruning geometry, with the vocabulary, RoPE base and RMSNorm epsilon the geometry does not hold. */
  public static DecoderConfig of(io.fitprune.model.Geometry g, int vocab, double ropeTheta, double rmsEps) {
    return new DecoderConfig(g.name(), g.layers(), g.hidden(), g.heads(), g.kvHeads(), g.headDim(), g.mlp(), vocab,
        ropeTheta, rmsEps);
  }

  /** The pruning geometry of this decoder for {@code visual} visual tokens between {@code prefix} and {@code text} tokens. */
  public io.fitprune.model.Geometry geometry(int visual, int prefix, int text) {
    return new io.fitprune.model.Geometry(name, layers, hidden, heads, kvHeads, headDim, mlp, visual, prefix, text);
  }

  /** Width of K (and V) rows: G * d. */
  public int kvWidth() {
    return kvHeads * headDim;
  }

  public DecoderConfig withVocab(int v) {
    return new DecoderConfig(name, layers, hidden, heads, kvHeads, headDim, mlp, v, ropeTheta, rmsEps);
  }

  public DecoderConfig withLayers(int l) {
    return new DecoderConfig(name, l, hidden, heads, kvHeads, headDim, mlp, vocab, ropeTheta, rmsEps);
  }

  private static void positive(String field, int v) {
    if (v <= 0) throw new IllegalArgumentException(field + " must be > 0, got " + v);
  }
}
