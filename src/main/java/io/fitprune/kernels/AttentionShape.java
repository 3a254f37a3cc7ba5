package io.fitprune.kernels;

/**
 * The geometry of one attention call: {@code tokens} rows, {@code heads} query heads sharing
 * {@code kvHeads} key/value heads (GQA), head dimension {@code headDim}. Layouts are token-major:
 * q {@code [n,H,d]}, k and v {@code [n,G,d]}, output {@code [n,H,d]}, LSE {@code [H,n]}.
 */
public record AttentionShape(long tokens, int heads, int kvHeads, int headDim) {
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
    length("q length n*H*d", tokens, heads, headDim); // every length below fits in a long
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
