package io.fitprune.decoder;

import io.fitprune.model.Geometry;
import java.util.List;

/**
 * Everything the reference decoder needs to know about a LLaMA-family language model: its pruning
 * geometry (layers, widths, heads, and the token counts recipes are fitted for) plus what the
 * geometry does not hold: the vocabulary, the RoPE base, the RMSNorm epsilon and, for Qwen2-VL's
 * multimodal RoPE, how the rotary frequencies are split between the temporal, height and width
 * position ids (docs/design.md, "M-RoPE and 3-D positions under pruning").
 *
 * @param geometry     the model's shape (validated by {@link Geometry} itself)
 * @param vocab        vocabulary size (rows of the LM head)
 * @param ropeTheta    RoPE base (10000 for LLaMA/Vicuna)
 * @param rmsEps       RMSNorm epsilon (1e-5 for LLaMA-2/Vicuna, 1e-6 for LLaMA-1)
 * @param mropeSection empty: 1-D RoPE; else 3 counts (t, h, w) of rotary frequencies summing to
 *                     {@code headDim / 2}, as {@code rope_scaling.mrope_section} ([16, 24, 24] for
 *                     Qwen2-VL-7B): frequency j takes its angle from the component whose section holds j
 */
public record DecoderConfig(Geometry geometry, int vocab, double ropeTheta, double rmsEps, List<Integer> mropeSection) {

  /** A decoder with 1-D RoPE. */
  public DecoderConfig(Geometry geometry, int vocab, double ropeTheta, double rmsEps) {
    this(geometry, vocab, ropeTheta, rmsEps, List.of());
  }

  public DecoderConfig {
    if (geometry == null) throw new IllegalArgumentException("geometry is null");
    if (vocab <= 0) throw new IllegalArgumentException("vocab must be > 0, got " + vocab);
    if (geometry.attentionWidth() != geometry.hidden())
      throw new IllegalArgumentException("the reference decoder needs hidden == heads * headDim, got hidden "
          + geometry.hidden() + " and " + geometry.heads() + " * " + geometry.headDim() + " = " + geometry.attentionWidth());
    if (geometry.headDim() % 2 != 0)
      throw new IllegalArgumentException("headDim must be even (RoPE rotates pairs), got " + geometry.headDim());
    if (!(ropeTheta > 1) || Double.isInfinite(ropeTheta))
      throw new IllegalArgumentException("ropeTheta must be a finite number > 1, got " + ropeTheta);
    if (!(rmsEps > 0) || rmsEps >= 1) throw new IllegalArgumentException("rmsEps must be in (0, 1), got " + rmsEps);
    if (mropeSection != null && mropeSection.stream().anyMatch(java.util.Objects::isNull))
      throw new IllegalArgumentException("mropeSection holds null: " + mropeSection);
    mropeSection = mropeSection == null ? List.of() : List.copyOf(mropeSection);
    if (!mropeSection.isEmpty()) {
      long sum = 0;
      boolean negative = false;
      for (int s : mropeSection) {
        sum += s;
        negative |= s < 0;
      }
      if (mropeSection.size() != 3 || negative || sum != geometry.headDim() / 2)
        throw new IllegalArgumentException("mropeSection must be 3 counts >= 0 (t, h, w) summing to headDim / 2 = "
            + geometry.headDim() / 2 + ", got " + mropeSection);
    }
  }

  /** The decoder of a pruning geometry, with the vocabulary, RoPE base and RMSNorm epsilon the geometry does not hold. */
  public static DecoderConfig of(Geometry g, int vocab, double ropeTheta, double rmsEps) {
    return new DecoderConfig(g, vocab, ropeTheta, rmsEps);
  }

  /** A decoder with M-RoPE split by {@code mropeSection} (t, h, w); empty or null: 1-D RoPE. */
  public static DecoderConfig of(Geometry g, int vocab, double ropeTheta, double rmsEps, List<Integer> mropeSection) {
    return new DecoderConfig(g, vocab, ropeTheta, rmsEps, mropeSection);
  }

  /** Whether rotary positions have 3 components (M-RoPE) rather than 1. */
  public boolean mrope() {
    return !mropeSection.isEmpty();
  }

  /** Position-id components a row takes: 3 with M-RoPE, else 1. */
  public int positionComponents() {
    return mrope() ? 3 : 1;
  }

  public String name() {
    return geometry.name();
  }

  public int layers() {
    return geometry.layers();
  }

  public int hidden() {
    return geometry.hidden();
  }

  public int heads() {
    return geometry.heads();
  }

  public int kvHeads() {
    return geometry.kvHeads();
  }

  public int headDim() {
    return geometry.headDim();
  }

  /**
   * The attention logits' scale: {@code 1/sqrt(headDim)}, as LLaMA's {@code self_attn.scaling =
   * head_dim**-0.5} (the kernels' default, {@link io.fitprune.kernels.AttentionShape#defaultScale}).
   * Every attention and score call of the decoder, prefill and decode, takes its shape's scale
   * from here. An engine running a model that scales otherwise (Gemma-2's
   * {@code query_pre_attn_scalar^-0.5}) calls {@link io.fitprune.kernels.Kernels} with its shapes
   * {@code withSoftmaxScale(s)}; this decoder implements the LLaMA family only.
   */
  public float softmaxScale() {
    return io.fitprune.kernels.AttentionShape.defaultScale(headDim());
  }

  public int mlp() {
    return geometry.mlp();
  }

  /** The pruning geometry of this decoder for {@code visual} visual tokens between {@code prefix} and {@code text} tokens. */
  public Geometry geometry(int visual, int prefix, int text) {
    Geometry g = geometry;
    return new Geometry(g.name(), g.layers(), g.hidden(), g.heads(), g.kvHeads(), g.headDim(), g.mlp(), visual, prefix,
        text);
  }

  /** Width of K (and V) rows: G * d. */
  public int kvWidth() {
    return kvHeads() * headDim();
  }

  public DecoderConfig withVocab(int v) {
    return new DecoderConfig(geometry, v, ropeTheta, rmsEps, mropeSection);
  }

  public DecoderConfig withLayers(int l) {
    Geometry g = geometry;
    return new DecoderConfig(new Geometry(g.name(), l, g.hidden(), g.heads(), g.kvHeads(), g.headDim(), g.mlp(),
        g.visualTokens(), g.prefixTokens(), g.textTokens()), vocab, ropeTheta, rmsEps, mropeSection);
  }
}
