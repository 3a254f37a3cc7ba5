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
    requireSignal("self", self, layers, tokens);
    requireSignal("cross", cross, layers, tokens);
    this.samples = samples;
    this.layers = layers;
    this.tokens = tokens;
    this.self = self;
    this.cross = cross;
  }

  /**
   * Scores must be finite and non-negative (they are attention probabilities), and every (sample,
   * layer) row must carry some mass: a row summing to zero has no signal to rank tokens by, and
   * the recipe search would drop every visual token at that layer (cross is all zero, for
   * example, when the calibration samples have no text after the image).
   */
  private static void requireSignal(String name, float[] a, int layers, int tokens) {
    for (int row = 0; row * tokens < a.length; row++) {
      double sum = 0;
      for (int j = 0; j < tokens; j++) {
        float x = a[row * tokens + j];
        if (!(x >= 0 && x < Float.POSITIVE_INFINITY)) { // one comparison: NaN, infinities, negatives
          String what = Float.isNaN(x) ? "NaN" : Float.isInfinite(x) ? "an infinite value" : "a negative value (" + x + ")";
          throw new IllegalArgumentException("tensor '" + name + "' has " + what + " at [sample " + row / layers
              + ", layer " + row % layers + ", token " + j + "]; attention scores must be finite and non-negative");
        }
        sum += x;
      }
      if (sum == 0)
        throw new IllegalArgumentException("tensor '" + name + "' of sample " + row / layers + ", layer "
            + row % layers + " sum to 0: no attention signal to fit a recipe from"
            + (name.equals("cross") ? " (do the calibration samples have text tokens after the visual span?)" : ""));
    }
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
