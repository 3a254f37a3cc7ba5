package io.fitprune.stats;

/**
 * Per-token attention scores from one unpruned pass over S calibration samples
 * (docs/design.md, "The parts and their words"): {@code self[s,l,j]} and {@code cross[s,l,j]} for sample s, layer l, visual token j,
 * stored flat in row-major order. Arrays are shared, not copied: callers must not modify them.
 *
 * <p>Samples may have different visual counts (images of different sizes; docs/design.md,
 * "Calibrating on mixed visual counts"): then sample s has {@link #visual}(s) tokens, stored in
 * the first {@code visual(s)} entries of each of its rows of width {@link #tokens} (the largest
 * count), and the rest of the row is padding that must be 0.
 */
public final class AttentionStats {
  private final int samples, layers, tokens;
  private final float[] self, cross;
  /** Per-sample visual counts, or null when every sample has {@code tokens}. */
  private final int[] visual;

  /** Statistics whose samples all have {@code tokens} visual tokens. */
  public AttentionStats(int samples, int layers, int tokens, float[] self, float[] cross) {
    this(samples, layers, tokens, self, cross, null);
  }

  /**
   * Statistics with per-sample visual counts: {@code visual[s]} in [1, tokens], the largest equal
   * to {@code tokens}; entries past a sample's count are padding and must be 0.
   */
  public AttentionStats(int samples, int layers, int tokens, float[] self, float[] cross, int[] visual) {
    if (samples <= 0 || layers <= 0 || tokens <= 0)
      throw new IllegalArgumentException("statistics need at least one sample, layer and token, got S=" + samples
          + " L=" + layers + " V=" + tokens);
    long n = (long) samples * layers * tokens;
    if (self == null || cross == null || self.length != n || cross.length != n)
      throw new IllegalArgumentException("statistics arrays must hold S*L*V = " + n + " values, got self="
          + (self == null ? "null" : self.length) + " cross=" + (cross == null ? "null" : cross.length));
    if (visual != null) {
      visual = visual.clone();
      requireCounts(visual, samples, tokens);
    }
    this.samples = samples;
    this.layers = layers;
    this.tokens = tokens;
    this.visual = visual;
    requireSignal("self", self);
    requireSignal("cross", cross);
    this.self = self;
    this.cross = cross;
  }

  private static void requireCounts(int[] visual, int samples, int tokens) {
    if (visual.length != samples)
      throw new IllegalArgumentException("visual counts: need one per sample (" + samples + "), got " + visual.length);
    int max = 0;
    for (int s = 0; s < samples; s++) {
      if (visual[s] < 1 || visual[s] > tokens)
        throw new IllegalArgumentException("visual count of sample " + s + " must be in [1, " + tokens + "], got "
            + visual[s] + (visual[s] == 0 ? " (a sample without visual tokens has nothing to fit from)" : ""));
      max = Math.max(max, visual[s]);
    }
    if (max != tokens)
      throw new IllegalArgumentException("visual counts: the largest (" + max + ") must equal the row width V = "
          + tokens);
  }

  /**
   * Scores must be finite and non-negative (they are attention probabilities), and every (sample,
   * layer) row must carry some mass: a row summing to zero has no signal to rank tokens by, and
   * the recipe search would drop every visual token at that layer (cross is all zero, for
   * example, when the calibration samples have no text after the image).
   */
  private void requireSignal(String name, float[] a) {
    for (int row = 0; row * tokens < a.length; row++) {
      double sum = 0;
      int v = visual(row / layers);
      for (int j = v; j < tokens; j++)
        if (Float.floatToRawIntBits(a[row * tokens + j]) != 0) // bits: -0.0 or NaN is not padding
          throw new IllegalArgumentException("tensor '" + name + "' has " + a[row * tokens + j] + " at [sample "
              + row / layers + ", layer " + row % layers + ", token " + j + "], past the sample's " + v
              + " visual tokens: padding must be 0");
      for (int j = 0; j < v; j++) {
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

  /** The row width V: every sample's visual count, or the largest when they differ. */
  public int tokens() {
    return tokens;
  }

  /** Visual tokens of sample {@code s} (the first {@code visual(s)} entries of its rows). */
  public int visual(int sample) {
    if (sample < 0 || sample >= samples)
      throw new IllegalArgumentException("sample must be in [0, " + samples + "), got " + sample);
    return visual == null ? tokens : visual[sample];
  }

  /** True when the samples' visual counts were given per sample (they may still all be equal). */
  public boolean hasCounts() {
    return visual != null;
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
    return sum(self, offset(sample, layer), visual(sample));
  }

  /** W_cross for (s, l). */
  public double crossMass(int sample, int layer) {
    return sum(cross, offset(sample, layer), visual(sample));
  }

  private static double sum(float[] a, int from, int n) {
    double s = 0;
    for (int i = from; i < from + n; i++) s += a[i];
    return s;
  }
}
