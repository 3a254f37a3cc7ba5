package io.fitprune.kernels;

/**
 * Where the visual tokens sit in a sequence: rows {@code [prefix, prefix+visual)}; rows before
 * are the prefix (system prompt), rows after are text.
 */
public record Spans(long prefix, long visual) {
  public Spans {
    if (prefix < 0) throw new IllegalArgumentException("prefix (P) must be >= 0, got " + prefix);
    if (visual < 0) throw new IllegalArgumentException("visual (V) must be >= 0, got " + visual);
  }

  /** Text rows after the visual span in a sequence of n tokens. */
  public long text(long n) {
    return n - prefix - visual;
  }

  /** Checks P + V <= n, each term against n before the sum (no overflow can pass it). */
  public void requireWithin(long n) {
    if (prefix > n || visual > n || prefix > n - visual)
      throw new IllegalArgumentException("spans: prefix + visual (P=" + prefix + " + V=" + visual
          + ") must be <= n (" + n + ")");
  }

  /** The arguments of every select entry point (CPU and CUDA): n, the spans within n, and drop. */
  void requireSelect(long n, long drop) {
    if (n < 0 || n > Integer.MAX_VALUE) throw new IllegalArgumentException("n must be in [0, 2^31), got " + n);
    requireWithin(n);
    if (drop < 0 || drop > visual)
      throw new IllegalArgumentException("drop (k) must be in [0, V=" + visual + "], got " + drop);
  }
}
