package io.fitprune.kernels;

/**
 * The geometry of one attention call: {@code tokens} rows, {@code heads} query heads sharing
 * {@code kvHeads} key/value heads (GQA), head dimension {@code headDim}. Layouts are token-major:
 * q {@code [n,H,d]}, k and v {@code [n,G,d]}, output {@code [n,H,d]}, LSE {@code [H,n]}.
 *
 * <p>Logits are {@code q.k * softmaxScale}. The four-argument constructor takes the usual
 * {@code 1/sqrt(d)} ({@link #defaultScale}); a model that scales otherwise (Gemma's
 * {@code query_pre_attn_scalar^-0.5}, a checkpoint's own {@code scaling}) passes its scale with
 * {@link #withSoftmaxScale}. The score pass recomputes {@code exp(scale * q.k - lse)}, so it must
 * be given the shape (the scale) of the attention call whose LSE it reads.
 */
public record AttentionShape(long tokens, int heads, int kvHeads, int headDim, float softmaxScale) {
  public static final int MAX_HEAD_DIM = 1024;

  public AttentionShape {
    if (tokens < 0 || tokens > Integer.MAX_VALUE)
      throw new IllegalArgumentException("tokens (n) must be in [0, 2^31), got " + tokens);
    if (heads <= 0) throw new IllegalArgumentException("heads (H) must be > 0, got " + heads);
    if (kvHeads <= 0) throw new IllegalArgumentException("kvHeads (G) must be > 0, got " + kvHeads);
    if (heads % kvHeads != 0)
      throw new IllegalArgumentException("heads (H=" + heads + ") must be a multiple of kvHeads (G=" + kvHeads + ")");
    if (headDim <= 0 || headDim > MAX_HEAD_DIM)
      throw new IllegalArgumentException("headDim (d) must be in [1, " + MAX_HEAD_DIM + "], got " + headDim);
    requireScale(softmaxScale);
    length("q length n*H*d", tokens, heads, headDim); // every length below fits in a long
  }

  /** The shape with the default scale {@code 1/sqrt(headDim)}. */
  public AttentionShape(long tokens, int heads, int kvHeads, int headDim) {
    this(tokens, heads, kvHeads, headDim, defaultScale(headDim));
  }

  /**
   * {@code 1/sqrt(d)} in float, {@code 1f / (float) Math.sqrt(d)}, as the native kernels compute it:
   * this exact float gives the bits the kernels gave before the scale was an argument (another
   * rounding of {@code d^-0.5}, one ulp away, is used as given).
   */
  public static float defaultScale(int headDim) {
    return headDim > 0 ? 1f / (float) Math.sqrt(headDim) : 1f;
  }

  /** This shape with another softmax scale (finite, > 0). */
  public AttentionShape withSoftmaxScale(float scale) {
    return new AttentionShape(tokens, heads, kvHeads, headDim, scale);
  }

  /** The one check of a softmax scale (BatchShape's too, through its packed shape): finite and > 0. */
  private static void requireScale(float softmaxScale) {
    if (!(softmaxScale > 0) || Float.isInfinite(softmaxScale))
      throw new IllegalArgumentException("softmaxScale must be finite and > 0, got " + softmaxScale);
  }

  long[] qDims() {
    return new long[] {tokens, heads, headDim};
  }

  long[] kvDims() {
    return new long[] {tokens, kvHeads, headDim};
  }

  long[] lseDims() {
    return new long[] {heads, tokens};
  }

  public long qLength() {
    return length("q length n*H*d", tokens, heads, headDim);
  }

  public long kvLength() {
    return length("kv length n*G*d", tokens, kvHeads, headDim);
  }

  public long lseLength() {
    return length("lse length H*n", heads, tokens, 1);
  }

  private static long length(String what, long a, long b, long c) {
    return Lengths.product("shape: " + what, a, b, c);
  }
}
