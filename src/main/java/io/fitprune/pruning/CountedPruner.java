package io.fitprune.pruning;

/**
 * A pruner that drops the per-layer counts of a {@link LayerCounts} by a rule of its own: the
 * shape shared by the FitPrune, FastV-style and random pruners.
 */
final class CountedPruner implements Pruner {
  /** Which rows to keep, as {@link Pruner#keep}. */
  interface Rule {
    int[] keep(SequenceState s, float[] self, float[] cross, int drop);
  }

  private final LayerCounts counts;
  private final String name;
  private final boolean needsScores;
  private final int layers;
  private final Rule rule;

  /** {@code layers}: what {@link #layers()} reports (the counts' length, or -1 when not tied to it). */
  CountedPruner(LayerCounts counts, String name, boolean needsScores, int layers, Rule rule) {
    this.counts = counts;
    this.name = name;
    this.needsScores = needsScores;
    this.layers = layers;
    this.rule = rule;
  }

  @Override
  public int count(SequenceState s) {
    return counts.at(s);
  }

  @Override
  public boolean needsScores() {
    return needsScores;
  }

  @Override
  public int[] keep(SequenceState s, float[] self, float[] cross, int drop) {
    return rule.keep(s, self, cross, drop);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public int layers() {
    return layers;
  }
}
