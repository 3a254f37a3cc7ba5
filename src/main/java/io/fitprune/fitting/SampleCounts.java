package io.fitprune.fitting;

import io.fitprune.flops.FlopsModel;
import io.fitprune.model.Geometry;
import java.math.BigInteger;
import java.util.HashMap;
import java.util.Map;

/**
 * Calibration samples of different visual counts brought to one recipe (docs/design.md,
 * "Calibrating on mixed visual counts"): each sample runs the fitting pass at its own count
 * {@code V_s} against its own FLOPs tables, and the two things the pass aggregates over samples
 * are taken relative to the sample's size, then expressed at the reference count {@code V*} (the
 * FLOPs model's visual count, the count the recipe is for):
 * <ul>
 *   <li>a layer's count is {@code floor(V* * mean_s(k_s / V_s))}, computed exactly: the mean
 *       fraction of each image dropped at that layer, which {@code VisualCountPolicy.SCALE} turns
 *       back into about {@code k_s} tokens for an image of {@code V_s};</li>
 *   <li>a sample's projected cost is scaled by {@code baseline(V*) / baseline(V_s)}, so the
 *       budget check compares the mean fraction of each sample's own cost with the budget.</li>
 * </ul>
 * When every sample has {@code V*} both are the plain mean, bit for bit.
 */
final class SampleCounts {
  private final int reference;
  private final int[] visual;
  private final boolean uniform;
  private final FlopsModel[] models;
  private final double[] scale;

  SampleCounts(int[] visual, FlopsModel model) {
    this.reference = model.geometry().visualTokens();
    this.visual = visual.clone();
    if (visual.length == 0) throw new IllegalArgumentException("no samples");
    boolean u = true;
    for (int v : visual) u &= v == reference;
    this.uniform = u;
    models = new FlopsModel[visual.length];
    scale = new double[visual.length];
    Map<Integer, FlopsModel> byCount = new HashMap<>();
    for (int s = 0; s < visual.length; s++) {
      int v = visual[s];
      if (v < 1) throw new IllegalArgumentException("sample " + s + " has " + v + " visual tokens: nothing to fit from");
      FlopsModel m = v == reference ? model : byCount.computeIfAbsent(v, n -> atCount(model, n));
      models[s] = m;
      scale[s] = model.baseline() / m.baseline();
    }
  }

  /** The same cost model for an image of {@code v} visual tokens. */
  private static FlopsModel atCount(FlopsModel m, int v) {
    Geometry g = m.geometry();
    Geometry gv = new Geometry(g.name(), g.layers(), g.hidden(), g.heads(), g.kvHeads(), g.headDim(), g.mlp(), v,
        g.prefixTokens(), g.textTokens());
    return new FlopsModel(gv, m.scope(), m.prefixTokens(), m.textTokens());
  }

  /** Visual tokens of sample {@code s}. */
  int visual(int s) {
    return visual[s];
  }

  int maxVisual() {
    int m = 0;
    for (int v : visual) m = Math.max(m, v);
    return m;
  }

  /** The cost tables of sample {@code s}'s own count. */
  FlopsModel model(int s) {
    return models[s];
  }

  /** A cost of sample {@code s} expressed at the reference count: the same fraction of the baseline. */
  double toReference(int s, double cost) {
    return visual[s] == reference ? cost : cost * scale[s];
  }

  /**
   * The layer's count: {@code floor(V* * mean_s(pruned[s] / V_s))}, exact (rationals, not
   * doubles, so a mean fraction that is a whole number of tokens is not rounded below it);
   * {@code floor(sum / S)} when every sample has V*.
   *
   * @param pruned per-sample counts, sample s at {@code pruned[s * stride + at]}
   */
  int floorMean(int[] pruned, int stride, int at) {
    int S = visual.length;
    if (uniform) {
      long sum = 0;
      for (int s = 0; s < S; s++) sum += pruned[s * stride + at];
      return (int) (sum / S);  // floor: counts are non-negative
    }
    // sum_s k_s / V_s over the common denominator of the distinct counts
    Map<Integer, Long> byCount = new HashMap<>();
    for (int s = 0; s < S; s++) byCount.merge(visual[s], (long) pruned[s * stride + at], Long::sum);
    BigInteger den = BigInteger.ONE;
    for (int v : byCount.keySet()) {
      BigInteger bv = BigInteger.valueOf(v);
      den = den.divide(den.gcd(bv)).multiply(bv);
    }
    BigInteger num = BigInteger.ZERO;
    for (Map.Entry<Integer, Long> e : byCount.entrySet())
      num = num.add(BigInteger.valueOf(e.getValue()).multiply(den.divide(BigInteger.valueOf(e.getKey()))));
    BigInteger r = num.multiply(BigInteger.valueOf(reference)).divide(den.multiply(BigInteger.valueOf(S)));
    return r.intValueExact();  // at most V*: each k_s <= V_s
  }
}
