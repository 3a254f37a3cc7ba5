package io.fitprune.pruning;

/** A pruner with per-layer counts ({@link LayerCounts}) and a rule choosing which rows survive. */
final class CountsPruner implements Pruner {
  /** The rows to keep, given the scores (null when not needed) and how many visual tokens go. */
  interface Rule {
    int[] keep(SequenceState s, float[] self, float[] cross, int drop);
  }

  private final LayerCounts counts;
  private final String name;
  private final boolean needsScores;
  private final Rule rule;

  CountsPruner(LayerCounts counts, String name, boolean needsScores, Rule rule) {
    this.counts = counts;
    this.name = name;
    this.needsScores = needsScores;
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
    return counts.prune().length;
  }
}
