package io.fitprune.stats;

/**
 * Per-token attention scores from one unpruned pass over S calibration samples
 * (docs/design.md, "The parts and their words"): {@code self[s,l,j]} and {@code cross[s,l,j]} for sample s, layer l, visual token j,
 * stored flat in row-major order. Arrays are shared, not copied: callers must not modify them.
 */
public final class AttentionStats {
  private final int samples, layers, tokens;
  private final float[] self, cross;

  public AttentionStats(int samples, int layers, int tokens, float[] self, float[] cross) {
    if (samples <= 0 || layers <= 0 || tokens <= 0)
      throw new IllegalArgumentException("statistics need at least one sample, layer and token, got S=" + samples
          + " L=" + layers + " V=" + tokens);
    long n = (long) samples * layers * tokens;
    if (self.length != n || cross.length != n)
      throw new IllegalArgumentException("statistics arrays must hold S*L*V = " + n + " values, got self="
          + self.length + " cross=" + cross.length);
    this.samples = samples;
    this.layers = layers;
    this.tokens = tokens;
    this.self = self;
    this.cross = cross;
  }

  public int samples() {
    return samples;
  }

  public int layers() {
    return layers;
  }

  public int tokens() {
    return tokens;
  }

  /** Flat {@code [S,L,V]} self scores. */
  public float[] self() {
    return self;
  }

  /** Flat {@code [S,L,V]} cross scores. */
  public float[] cross() {
    return cross;
  }

  /** Offset of row (s, l) in the flat arrays. */
  public int offset(int sample, int layer) {
    return (sample * layers + layer) * tokens;
  }

  /** W_self for (s, l): the total self mass over all V tokens in the unpruned pass. */
  public double selfMass(int sample, int layer) {
    return sum(self, offset(sample, layer), tokens);
  }

  /** W_cross for (s, l). */
  public double crossMass(int sample, int layer) {
    return sum(cross, offset(sample, layer), tokens);
  }

  private static double sum(float[] a, int from, int n) {
    double s = 0;
    for (int i = from; i < from + n; i++) s += a[i];
    return s;
  }
}
