package io.fitprune.model;

/**
 * The shape of a LLaMA-family decoder as far as token pruning cares (docs/design.md, "The parts and
 * their words").
 * Construction validates, so a {@code Geometry} in hand is always usable by the FLOPs model and
 * the fitter.
 *
 * @param name          model id; recipes name it, and bundled models are looked up by it
 * @param layers        decoder layers L
 * @param hidden        hidden size D, the residual stream's width; it may differ from the attention
 *                      width {@code heads * headDim} (Gemma-style models)
 * @param heads         query heads H
 * @param kvHeads       key/value heads G (grouped-query attention when G &lt; H)
 * @param headDim       head dimension d
 * @param mlp           SwiGLU intermediate size F
 * @param visualTokens  visual tokens V spliced in by the vision encoder
 * @param prefixTokens  default prompt tokens before the image P (an input, overridable)
 * @param textTokens    default text tokens after the image t, for the full-scope FLOPs count
 */
public record Geometry(String name, int layers, int hidden, int heads, int kvHeads, int headDim, int mlp,
    int visualTokens, int prefixTokens, int textTokens) {

  /** Large enough for any real model, small enough that no cost computation can overflow a double's exact range. */
  static final int MAX_SIZE = 1 << 20;

  public Geometry {
    if (name == null || name.isBlank()) throw new IllegalArgumentException("name must be a non-empty string");
    positive("layers", layers);
    positive("hidden", hidden);
    positive("heads", heads);
    positive("kvHeads", kvHeads);
    positive("headDim", headDim);
    positive("mlp", mlp);
    positive("visualTokens", visualTokens);
    nonNegative("prefixTokens", prefixTokens);
    nonNegative("textTokens", textTokens);
    if (heads % kvHeads != 0)
      throw new IllegalArgumentException("heads (" + heads + ") must be a multiple of kvHeads (" + kvHeads
          + "): each key/value head serves a whole group of query heads");
    if ((long) heads * headDim > MAX_SIZE)
      throw new IllegalArgumentException("heads * headDim (" + heads + " * " + headDim + ") must be at most " + MAX_SIZE);
  }

  private static void positive(String field, int v) {
    if (v <= 0 || v > MAX_SIZE) throw new IllegalArgumentException(field + " must be in [1, " + MAX_SIZE + "], got " + v);
  }

  private static void nonNegative(String field, int v) {
    if (v < 0 || v > MAX_SIZE) throw new IllegalArgumentException(field + " must be in [0, " + MAX_SIZE + "], got " + v);
  }

  /** This geometry with another visual count (a model whose count depends on the image: LLaVA-NeXT, Qwen2-VL). */
  public Geometry withVisualTokens(int visual) {
    return new Geometry(name, layers, hidden, heads, kvHeads, headDim, mlp, visual, prefixTokens, textTokens);
  }

  /** Width of the attention (q and o projections): {@code heads * headDim}, which need not equal {@code hidden}. */
  public int attentionWidth() {
    return heads * headDim;
  }

  /** Query heads sharing one key/value head. */
  public int groupSize() {
    return heads / kvHeads;
  }
}
