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

  void requireWithin(long n) {
    if (prefix + visual > n)
      throw new IllegalArgumentException("spans: prefix + visual (P=" + prefix + " + V=" + visual + " = "
          + (prefix + visual) + ") must be <= n (" + n + ")");
  }
}
